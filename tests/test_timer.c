/*
 * test_timer.c — timers (time.c): 10 000 timers fire in deadline order,
 * never early; sleep, after, timers with stop and reset, AfterFunc,
 * tickers with stop and reset; timers used from a thread that is not a
 * goroutine; and an idle runtime sleeps (no spinning) until its next timer.
 * Bodies run with 1 P and 2 Ps.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

/* How late a timer may fire on this machine: generous under emulation
 * and the sanitizers. */
static int64_t slack(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 500 * GORT_MILLISECOND;
#else
    return (getenv("GORT_TEST_QEMU") ? 500 : 100) * GORT_MILLISECOND;
#endif
}

static void test_constants(void **st)
{
    assert_int_equal(GORT_NANOSECOND, 1);
    assert_int_equal(GORT_MICROSECOND, 1000);
    assert_int_equal(GORT_MILLISECOND, 1000000);
    assert_int_equal(GORT_SECOND, 1000000000);
    assert_int_equal(GORT_MINUTE, 60 * GORT_SECOND);
    assert_int_equal(GORT_HOUR, 3600 * GORT_SECOND);
}

/* ---- 10 000 timers, in shuffled creation order -------------------------------- */

enum { NTIMERS = 10000 };

static void order_body(void *arg)
{
    int n = scaled(NTIMERS);
    int64_t step = (getenv("GORT_TEST_QEMU") ? 100 : 10) * GORT_MICROSECOND;
    int *perm = malloc((size_t)n * sizeof *perm);
    gort_timer **ts = malloc((size_t)n * sizeof *ts);
    int64_t *lo = malloc((size_t)n * sizeof *lo), *hi = malloc((size_t)n * sizeof *hi);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    srand(42);
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* Timer k is due at base + k*step, but they are created in perm order,
     * so the heap has real sorting to do. Its true deadline lies in
     * [lo, hi]: the API takes a duration, read against the clock inside. */
    int64_t base = gort_nanotime() + 20 * GORT_MILLISECOND;
    for (int i = 0; i < n; i++) {
        int k = perm[i];
        int64_t now = gort_nanotime(), d = base + k * step - now;
        ts[k] = gort_timer_new(d);
        lo[k] = now + d;
        hi[k] = gort_nanotime() + d;
    }
    gort_sleep(base + n * step - gort_nanotime() + 20 * GORT_MILLISECOND);
    int64_t prev = 0;
    int inversions = 0;
    for (int k = 0; k < n; k++) {
        int64_t fired = 0;
        bool ok;
        int64_t wait_until = gort_nanotime() + slack();
        while (!gort_chan_try_recv(gort_timer_chan(ts[k]), &fired, &ok)) {
            assert_true(gort_nanotime() < wait_until);      /* never fired */
            gort_sleep(GORT_MILLISECOND);
        }
        assert_true(ok);
        assert_true(fired >= lo[k]);                         /* never early */
        assert_true(fired <= hi[k] + slack());               /* nor very late */
        /* Fire times follow deadline order where the deadlines are known
         * apart. (With 2 Ps, two Ms may drain one heap at once, each
         * stamping with its own `now`: order is checked with 1 P only.) */
        if (k > 0 && hi[k - 1] < lo[k] && fired < prev)
            inversions++;
        prev = fired;
        assert_false(gort_timer_stop(ts[k]));               /* already fired */
    }
    if (gort_gomaxprocs(0) == 1)
        assert_int_equal(inversions, 0);
    free(perm);
    free(ts);
    free(lo);
    free(hi);
}
BOTH(order)

/* ---- Sleep ---------------------------------------------------------------------- */

static atomic_int early, done_sleepers;

static void sleeper(void *arg)
{
    int64_t d = (int64_t)(intptr_t)arg;
    int64_t t0 = gort_nanotime();
    gort_sleep(d);
    int64_t t1 = gort_nanotime();
    if (t1 - t0 < d || t1 - t0 > d + slack())
        atomic_fetch_add(&early, 1);
    atomic_fetch_add(&done_sleepers, 1);
}

