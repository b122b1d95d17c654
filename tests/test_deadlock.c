/*
 * test_deadlock.c — deadlock detection (deadlock.c): a program whose
 * goroutines can never run again dies with Go's message and exit status 2;
 * programs that only look idle (sleeping goroutines, timers, locked
 * threads, threads that will call in later) are left alone. Each case runs
 * in a forked child that starts the runtime itself, with 1 P and 2 Ps.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define DEADLOCK "fatal error: all goroutines are asleep - deadlock!\n"

static void expect_deadlock(void (*body)(void *), const char *msg)
{
    for (int procs = 1; procs <= 2; procs++) {
        child_result r = run_main_child(body, procs);
        assert_child_died_with(r, msg);
    }
}

static void expect_clean_exit(void (*body)(void *))
{
    for (int procs = 1; procs <= 2; procs++) {
        child_result r = run_main_child(body, procs);
        if (r.exit_status != 0)
            print_error("child status %d signal %d, stderr:\n%s\n", r.exit_status, r.signal, r.err);
        assert_int_equal(r.exit_status, 0);
        assert_int_equal(r.err[0], 0);
    }
}

/* ---- Deadlocks ---------------------------------------------------------------- */

static void recv_nobody(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_recv(c, NULL);
}

static void test_main_recv(void **st) { expect_deadlock(recv_nobody, DEADLOCK); }

static void send_full(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 2);
    int v = 1;
    for (int i = 0; i < 3; i++)
        gort_chan_send(c, &v);
}

static void test_main_send_full(void **st) { expect_deadlock(send_full, DEADLOCK); }

/* Two goroutines each wait for the other; main waits for both. */
struct pair { gort_chan *a, *b; gort_waitgroup wg; };

static void wait_a_then_b(void *arg)
{
    struct pair *p = arg;
    gort_chan_recv(p->a, NULL);
    gort_chan_send(p->b, NULL);
    gort_waitgroup_done(&p->wg);
}

static void wait_b_then_a(void *arg)
{
    struct pair *p = arg;
    gort_chan_recv(p->b, NULL);
    gort_chan_send(p->a, NULL);
    gort_waitgroup_done(&p->wg);
}

static void cycle(void *arg)
{
    static struct pair p;
    p.a = gort_chan_make(0, 0);
    p.b = gort_chan_make(0, 0);
    gort_waitgroup_add(&p.wg, 2);
    gort_go(wait_a_then_b, &p);
    gort_go(wait_b_then_a, &p);
    gort_waitgroup_wait(&p.wg);
}

static void test_cycle(void **st) { expect_deadlock(cycle, DEADLOCK); }

static void relock(void *arg)
{
    static gort_mutex m = GORT_MUTEX_INIT;
    gort_mutex_lock(&m);
    gort_mutex_lock(&m);
}

static void test_mutex_relock(void **st) { expect_deadlock(relock, DEADLOCK); }

static void empty_select(void *arg) { gort_select(NULL, 0, true); }
static void nil_recv(void *arg) { gort_chan_recv(NULL, NULL); }

static void test_select_and_nil(void **st)
{
    expect_deadlock(empty_select, DEADLOCK);
    expect_deadlock(nil_recv, DEADLOCK);
}

static void cond_forever(void *arg)
{
    static gort_mutex m = GORT_MUTEX_INIT;
    static gort_cond c = GORT_COND_INIT(&m);
    gort_mutex_lock(&m);
    gort_cond_wait(&c);
}

static void test_cond_forever(void **st) { expect_deadlock(cond_forever, DEADLOCK); }

/* Timers keep a program alive only while they are pending. */
static void after_timers(void *arg)
{
    gort_sleep(10 * GORT_MILLISECOND);
    gort_chan_recv(gort_after(10 * GORT_MILLISECOND), NULL);
    recv_nobody(NULL);
}

static void test_after_timers_drain(void **st) { expect_deadlock(after_timers, DEADLOCK); }

/* The main goroutine locked to its thread: that M parks in stoplockedm. */
static void locked_main(void *arg)
{
    gort_lock_os_thread();
    recv_nobody(NULL);
}

static void test_locked_main(void **st) { expect_deadlock(locked_main, DEADLOCK); }

/* A thread that called in, then exited: once it is gone, nobody is left. */
static void *send_once(void *c)
{
    gort_chan_send(c, NULL);
    return NULL;
}

static void thread_gone(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    pthread_t t;
    pthread_create(&t, NULL, send_once, c);
    pthread_detach(t);
    gort_chan_recv(c, NULL);
    gort_chan_recv(c, NULL);
}

static void test_after_thread_exit(void **st) { expect_deadlock(thread_gone, DEADLOCK); }

static void goexit_main(void *arg) { gort_goexit(); }

