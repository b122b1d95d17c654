/*
 * test_panic_chan.c — channel and sync misuse dies with Go's message, a
 * traceback and exit status 2. Each case runs in a forked child that
 * starts the runtime itself (this process never starts it, so forking is
 * safe).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdint.h>

/* Runs body as the main goroutine of a child process; the child must die. */
static void expect_death(void (*body)(void *), const char *msg)
{
    child_result r = run_main_child(body, 0);
    assert_child_died_with(r, msg);
    assert_non_null(strstr(r.err, "goroutine "));       /* a traceback follows */
}

/* ---- Channels ------------------------------------------------------------------- */

static void send_closed(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan_close(c);
    int v = 1;
    gort_chan_send(c, &v);
}

static void test_send_on_closed(void **st) { expect_death(send_closed, "panic: send on closed channel\n"); }

static void try_send_closed(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_close(c);
    int v = 1;
    gort_chan_try_send(c, &v);
}

static void test_try_send_on_closed(void **st) { expect_death(try_send_closed, "panic: send on closed channel\n"); }

static void blocked_sender(void *c)
{
    int v = 1;
    gort_chan_send(c, &v);               /* parks, then panics when c closes */
}

static void close_under_sender(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(blocked_sender, c);
    gort_sleep(10 * GORT_MILLISECOND);
    gort_chan_close(c);
    gort_chan_recv(NULL, NULL);          /* until the woken sender's panic, however late */
}

static void test_close_wakes_sender_to_panic(void **st)
{
    expect_death(close_under_sender, "panic: send on closed channel\n");
}

static void select_send_closed(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_close(c);
    int v = 1;
    gort_select_case cs[] = { { NULL, GORT_RECV, NULL, NULL }, { c, GORT_SEND, &v, NULL } };
    gort_select(cs, 2, false);
}

static void test_select_send_on_closed(void **st) { expect_death(select_send_closed, "panic: send on closed channel\n"); }

static void blocked_select_sender(void *c)
{
    int v = 1;
    gort_select_case cs[] = { { c, GORT_SEND, &v, NULL },
                              { gort_chan_make(sizeof(int), 0), GORT_RECV, NULL, NULL } };
    gort_select(cs, 2, true);
}

static void close_under_select(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(blocked_select_sender, c);
    gort_sleep(10 * GORT_MILLISECOND);
    gort_chan_close(c);
    gort_chan_recv(NULL, NULL);          /* until the woken sender's panic, however late */
}

static void test_close_wakes_select_sender_to_panic(void **st)
{
    expect_death(close_under_select, "panic: send on closed channel\n");
}

static void close_closed(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_close(c);
    gort_chan_close(c);
}

static void test_close_of_closed(void **st) { expect_death(close_closed, "panic: close of closed channel\n"); }

static void close_nil(void *arg) { gort_chan_close(NULL); }

static void test_close_of_nil(void **st) { expect_death(close_nil, "panic: close of nil channel\n"); }

static void makechan_huge(void *arg) { gort_chan_make(8, SIZE_MAX / 4); }
static void makechan_negative(void *arg) { gort_chan_make(0, (size_t)-1); }

static void test_makechan_out_of_range(void **st)
{
    expect_death(makechan_huge, "panic: makechan: size out of range\n");
    expect_death(makechan_negative, "panic: makechan: size out of range\n");
}

/* A thread that is not a goroutine gets the same message. */
static void *thread_close_nil(void *arg)
{
    gort_chan_close(NULL);
    return NULL;
}

static void thread_child(void *arg)
{
    alarm(20);
    pthread_t t;
    pthread_create(&t, NULL, thread_close_nil, NULL);
    pthread_join(t, NULL);
    _exit(0);
}

static void test_panic_on_foreign_thread(void **st)
{
    child_result r = run_child(thread_child, NULL);
    assert_child_died_with(r, "panic: close of nil channel\n");
    assert_non_null(strstr(r.err, "thread (not a goroutine)"));
}

/* ---- sync ----------------------------------------------------------------------- */

static void wg_negative(void *arg)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 1);
    gort_waitgroup_done(&wg);
    gort_waitgroup_done(&wg);
}

static void test_negative_waitgroup(void **st) { expect_death(wg_negative, "panic: sync: negative WaitGroup counter\n"); }

static void unlock_unlocked(void *arg)
{
    gort_mutex m = GORT_MUTEX_INIT;
    gort_mutex_lock(&m);
    gort_mutex_unlock(&m);
    gort_mutex_unlock(&m);
}

static void test_unlock_of_unlocked_mutex(void **st)
{
    expect_death(unlock_unlocked, "fatal error: sync: unlock of unlocked mutex\n");
}

static void runlock_unlocked(void *arg)
{
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    gort_rwmutex_runlock(&rw);
}

static void runlock_write_locked(void *arg)
{
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    gort_rwmutex_lock(&rw);
    gort_rwmutex_runlock(&rw);
}

static void unlock_unlocked_rw(void *arg)
{
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    gort_rwmutex_rlock(&rw);
    gort_rwmutex_runlock(&rw);
    gort_rwmutex_unlock(&rw);
}

static void test_rwmutex_misuse(void **st)
{
    expect_death(runlock_unlocked, "fatal error: sync: RUnlock of unlocked RWMutex\n");
    expect_death(runlock_write_locked, "fatal error: sync: RUnlock of unlocked RWMutex\n");
    expect_death(unlock_unlocked_rw, "fatal error: sync: Unlock of unlocked RWMutex\n");
}

/* ---- time ------------------------------------------------------------------------ */

static void ticker_zero(void *arg) { gort_ticker_new(0); }

static void test_ticker_nonpositive(void **st)
{
    expect_death(ticker_zero, "panic: non-positive interval for NewTicker\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_on_closed),
        cmocka_unit_test(test_try_send_on_closed),
        cmocka_unit_test(test_close_wakes_sender_to_panic),
        cmocka_unit_test(test_select_send_on_closed),
        cmocka_unit_test(test_close_wakes_select_sender_to_panic),
        cmocka_unit_test(test_close_of_closed),
        cmocka_unit_test(test_close_of_nil),
        cmocka_unit_test(test_makechan_out_of_range),
        cmocka_unit_test(test_panic_on_foreign_thread),
        cmocka_unit_test(test_negative_waitgroup),
        cmocka_unit_test(test_unlock_of_unlocked_mutex),
        cmocka_unit_test(test_rwmutex_misuse),
        cmocka_unit_test(test_ticker_nonpositive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
