/*
 * netpoll.c — the portable half of the netpoller (Go: netpoll.go).
 *
 * A goroutine that reads a socket with nothing to read must not block its
 * thread. So every fd gort owns is non-blocking and registered once, edge-
 * triggered for both directions, with the OS poller (epoll or kqueue). A
 * read that gets EAGAIN parks its goroutine on the fd's pollDesc; when the
 * poller later reports the fd readable, the scheduler makes the goroutine
 * runnable again and it retries the read.
 *
 * pollDesc. One per fd number, in a table indexed by fd (chunks of PD_CHUNK
 * allocated on first use and never freed, so a lookup is two loads and no
 * lock). Each has two waiter slots, rg for reading and wg for writing, as
 * Go's; a slot holds
 *
 *     pdNil    nothing happened, nobody waits
 *     pdReady  the poller reported readiness that nobody consumed yet
 *     pdWait   a goroutine is about to park (it set this, then parks)
 *     a G      that goroutine is parked here
 *     G|pdDual that goroutine waits for either direction (gort_poll_fd with
 *              both): then both slots hold it, and pd->lock decides which
 *              waker wakes it (dualunblock)
 *
 * The waiter moves pdNil -> pdWait, and then, in gopark's unlock function
 * once it is off its stack, pdWait -> G (netpollblockcommit). A waker swaps
 * the slot to pdReady (I/O) or pdNil (deadline, close); if it took a G, it
 * readies it; if it found pdWait, the waiter's commit fails and it does not
 * park at all. Edge triggering means an event is reported once, so a
 * readiness that nobody waits for must stay in the slot as pdReady.
 *
 * Reuse of fd numbers. The kernel reuses a closed fd's number at once. Each
 * pollDesc carries a sequence number, bumped when gort closes the fd; it is
 * part of the key the poller hands back with each event, so events of an
 * old file are dropped. References (pd_get/pd_put) keep an fd open while a
 * gort call uses it: gort_close marks the pollDesc closing and wakes its
 * waiters, and the last reference closes the fd (Go's fdMutex), so no call
 * can read from a new file that got the old number.
 *
 * Reads that can only say EAGAIN. Trying the read first costs a system
 * call for nothing whenever the previous read emptied the queue, as every
 * second read of a request-response exchange does. A TCP read that comes
 * back short has emptied the receive queue: TCP copies until the buffer is
 * full or the queue is empty, and data still in the socket's backlog is
 * queued, with its wakeup, when the read releases the socket. So any byte
 * that arrives later raises a new edge the poller has not reported yet,
 * and the next read may park at once (RH_DRAINED in pd->rhint; net.c's
 * read returns EAGAIN without calling the kernel). Whoever consumes read
 * readiness holds the read lock and goes through netpollwait, which clears
 * RH_DRAINED: a gort_poll_fd that took the edge leaves the next read to
 * try the call. Two exceptions in TCP: a read stops short at an urgent
 * mark with bytes still queued, and after the peer's FIN (or an error) the
 * next read returns 0 (or the error) with no new edge to come. The backend
 * reports these (EPOLLPRI, EPOLLRDHUP, EPOLLHUP, EPOLLERR) with the read
 * event of their arrival, and netpollready marks the pollDesc
 * (pd->rdspecial, for good) before it readies the reader, so a reader that
 * consumed that edge sees the mark and no longer skips, and one that did
 * not still has the edge to come. (A read into a buffer that is partly not mapped stops
 * short too; C leaves that undefined, and gort's read may then wait for
 * new data before returning the rest.)
 * Skipping is a bet that nothing came meanwhile: right for a peer that
 * waits for our answer, wrong for one that streams. So once a read fills
 * its buffer (RH_BURSTY), reads try again after a short one, until such a
 * try says EAGAIN.
 *
 * Deadlines are runtime timers (time.c), one per direction per pollDesc.
 * A passed deadline is stored as -1: every later call fails with
 * -ETIMEDOUT until the deadline is set again, as Go's.
 *
 * The scheduler polls (proc.c): without blocking when it runs out of work,
 * and blocking, until the next timer, on the one M that goes idle while
 * goroutines wait on the network (Go's sched.lastpoll protocol).
 */
