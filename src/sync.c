/*
 * sync.c — goroutine-aware locks (Go: sync/mutex.go, rwmutex.go,
 * waitgroup.go, once.go, cond.go).
 *
 * These block goroutines, not threads: a goroutine that waits is parked
 * through a semaphore (sema.c) and its thread runs other goroutines. Their
 * layouts are Go's (gort.h), all zero-initialisable, with no destructor.
 *
 * gort_mutex. state packs four things:
 *
 *     31 .................... 3   2          1        0
 *     [ number of waiters     ] [starving] [woken] [locked]
 *
 * Normal mode: Lock is a CAS 0 -> locked. Under contention a goroutine
 * spins a few times if that can pay off (canSpin: other Ps are running, so
 * the holder may be about to unlock), setting `woken` so that Unlock does
 * not wake a sleeper needlessly; then it counts itself a waiter and sleeps
 * on `sema`. Unlock wakes one sleeper, which then competes with newcomers
 * for the lock; newcomers usually win (they are already running), which is
 * what makes normal mode fast.
 *
 * Starvation mode: a waiter that has waited over 1 ms sets `starving`.
 * From then on Unlock hands the lock directly to the oldest waiter (and its
 * P too: semrelease handoff), newcomers queue at the tail without trying,
 * and the mode ends when the last waiter, or one that waited under 1 ms,
 * gets the lock. So no goroutine waits much more than 1 ms behind a stream
 * of newcomers.
 *
 * gort_rwmutex: writers exclude each other with `w`; reader_count goes
 * negative (minus 2^30) while a writer holds or wants the lock, which
 * sends new readers to sleep on reader_sem; reader_wait counts the readers
 * the writer still waits for, the last of which wakes it on writer_sem.
 *
 * gort_waitgroup: state is counter << 32 | waiters; the Add that brings the
 * counter to zero wakes every waiter. gort_once: a done flag, and a mutex
 * for the slow path. gort_cond: a notify list (sema.c) plus its lock.
 *
 * Each entry point notes a caller that is not a goroutine (foreignenter):
 * a foreign thread holding a lock may unlock it later, so it is a possible
 * waker for deadlock detection.
 */
#include "sema.h"

enum {
    mutexLocked = 1,
    mutexWoken = 2,
    mutexStarving = 4,
    mutexWaiterShift = 3,
};
#define starvationThresholdNs (1 * GORT_MILLISECOND)
#define rwmutexMaxReaders (1 << 30)