static void test_main_goexit(void **st)
{
    expect_deadlock(goexit_main, "fatal error: no goroutines (main called runtime.Goexit) - deadlock!\n");
}

/* ---- Not deadlocks ------------------------------------------------------------- */

static void block_forever(void *arg) { gort_chan_recv(NULL, NULL); }

/* Stuck goroutines do not matter once main returns, nor while it sleeps. */
static void leave_stuck(void *arg)
{
    for (int i = 0; i < 10; i++)
        gort_go(block_forever, NULL);
    gort_sleep(30 * GORT_MILLISECOND);
}

static void test_stuck_goroutines_ok(void **st) { expect_clean_exit(leave_stuck); }

static void late_sender(void *c)
{
    gort_sleep(30 * GORT_MILLISECOND);
    gort_chan_send(c, NULL);
}

static void woken_by_timer(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    gort_go(late_sender, c);
    gort_chan_recv(c, NULL);
}

static void test_woken_by_timer_ok(void **st) { expect_clean_exit(woken_by_timer); }

static void locked_woken(void *arg)
{
    gort_lock_os_thread();
    woken_by_timer(NULL);
    gort_unlock_os_thread();
}

static void test_locked_thread_ok(void **st) { expect_clean_exit(locked_woken); }

static void ticker_reader(void *c)
{
    gort_ticker *t = gort_ticker_new(5 * GORT_MILLISECOND);
    for (int i = 0; i < 5; i++)
        gort_chan_recv(gort_ticker_chan(t), NULL);
    gort_ticker_stop(t);
    gort_chan_send(c, NULL);
}

static void woken_by_ticker(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    gort_go(ticker_reader, c);
    gort_chan_recv(c, NULL);
}

static void test_woken_by_ticker_ok(void **st) { expect_clean_exit(woken_by_ticker); }

/* A goroutine starts a thread that calls into gort only later, after
 * some C work: nothing may be reported meanwhile. */
static void *slow_thread(void *c)
{
    usleep(50 * 1000);
    gort_chan_send(c, NULL);
    return NULL;
}

static void woken_by_new_thread(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    pthread_t t;
    pthread_create(&t, NULL, slow_thread, c);
    gort_chan_recv(c, NULL);
    pthread_join(t, NULL);
}

static void test_woken_by_new_thread_ok(void **st) { expect_clean_exit(woken_by_new_thread); }

/* A thread that has called in before and is now busy in C code. */
static void *known_thread(void *c)
{
    gort_chan_send(c, NULL);
    usleep(50 * 1000);
    gort_chan_send(c, NULL);
    return NULL;
}

static void woken_by_known_thread(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    pthread_t t;
    pthread_create(&t, NULL, known_thread, c);
    gort_chan_recv(c, NULL);
    gort_chan_recv(c, NULL);
    pthread_join(t, NULL);
}

static void test_woken_by_known_thread_ok(void **st) { expect_clean_exit(woken_by_known_thread); }

/* A goroutine sets a mutex-holding thread going: the thread took the lock
 * with the fast path (no runtime call besides the lock) and unlocks later. */
static gort_mutex held = GORT_MUTEX_INIT;
static atomic_int thread_has_lock;

static void *lock_holder(void *arg)
{
    gort_mutex_lock(&held);
    atomic_store(&thread_has_lock, 1);
    usleep(50 * 1000);
    gort_mutex_unlock(&held);
    return NULL;
}

static void waits_for_thread_mutex(void *arg)
{
    pthread_t t;
    pthread_create(&t, NULL, lock_holder, NULL);
    while (!atomic_load(&thread_has_lock))
        gort_sleep(GORT_MILLISECOND);
    gort_mutex_lock(&held);
    gort_mutex_unlock(&held);
    pthread_join(t, NULL);
}

static void test_thread_holds_mutex_ok(void **st) { expect_clean_exit(waits_for_thread_mutex); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_recv),
        cmocka_unit_test(test_main_send_full),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_mutex_relock),
        cmocka_unit_test(test_select_and_nil),
        cmocka_unit_test(test_cond_forever),
        cmocka_unit_test(test_after_timers_drain),
        cmocka_unit_test(test_locked_main),
        cmocka_unit_test(test_after_thread_exit),
        cmocka_unit_test(test_main_goexit),
        cmocka_unit_test(test_stuck_goroutines_ok),
        cmocka_unit_test(test_woken_by_timer_ok),
        cmocka_unit_test(test_locked_thread_ok),
        cmocka_unit_test(test_woken_by_ticker_ok),
        cmocka_unit_test(test_woken_by_new_thread_ok),
        cmocka_unit_test(test_woken_by_known_thread_ok),
        cmocka_unit_test(test_thread_holds_mutex_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