#include "netpoll.h"
#include "timer.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum { pdNil = 0, pdReady = 1, pdWait = 2, pdDual = 1 };
enum { pdFree, pdGort, pdForeign };       /* pollDesc.kind */
enum { PD_CHUNK = 256, PD_CHUNKS = 1 << 18 };   /* fds below 2^26 */
/* A goroutine-less thread re-checks close and deadlines this often (ms). */
enum { THREAD_POLL_MS = 100 };

struct pollDesc {
    mutex    lock;              /* deadlines, their timers, dualg */
    _Atomic uintptr_t rg, wg;   /* waiter slots (top of file) */
    _Atomic uint64_t refs;      /* 2 per reference; bit 0: closing */
    _Atomic uint32_t seq;       /* bumped when gort closes the fd */
    _Atomic uint8_t kind;       /* pdFree, pdGort, pdForeign */
    _Atomic uint8_t rhint;      /* RH_*: what reads learnt of the receive queue (above) */
    _Atomic bool rdspecial;     /* urgent data, end of stream or an error came (above) */
    int      fd;
    _Atomic int64_t rd, wd;     /* deadlines: 0 none, -1 passed */
    _Atomic int64_t rcall, wcall; /* deadline of the current wait alone */
    struct timer rt, wt;
    g       *dualg;             /* waits for either direction (lock) */
    gort_mutex rmu, wmu;        /* one reader, one writer at a time */
};

/* PD_CHUNKS chunk pointers, mapped at init rather than 2 MiB of bss: the
 * collector scans the program's data and bss as roots in both of a cycle's
 * pauses, and this table holds no pointer into its heap (chunks are libc
 * memory). Pages of it no fd number reached are never touched. */
static _Atomic(_Atomic(pollDesc *) *) pdtab;
static mutex pdtablock;
static _Atomic bool inited;
static _Atomic int32_t netpollWaiters;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void readDeadline(void *arg, int64_t now);
static void writeDeadline(void *arg, int64_t now);

static void netpollGenericInit(void)
{
    runtime_init();
    _Atomic(pollDesc *) *tab = sysAlloc(PD_CHUNKS * sizeof *tab, NULL);
    if (!tab)
        throw("runtime: cannot map the netpoller's fd table");
    atomic_store_explicit(&pdtab, tab, memory_order_release);
    netpollinit();
    atomic_store(&inited, true);
}

bool netpollinited(void) { return atomic_load_explicit(&inited, memory_order_acquire); }
bool netpollAnyWaiters(void) { return atomic_load(&netpollWaiters) > 0; }

g *netpoll(int64_t delay) { return netpollinited() ? netpoll_os(delay) : NULL; }

/* ---- The table ---------------------------------------------------------------- */

static pollDesc *newchunk(int base)
{
    pollDesc *c = calloc(PD_CHUNK, sizeof *c);
    if (!c)
        throw("runtime: out of memory allocating pollDescs");
    for (int i = 0; i < PD_CHUNK; i++) {
        c[i].fd = base + i;
        inittimer(&c[i].rt, readDeadline, &c[i]);
        inittimer(&c[i].wt, writeDeadline, &c[i]);
    }
    return c;
}

/* fd's pollDesc; create: allocate its chunk if needed. NULL for an fd out
 * of range, or not yet allocated when !create. */
static pollDesc *pd_slot(int fd, bool create)
{
    _Atomic(pollDesc *) *tab = atomic_load_explicit(&pdtab, memory_order_acquire);
    if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS || !tab)
        return NULL;                  /* out of range, or no fd of gort's yet */
    _Atomic(pollDesc *) *cp = &tab[fd / PD_CHUNK];
    pollDesc *c = atomic_load_explicit(cp, memory_order_acquire);
    if (!c) {
        if (!create)
            return NULL;
        lock(&pdtablock);
        c = atomic_load_explicit(cp, memory_order_relaxed);
        if (!c) {
            c = newchunk(fd - fd % PD_CHUNK);
            atomic_store_explicit(cp, c, memory_order_release);
        }
        unlock(&pdtablock);
    }
    return &c[fd % PD_CHUNK];
}

int pd_fd(pollDesc *pd) { return pd->fd; }