static void sleep_body(void *arg)
{
    int64_t t0 = gort_nanotime();
    gort_sleep(10 * GORT_MILLISECOND);
    int64_t dt = gort_nanotime() - t0;
    assert_true(dt >= 10 * GORT_MILLISECOND && dt < 10 * GORT_MILLISECOND + slack());
    t0 = gort_nanotime();
    gort_sleep(0);
    gort_sleep(-5);
    assert_true(gort_nanotime() - t0 < slack());

    int n = scaled(2000);
    atomic_store(&early, 0);
    atomic_store(&done_sleepers, 0);
    for (int i = 0; i < n; i++)
        gort_go(sleeper, (void *)(intptr_t)((i % 97) * 200 * GORT_MICROSECOND));
    while (atomic_load(&done_sleepers) < n)
        gort_sleep(GORT_MILLISECOND);
    assert_int_equal(atomic_load(&early), 0);
}
BOTH(sleep)

/* ---- After, Timer stop/reset, AfterFunc -------------------------------------------- */

static void after_body(void *arg)
{
    int64_t t0 = gort_nanotime(), fired = 0;
    gort_chan *c = gort_after(5 * GORT_MILLISECOND);
    assert_int_equal(gort_chan_cap(c), 1);
    assert_true(gort_chan_recv(c, &fired));
    assert_true(fired >= t0 + 5 * GORT_MILLISECOND);
    assert_true(gort_nanotime() >= fired);
    bool ok;
    assert_false(gort_chan_try_recv(c, &fired, &ok));    /* one value only */
}
BOTH(after)

static void timer_stop_reset_body(void *arg)
{
    bool ok;
    int64_t v;
    /* Stopped before it fires: true, and nothing is ever delivered. */
    gort_timer *t = gort_timer_new(5 * GORT_MILLISECOND);
    assert_true(gort_timer_stop(t));
    assert_false(gort_timer_stop(t));
    gort_sleep(10 * GORT_MILLISECOND);
    assert_false(gort_chan_try_recv(gort_timer_chan(t), &v, &ok));

    /* Reset while pending: true, and it fires at the new time. */
    int64_t t0 = gort_nanotime();
    t = gort_timer_new(5 * GORT_MILLISECOND);
    assert_true(gort_timer_reset(t, 20 * GORT_MILLISECOND));
    assert_true(gort_chan_recv(gort_timer_chan(t), &v));
    assert_true(v >= t0 + 20 * GORT_MILLISECOND);

    /* Reset after it fired: false, and it fires again. */
    t0 = gort_nanotime();
    assert_false(gort_timer_reset(t, 3 * GORT_MILLISECOND));
    assert_true(gort_chan_recv(gort_timer_chan(t), &v));
    assert_true(v >= t0 + 3 * GORT_MILLISECOND);
    assert_false(gort_timer_stop(t));

    /* A stopped timer can be reset and fire. */
    t = gort_timer_new(GORT_HOUR);
    assert_true(gort_timer_stop(t));
    assert_false(gort_timer_reset(t, GORT_MILLISECOND));
    assert_true(gort_chan_recv(gort_timer_chan(t), &v));
}
BOTH(timer_stop_reset)

static atomic_uint_fast64_t func_goid;
static atomic_int func_calls;

static void after_func_fn(void *arg)
{
    atomic_store(&func_goid, gort_goid());
    atomic_fetch_add(&func_calls, 1);
    gort_chan_send(arg, NULL);
}

static void after_func_body(void *arg)
{
    atomic_store(&func_calls, 0);
    gort_chan *done = gort_chan_make(0, 1);
    int64_t t0 = gort_nanotime();
    gort_timer *t = gort_timer_after_func(5 * GORT_MILLISECOND, after_func_fn, done);
    gort_chan_recv(done, NULL);
    assert_true(gort_nanotime() - t0 >= 5 * GORT_MILLISECOND);
    assert_int_equal(atomic_load(&func_calls), 1);
    uint64_t g = atomic_load(&func_goid);
    assert_true(g != 0 && g != gort_goid());      /* its own goroutine */
    assert_false(gort_timer_stop(t));

    t = gort_timer_after_func(5 * GORT_MILLISECOND, after_func_fn, done);
    assert_true(gort_timer_stop(t));
    gort_sleep(10 * GORT_MILLISECOND);
    assert_int_equal(atomic_load(&func_calls), 1);
}
BOTH(after_func)

