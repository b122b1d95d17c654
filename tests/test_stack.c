/*
 * test_stack.c — goroutine stacks: guard pages turn overflow into Go's fatal
 * error, deep calls fit on gort_call_on_stack segments, per-spawn sizes,
 * GORT_STACKSIZE, trimming of stacks that ran deep, the guard of every stack
 * of a burst spanning several regions (with MADV_GUARD_INSTALL and with the
 * mprotect fallback), and the fatal errors of misuse (go of nil func, a wild
 * pointer).
 *
 * Death tests run in forked children before this process starts the runtime
 * (see testutil.h), so they come first in main().
 */
#include "testutil.h"
#include "runtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

/* Recursion the compiler cannot turn into a loop. */
static NOINLINE int recurse(volatile char *prev, int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    if (depth == 0)
        return prev ? prev[0] : 0;
    return recurse(frame, depth - 1) + frame[0];
}

static atomic_int done;

static void wait_done(void)
{
    while (!atomic_load(&done))
        gort_yield();
}

/* ---- death tests ------------------------------------------------------------ */

static void overflow_main(void *arg) { recurse(NULL, 1 << 30); }
static void child_overflow(void *arg) { gort_main(overflow_main, NULL); }

static void test_overflow_is_fatal(void **st)
{
    child_result r = run_child(child_overflow, NULL);
    assert_child_died_with(r, "fatal error: stack overflow");
    assert_non_null(strstr(r.err, "goroutine 1 ["));
    assert_non_null(strstr(r.err, "recurse"));      /* the traceback names the culprit */
}

static void spawned_overflow(void *arg) { recurse(NULL, 1 << 30); }

static void overflow_in_spawned(void *arg)
{
    gort_go_stack(spawned_overflow, NULL, 64 << 10);
    for (;;)
        gort_yield();
}

static void child_overflow_small(void *arg) { gort_main(overflow_in_spawned, NULL); }

static void test_overflow_small_stack_names_goroutine(void **st)
{
    child_result r = run_child(child_overflow_small, NULL);
    assert_child_died_with(r, "fatal error: stack overflow");
    assert_non_null(strstr(r.err, "stack exceeds 65536-byte limit"));
    assert_non_null(strstr(r.err, "goroutine 2 ["));
}

static void deep_on_segment(void *arg) { recurse(NULL, 1 << 30); }
static void segment_overflow_main(void *arg) { gort_call_on_stack(1 << 20, deep_on_segment, NULL); }
static void child_segment_overflow(void *arg) { gort_main(segment_overflow_main, NULL); }

static void test_overflow_on_segment(void **st)
{
    child_result r = run_child(child_segment_overflow, NULL);
    assert_child_died_with(r, "fatal error: stack overflow");
}

static void child_go_nil(void *arg) { gort_go(NULL, NULL); }

static void test_go_nil_func(void **st)
{
    child_result r = run_child(child_go_nil, NULL);
    assert_child_died_with(r, "fatal error: go of nil func value");
}

static void wild_main(void *arg)
{
    volatile uintptr_t addr = 8;      /* not a constant the compiler can see */
    *(volatile int *)addr = 1;
}
static void child_wild(void *arg) { gort_main(wild_main, NULL); }

static void test_nil_dereference_panics(void **st)
{
    child_result r = run_child(child_wild, NULL);
    assert_child_died_with(r, "panic: runtime error: invalid memory address or nil pointer dereference");
    assert_non_null(strstr(r.err, "[signal SIGSEGV"));
    assert_non_null(strstr(r.err, "wild_main"));
}

/* GORT_STACKSIZE makes every default stack bigger: 1 MiB of frames fit. */
static void big_default_main(void *arg)
{
    assert_int_equal(stack_size_of(getg()), 2 << 20);
    recurse(NULL, 1000);          /* ~1 MiB */
}

static void child_stacksize_env(void *arg)
{
    setenv("GORT_STACKSIZE", "2097152", 1);
    gort_main(big_default_main, NULL);
    _exit(7);
}

static void test_stacksize_env(void **st)
{
    child_result r = run_child(child_stacksize_env, NULL);
    if (r.exit_status != 7)
        print_error("%s\n", r.err);
    assert_int_equal(r.exit_status, 7);
}

/* Bug "Frames larger than the guard corrupt the neighbour": a 320 KiB VLA
 * jumped over the 64 KiB guard into the stack and G of the slot below.
 * Built with -fstack-clash-protection, the frame's pages are probed in
 * order and the first probe past the stack hits the guard. The goroutine
 * spawned first sits in the slot below (slots are carved upwards) and must
 * not be what gets blamed. */
