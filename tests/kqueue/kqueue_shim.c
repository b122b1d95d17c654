/*
 * kqueue_shim.c — kqueue()/kevent() on top of epoll, just enough for
 * src/netpoll_kqueue.c to run (and be tested) on Linux.
 *
 * kqueue keeps a filter per (fd, EVFILT_READ/WRITE); epoll keeps one
 * registration per fd. So the shim remembers, per fd, which filters are
 * registered, whether they are EV_CLEAR (edge-triggered: EPOLLET) and their
 * udata, and turns every change into an EPOLL_CTL_ADD/MOD/DEL of the union.
 * An epoll event becomes one kevent per registered filter it concerns
 * (EPOLLIN/RDHUP/HUP/ERR: read; EPOLLOUT/HUP/ERR: write), with EV_EOF on a
 * hang-up. epoll_wait is asked for at most half the caller's room, so the
 * kevents always fit. One mutex guards the table: this is a test shim.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/event.h>

struct filt { bool read, write, clear; void *rdata, *wdata; };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct filt *tab;
static int ntab;

/* The entry of fd, growing the table. mu held. */
static struct filt *entry(int fd)
{
    if (fd >= ntab) {
        int n = ntab ? ntab : 1024;
        while (n <= fd)
            n *= 2;
        struct filt *t = realloc(tab, (size_t)n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + ntab, 0, (size_t)(n - ntab) * sizeof *t);
        tab = t;
        ntab = n;
    }
    return &tab[fd];
}

int kqueue(void) { return epoll_create1(0); }

/* Registers fd's filters with epoll as they now are. mu held. */
static int sync_epoll(int kq, int fd, struct filt *f, bool existed)
{
    struct epoll_event ev = { 0 };
    ev.data.u64 = (uint64_t)fd;
    ev.events = (f->read ? EPOLLIN | EPOLLRDHUP : 0) | (f->write ? EPOLLOUT : 0) |
                (f->clear ? EPOLLET : 0);
    if (!f->read && !f->write)
        return existed ? epoll_ctl(kq, EPOLL_CTL_DEL, fd, &ev) : 0;
    if (existed && epoll_ctl(kq, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if (epoll_ctl(kq, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    return errno == EEXIST ? epoll_ctl(kq, EPOLL_CTL_MOD, fd, &ev) : -1;
}

static int change(int kq, const struct kevent *c)
{
    int fd = (int)c->ident;
    struct filt *f = entry(fd);
    if (!f) {
        errno = ENOMEM;
        return -1;
    }
    bool existed = f->read || f->write;
    bool on = (c->flags & EV_ADD) != 0;
    if (!on && !(c->flags & EV_DELETE)) {
        errno = EINVAL;
        return -1;
    }
    if (c->filter == EVFILT_READ) {
        f->read = on;
        f->rdata = c->udata;
    } else if (c->filter == EVFILT_WRITE) {
        f->write = on;
        f->wdata = c->udata;
    } else {
        errno = EINVAL;
        return -1;
    }
    if (on)
        f->clear = (c->flags & EV_CLEAR) != 0;
    return sync_epoll(kq, fd, f, existed);
}

static int waitms(const struct timespec *ts)
{
    if (!ts)
        return -1;
    long long ms = (long long)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return ms > 1000000000 ? 1000000000 : (int)ms;
}

/* Turns one epoll event into kevents at out; returns how many. mu held. */
static int translate(const struct epoll_event *e, struct kevent *out)
{
    int fd = (int)e->data.u64, n = 0;
    if (fd >= ntab)
        return 0;
    struct filt *f = &tab[fd];
    uint16_t eof = (e->events & (EPOLLHUP | EPOLLRDHUP)) ? EV_EOF : 0;
    if (f->read && (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        EV_SET(&out[n++], fd, EVFILT_READ, eof, 0, 0, f->rdata);
    if (f->write && (e->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        EV_SET(&out[n++], fd, EVFILT_WRITE, eof, 0, 0, f->wdata);
    return n;
}

int kevent(int kq, const struct kevent *changes, int nchanges,
           struct kevent *events, int nevents, const struct timespec *timeout)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nchanges; i++) {
        if (change(kq, &changes[i]) < 0) {
            int e = errno;
            pthread_mutex_unlock(&mu);
            errno = e;
            return -1;
        }
    }
    pthread_mutex_unlock(&mu);
    if (nevents <= 0)
        return 0;
    if (nevents < 2) {            /* one epoll event may become two kevents */
        errno = EINVAL;
        return -1;
    }
    struct epoll_event ev[64];
    int max = nevents / 2 > 0 ? nevents / 2 : 1;
    if (max > 64)
        max = 64;
    int n = epoll_wait(kq, ev, max, waitms(timeout));
    if (n < 0)
        return -1;
    int k = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n && k < nevents; i++)
        k += translate(&ev[i], events + k);
    pthread_mutex_unlock(&mu);
    return k;
}