static _Atomic uintptr_t *slot(pollDesc *pd, int mode) { return mode == POLL_READ ? &pd->rg : &pd->wg; }
static _Atomic int64_t *deadline(pollDesc *pd, int mode) { return mode == POLL_READ ? &pd->rd : &pd->wd; }
static _Atomic int64_t *calldeadline(pollDesc *pd, int mode) { return mode == POLL_READ ? &pd->rcall : &pd->wcall; }
static struct timer *dtimer(pollDesc *pd, int mode) { return mode == POLL_READ ? &pd->rt : &pd->wt; }
static bool isdual(uintptr_t v) { return v > pdWait && (v & pdDual); }

/* Clears the waiter slots and deadlines of a pollDesc taking a new file. */
static void pd_reset(pollDesc *pd)
{
    lock(&pd->lock);
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++) {
        atomic_store(slot(pd, mode), pdNil);
        atomic_store(deadline(pd, mode), 0);
        atomic_store(calldeadline(pd, mode), 0);
        deltimer(dtimer(pd, mode));
    }
    pd->dualg = NULL;
    atomic_store(&pd->rhint, 0);
    atomic_store(&pd->rdspecial, false);
    unlock(&pd->lock);
}

/* ---- Opening, references, closing ------------------------------------------- */

pollDesc *pd_open(int fd)
{
    pthread_once(&init_once, netpollGenericInit);
    pollDesc *pd = pd_slot(fd, true);
    if (!pd) {
        errno = EMFILE;
        return NULL;
    }
    pd_reset(pd);
    int err = netpollopen(fd, netpollkey(fd, atomic_load(&pd->seq)));
    if (err) {
        errno = -err;
        return NULL;
    }
    atomic_store(&pd->refs, 2);          /* the reference the open fd holds */
    atomic_store(&pd->kind, pdGort);
    return pd;
}

pollDesc *pd_get(int fd)
{
    pollDesc *pd = pd_slot(fd, false);
    if (!pd || atomic_load(&pd->kind) != pdGort)
        return NULL;
    uint64_t v = atomic_load(&pd->refs);
    do {
        if (v == 0 || (v & 1))
            return NULL;
    } while (!atomic_compare_exchange_weak(&pd->refs, &v, v + 2));
    return pd;
}

/* The last reference of a closing fd is gone: forget it, then close it.
 * Everything is reset before close(2), after which the number is reused. */
static void pd_destroy(pollDesc *pd)
{
    int fd = pd->fd;
    netpollclose(fd);
    pd_reset(pd);
    atomic_fetch_add(&pd->seq, 1);
    atomic_store(&pd->kind, pdFree);
    atomic_store(&pd->refs, 0);
    close(fd);
}

void pd_put(pollDesc *pd)
{
    if (atomic_fetch_sub(&pd->refs, 2) - 2 == 1)
        pd_destroy(pd);
}

static g *netpollunblock(pollDesc *pd, int mode, bool ioready);

/* Wakes the waiters of the given modes with an error (they re-check it). */
static void pd_wake(pollDesc *pd, int modes)
{
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++) {
        if (!(modes & mode))
            continue;
        g *gp = netpollunblock(pd, mode, false);
        if (gp)
            goready(gp);
    }
}

int pd_close(int fd)
{
    pollDesc *pd = pd_slot(fd, false);
    if (!pd || atomic_load(&pd->kind) != pdGort)
        return -EBADF;
    uint64_t v = atomic_load(&pd->refs);
    do {
        if (v == 0 || (v & 1))
            return -EBADF;               /* closed already */
    } while (!atomic_compare_exchange_weak(&pd->refs, &v, v | 1));
    pd_wake(pd, POLL_READ | POLL_WRITE);
    pd_put(pd);                          /* the open fd's reference */
    return 0;
}

unsigned pd_rhint(pollDesc *pd) { return atomic_load_explicit(&pd->rhint, memory_order_relaxed); }

void pd_setrhint(pollDesc *pd, unsigned hint)
{
    atomic_store_explicit(&pd->rhint, (uint8_t)hint, memory_order_relaxed);
}

bool pd_rdspecial(pollDesc *pd) { return atomic_load(&pd->rdspecial); }

