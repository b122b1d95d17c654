/*
 * sys/event.h — the subset of the BSD kqueue API that src/netpoll_kqueue.c
 * uses, for the test build on Linux (tests/kqueue/kqueue_shim.c implements
 * it on epoll). Layout and constants follow FreeBSD/macOS; only the
 * behaviour netpoll_kqueue.c relies on is provided.
 */
#ifndef GORT_TEST_KQUEUE_SHIM_H
#define GORT_TEST_KQUEUE_SHIM_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;     /* the fd */
    int16_t   filter;    /* EVFILT_READ or EVFILT_WRITE */
    uint16_t  flags;     /* EV_ADD, EV_DELETE, EV_CLEAR in; EV_EOF, EV_ERROR out */
    uint32_t  fflags;
    intptr_t  data;
    void     *udata;
};

#define EVFILT_READ  (-1)
#define EVFILT_WRITE (-2)

#define EV_ADD    0x0001
#define EV_DELETE 0x0002
#define EV_CLEAR  0x0020
#define EV_EOF    0x8000
#define EV_ERROR  0x4000

#define EV_SET(kevp, a, b, c, d, e, f) do {                                       \
        struct kevent *kev_ = (kevp);                                            \
        kev_->ident = (uintptr_t)(a); kev_->filter = (int16_t)(b);               \
        kev_->flags = (uint16_t)(c); kev_->fflags = (uint32_t)(d);               \
        kev_->data = (intptr_t)(e); kev_->udata = (f);                           \
    } while (0)

int kqueue(void);
/* Applies the changes, then (nevents > 0) waits up to timeout (NULL:
 * forever) for events. Returns the number of events, or -1 and errno. */
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents, const struct timespec *timeout);

#endif
