/*
 * netpoll_kqueue.c — the netpoller's macOS/BSD backend (Go:
 * netpoll_kqueue.go, with the pipe wakeup Go used before EVFILT_USER).
 *
 * One kqueue for the process. Each fd gets two filters, EVFILT_READ and
 * EVFILT_WRITE, both EV_CLEAR: kqueue's edge-triggered mode, reporting a
 * change of state once, as EPOLLET does for the epoll backend. The udata of
 * both is the key netpoll.c gave (fd and sequence number).
 *
 * netpollBreak writes a byte to a non-blocking pipe whose read end is
 * registered (level-triggered) with the kqueue; a flag lets only the first
 * of many concurrent breaks write until a blocking poll has drained it.
 *
 * On Linux this file is compiled only into a test build of the runtime
 * (GORT_NETPOLL_KQUEUE), against tests/kqueue, a kqueue-on-epoll shim of the
 * calls used here; docs/netpoll.md says what was tested where.
 */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__) || defined(GORT_NETPOLL_KQUEUE)

#include "netpoll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

enum { MAX_EVENTS = 128 };

static int kq = -1, breakrd = -1, breakwr = -1;
static _Atomic uint32_t netpollWakeSig;     /* a break is pending */

static void setfl(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void netpollinit(void)
{
    kq = kqueue();
    if (kq < 0)
        throw("runtime: netpollinit: kqueue failed (errno %d)", errno);
    fcntl(kq, F_SETFD, FD_CLOEXEC);
    int p[2];
    if (pipe(p) < 0)
        throw("runtime: netpollinit: pipe failed (errno %d)", errno);
    setfl(p[0]);
    setfl(p[1]);
    breakrd = p[0];
    breakwr = p[1];
    struct kevent ev;
    EV_SET(&ev, breakrd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    if (kevent(kq, &ev, 1, NULL, 0, NULL) < 0)
        throw("runtime: netpollinit: kevent failed (errno %d)", errno);
}

bool netpollIsPollDescriptor(int fd) { return fd == kq || fd == breakrd || fd == breakwr; }

/* EVFILT_READ does not tell urgent data apart: reads keep no hints. */
const bool netpollReportsRdSpecial = false;

/* Adding a filter that exists modifies it (and re-reports its state). */
int netpollopen(int fd, uint64_t key)
{
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, (void *)(uintptr_t)key);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, (void *)(uintptr_t)key);
    return kevent(kq, ev, 2, NULL, 0, NULL) < 0 ? -errno : 0;
}

void netpollclose(int fd)
{
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    kevent(kq, ev, 2, NULL, 0, NULL);
}

void netpollBreak(void)
{
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&netpollWakeSig, &zero, 1))
        return;
    char b = 0;
    while (write(breakwr, &b, 1) < 0) {
        if (errno == EAGAIN)
            return;                        /* the pipe is full: a wakeup is pending */
        if (errno != EINTR)
            throw("runtime: netpollBreak: write failed (errno %d)", errno);
    }
}

static void drainbreak(void)
{
    char buf[16];
    while (read(breakrd, buf, sizeof buf) > 0 || errno == EINTR)
        ;
    atomic_store(&netpollWakeSig, 0);
}

g *netpoll_os(int64_t delay)
{
    struct timespec ts, *tp = NULL;
    if (delay >= 0) {
        if (delay > 1000000000000000LL)
            delay = 1000000000000000LL;    /* ~11.5 days, as Go */
        ts.tv_sec = (time_t)(delay / 1000000000);
        ts.tv_nsec = (long)(delay % 1000000000);
        tp = &ts;
    }
    struct kevent events[MAX_EVENTS];
    int n = kevent(kq, NULL, 0, events, MAX_EVENTS, tp);
    if (n < 0) {
        if (errno != EINTR)
            throw("runtime: netpoll: kevent failed (errno %d)", errno);
        return NULL;                       /* the caller recomputes its delay */
    }
    g *list = NULL;
    for (int i = 0; i < n; i++) {
        struct kevent *ev = &events[i];
        if ((int)ev->ident == breakrd) {
            /* Only a blocking poll consumes the break (see netpoll_epoll.c). */
            if (delay != 0)
                drainbreak();
            continue;
        }
        int modes = ev->filter == EVFILT_READ ? POLL_READ : ev->filter == EVFILT_WRITE ? POLL_WRITE : 0;
        if (ev->flags & EV_ERROR)
            modes = POLL_READ | POLL_WRITE;
        if (modes)
            netpollready(&list, (uint64_t)(uintptr_t)ev->udata, modes);
    }
    return list;
}

#endif
