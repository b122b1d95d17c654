/*
 * chan.h — the internal contract of gort's blocking primitives: channels
 * (chan.c), select (select.c), semaphores (sema.c), the sync package
 * (sync.c), and how goroutines and foreign threads wait (deadlock.c).
 * Go keeps these in chan.go, select.go and sema.go; the types are Go's.
 *
 * A channel is an hchan: a ring buffer of dataqsiz elements plus two FIFO
 * queues of waiters (sudogs), all guarded by one runtime mutex.
 *
 *   hchan: qcount dataqsiz buf elemsize closed sendx recvx recvq sendq lock
 *                           |                            |
 *                           v                            v
 *            [e0][e1][e2][e3]                 sudog <-> sudog <-> sudog
 *             ^recvx   ^sendx                 (one per blocked G, FIFO)
 *
 * The public type gort_chan is this struct under another name.
 *
 * Waiters. A sudog stands for one waiting party, normally a parked
 * goroutine. gort also lets threads that are not goroutines (the C
 * program's own, "foreign" threads) block on channels and semaphores: such
 * a thread waits through a stand-in g of its own whose `threadpark` note it
 * sleeps on. waitpark/waitready hide the difference, so the channel and
 * semaphore code reads like Go's gopark/goready.
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include "runtime.h"

typedef struct waitq { sudog *first, *last; } waitq;

typedef struct hchan {
    mutex            lock;      /* guards all of the below and the sudogs queued here */
    _Atomic uint32_t closed;
    _Atomic size_t   qcount;    /* elements in buf (read unlocked by fast paths) */
    size_t           dataqsiz;  /* capacity; immutable */
    size_t           elemsize;  /* immutable; may be 0 */
    size_t           sendx;     /* next slot to fill */
    size_t           recvx;     /* next slot to drain */
    waitq            recvq;     /* blocked receivers */
    waitq            sendq;     /* blocked senders */
} hchan;

/* ---- Wait queues (chan.c); the channel's lock held ------------------------ */

void   waitq_enqueue(waitq *q, sudog *sg);
/* Removes and returns the first waiter that may still be woken: a select
 * whose other case already fired is skipped (see g.selectdone). */
sudog *waitq_dequeue(waitq *q);
/* Unlinks sg from q (a select tidying up its losing cases). Go's dequeueSudoG. */
void   waitq_remove(waitq *q, sudog *sg);

/* ---- Channel operations shared with select.c (chan.c); c locked ------------- */

/* Hands ep to the dequeued receiver sg / takes the dequeued sender sg's
 * value into ep (or into the buffer, taking the head for ep). Both release
 * the channel locks with unlockf(arg) before waking sg's waiter. */
void send_sudog(hchan *c, sudog *sg, const void *ep, void (*unlockf)(void *), void *arg);
void recv_sudog(hchan *c, sudog *sg, void *ep, void (*unlockf)(void *), void *arg);
void bufsend(hchan *c, const void *ep);   /* the buffer has room */
void bufrecv(hchan *c, void *ep);         /* the buffer is not empty; ep may be NULL */
void chanzero(hchan *c, void *ep);        /* *ep = the zero value, if ep */
/* Non-blocking send / receive (gort_chan_try_*), c unlocked: true if the
 * operation happened; *received: a value, not the zero of a closed channel. */
bool chantrysend(hchan *c, const void *ep);
bool chantryrecv(hchan *c, void *ep, bool *received);

/* ---- Semaphores and notify lists (sema.c): Go's runtime_Semacquire & co ---- */

/* Waits until *addr > 0, then decrements it. lifo: queue at the head
 * (a waiter that was already woken once and lost the race). */
void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason);
/* Increments *addr and wakes one waiter. handoff: give the count straight
 * to that waiter and yield to it (sync.Mutex starvation mode). */
void semrelease1(uint32_t *addr, bool handoff);
uint32_t notifyListAdd(gort_cond *l);
void notifyListWait(gort_cond *l, uint32_t ticket);
void notifyListNotifyOne(gort_cond *l);
void notifyListNotifyAll(gort_cond *l);

/* ---- Waiting goroutines and threads (deadlock.c) --------------------------- */

/* The calling foreign thread's stand-in g (registering the thread). */
g   *waitg_foreign(void);
/* waitpark for a foreign thread's stand-in: unlockf, then sleep on its note. */
void threadpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason);

/* These four are on every blocking path, hence inline; the foreign-thread
 * cases are the rare ones. */

/* The g that will wait: the current goroutine, or the calling foreign
 * thread's stand-in. Throws on a scheduler stack (g0), which must never block. */
static inline g *waitg(void)
{
    g *gp = getg();
    if (unlikely(!gp))
        return waitg_foreign();
    if (unlikely(gp == gp->m->g0))
        throw("blocking operation on a scheduler stack (g0)");
    return gp;
}

/* gopark for gp = waitg(); on a foreign thread: unlockf, then sleep. */
static inline void waitpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason)
{
    if (likely(!gp->threadpark))
        gopark(unlockf, lock, reason);
    else
        threadpark(gp, unlockf, lock, reason);
}

/* goparkunlock for gp = waitg(). */
static inline void waitparkunlock(g *gp, mutex *l, enum waitreason reason)
{
    waitpark(gp, parkunlock, l, reason);
}

/* goready, or wake the foreign thread gp stands for. Any thread. */
static inline void waitready(g *gp)
{
    if (unlikely(gp->threadpark))
        notewakeup(gp->threadpark);
    else
        goready(gp);
}
/* Blocks the caller forever (nil channel, select with no cases). */
NORETURN void waitforever(enum waitreason reason);

/* At each public entry that may later let the caller wake a goroutine: a
 * thread that is not an M is from now on a possible waker (see checkdead). */
static inline void foreignenter(void)
{
    if (unlikely(getg() == NULL))
        foreign_register();
}

#endif /* GORT_CHAN_H */
