/*
 * park.c — waiting for goroutines and foreign threads alike (see park.h).
 *
 * A goroutine waits with gopark (proc.c, Go's proc.go). A foreign thread
 * has no g to park, so it sleeps on the note of its stand-in g instead
 * (Go has no counterpart: only goroutines block there). While it sleeps it
 * is counted in sched.nwaiting_threads: another thread may still wake it,
 * so deadlock detection (deadlock.c) does not declare the program dead.
 */
#include "park.h"

void threadpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason)
{
    gp->waitreason = reason;
    atomic_fetch_add(&sched.nwaiting_threads, 1);
    if (!unlockf || unlockf(gp, lock))
        notesleep(gp->threadpark);
    noteclear(gp->threadpark);
    atomic_fetch_sub(&sched.nwaiting_threads, 1);
}

void waitforever(enum waitreason reason)
{
    waitpark(waitg(), NULL, NULL, reason);
    throw("unreachable: woke from a wait that has no waker");
}