/* Atomics on the plain integer fields of the public structs. */
static int32_t load32(int32_t *a) { return __atomic_load_n(a, __ATOMIC_ACQUIRE); }
static int32_t add32(int32_t *a, int32_t d) { return __atomic_add_fetch(a, d, __ATOMIC_ACQ_REL); }
static bool cas32(int32_t *a, int32_t old, int32_t new)
{
    return __atomic_compare_exchange_n(a, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* ---- Mutex ------------------------------------------------------------------ */

static void lockSlow(gort_mutex *m)
{
    int64_t waitStartTime = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load32(&m->state);
    for (;;) {
        /* Spin while locked in normal mode, if spinning can pay off. Setting
         * woken tells Unlock not to wake anyone: we are awake already. */
        if ((old & (mutexLocked | mutexStarving)) == mutexLocked && canSpin(iter)) {
            if (!awoke && !(old & mutexWoken) && (old >> mutexWaiterShift) != 0 &&
                cas32(&m->state, old, old | mutexWoken))
                awoke = true;
            procyield(ACTIVE_SPIN_CNT);
            iter++;
            old = load32(&m->state);
            continue;
        }
        int32_t new = old;
        if (!(old & mutexStarving))
            new |= mutexLocked;         /* starving: newcomers do not grab it */
        if (old & (mutexLocked | mutexStarving))
            new += 1 << mutexWaiterShift;
        if (starving && (old & mutexLocked))
            new |= mutexStarving;
        if (awoke) {
            if (!(new & mutexWoken))
                throw("sync: inconsistent mutex state");
            new &= ~mutexWoken;
        }
        if (!cas32(&m->state, old, new)) {
            old = load32(&m->state);
            continue;
        }
        if (!(old & (mutexLocked | mutexStarving)))
            return;                     /* locked it with the CAS */
        /* Wait. One who waited before queues at the front. */
        bool queueLifo = waitStartTime != 0;
        if (waitStartTime == 0)
            waitStartTime = nanotime();
        semacquire1(&m->sema, queueLifo, waitReasonSyncMutexLock);
        starving = starving || nanotime() - waitStartTime > starvationThresholdNs;
        old = load32(&m->state);
        if (old & mutexStarving) {
            /* The lock was handed to us; it is still marked unlocked, and we
             * still count as a waiter: fix both at once. */
            if ((old & (mutexLocked | mutexWoken)) || (old >> mutexWaiterShift) == 0)
                throw("sync: inconsistent mutex state");
            int32_t delta = mutexLocked - (1 << mutexWaiterShift);
            if (!starving || (old >> mutexWaiterShift) == 1)
                delta -= mutexStarving; /* last waiter, or not starving: leave the mode */
            add32(&m->state, delta);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

void gort_mutex_lock(gort_mutex *m)
{
    RUNTIME_ENTRY();
    foreignenter();
    gopreempt_check();
    if (cas32(&m->state, 0, mutexLocked))
        return;
    lockSlow(m);
}

bool gort_mutex_trylock(gort_mutex *m)
{
    RUNTIME_ENTRY();
    foreignenter();
    gopreempt_check();
    int32_t old = load32(&m->state);
    if (old & (mutexLocked | mutexStarving))
        return false;
    return cas32(&m->state, old, old | mutexLocked);
}

static void unlockSlow(gort_mutex *m, int32_t new)
{
    if (!((new + mutexLocked) & mutexLocked))
        throw("sync: unlock of unlocked mutex");
    if (new & mutexStarving) {
        semrelease1(&m->sema, true);    /* hand it to the next waiter */
        return;
    }
    int32_t old = new;
    for (;;) {
        /* Nobody to wake, or someone already locked it, was woken, or
         * starvation took over: done. */
        if ((old >> mutexWaiterShift) == 0 || (old & (mutexLocked | mutexWoken | mutexStarving)))
            return;
        new = (old - (1 << mutexWaiterShift)) | mutexWoken;
        if (cas32(&m->state, old, new)) {
            semrelease1(&m->sema, false);
            return;
        }
        old = load32(&m->state);
    }
}

void gort_mutex_unlock(gort_mutex *m)
{
    RUNTIME_ENTRY();
    int32_t new = add32(&m->state, -mutexLocked);
    if (new != 0)
        unlockSlow(m, new);
}

/* ---- RWMutex ----------------------------------------------------------------- */

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    foreignenter();
    gopreempt_check();
    if (add32(&rw->reader_count, 1) < 0)
        semacquire1(&rw->reader_sem, false, waitReasonSyncRWMutexRLock);  /* a writer is pending */
}

bool gort_rwmutex_tryrlock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    foreignenter();
    for (;;) {
        int32_t c = load32(&rw->reader_count);
        if (c < 0)
            return false;
        if (cas32(&rw->reader_count, c, c + 1))
            return true;
    }
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    int32_t r = add32(&rw->reader_count, -1);
    if (r >= 0)
        return;
    if (r + 1 == 0 || r + 1 == -rwmutexMaxReaders)
        throw("sync: RUnlock of unlocked RWMutex");
    if (add32(&rw->reader_wait, -1) == 0)
        semrelease1(&rw->writer_sem, false);   /* the last reader the writer waited for */
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    gort_mutex_lock(&rw->w);
    /* Announce the writer; r is how many readers hold the lock now. */
    int32_t r = add32(&rw->reader_count, -rwmutexMaxReaders) + rwmutexMaxReaders;
    if (r != 0 && add32(&rw->reader_wait, r) != 0)
        semacquire1(&rw->writer_sem, false, waitReasonSyncRWMutexLock);
}

bool gort_rwmutex_trylock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    if (!gort_mutex_trylock(&rw->w))
        return false;
    if (!cas32(&rw->reader_count, 0, -rwmutexMaxReaders)) {
        gort_mutex_unlock(&rw->w);
        return false;
    }
    return true;
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
    RUNTIME_ENTRY();
    int32_t r = add32(&rw->reader_count, rwmutexMaxReaders);
    if (r >= rwmutexMaxReaders)
        throw("sync: Unlock of unlocked RWMutex");
    for (int32_t i = 0; i < r; i++)
        semrelease1(&rw->reader_sem, false);   /* the readers that queued behind us */
    gort_mutex_unlock(&rw->w);
}

/* ---- WaitGroup ----------------------------------------------------------------- */

void gort_waitgroup_add(gort_waitgroup *wg, int delta)
{
    RUNTIME_ENTRY();
    foreignenter();
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)delta << 32, __ATOMIC_ACQ_REL);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        gopanic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        gopanic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* The counter reached zero with waiters: nobody may touch the state
     * now but us, so a plain reset is safe (and checks that). */
    if (__atomic_load_n(&wg->state, __ATOMIC_ACQUIRE) != state)
        gopanic("sync: WaitGroup misuse: Add called concurrently with Wait");
    __atomic_store_n(&wg->state, 0, __ATOMIC_RELEASE);
    for (; w != 0; w--)
        semrelease1(&wg->sema, false);
}

void gort_waitgroup_done(gort_waitgroup *wg) { gort_waitgroup_add(wg, -1); }

void gort_waitgroup_wait(gort_waitgroup *wg)
{
    RUNTIME_ENTRY();
    foreignenter();
    for (;;) {
        uint64_t state = __atomic_load_n(&wg->state, __ATOMIC_ACQUIRE);
        if ((int32_t)(state >> 32) == 0)
            return;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            semacquire1(&wg->sema, false, waitReasonSyncWaitGroupWait);
            if (__atomic_load_n(&wg->state, __ATOMIC_ACQUIRE) != 0)
                gopanic("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}

/* ---- Once ----------------------------------------------------------------------- */

void gort_once_do(gort_once *o, void (*fn)(void *), void *arg)
{
    /* No RUNTIME_ENTRY: fn is the program's code (a blocking call in it is
     * detected); the lock and unlock are entries of their own. */
    if (__atomic_load_n(&o->done, __ATOMIC_ACQUIRE))
        return;
    /* Slow path: whoever gets the mutex first runs fn; the others wait for
     * it to finish, so nobody returns before fn has. */
    gort_mutex_lock(&o->m);
    if (!o->done) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    gort_mutex_unlock(&o->m);
}

/* ---- Cond ---------------------------------------------------------------------- */

void gort_cond_wait(gort_cond *c)
{
    RUNTIME_ENTRY();
    foreignenter();
    uint32_t t = notifyListAdd(c);    /* take a ticket before unlocking: no lost Signal */
    gort_mutex_unlock(c->L);
    notifyListWait(c, t);
    gort_mutex_lock(c->L);
}

void gort_cond_signal(gort_cond *c)
{
    RUNTIME_ENTRY();
    foreignenter();
    notifyListNotifyOne(c);
}

void gort_cond_broadcast(gort_cond *c)
{
    RUNTIME_ENTRY();
    foreignenter();
    notifyListNotifyAll(c);
}