static NOINLINE int big_frame(size_t n)
{
    volatile char buf[n];
    buf[0] = 1;
    buf[n - 1] = 1;
    return buf[0] + buf[n - 1];
}

static void neighbour(void *arg)
{
    for (;;)
        gort_yield();
}

static void big_frame_goroutine(void *arg)
{
    big_frame(320 << 10);
    _exit(3);                 /* it wrote over its neighbour and got away with it */
}

static void big_frame_main(void *arg)
{
    gort_go(neighbour, NULL);
    gort_go(big_frame_goroutine, NULL);
    for (;;)
        gort_yield();
}

static void child_big_frame(void *arg) { gort_main(big_frame_main, NULL); }

static void test_frame_larger_than_guard(void **st)
{
    child_result r = run_child(child_big_frame, NULL);
    assert_child_died_with(r, "fatal error: stack overflow");
    assert_non_null(strstr(r.err, "goroutine 3 stack exceeds 262144-byte limit"));
    assert_non_null(strstr(r.err, "big_frame"));
}

/* Bug "Stack size overflow": SIZE_MAX wrapped round_up and slot_size and
 * ended in a nil dereference. A size above 1 GiB now panics, naming it. */
static void nop(void *arg) {}
static void go_huge_main(void *arg) { gort_go_stack(nop, NULL, *(size_t *)arg); }
static void child_go_huge(void *arg) { gort_main(go_huge_main, arg); }
static void segment_huge_main(void *arg) { gort_call_on_stack(*(size_t *)arg, nop, NULL); }
static void child_segment_huge(void *arg) { gort_main(segment_huge_main, arg); }

static void test_stack_size_overflow(void **st)
{
    size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4095, (size_t)STACK_MAX + 1 };
    char want[128];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(want, sizeof want, "panic: gort_go_stack: stack size %zu out of range", sizes[i]);
        child_result r = run_child(child_go_huge, &sizes[i]);
        assert_child_died_with(r, want);
        snprintf(want, sizeof want, "panic: gort_call_on_stack: stack size %zu out of range",
                 sizes[i]);
        r = run_child(child_segment_huge, &sizes[i]);
        assert_child_died_with(r, want);
    }
}

/* The largest size allowed works, and a tiny one is raised to the minimum. */
static void sized(void *arg)
{
    assert_int_equal(stack_size_of(getg()), *(size_t *)arg);
    recurse(NULL, 8);
    atomic_store(&done, 1);
}

static void size_limits_main(void *arg)
{
    size_t want[] = { STACK_MAX, STACK_MIN };
    size_t asked[] = { STACK_MAX, 1 };
    for (int i = 0; i < 2; i++) {
        atomic_store(&done, 0);
        gort_go_stack(sized, &want[i], asked[i]);
        wait_done();
    }
}

static void child_size_limits(void *arg)
{
    gort_main(size_limits_main, NULL);
    _exit(7);
}

static void test_stack_size_limits(void **st)
{
    child_result r = run_child(child_size_limits, NULL);
    if (r.exit_status != 7)
        print_error("%s\n", r.err);
    assert_int_equal(r.exit_status, 7);
}

/* GORT_STACKSIZE=-1 wrapped too: bad values are ignored, as GORT_MAXPROCS's. */
static void default_size_main(void *arg)
{
    assert_int_equal(stack_size_of(getg()), 256 << 10);
}

static void child_bad_stacksize_env(void *arg)
{
    setenv("GORT_STACKSIZE", arg, 1);
    gort_main(default_size_main, NULL);
    _exit(7);
}

static void test_stack_size_overflow_env(void **st)
{
    const char *bad[] = { "-1", "18446744073709551615", "1073741825", "0", "64k", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        child_result r = run_child(child_bad_stacksize_env, (void *)bad[i]);
        if (r.exit_status != 7)
            print_error("GORT_STACKSIZE=%s: %s\n", bad[i], r.err);
        assert_int_equal(r.exit_status, 7);
    }
}

/* ---- stacks in a running runtime ---------------------------------------------- */

static int deep_result;
static void deep_call(void *arg) { deep_result = recurse(NULL, (int)(intptr_t)arg); }

/* A goroutine with a 64 KiB stack runs a 4 MiB-deep call on a segment. */
static void small_goroutine(void *arg)
{
    assert_int_equal(stack_size_of(getg()), 64 << 10);
    gort_call_on_stack(8 << 20, deep_call, (void *)(intptr_t)4000);
    assert_null(getg()->segs);
    atomic_store(&done, 1);
}

static void call_on_stack_body(void *arg)
{
    atomic_store(&done, 0);
    gort_go_stack(small_goroutine, NULL, 64 << 10);
    wait_done();
}