void pd_lock(pollDesc *pd, int modes)
{
    if (modes & POLL_READ)
        gort_mutex_lock(&pd->rmu);
    if (modes & POLL_WRITE)
        gort_mutex_lock(&pd->wmu);
}

void pd_unlock(pollDesc *pd, int modes)
{
    if (modes & POLL_WRITE)
        gort_mutex_unlock(&pd->wmu);
    if (modes & POLL_READ)
        gort_mutex_unlock(&pd->rmu);
}

/* ---- Errors and deadlines ------------------------------------------------------- */

int netpollcheckerr(pollDesc *pd, int mode)
{
    if (atomic_load(&pd->refs) & 1)
        return -EBADF;
    for (int m = POLL_READ; m <= POLL_WRITE; m++)
        if ((mode & m) && (atomic_load_explicit(deadline(pd, m), memory_order_relaxed) < 0 ||
                           atomic_load_explicit(calldeadline(pd, m), memory_order_relaxed) < 0))
            return -ETIMEDOUT;
    return 0;
}

/* The earliest pending deadline of mode, 0 if none. */
static int64_t nextdeadline(pollDesc *pd, int mode)
{
    int64_t d = atomic_load(deadline(pd, mode)), c = atomic_load(calldeadline(pd, mode));
    if (d <= 0)
        return c > 0 ? c : 0;
    return (c > 0 && c < d) ? c : d;
}

/* (Re)arms mode's timer for its earliest pending deadline. pd->lock held. */
static void pd_arm(pollDesc *pd, int mode)
{
    struct timer *t = dtimer(pd, mode);
    int64_t when = nextdeadline(pd, mode);
    if (when)
        modtimer(t, when, 0);
    else
        deltimer(t);
}

/* Sets a deadline (*d: sticky or per call) of mode; a past one expires at
 * once. pd->lock held. True if it expired (wake the waiter, unlocked). */
static bool pd_setdeadline(pollDesc *pd, _Atomic int64_t *d, int mode, int64_t when)
{
    if (when > 0 && when <= nanotime())
        when = -1;
    atomic_store(d, when);
    pd_arm(pd, mode);
    return when < 0;
}

/* A deadline timer fired: mark what passed, wake the waiter. */
static void deadlineImpl(pollDesc *pd, int mode, int64_t now)
{
    bool expired = false;
    lock(&pd->lock);
    _Atomic int64_t *ds[2] = { deadline(pd, mode), calldeadline(pd, mode) };
    for (int i = 0; i < 2; i++) {
        int64_t d = atomic_load(ds[i]);
        if (d > 0 && d <= now) {
            atomic_store(ds[i], -1);
            expired = true;
        }
    }
    if (!expired)
        pd_arm(pd, mode);     /* a stale firing: the deadline moved meanwhile */
    unlock(&pd->lock);
    if (expired)
        pd_wake(pd, mode);
}

static void readDeadline(void *arg, int64_t now) { deadlineImpl(arg, POLL_READ, now); }
static void writeDeadline(void *arg, int64_t now) { deadlineImpl(arg, POLL_WRITE, now); }

int pd_set_deadline(int fd, int modes, int64_t when)
{
    pollDesc *pd = pd_get(fd);
    if (!pd)
        return -EBADF;
    int expired = 0;
    lock(&pd->lock);
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++)
        if ((modes & mode) && pd_setdeadline(pd, deadline(pd, mode), mode, when))
            expired |= mode;
    unlock(&pd->lock);
    pd_wake(pd, expired);
    pd_put(pd);
    return 0;
}

/* Sets (when != 0) or clears the per-call deadline of modes. */
static void pd_calldeadline(pollDesc *pd, int modes, int64_t when)
{
    lock(&pd->lock);
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++)
        if (modes & mode)
            pd_setdeadline(pd, calldeadline(pd, mode), mode, when);
    unlock(&pd->lock);
}

/* ---- Parking and waking ------------------------------------------------------------ */

/* gopark's unlock function: the G is off its stack, so it may be woken now. */
static bool netpollblockcommit(g *gp, void *gpp)
{
    uintptr_t old = pdWait;
    if (!atomic_compare_exchange_strong(( _Atomic uintptr_t *)gpp, &old, (uintptr_t)gp))
        return false;                 /* a waker came first: do not park */
    atomic_fetch_add(&netpollWaiters, 1);
    return true;
}