/* ---- Tickers ------------------------------------------------------------------------ */

static void ticker_body(void *arg)
{
    int64_t period = 2 * GORT_MILLISECOND;
    int64_t t0 = gort_nanotime(), prev = t0, v;
    gort_ticker *tk = gort_ticker_new(period);
    for (int i = 0; i < 10; i++) {
        assert_true(gort_chan_recv(gort_ticker_chan(tk), &v));
        assert_true(v > prev);
        prev = v;
    }
    assert_true(gort_nanotime() - t0 >= 10 * period);

    /* A slow reader loses ticks rather than queueing them. */
    gort_sleep(10 * period);
    assert_int_equal(gort_chan_len(gort_ticker_chan(tk)), 1);

    /* Reset to a longer period. A tick that another M was delivering as
     * we reset may still land (stop and reset do not wait for a running
     * timer function, as in Go 1.19): wait a moment, then drop it. */
    bool ok;
    t0 = gort_nanotime();
    gort_ticker_reset(tk, 20 * GORT_MILLISECOND);
    gort_sleep(2 * GORT_MILLISECOND);
    gort_chan_try_recv(gort_ticker_chan(tk), &v, &ok);
    assert_true(gort_chan_recv(gort_ticker_chan(tk), &v));
    assert_true(v >= t0 + 20 * GORT_MILLISECOND);

    /* Stopped: no more ticks. */
    gort_ticker_stop(tk);
    gort_sleep(2 * GORT_MILLISECOND);
    gort_chan_try_recv(gort_ticker_chan(tk), &v, &ok);
    gort_sleep(50 * GORT_MILLISECOND);
    assert_false(gort_chan_try_recv(gort_ticker_chan(tk), &v, &ok));
}
BOTH(ticker)

/* ---- From a thread that is not a goroutine ------------------------------------------- */

static void *thread_timers(void *arg)
{
    int64_t t0 = gort_nanotime(), v;
    gort_sleep(5 * GORT_MILLISECOND);                     /* a plain nanosleep */
    assert_true(gort_nanotime() - t0 >= 5 * GORT_MILLISECOND);
    gort_timer *t = gort_timer_new(5 * GORT_MILLISECOND);
    assert_true(gort_chan_recv(gort_timer_chan(t), &v)); /* blocks the thread */
    assert_true(v >= t0 + 10 * GORT_MILLISECOND);
    gort_chan_send(arg, &v);
    return NULL;
}

static void thread_timer_body(void *arg)
{
    gort_chan *done = gort_chan_make(sizeof(int64_t), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_timers, done), 0);
    int64_t v;
    assert_true(gort_chan_recv(done, &v));
    pthread_join(th, NULL);
}
BOTH(thread_timer)

/* ---- An idle runtime sleeps until its next timer ------------------------------------- */

static int64_t cputime(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * GORT_SECOND +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * GORT_MICROSECOND;
}

static void idle_body(void *arg)
{
    int64_t c0 = cputime(), t0 = gort_nanotime();
    gort_sleep(200 * GORT_MILLISECOND);
    int64_t wall = gort_nanotime() - t0, cpu = cputime() - c0;
    assert_true(wall >= 200 * GORT_MILLISECOND && wall < 200 * GORT_MILLISECOND + slack());
    if (cpu > 50 * GORT_MILLISECOND)
        fail_msg("idle runtime used %lld ms of CPU in a 200 ms sleep", (long long)(cpu / GORT_MILLISECOND));
}
BOTH(idle)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        BOTH_TESTS(order),
        BOTH_TESTS(sleep),
        BOTH_TESTS(after),
        BOTH_TESTS(timer_stop_reset),
        BOTH_TESTS(after_func),
        BOTH_TESTS(ticker),
        BOTH_TESTS(thread_timer),
        BOTH_TESTS(idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