static void test_call_on_stack(void **st) { run_in_gort(call_on_stack_body, NULL, 2); }

/* Parking while on a segment, and resuming on another thread, works too. */
static void park_on_segment(void *arg)
{
    for (int i = 0; i < 100; i++)
        gort_yield();
    deep_result = recurse(NULL, 500);
}

static void segment_yielder(void *arg)
{
    gort_call_on_stack(1 << 20, park_on_segment, NULL);
    atomic_store(&done, 1);
}

static void segment_yield_body(void *arg)
{
    atomic_store(&done, 0);
    gort_go(segment_yielder, NULL);
    wait_done();
}

static void test_yield_on_segment(void **st) { run_in_gort(segment_yield_body, NULL, 2); }

/* A stack that ran deep gives its pages back when its G dies. */
static stack deep_stack;

static void run_deep(void *arg)
{
    deep_stack.lo = stack_guard_end(getg());     /* the usable part */
    deep_stack.hi = getg()->stack.hi;
    recurse(NULL, 150);           /* ~150 KiB */
    gort_yield();                 /* let the scheduler see how deep we ran */
    atomic_store(&done, 1);
}

static size_t resident_pages(stack s)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (s.hi - s.lo) / page, count = 0;
    unsigned char *vec = malloc(n);
    int rc = mincore((void *)s.lo, s.hi - s.lo, vec);
    if (rc != 0)
        fprintf(stderr, "mincore: %s\n", strerror(errno));
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    free(vec);
    return count;
}

static void trim_body(void *arg)
{
    atomic_store(&done, 0);
    gort_go(run_deep, NULL);
    wait_done();
    /* It exits; the P, idle while we sleep, trims its pool (at most every
     * 10 ms, so idle twice, 15 ms apart). */
    gort_sleep(15 * GORT_MILLISECOND);
    gort_sleep(15 * GORT_MILLISECOND);
    size_t resident = resident_pages(deep_stack);
    if (resident > 2)
        fprintf(stderr, "%zu pages still resident\n", resident);
    assert_true(resident <= 2);
}

/* qemu-user (7.x) accepts MADV_DONTNEED as a no-op: pages keep their data. */
static bool dontneed_works(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *v = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(v != MAP_FAILED);
    v[0] = 1;
    madvise(v, page, MADV_DONTNEED);
    bool ok = v[0] == 0;
    munmap(v, page);
    return ok;
}

static void test_deep_stack_trimmed(void **st)
{
    if (!dontneed_works()) {
        print_message("MADV_DONTNEED is a no-op in this environment (qemu-user): skipped\n");
        skip();
    }
    run_in_gort(trim_body, NULL, 1);
}

/* ---- A burst of goroutines on fresh stacks ------------------------------------
 * While a burst is spawned, idle Ps commit stacks and map and guard whole
 * regions ahead of the spawner (stack_prepare); the spawner here pauses
 * now and then so that they do. Every goroutine of a burst spanning several
 * regions must still find a working guard below its stack (a write() from
 * it fails with EFAULT instead of reading it) and a usable stack above. */
enum { BURST = 3500 };            /* more than three regions of 1024 slots */

struct burst {
    gort_chan *gate;
    gort_waitgroup wg;
    int fd;                       /* a pipe to write() from guard pages */
    atomic_int unguarded, finished;
};

static bool guard_faults(int fd, uintptr_t addr)
{
    return write(fd, (const void *)addr, 1) < 0 && errno == EFAULT;
}

static void burst_worker(void *arg)
{
    struct burst *b = arg;
    g *gp = getg();
    if (!gp->stack_canary && !(guard_faults(b->fd, gp->stack.lo) &&
                               guard_faults(b->fd, stack_guard_end(gp) - 1)))
        atomic_fetch_add(&b->unguarded, 1);
    gort_chan_recv(b->gate, NULL);
    recurse(NULL, 8);
    atomic_fetch_add(&b->finished, 1);
    gort_waitgroup_done(&b->wg);
}

/* Spawns the burst; returns how many goroutines found no working guard or
 * did not finish (0: all is well). */
static int burst_failures(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return BURST;
    struct burst b = { .gate = gort_chan_make(0, 0), .wg = GORT_WAITGROUP_INIT, .fd = fds[1] };
    gort_waitgroup_add(&b.wg, BURST);
    for (int i = 0; i < BURST; i++) {
        gort_go(burst_worker, &b);
        if (i % 100 == 99)        /* the Ps go idle: stack_prepare runs */
            gort_sleep(GORT_MILLISECOND);
    }
    gort_chan_close(b.gate);
    gort_waitgroup_wait(&b.wg);
    close(fds[0]);
    close(fds[1]);
    return atomic_load(&b.unguarded) + BURST - atomic_load(&b.finished);
}