/* Waits for mode's readiness; true if it came (false: woken by a deadline
 * or close, or not parked because one is pending). Go's netpollblock. */
static bool netpollblock(pollDesc *pd, int mode)
{
    _Atomic uintptr_t *gpp = slot(pd, mode);
    for (;;) {
        uintptr_t old = pdReady;
        if (atomic_compare_exchange_strong(gpp, &old, pdNil))
            return true;
        old = pdNil;
        if (atomic_compare_exchange_strong(gpp, &old, pdWait))
            break;
        if (old != pdReady)
            throw("runtime: netpollblock: double wait on fd %d", pd->fd);
    }
    if (netpollcheckerr(pd, mode) == 0)
        gopark(netpollblockcommit, gpp, waitReasonIOWait);
    uintptr_t old = atomic_exchange(gpp, pdNil);
    if (old > pdWait)
        throw("runtime: netpollblock: corrupted pollDesc of fd %d", pd->fd);
    return old == pdReady;
}

/* A waker found a G waiting for either direction: whoever takes pd->lock
 * first while pd->dualg is set wakes it, and clears both slots. */
static g *dualunblock(pollDesc *pd, int mode, bool ioready)
{
    lock(&pd->lock);
    g *gp = pd->dualg;
    if (gp) {
        pd->dualg = NULL;
        atomic_store(&pd->rg, pdNil);
        atomic_store(&pd->wg, pdNil);
        gp->param = (void *)(uintptr_t)(ioready ? mode : 0);
        atomic_fetch_sub(&netpollWaiters, 1);
    }
    unlock(&pd->lock);
    return gp;
}

/* Go's netpollunblock: returns the G to ready, if one waited. ioready: the
 * poller reported mode (leave pdReady if nobody waits); otherwise a
 * deadline or close (leave nothing). */
static g *netpollunblock(pollDesc *pd, int mode, bool ioready)
{
    _Atomic uintptr_t *gpp = slot(pd, mode);
    for (;;) {
        uintptr_t old = atomic_load(gpp);
        if (old == pdReady || (old == pdNil && !ioready))
            return NULL;
        if (isdual(old)) {
            g *gp = dualunblock(pd, mode, ioready);
            if (gp || !ioready)
                return gp;
            continue;                 /* another waker took it: record readiness */
        }
        if (atomic_compare_exchange_strong(gpp, &old, ioready ? pdReady : pdNil)) {
            if (old == pdNil || old == pdWait)
                return NULL;
            atomic_fetch_sub(&netpollWaiters, 1);
            return (g *)old;
        }
    }
}

void netpollready(g **list, uint64_t key, int modes)
{
    pollDesc *pd = pd_slot((int)(uint32_t)key, false);
    if (!pd || atomic_load(&pd->seq) != (uint32_t)(key >> 32))
        return;                       /* an event of a file closed since */
    if (modes & POLL_RDSPECIAL)
        atomic_store(&pd->rdspecial, true);   /* before the reader can consume the edge */
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++) {
        if (!(modes & mode))
            continue;
        g *gp = netpollunblock(pd, mode, true);
        if (gp) {
            gp->schedlink = *list;
            *list = gp;
        }
    }
}

/* Consumes a pdReady left in a slot of a G|pdDual wait being undone. */
static int dualundo(pollDesc *pd, int ready)
{
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++)
        if (atomic_exchange(slot(pd, mode), pdNil) == pdReady)
            ready |= mode;
    return ready;
}

/* Waits for either direction: the ready modes, 0 if woken by a deadline or
 * close, or an error found before parking. */
static int netpollblockdual(pollDesc *pd)
{
    g *gp = getg();
    uintptr_t tag = (uintptr_t)gp | pdDual;
    int ready = 0;
    lock(&pd->lock);
    for (int mode = POLL_READ; mode <= POLL_WRITE; mode++) {
        uintptr_t old = pdNil;
        if (!atomic_compare_exchange_strong(slot(pd, mode), &old, tag)) {
            if (old != pdReady)
                throw("runtime: netpollblock: double wait on fd %d", pd->fd);
            ready |= mode;
        }
    }
    int err = ready ? 0 : netpollcheckerr(pd, POLL_READ | POLL_WRITE);
    if (ready || err) {
        ready = dualundo(pd, ready);
        unlock(&pd->lock);
        return ready ? ready : err;
    }
    pd->dualg = gp;
    gp->param = NULL;
    atomic_fetch_add(&netpollWaiters, 1);
    gopark(parkunlock, &pd->lock, waitReasonIOWait);
    int modes = (int)(uintptr_t)gp->param;
    gp->param = NULL;
    return modes;
}

