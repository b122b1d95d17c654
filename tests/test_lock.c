/*
 * test_lock.c — runtime mutexes and notes (lock_futex.c): mutual exclusion
 * between goroutines and plain threads, notes' wakeup and timeout, and, in
 * asserting builds, assertLockHeld: it passes for the holder, and kills the
 * process (fatal error, exit 2) for a lock that is free or held by another
 * thread, including inside the scheduler (checkdead without sched.lock).
 */
#include "testutil.h"
#include "runtime.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- assertLockHeld (children first: the parent must not start the runtime) -- */

#ifdef GORT_DEBUG_BUILD
static mutex alock;

static void assert_free(void *arg) { assertLockHeld(&alock); }

static void test_assert_free_lock_dies(void **st)
{
    child_result r = run_child(assert_free, NULL);
    assert_child_died_with(r, "fatal error: assertion failed: ");
}

static void *hold_forever(void *done)
{
    lock(&alock);
    atomic_store((atomic_int *)done, 1);
    for (;;)
        pause();
    return NULL;
}

static void assert_other_thread(void *arg)
{
    atomic_int done = 0;
    pthread_t t;
    pthread_create(&t, NULL, hold_forever, &done);
    while (!atomic_load(&done))
        sched_yield();
    assertLockHeld(&alock);
}

static void test_assert_other_threads_lock_dies(void **st)
{
    child_result r = run_child(assert_other_thread, NULL);
    assert_child_died_with(r, "fatal error: assertion failed: ");
}

static void checkdead_unlocked(void *arg)
{
    runtime_init();
    checkdead();
}

static void test_checkdead_without_sched_lock_dies(void **st)
{
    child_result r = run_child(checkdead_unlocked, NULL);
    assert_child_died_with(r, "fatal error: assertion failed: ");
}

static void test_assert_held_lock_passes(void **st)
{
    lock(&alock);
    assertLockHeld(&alock);
    unlock(&alock);
}
#endif

/* ---- Mutual exclusion ------------------------------------------------------- */

enum { NGOROUTINES = 16, NTHREADS = 2 };
static mutex mu;
static long counter;                   /* guarded by mu, deliberately not atomic */
static gort_waitgroup wg;

static void bump(int n)
{
    for (int i = 0; i < n; i++) {
        lock(&mu);
        assertLockHeld(&mu);
        counter++;
        unlock(&mu);
        if (i % 64 == 0)
            gort_yield();              /* move between threads, lock again */
    }
}

static void bump_goroutine(void *arg)
{
    bump(scaled(20000));
    gort_waitgroup_done(&wg);
}

static void *bump_thread(void *arg)
{
    bump(scaled(20000));
    return NULL;
}

static void exclusion_body(void *arg)
{
    counter = 0;
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bump_thread, NULL), 0);
    gort_waitgroup_add(&wg, NGOROUTINES);
    for (int i = 0; i < NGOROUTINES; i++)
        gort_go(bump_goroutine, NULL);
    gort_waitgroup_wait(&wg);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    lock(&mu);
    assert_int_equal(counter, (long)(NGOROUTINES + NTHREADS) * scaled(20000));
    unlock(&mu);
}
BOTH(exclusion)

/* ---- Notes -------------------------------------------------------------------- */

static void *wake_note(void *n)
{
    notewakeup(n);
    return NULL;
}

static void test_note_wakeup_and_timeout(void **st)
{
    note n;
    noteclear(&n);
    assert_false(notetsleep(&n, 1000));            /* nobody wakes it: times out */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_note, &n), 0);
    notesleep(&n);                                  /* returns once woken */
    pthread_join(t, NULL);
    assert_true(notetsleep(&n, 0));                 /* a woken note stays woken */
    noteclear(&n);
    assert_false(notetsleep(&n, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef GORT_DEBUG_BUILD
        cmocka_unit_test(test_assert_free_lock_dies),
        cmocka_unit_test(test_assert_other_threads_lock_dies),
        cmocka_unit_test(test_checkdead_without_sched_lock_dies),
        cmocka_unit_test(test_assert_held_lock_passes),
#endif
        cmocka_unit_test(test_note_wakeup_and_timeout),
        BOTH_TESTS(exclusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
