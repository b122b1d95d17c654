/*
 * netpoll.h — the netpoller's internal interfaces (Go: netpoll.go's
 * comments on the platform contract).
 *
 * Three layers, as Go's:
 *
 *   net.c            gort_read/gort_accept/...: try the system call; on
 *                    EAGAIN park on the fd's pollDesc (netpollwait).
 *   netpoll.c        pollDescs: one per fd, in a table indexed by fd; each
 *                    has a read and a write waiter slot; deadlines; the
 *                    scheduler's view (netpoll, netpollAnyWaiters).
 *   netpoll_epoll.c  the OS backend (or netpoll_kqueue.c): register an fd
 *   netpoll_kqueue.c once, edge-triggered; wait for events; break a wait.
 *
 * A backend reports each event as (key, modes) through netpollready. The
 * key is what netpollopen was given: the fd and the pollDesc's sequence
 * number at registration (netpollkey), so an event that arrives after its
 * fd was closed, and the number reused, is recognised as stale.
 */
#ifndef GORT_NETPOLL_H
#define GORT_NETPOLL_H

#include "runtime.h"

enum { POLL_READ = GORT_POLL_READ, POLL_WRITE = GORT_POLL_WRITE,
       POLL_RDSPECIAL = 4 /* with POLL_READ: urgent data, end of stream or an error */ };

static inline uint64_t netpollkey(int fd, uint32_t seq) { return (uint64_t)seq << 32 | (uint32_t)fd; }

/* ---- The backend (netpoll_epoll.c or netpoll_kqueue.c) --------------------- */

void netpollinit(void);                /* once, before any other call */
int  netpollopen(int fd, uint64_t key);/* edge-triggered, read and write: 0 or -errno */
void netpollclose(int fd);             /* forget fd (before it is closed) */
void netpollBreak(void);               /* interrupt a blocking netpoll_os */
bool netpollIsPollDescriptor(int fd);  /* the backend's own fds */
/* Whether netpoll_os reports POLL_RDSPECIAL with the read event of urgent
 * data, a peer's shutdown or an error; read hints depend on it (netpoll.c). */
extern const bool netpollReportsRdSpecial;
/* Waits up to delay ns (< 0: forever, 0: not at all) for events and
 * reports them through netpollready. Returns the readied Gs as a list
 * linked through schedlink (NULL: none). */
g   *netpoll_os(int64_t delay);

/* ---- Generic (netpoll.c) ------------------------------------------------------ */

/* A backend saw events `modes` (POLL_READ|POLL_WRITE, and POLL_RDSPECIAL) for
 * key: wakes the waiters, pushing them onto *list. */
void netpollready(g **list, uint64_t key, int modes);

/* For the scheduler (proc.c) and deadlock detection (deadlock.c). */
bool netpollinited(void);
bool netpollAnyWaiters(void);           /* some G is parked on an fd */
g   *netpoll(int64_t delay);            /* as netpoll_os, once netpollinited */

/* For net.c: the pollDesc of an fd. */
typedef struct pollDesc pollDesc;
pollDesc *pd_open(int fd);              /* a new fd of gort's: registered; NULL + errno */
pollDesc *pd_get(int fd);               /* gort's fd, with a reference: NULL if none/closed */
void      pd_put(pollDesc *pd);         /* drop the reference (the last one closes a closed fd) */
int       pd_fd(pollDesc *pd);
int       pd_close(int fd);             /* gort_close */
/* Read hints (netpoll.c's top comment): set by net.c's reads, with pd
 * locked for reading; netpollwait clears RH_DRAINED when it consumes read
 * readiness. */
enum {
    RH_TCP = 1,      /* a connected TCP socket: its reads keep the other hints */
    RH_DRAINED = 2,  /* the last read came back short, and no read edge was consumed since */
    RH_BURSTY = 4,   /* a read filled its buffer since a try after a short one said EAGAIN */
};
unsigned  pd_rhint(pollDesc *pd);
void      pd_setrhint(pollDesc *pd, unsigned hint);
bool      pd_rdspecial(pollDesc *pd);   /* POLL_RDSPECIAL ever came (sticky) */
void      pd_lock(pollDesc *pd, int modes);   /* one reader / one writer at a time */
void      pd_unlock(pollDesc *pd, int modes);
int       netpollcheckerr(pollDesc *pd, int mode);  /* 0, -EBADF (closed), -ETIMEDOUT */
/* Parks until pd is ready for mode, its deadline passes or it is closed:
 * 0 (ready: retry the operation) or the error. pd locked for mode. */
int       netpollwait(pollDesc *pd, int mode);
/* As netpollwait, with an extra deadline for this wait only (0: none). */
int       netpollwait_until(pollDesc *pd, int mode, int64_t deadline);
int       pd_set_deadline(int fd, int modes, int64_t deadline);

#endif /* GORT_NETPOLL_H */