/* A thread that is not a goroutine cannot park: it sleeps in poll(2), in
 * slices, so that close and deadlines are noticed. */
static int threadwait(pollDesc *pd, int modes)
{
    for (;;) {
        int err = netpollcheckerr(pd, modes);
        if (err)
            return err;
        int64_t now = nanotime(), ms = THREAD_POLL_MS;
        for (int mode = POLL_READ; mode <= POLL_WRITE; mode++) {
            int64_t d = (modes & mode) ? nextdeadline(pd, mode) : 0;
            if (d && d <= now)
                return -ETIMEDOUT;
            if (d && (d - now) / GORT_MILLISECOND + 1 < ms)
                ms = (d - now) / GORT_MILLISECOND + 1;
        }
        struct pollfd pfd = { pd->fd, (short)(((modes & POLL_READ) ? POLLIN : 0) |
                                              ((modes & POLL_WRITE) ? POLLOUT : 0)), 0 };
        if (poll(&pfd, 1, (int)ms) > 0) {
            int ready = 0;
            if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
                ready |= POLL_READ;
            if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
                ready |= POLL_WRITE;
            return (ready & modes) ? (ready & modes) : modes;
        }
    }
}

static int netpollwait1(pollDesc *pd, int modes)
{
    if (!ingoroutine())
        return threadwait(pd, modes);
    if (modes == (POLL_READ | POLL_WRITE)) {
        int r = netpollblockdual(pd);
        return r ? r : netpollcheckerr(pd, modes);
    }
    if (netpollblock(pd, modes))
        return modes;
    return netpollcheckerr(pd, modes);
}

int netpollwait(pollDesc *pd, int modes)
{
    int r = netpollwait1(pd, modes);
    if (r > 0 && (r & POLL_READ))
        pd_setrhint(pd, pd_rhint(pd) & ~RH_DRAINED);   /* an edge was consumed: the next read tries */
    return r;
}

int netpollwait_until(pollDesc *pd, int modes, int64_t when)
{
    if (!when)
        return netpollwait(pd, modes);
    pd_calldeadline(pd, modes, when);
    int r = netpollwait(pd, modes);
    pd_calldeadline(pd, modes, 0);
    return r;
}

/* ---- gort_poll_fd: any non-blocking fd ------------------------------------------- */

/* The pollDesc of an fd gort did not create. The kernel drops a
 * registration when the file is closed, and the number may come back as
 * another file, so each call registers again (an existing registration is
 * modified, which also re-reports current readiness). */
static pollDesc *pd_foreign(int fd, int *err)
{
    pthread_once(&init_once, netpollGenericInit);
    pollDesc *pd = pd_slot(fd, true);
    if (!pd) {
        *err = -EBADF;
        return NULL;
    }
    lock(&pd->lock);
    if (atomic_load(&pd->kind) == pdGort) {
        *err = -EBADF;                   /* gort's, and being closed */
    } else {
        *err = netpollopen(fd, netpollkey(fd, atomic_load(&pd->seq)));
        if (*err == 0)
            atomic_store(&pd->kind, pdForeign);
    }
    unlock(&pd->lock);
    return *err ? NULL : pd;
}

int gort_poll_fd(int fd, int events, int64_t deadline_ns)
{
    RUNTIME_ENTRY();
    events &= POLL_READ | POLL_WRITE;
    if (!events)
        return -EINVAL;
    int err;
    pollDesc *pd = pd_get(fd), *own = pd;
    if (!pd && !(pd = pd_foreign(fd, &err)))
        return err;
    pd_lock(pd, events);
    int r;
    do
        r = netpollwait_until(pd, events, deadline_ns);
    while (r == 0);
    pd_unlock(pd, events);
    if (own)
        pd_put(own);
    return r;
}
