/*
 * test_sysmon.c — sysmon, time slices, preemption and blocking calls.
 *
 * Each scenario runs some workers that would starve everyone without
 * sysmon (a ping-pong pair, a mutex loop, a try_send loop, an allocation
 * loop, a wrapped blocking sleep...) next to a heartbeat: the main
 * goroutine sleeping 10 ms at a time. While the workers run, the main
 * goroutine also changes GOMAXPROCS, stops the world and collects. A scenario passes
 * when the heartbeat has beaten HEARTBEATS times and both stops returned
 * while the workers still ran. Nothing is timed: the workers stop at a
 * generous deadline only so that a broken scheduler fails instead of
 * hanging, and the assertions are about counts. 1 and 2 Ps each.
 */
#include "testutil.h"
#include "malloc.h"         /* nosuspend_enter */

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum { HEARTBEATS = 10 };
#define DEADLINE (4 * GORT_SECOND)   /* a broken scheduler fails, not hangs */

static atomic_bool stop;             /* the workers must return */
static _Atomic int64_t deadline;
static atomic_long progress;          /* progress made by the workers */
static gort_waitgroup workers_wg;

/* True when the workers must stop: told to, or out of time. */
static bool stopping(void)
{
    return atomic_load_explicit(&stop, memory_order_relaxed) ||
           gort_nanotime() > atomic_load_explicit(&deadline, memory_order_relaxed);
}

static void assert_child_ok(child_result *r);

struct scenario {
    void (*worker)(void *);     /* runs until stopping() */
    int per_p;                  /* workers per P */
    void (*release)(void);      /* unblocks workers once stop is set (or NULL) */
};

struct outcome { int beats; bool stw_in_time, maxprocs_in_time; long work; };
static bool scenario_nogc;            /* no gort_gc this time (run_pipe_scenario) */
static void (*scenario_done)(void);   /* cleanup to run before the assertions */
struct run { struct scenario sc; struct outcome out; };

static void worker_main(void *arg)
{
    ((void (*)(void *))arg)(NULL);
    gort_waitgroup_done(&workers_wg);
}

/* The heartbeat is the main goroutine itself: it must get the CPU back
 * after every 10 ms sleep, however busy the workers keep the Ps. */
static void scenario_body(void *arg)
{
    struct scenario *sc = &((struct run *)arg)->sc;
    struct outcome *out = &((struct run *)arg)->out;
    int procs = gort_gomaxprocs(0);
    atomic_store(&stop, false);
    atomic_store(&progress, 0);
    atomic_store(&deadline, gort_nanotime() + DEADLINE);
    int n = sc->per_p * procs;
    gort_waitgroup_add(&workers_wg, n);
    for (int i = 0; i < n; i++)
        gort_go(worker_main, (void *)sc->worker);
    int beats = 0;
    gort_sleep(10 * GORT_MILLISECOND);
    /* Both stops must come back while the workers still run. */
    gort_gomaxprocs(procs == 1 ? 2 : 1);
    gort_gomaxprocs(procs);
    out->maxprocs_in_time = gort_nanotime() < atomic_load(&deadline);
    stopTheWorld("test");
    startTheWorld();
    if (!scenario_nogc)
        gort_gc();                   /* the collector's stop: by signal, every thread */
    out->stw_in_time = gort_nanotime() < atomic_load(&deadline);
    while (beats < HEARTBEATS && gort_nanotime() < atomic_load(&deadline)) {
        gort_sleep(10 * GORT_MILLISECOND);
        beats++;
    }
    out->beats = gort_nanotime() < atomic_load(&deadline) ? beats : 0;
    atomic_store(&stop, true);
    if (sc->release)
        sc->release();
    gort_waitgroup_wait(&workers_wg);
    out->work = atomic_load(&progress);
}

static void run_scenario(void (*worker)(void *), int per_p, void (*release)(void), int procs)
{
    struct run s = { { worker, per_p, release }, { 0 } };
    run_in_gort(scenario_body, &s, procs);
    if (scenario_done)
        scenario_done();
    if (s.out.beats < HEARTBEATS || !s.out.stw_in_time || !s.out.maxprocs_in_time)
        print_error("beats %d, stop the world in time %d, gomaxprocs in time %d, work %ld\n",
                    s.out.beats, s.out.stw_in_time, s.out.maxprocs_in_time, s.out.work);
    assert_true(s.out.maxprocs_in_time);
    assert_true(s.out.stw_in_time);
    assert_int_equal(s.out.beats, HEARTBEATS);
    assert_true(s.out.work > 0);
}

