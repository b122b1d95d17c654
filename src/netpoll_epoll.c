/*
 * netpoll_epoll.c — the netpoller's Linux backend (Go: netpoll_epoll.go).
 *
 * One epoll instance for the process. Each fd is registered once, for
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLPRI|EPOLLET: edge-triggered, so the
 * kernel reports a transition to readable or writable once, and an fd
 * nobody waits on costs nothing per poll. EPOLLPRI (TCP urgent data),
 * EPOLLRDHUP, EPOLLHUP and EPOLLERR are passed on as POLL_RDSPECIAL:
 * netpoll.c's read hints need them. The event's data is the key netpoll.c
 * gave (fd and sequence number), handed back through netpollready.
 *
 * netpollBreak wakes a blocked epoll_wait by writing the eventfd that is
 * registered with it. Many Ms may want to break one poll at once (a timer
 * added on each), so a flag lets only the first write through until the
 * poller has read the eventfd back (Go's netpollWakeSig).
 *
 * Up to 128 events are taken per epoll_wait, as Go does.
 */
#if defined(__linux__) && !defined(GORT_NETPOLL_KQUEUE)

#include "netpoll.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { MAX_EVENTS = 128 };
#define BREAK_KEY UINT64_MAX           /* the eventfd's key: no fd has it */

static int epfd = -1, breakfd = -1;
static _Atomic uint32_t netpollWakeSig; /* a break is pending */

void netpollinit(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        throw("runtime: netpollinit: epoll_create1 failed (errno %d)", errno);
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (breakfd < 0)
        throw("runtime: netpollinit: eventfd failed (errno %d)", errno);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_KEY };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) < 0)
        throw("runtime: netpollinit: epoll_ctl failed (errno %d)", errno);
}

bool netpollIsPollDescriptor(int fd) { return fd == epfd || fd == breakfd; }

const bool netpollReportsRdSpecial = true;

int netpollopen(int fd, uint64_t key)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                              .data.u64 = key };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return -errno;
}

void netpollclose(int fd)
{
    struct epoll_event ev = { 0 };
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

void netpollBreak(void)
{
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&netpollWakeSig, &zero, 1))
        return;
    uint64_t one = 1;
    while (write(breakfd, &one, sizeof one) < 0) {
        if (errno == EAGAIN)
            return;                    /* the counter is full: a wakeup is pending anyway */
        if (errno != EINTR)
            throw("runtime: netpollBreak: write failed (errno %d)", errno);
    }
}

/* delay in ns as epoll_wait's milliseconds: never 0 for a positive delay
 * (that would spin), at most ~11.5 days (Go's bound). */
static int waitms(int64_t delay)
{
    if (delay < 0)
        return -1;
    if (delay == 0)
        return 0;
    if (delay < 1000000)
        return 1;
    if (delay < 1000000000000000LL)
        return (int)(delay / 1000000 > 1000000000 ? 1000000000 : delay / 1000000);
    return 1000000000;
}

static int eventmodes(uint32_t ev)
{
    int modes = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        modes |= POLL_READ;
    if (ev & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        modes |= POLL_READ | POLL_RDSPECIAL;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        modes |= POLL_WRITE;
    return modes;
}

g *netpoll_os(int64_t delay)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(epfd, events, MAX_EVENTS, waitms(delay));
    if (n < 0) {
        if (errno != EINTR)
            throw("runtime: netpoll: epoll_wait failed (errno %d)", errno);
        return NULL;                   /* the caller recomputes its delay */
    }
    g *list = NULL;
    for (int i = 0; i < n; i++) {
        if (events[i].data.u64 == BREAK_KEY) {
            /* Only a blocking poll consumes the break: a non-blocking one
             * must leave it for the poller it was meant for. */
            if (delay != 0) {
                uint64_t v;
                while (read(breakfd, &v, sizeof v) < 0 && errno == EINTR)
                    ;
                atomic_store(&netpollWakeSig, 0);
            }
            continue;
        }
        netpollready(&list, events[i].data.u64, eventmodes(events[i].events));
    }
    return list;
}

#endif
