/*
 * park.h — how goroutines and foreign threads wait (park.c): the one waiting
 * protocol that channels, select, semaphores and the sync package share.
 *
 * In Go only goroutines block, through gopark/goready (proc.go). gort also
 * lets threads that are not goroutines (the C program's own, "foreign"
 * threads) block on channels and semaphores: such a thread waits through a
 * stand-in g of its own, made when it first calls into gort (deadlock.c),
 * whose `threadpark` note it sleeps on. waitg/waitpark/waitready hide the
 * difference, so the channel and semaphore code reads like Go's
 * gopark/goready:
 *
 *   waiter                                   waker (any thread)
 *   gp = waitg();                            lock(&obj->lock);
 *   lock(&obj->lock); enqueue gp's sudog     dequeue the sudog of gp
 *   waitparkunlock(gp, &obj->lock, why);     unlock(&obj->lock);
 *        (returns once woken)                waitready(gp);
 *
 * The unlock runs only once gp is marked as waiting (a goroutine: on g0
 * after it switched away; a thread: before it sleeps on its note, which
 * remembers a wakeup that comes first), so no wakeup is ever lost.
 */
#ifndef GORT_PARK_H
#define GORT_PARK_H

#include "runtime.h"

/* waitpark for a foreign thread's stand-in: unlockf, then sleep on its note. */
void threadpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason);

/* These are on every blocking path, hence inline; the foreign-thread cases
 * are the rare ones. */

/* The g that will wait: the current goroutine, or the calling foreign
 * thread's stand-in. Throws on a scheduler stack (g0), which must never block. */
static inline g *waitg(void)
{
    g *gp = getg();
    if (unlikely(!gp))
        return foreign_register();
    if (unlikely(gp == gp->m->g0))
        throw("blocking operation on a scheduler stack (g0)");
    return gp;
}

/* gopark for gp = waitg(); on a foreign thread: unlockf, then sleep. The
 * wait is a block profile event (channels, select, semaphores, sync). */
static inline void waitpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason)
{
    int64_t t0 = blockprof_start();
    if (likely(!gp->threadpark))
        gopark(unlockf, lock, reason);
    else
        threadpark(gp, unlockf, lock, reason);
    blockprof_end(t0);
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
 * thread that is not an M is from now on a possible waker (see checkdead).
 * Returns the caller's g: its goroutine or g0, or the stand-in. */
static inline g *foreignenter(void)
{
    g *gp = getg();
    if (unlikely(gp == NULL))
        gp = foreign_register();
    return gp;
}

#endif /* GORT_PARK_H */