static void burst_guarded_body(void *arg) { assert_int_equal(burst_failures(), 0); }
BOTH(burst_guarded)

/* After a burst, the dead goroutines give their slots back whole once a
 * collection has run (the background sweeper releases them), and the next
 * burst reuses those slots, guards and all, instead of mapping new regions.
 * Before, a pooled dead G kept its slot and two pages for good. */
static void stacks_released_body(void *arg)
{
    size_t slot = (size_t)(getg()->stack.hi - getg()->stack.lo);
    assert_int_equal(burst_failures(), 0);
    gort_mem_stats a, b, c;
    gort_read_mem_stats(&a);
    long rss0 = resident_bytes();
    /* Two releases: the first keeps what spawning took from the pool. */
    uint64_t want = a.stack_inuse - (uint64_t)(BURST - 256) * slot;
    for (int i = 0; i < 500; i++) {
        gort_gc();
        gort_sleep(10 * GORT_MILLISECOND);
        gort_read_mem_stats(&b);
        if (b.stack_inuse <= want)
            break;
    }
    if (b.stack_inuse > want)
        fail_msg("stack_inuse %llu MB before, %llu MB after: the dead goroutines kept their slots",
                 (unsigned long long)(a.stack_inuse >> 20), (unsigned long long)(b.stack_inuse >> 20));
    long dropped = rss0 - resident_bytes();
    if (dontneed_works() && dropped < (long)(BURST / 2) * sysconf(_SC_PAGESIZE))
        fail_msg("RSS fell by %ld KB only", dropped >> 10);
    assert_int_equal(burst_failures(), 0);        /* on the released slots */
    gort_read_mem_stats(&c);
    if (c.stack_sys > b.stack_sys + 1024 * slot)
        fail_msg("stack_sys grew %llu MB: the released slots were not reused",
                 (unsigned long long)((c.stack_sys - b.stack_sys) >> 20));
}
BOTH(stacks_released)

/* The same burst with the guards of the fallback, mprotect, which is what
 * qemu-user gets (MADV_GUARD_INSTALL is a no-op there): forced natively by
 * GORT_DEBUG=madvguardoff=1, in a child because the runtime chooses its
 * guard kind once, at start. */
static void burst_mprotect_main(void *arg)
{
    int bad = burst_failures();
    const char *kind = stack_guard_kind();
    fprintf(stderr, "%d goroutines unguarded or unfinished; guards by %s\n", bad, kind);
    _exit(bad == 0 && strcmp(kind, "mprotect") == 0 ? 0 : 1);
}

static void child_burst_mprotect(void *arg)
{
    setenv("GORT_DEBUG", "madvguardoff=1", 1);
    alarm(120);
    gort_gomaxprocs(*(int *)arg);
    gort_main(burst_mprotect_main, NULL);
    _exit(3);                     /* burst_mprotect_main exits */
}

static void burst_guarded_mprotect(int procs)
{
    child_result r = run_child(child_burst_mprotect, &procs);
    if (r.exit_status != 0)
        print_error("child status %d signal %d, stderr:\n%s\n", r.exit_status, r.signal, r.err);
    assert_int_equal(r.exit_status, 0);
}
static void test_burst_guarded_mprotect_1p(void **st) { burst_guarded_mprotect(1); }
static void test_burst_guarded_mprotect_2p(void **st) { burst_guarded_mprotect(2); }

int main(void)
{
    const struct CMUnitTest death[] = {
        cmocka_unit_test(test_overflow_is_fatal),
        cmocka_unit_test(test_overflow_small_stack_names_goroutine),
        cmocka_unit_test(test_overflow_on_segment),
        cmocka_unit_test(test_go_nil_func),
        cmocka_unit_test(test_nil_dereference_panics),
        cmocka_unit_test(test_stacksize_env),
        cmocka_unit_test(test_frame_larger_than_guard),
        cmocka_unit_test(test_stack_size_overflow),
        cmocka_unit_test(test_stack_size_limits),
        cmocka_unit_test(test_stack_size_overflow_env),
        cmocka_unit_test(test_burst_guarded_mprotect_1p),
        cmocka_unit_test(test_burst_guarded_mprotect_2p),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_call_on_stack),
        cmocka_unit_test(test_yield_on_segment),
        cmocka_unit_test(test_deep_stack_trimmed),
        BOTH_TESTS(burst_guarded),
        BOTH_TESTS(stacks_released),
    };
    int failed = cmocka_run_group_tests_name("death", death, NULL, NULL);
    return failed + cmocka_run_group_tests_name("live", live, NULL, NULL);
}