/* ---- A ping-pong pair over an unbuffered channel ---------------------------- */

/* Each worker is half a pair: it makes the pair's channel, starts its
 * partner, and bounces a value with it until told to stop. */
static void pong(void *arg)
{
    gort_chan *c = arg;
    int v;
    while (gort_chan_recv(c, &v))
        gort_chan_send(c, &v);
}

static void pingpong_worker(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(pong, c);
    int v = 0;
    while (!stopping()) {
        gort_chan_send(c, &v);
        gort_chan_recv(c, &v);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
    gort_chan_close(c);
}

static void test_pingpong_1p(void **st) { run_scenario(pingpong_worker, 1, NULL, 1); }
static void test_pingpong_2p(void **st) { run_scenario(pingpong_worker, 1, NULL, 2); }

/* ---- A mutex loop ------------------------------------------------------------ */

static gort_mutex loop_mu = GORT_MUTEX_INIT;

static void mutex_worker(void *arg)
{
    while (!stopping()) {
        gort_mutex_lock(&loop_mu);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
        gort_mutex_unlock(&loop_mu);
    }
}

static void test_mutex_loop_1p(void **st) { run_scenario(mutex_worker, 2, NULL, 1); }
static void test_mutex_loop_2p(void **st) { run_scenario(mutex_worker, 2, NULL, 2); }

/* ---- Non-blocking channel operations and allocation in a loop ---------------- */

static void trysend_worker(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    int v = 1;
    while (!stopping()) {
        if (gort_chan_try_send(c, &v))
            atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
        gort_chan_try_recv(c, &v, NULL);
    }
}

static void test_trysend_loop_1p(void **st) { run_scenario(trysend_worker, 1, NULL, 1); }
static void test_trysend_loop_2p(void **st) { run_scenario(trysend_worker, 1, NULL, 2); }

static void alloc_worker(void *arg)
{
    while (!stopping()) {
        void *volatile p = gort_alloc(64);
        (void)p;
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
}

static void test_alloc_loop_1p(void **st) { run_scenario(alloc_worker, 1, NULL, 1); }
static void test_alloc_loop_2p(void **st) { run_scenario(alloc_worker, 1, NULL, 2); }

/* ---- A pure arithmetic loop: only async preemption can take its P ------------- */

static _Atomic uint64_t arith_sink;

/* An LCG: a loop the compiler keeps, with no memory access and no call
 * inside, in the test program's own text (where preempting is allowed). */
static NOINLINE uint64_t arith(uint64_t x, int n)
{
    for (int i = 0; i < n; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

#if defined(__SANITIZE_THREAD__)
/* Under TSan there is no async preemption (docs/sysmon.md): a pure loop
 * keeps its P until it calls gort, so the scenario cannot pass; the test
 * says so (test_async_preempt_beats checks what TSan builds do instead). */
static void run_arith_scenario(int procs)
{
    (void)procs;
    print_message("async preemption is off under TSan (docs/sysmon.md): "
                  "a pure loop keeps its P; skipped\n");
    skip();
}
#else
static void arith_worker(void *arg)
{
    uint64_t x = 1;
    while (!stopping()) {
        x = arith(x, 100000);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
    atomic_store(&arith_sink, x);
}

static void run_arith_scenario(int procs) { run_scenario(arith_worker, 1, NULL, procs); }
#endif

static void test_arith_loop_1p(void **st) { run_arith_scenario(1); }
static void test_arith_loop_2p(void **st) { run_arith_scenario(2); }

/* With 1 P, a heartbeat goroutine counts its 10 ms beats while another
 * goroutine computes for 300 ms without calling gort: returns how many
 * beats happened during the computation. */
static atomic_int hb_beats;
static atomic_bool hb_stop;

static void hb(void *arg)
{
    while (!atomic_load(&hb_stop)) {
        gort_sleep(10 * GORT_MILLISECOND);
        atomic_fetch_add(&hb_beats, 1);
    }
}

static void compute_300ms(void *arg)
{
    int *during = arg;
    int64_t end = gort_nanotime() + 300 * GORT_MILLISECOND;
    int before = atomic_load(&hb_beats);
    uint64_t x = 1;
    while (gort_nanotime() < end)
        x = arith(x, 100000);
    atomic_store(&arith_sink, x);
    *during = atomic_load(&hb_beats) - before;
    atomic_store(&hb_stop, true);
}

/* The same computation as if it ran inside gort (m.inruntime set, as in a
 * runtime entry): gort's code may call code that lies in the program's
 * text, such as libgcc's __popcountdi2 linked into the executable. */
static void compute_300ms_in_gort(void *arg)
{
    RUNTIME_ENTRY();
    compute_300ms(arg);
}

/* The same computation inside a region (nosuspend_enter), as a map
 * operation's copy is, with m.inruntime clear as it is there. */
static void compute_300ms_in_region(void *arg)
{
    nosuspend_enter();
    compute_300ms(arg);
    nosuspend_exit();
}

static void (*computer)(void *) = compute_300ms;

static void beats_during_compute(void *arg)
{
    atomic_store(&hb_beats, 0);
    atomic_store(&hb_stop, false);
    gort_go(hb, NULL);
    gort_sleep(25 * GORT_MILLISECOND);      /* the heartbeat is in its rhythm */
    gort_go(computer, arg);
    while (!atomic_load(&hb_stop))
        gort_sleep(10 * GORT_MILLISECOND);
}

static void asyncpreemptoff_child(void *arg)
{
    setenv("GORT_DEBUG", "asyncpreemptoff=1", 1);
    setenv("GORT_MAXPROCS", "1", 1);
    int during = -1;
    gort_main(beats_during_compute, &during);
    fprintf(stderr, "beats=%d\n", during);
    _exit(0);
}

/* asyncpreemptoff=1 really turns it off: the heartbeat misses every beat. */
static void test_asyncpreemptoff(void **st)
{
    child_result r = run_child(asyncpreemptoff_child, NULL);
    assert_child_ok(&r);
    char *b = strstr(r.err, "beats=");
    assert_non_null(b);
    assert_int_equal(atoi(b + 6), 0);
}

/* The same in this process: with async preemption (not under TSan, which
 * has none, docs/sysmon.md) the heartbeat keeps beating. */
static void test_async_preempt_beats(void **st)
{
    int during = -1;
    run_in_gort(beats_during_compute, &during, 1);
#if defined(__SANITIZE_THREAD__)
    assert_int_equal(during, 0);
#else
    if (during < 2)
        print_error("%d beats during 300 ms of computing\n", during);
    assert_true(during >= 2);               /* ~15 on an idle machine: 10-20 ms slices */
#endif
}

/* A goroutine inside gort is never switched out by the signal, whatever its
 * PC: test_arith_loop_1p hung once with a goroutine preempted in
 * __popcountdi2 (the executable's text), called by the page heap with
 * mheap_.lock held; procresize then waited for that lock forever. With 1
 * P the heartbeat must not beat until the computation ends. (Under TSan,
 * without async preemption, 0 holds trivially.) */
static void assert_no_beat_during(void (*compute)(void *))
{
    int during = -1;
    computer = compute;
    run_in_gort(beats_during_compute, &during, 1);
    computer = compute_300ms;
    assert_int_equal(during, 0);
}

static void test_no_async_preempt_inside_gort(void **st)
{
    assert_no_beat_during(compute_300ms_in_gort);
}

/* Regression (test_map hung under qemu): a goroutine inside a region is
 * never switched out by the signal either. A map entry does not set
 * m.inruntime, and its copies run in regions through memcpy's PLT stub,
 * the executable's text; preempted there, the goroutine left the region
 * open on its old thread, which then could neither start a collection nor
 * stop for one. With 1 P the heartbeat must not beat until the region ends
 * (and an assert build dies if a G switches out inside one). */
static void test_no_async_preempt_inside_nosuspend_region(void **st)
{
    assert_no_beat_during(compute_300ms_in_region);
}

/* ---- sysmon polls the network while every P computes ------------------------------ */

#if !defined(__SANITIZE_THREAD__)
static int np_fds[2];
static atomic_bool np_woke;

static void np_reader(void *arg)
{
    char c;
    if (gort_poll_fd(np_fds[0], GORT_POLL_READ, 0) > 0 && read(np_fds[0], &c, 1) == 1)
        atomic_store(&np_woke, true);
}

static void np_compute(void *arg)
{
    uint64_t x = 1;
    while (!atomic_load(&np_woke) && !stopping())
        x = arith(x, 100000);
    atomic_store(&arith_sink, x);
    gort_waitgroup_done(&workers_wg);
}

/* 1 P: a goroutine waits for a pipe in the netpoller while another
 * computes. No M is idle to poll, so only sysmon's poll (then the end of
 * the computing goroutine's slice) wakes the reader before the deadline. */
static void netpoll_body(void *arg)
{
    atomic_store(&stop, false);
    atomic_store(&np_woke, false);
    atomic_store(&deadline, gort_nanotime() + DEADLINE);
    assert_int_equal(pipe2(np_fds, O_NONBLOCK | O_CLOEXEC), 0);
    gort_go(np_reader, NULL);
    gort_sleep(5 * GORT_MILLISECOND);       /* the reader is parked on the pipe */
    gort_waitgroup_add(&workers_wg, 1);
    gort_go(np_compute, NULL);
    gort_sleep(5 * GORT_MILLISECOND);       /* back after a slice of computing */
    assert_int_equal(write(np_fds[1], "x", 1), 1);
    gort_waitgroup_wait(&workers_wg);
    *(bool *)arg = atomic_load(&np_woke) && gort_nanotime() < atomic_load(&deadline);
    close(np_fds[0]);
    close(np_fds[1]);
}

static void test_sysmon_netpoll_1p(void **st)
{
    bool woke = false;
    run_in_gort(netpoll_body, &woke, 1);
    assert_true(woke);
}
#endif

/* ---- Blocking C calls wrapped in gort_syscall_enter/exit ------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void wrapped_sleep_worker(void *arg)
{
    while (!stopping()) {
        gort_syscall_enter();
        sleep_ms(200);
        gort_syscall_exit();
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
}

static void test_wrapped_sleep_1p(void **st) { run_scenario(wrapped_sleep_worker, 1, NULL, 1); }
static void test_wrapped_sleep_2p(void **st) { run_scenario(wrapped_sleep_worker, 2, NULL, 2); }

/* ---- Blocking C calls nobody wrapped: sysmon takes the P ------------------------- */

/* Every worker blocks in read() on one pipe that nobody writes: a call that
 * returns only when the scenario is over and closes the write end (or, if
 * the scheduler is broken and the scenario cannot get there, a watchdog
 * thread does at the deadline, so the test fails instead of hanging). */
static int unwrapped_pipe[2];
static atomic_int pipe_writer = -1;

static void pipe_read_worker(void *arg)
{
    char c;
    atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    while (!stopping() && read(unwrapped_pipe[0], &c, 1) > 0)
        ;
}

static void close_pipe(void)
{
    int fd = atomic_exchange(&pipe_writer, -1);
    if (fd >= 0)
        close(fd);
}

static void *pipe_watchdog(void *arg)
{
    while (atomic_load(&pipe_writer) >= 0 && gort_nanotime() < atomic_load(&deadline) + GORT_SECOND)
        usleep(10 * 1000);
    close_pipe();
    return NULL;
}

static pthread_t watchdog;

static void pipe_scenario_done(void)
{
    pthread_join(watchdog, NULL);
    close(unwrapped_pipe[0]);
    scenario_nogc = false;
    scenario_done = NULL;
}

static void run_pipe_scenario(int procs)
{
    assert_int_equal(pipe2(unwrapped_pipe, O_CLOEXEC), 0);
    atomic_store(&deadline, gort_nanotime() + DEADLINE);
    atomic_store(&pipe_writer, unwrapped_pipe[1]);
    assert_int_equal(pthread_create(&watchdog, NULL, pipe_watchdog, NULL), 0);
#if defined(__SANITIZE_THREAD__)
    /* TSan holds a signal for a thread blocked in read() until the call
     * returns, so the collector's stop would wait for the watchdog. */
    print_message("under TSan the collector cannot stop a thread blocked in read(): "
                  "this scenario runs without gort_gc\n");
    scenario_nogc = true;
#endif
    scenario_done = pipe_scenario_done;
    run_scenario(pipe_read_worker, 1, close_pipe, procs);
}

static void test_unwrapped_read_1p(void **st) { run_pipe_scenario(1); }
static void test_unwrapped_read_2p(void **st) { run_pipe_scenario(2); }

/* usleep(200 ms) in a loop that never enters gort: without sysmon taking
 * the P each time, the worker would keep it for good. */
static void usleep_worker(void *arg)
{
    while (!stopping()) {
        usleep(200 * 1000);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    }
}

static void test_unwrapped_usleep_1p(void **st) { run_scenario(usleep_worker, 1, NULL, 1); }
static void test_unwrapped_usleep_2p(void **st) { run_scenario(usleep_worker, 1, NULL, 2); }

/* getaddrinfo of a name that cannot resolve (.invalid, RFC 6761): as slow
 * as the resolver's timeouts where a DNS server is configured, quick
 * where none answers; either way the heartbeat beats. */
static void getaddrinfo_worker(void *arg)
{
    while (!stopping()) {
        struct addrinfo *res = NULL;
        if (getaddrinfo("gort-test-nonexistent.invalid", "80", NULL, &res) == 0)
            freeaddrinfo(res);
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
        gort_yield();
    }
}

static void test_unwrapped_getaddrinfo_1p(void **st)
{
#if defined(__SANITIZE_THREAD__)
    /* TSan's getaddrinfo interceptor holds signals until the call returns
     * (libc's own poll inside is no interceptor that could run them), so
     * the collector's stop waits for the resolver: about every other run
     * here it missed the deadline. */
    print_message("under TSan the collector cannot stop a thread inside getaddrinfo(): "
                  "this scenario runs without gort_gc\n");
    scenario_nogc = true;
#endif
    run_scenario(getaddrinfo_worker, 1, NULL, 1);
    scenario_nogc = false;
}

/* Many goroutines alternate short unwrapped sleeps (some long enough for
 * sysmon to take the P, most not) with channel operations and
 * allocation: every runtime entry races with sysmon's handshake. Every
 * value sent must arrive, whatever P each goroutine comes back on. */
static void unwrapped_short(void *arg)
{
    gort_chan *c = arg;
    for (int i = 0; i < 40; i++) {
        struct timespec ts = { 0, i % 4 == 0 ? 200 * 1000 : 1000 };
        nanosleep(&ts, NULL);
        void *volatile q = gort_alloc(32);
        (void)q;
        send_int(c, 1);
    }
}

static void unwrapped_stress_body(void *arg)
{
    int n = scaled(100);
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < n; i++)
        gort_go(unwrapped_short, c);
    long sum = 0;
    for (int i = 0; i < 40 * n; i++)
        sum += recv_int(c);
    assert_int_equal(sum, 40 * n);
}

static void test_unwrapped_stress_1p(void **st) { run_in_gort(unwrapped_stress_body, NULL, 1); }
static void test_unwrapped_stress_2p(void **st) { run_in_gort(unwrapped_stress_body, NULL, 2); }

/* Many goroutines making short wrapped calls (most return before sysmon
 * looks, some are retaken): every call comes back, on whatever P. */
static void sleep_us(void *arg)
{
    struct timespec ts = { 0, 1000 * (long)(intptr_t)arg };
    nanosleep(&ts, NULL);
}

static atomic_int syscalls_done;

static void short_syscalls(void *arg)
{
    gort_waitgroup *wg = arg;
    for (int i = 0; i < 50; i++) {
        gort_blocking_call(sleep_us, (void *)(intptr_t)(i % 3 == 0 ? 100 : 0));
        int r = GORT_BLOCKING(getpid());
        assert_true(r > 0);
        atomic_fetch_add(&syscalls_done, 1);
        if (i % 8 == 0)
            gort_yield();
    }
    gort_waitgroup_done(wg);
}

static void syscall_stress_body(void *arg)
{
    int n = scaled(200);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    atomic_store(&syscalls_done, 0);
    gort_waitgroup_add(&wg, n);
    for (int i = 0; i < n; i++)
        gort_go(short_syscalls, &wg);
    gort_waitgroup_wait(&wg);
    assert_int_equal(atomic_load(&syscalls_done), 50 * n);
}

static void test_syscall_stress_1p(void **st) { run_in_gort(syscall_stress_body, NULL, 1); }
static void test_syscall_stress_2p(void **st) { run_in_gort(syscall_stress_body, NULL, 2); }

/* ---- Misuse, in children (before the parent starts the runtime) ----------------- */

static void exit_without_enter(void *arg) { gort_syscall_exit(); }
static void enter_twice(void *arg) { gort_syscall_enter(); gort_syscall_enter(); }

static void child_main(void *fn)
{
    gort_main((void (*)(void *))fn, NULL);
    exit(0);
}

static void test_syscall_exit_without_enter(void **st)
{
    child_result r = run_child(child_main, (void *)exit_without_enter);
    assert_child_died_with(r, "fatal error: gort_syscall_exit without gort_syscall_enter");
}

static void test_syscall_enter_twice(void **st)
{
    child_result r = run_child(child_main, (void *)enter_twice);
    assert_child_died_with(r, "fatal error: gort_syscall_enter: already in a syscall");
}

/* ---- The forced GC ------------------------------------------------------------------- */

/* One collection by hand (the period starts at the first), then sleeps
 * until sysmon has forced two more, or a deadline a broken sysmon hits. */
static void await_forced(void *arg)
{
    gort_mem_stats ms;
    gort_gc();
    for (int i = 0; i < 400; i++) {
        gort_read_mem_stats(&ms);
        if (ms.num_forced_gc >= 3)
            break;
        gort_sleep(10 * GORT_MILLISECOND);
    }
    fprintf(stderr, "forced=%u gc=%u\n", ms.num_forced_gc, ms.num_gc);
}

/* Regression (sysmon forced collections with the collector off, found
 * while looking for test_malloc's extra frees): with GC percent < 0,
 * sysmon forces no collection, as in Go. One cycle by hand starts the
 * period; then 300 ms of sleep, 15 periods. */
static void gc_off_then_sleep(void *arg)
{
    gort_mem_stats ms;
    gort_gc();
    gort_set_gc_percent(-1);
    gort_sleep(300 * GORT_MILLISECOND);
    gort_read_mem_stats(&ms);
    fprintf(stderr, "forced=%u gc=%u\n", ms.num_forced_gc, ms.num_gc);
}

/* The program body (await_forced or gc_off_then_sleep), with the period
 * shortened (test-only knob) and gctrace on. */
static void forcegc_child(void *body)
{
    setenv("GORT_DEBUG", "forcegcperiod=20,gctrace=1", 1);
    gort_main((void (*)(void *))body, NULL);
    _exit(0);
}

/* Runs body in a child; its stderr and the counts it printed last. */
static child_result forcegc_counts(void (*body)(void *), unsigned *forced, unsigned *total)
{
    child_result r = run_child(forcegc_child, (void *)body);
    assert_child_ok(&r);
    char *b = strstr(r.err, "forced=");
    assert_non_null(b);
    assert_int_equal(sscanf(b, "forced=%u gc=%u", forced, total), 2);
    return r;
}

static void test_sysmon_forcegc_not_when_gc_off(void **st)
{
    unsigned forced = 0, total = 0;
    child_result r = forcegc_counts(gc_off_then_sleep, &forced, &total);
    assert_int_equal(forced, 1);                /* gort_gc's, counted as Go counts GC() */
    assert_int_equal(total, 1);
    assert_null(strstr(r.err, "GC forced\n"));
}

/* While the program only sleeps, sysmon forces collections; gctrace says so. */
static void test_sysmon_forcegc(void **st)
{
    unsigned forced = 0, total = 0;
    child_result r = forcegc_counts(await_forced, &forced, &total);
    assert_true(forced >= 3);
    assert_true(total >= forced);
    assert_non_null(strstr(r.err, "GC forced\n"));
}

/* ---- schedtrace: Go's line format ------------------------------------------------- */

/* Sleeps 10 x 10 ms: at least 100 ms, a few lines of trace. */
static void sleep_100ms(void *arg)
{
    for (int i = 0; i < 10; i++)
        gort_sleep(10 * GORT_MILLISECOND);
}

static void schedtrace_child(void *detail)
{
    setenv("GORT_DEBUG", detail ? "schedtrace=60,scheddetail=1" : "schedtrace=10", 1);
    setenv("GORT_MAXPROCS", "2", 1);
    gort_main(sleep_100ms, NULL);
    _exit(0);        /* no atexit: TSan's would wait a second while sysmon prints on */
}

static void assert_child_ok(child_result *r)
{
    if (r->exit_status != 0)
        print_error("child status %d signal %d, stderr:\n%s\n", r->exit_status, r->signal, r->err);
    assert_int_equal(r->exit_status, 0);
}

static void test_schedtrace_format(void **st)
{
    child_result r = run_child(schedtrace_child, NULL);
    assert_child_ok(&r);
    int lines = 0;
    for (char *l = strstr(r.err, "SCHED "); l; l = strstr(l + 1, "SCHED ")) {
        long ms;
        int procs, idle, threads, spinning, needspinning, idlethreads, runq, q0, q1, t0, t1, end = 0;
        int k = sscanf(l, "SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                       "needspinning=%d idlethreads=%d runqueue=%d [ %d %d ] schedticks=[ %d %d ]%n",
                       &ms, &procs, &idle, &threads, &spinning, &needspinning, &idlethreads, &runq,
                       &q0, &q1, &t0, &t1, &end);
        if (k != 12)
            print_error("unparsed line: %.200s\n", l);
        assert_int_equal(k, 12);
        assert_int_equal(procs, 2);
        assert_true(idle >= 0 && idle <= 2);
        assert_true(threads >= 1);          /* sysmon at least */
        lines++;
    }
    assert_true(lines >= 3);                /* 100 ms at one line per 10 ms */
}

static void test_scheddetail_format(void **st)
{
    child_result r = run_child(schedtrace_child, (void *)1);
    assert_child_ok(&r);
    char *l = strstr(r.err, "SCHED ");
    assert_non_null(l);
    assert_non_null(strstr(l, " gcwaiting="));
    assert_non_null(strstr(r.err, "  P0: status="));
    assert_non_null(strstr(r.err, "  P1: status="));
    assert_non_null(strstr(r.err, " schedtick="));
    assert_non_null(strstr(r.err, "  M0: p="));
    assert_non_null(strstr(r.err, " curg="));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* children first: the parent must not have started the runtime */
        cmocka_unit_test(test_syscall_exit_without_enter),
        cmocka_unit_test(test_syscall_enter_twice),
        cmocka_unit_test(test_schedtrace_format),
        cmocka_unit_test(test_scheddetail_format),
        cmocka_unit_test(test_asyncpreemptoff),
        cmocka_unit_test(test_sysmon_forcegc),
        cmocka_unit_test(test_sysmon_forcegc_not_when_gc_off),
        cmocka_unit_test(test_pingpong_1p),
        cmocka_unit_test(test_pingpong_2p),
        cmocka_unit_test(test_mutex_loop_1p),
        cmocka_unit_test(test_mutex_loop_2p),
        cmocka_unit_test(test_trysend_loop_1p),
        cmocka_unit_test(test_trysend_loop_2p),
        cmocka_unit_test(test_alloc_loop_1p),
        cmocka_unit_test(test_alloc_loop_2p),
        cmocka_unit_test(test_arith_loop_1p),
        cmocka_unit_test(test_arith_loop_2p),
        cmocka_unit_test(test_async_preempt_beats),
        cmocka_unit_test(test_no_async_preempt_inside_gort),
        cmocka_unit_test(test_no_async_preempt_inside_nosuspend_region),
#if !defined(__SANITIZE_THREAD__)
        cmocka_unit_test(test_sysmon_netpoll_1p),
#endif
        cmocka_unit_test(test_wrapped_sleep_1p),
        cmocka_unit_test(test_wrapped_sleep_2p),
        cmocka_unit_test(test_syscall_stress_1p),
        cmocka_unit_test(test_syscall_stress_2p),
        cmocka_unit_test(test_unwrapped_read_1p),
        cmocka_unit_test(test_unwrapped_read_2p),
        cmocka_unit_test(test_unwrapped_usleep_1p),
        cmocka_unit_test(test_unwrapped_usleep_2p),
        cmocka_unit_test(test_unwrapped_getaddrinfo_1p),
        cmocka_unit_test(test_unwrapped_stress_1p),
        cmocka_unit_test(test_unwrapped_stress_2p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
