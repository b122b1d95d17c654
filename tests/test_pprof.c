/*
 * test_pprof.c — the pprof profiles (cpuprof.c, mprof.c, pprof.c), read
 * back with Go's own reader: `go tool pprof` of the newest Go on the
 * machine (/usr/local/go/bin/go, else `go` on PATH).
 *
 * Each profile is written by the program, then pprof must name the
 * function that did the work: the CPU profile's hot function, the heap
 * profile's allocating function, the blocked goroutines' function, the
 * contended mutex's users. Counts, not timings, are asserted.
 */
#include "testutil.h"
#include "pprof.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
static const bool tsan = true;
#else
static const bool tsan = false;
#endif

static bool under_qemu(void)
{
    const char *q = getenv("GORT_TEST_QEMU");
    return q && *q == '1';
}

static char gotool[256];

/* The go command, or "" when there is none. */
static const char *go_cmd(void)
{
    if (!gotool[0]) {
        if (access("/usr/local/go/bin/go", X_OK) == 0)
            snprintf(gotool, sizeof gotool, "/usr/local/go/bin/go");
        else if (system("go version >/dev/null 2>&1") == 0)
            snprintf(gotool, sizeof gotool, "go");
        else
            snprintf(gotool, sizeof gotool, "-");
    }
    return strcmp(gotool, "-") == 0 ? "" : gotool;
}

/* Runs `go tool pprof <args> <file>`; returns its output (malloc'd) and
 * its exit status in *status. */
static char *pprof_run(const char *args, const char *file, int *status)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s tool pprof %s %s 2>&1", go_cmd(), args, file);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t k;
    while ((k = fread(out + n, 1, cap - 1 - n, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[n] = 0;
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* Asserts that `go tool pprof <args> file` succeeds and mentions name. */
static void assert_pprof_names(const char *args, const char *file, const char *name)
{
    if (!*go_cmd()) {
        print_message("no go command: %s not read back\n", file);
        return;
    }
    int st;
    char *out = pprof_run(args, file, &st);
    if (st != 0 || !strstr(out, name))
        print_error("go tool pprof %s %s (status %d) does not name %s:\n%s\n", args, file, st, name, out);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, name));
    free(out);
}

/* The sum of sample value column col over `go tool pprof -raw file`. */
static long long pprof_raw_sum(const char *file, int col)
{
    int st;
    char *out = pprof_run("-raw", file, &st);
    assert_int_equal(st, 0);
    long long sum = 0;
    char *p = strstr(out, "\nSamples:");
    assert_non_null(p);
    p = strchr(p + 1, '\n');           /* the line naming the values */
    p = p ? strchr(p + 1, '\n') : NULL;
    while (p && p[1] == ' ') {          /* sample lines are indented */
        long long v[4] = { 0 };
        if (sscanf(p + 1, "%lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3]) > col)
            sum += v[col];
        p = strchr(p + 1, '\n');
    }
    free(out);
    return sum;
}

static void tmpname(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "%s/gort_pprof_%d_%s.pb.gz", P_tmpdir, (int)getpid(), what);
}

static bool nonempty(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* ---- CPU ---------------------------------------------------------------------- */

static _Atomic uint64_t sink;

static int64_t cputime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The hot function: pure computation until the process has used ns more
 * CPU time (not wall time: the machine may be busy). */
NOINLINE void pprof_hot_spin(int64_t ns)
{
    int64_t end = cputime() + ns;
    uint64_t x = 1;
    while (cputime() < end)
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    atomic_store_explicit(&sink, x, memory_order_relaxed);
}

struct spin { int64_t ns; gort_waitgroup wg; };

static void spinner(void *arg)
{
    struct spin *s = arg;
    pprof_hot_spin(s->ns);
    gort_waitgroup_done(&s->wg);
}

static void cpu_body(void *arg)
{
    char path[256];
    tmpname(path, sizeof path, "cpu");
    assert_int_equal(gort_pprof_cpu_start(path), 0);
    assert_int_equal(gort_pprof_cpu_start(path), -EBUSY);
    struct spin s = { under_qemu() ? 600000000 : 400000000, GORT_WAITGROUP_INIT };
    int n = gort_gomaxprocs(0);
    gort_waitgroup_add(&s.wg, n);
    for (int i = 0; i < n; i++)
        gort_go(spinner, &s);
    gort_waitgroup_wait(&s.wg);
    assert_int_equal(gort_pprof_cpu_stop(), 0);
    assert_int_equal(gort_pprof_cpu_stop(), -EINVAL);
    assert_true(nonempty(path));
    if (*go_cmd()) {
        long long samples = pprof_raw_sum(path, 0);
        print_message("cpu profile: %lld samples\n", samples);
        /* Per-thread CPU timers under qemu-user depend on the host's
         * emulation of them, and TSan delivers signals only at its
         * interceptors: there, the profile must be readable; natively it
         * must hold the hot function's samples. */
        if (!under_qemu() && !tsan) {
            assert_true(samples >= 10);
            assert_pprof_names("-top", path, "pprof_hot_spin");
        } else {
            assert_pprof_names("-top", path, "Type: cpu");
        }
    }
    unlink(path);
}

static void test_cpu_profile_1p(void **st) { run_in_gort(cpu_body, NULL, 1); }
static void test_cpu_profile_2p(void **st) { run_in_gort(cpu_body, NULL, 2); }

/* ---- Heap ---------------------------------------------------------------------- */

enum { NOBJ = 4096, OBJSIZE = 4096 };
static void **live;

NOINLINE void pprof_alloc_many(void)
{
    for (int i = 0; i < NOBJ; i++)
        live[i] = gort_alloc(OBJSIZE);
}

static void heap_body(void *arg)
{
    char path[256], path2[256];
    tmpname(path, sizeof path, "heap");
    tmpname(path2, sizeof path2, "heap2");
    live = calloc(NOBJ, sizeof *live);
    gort_add_roots(live, live + NOBJ);
    pprof_alloc_many();                         /* 16 MiB: about 32 samples */
    assert_int_equal(gort_pprof_write("heap", path), 0);
    assert_pprof_names("-top", path, "pprof_alloc_many");
    long long inuse = *go_cmd() ? pprof_raw_sum(path, 3) : 0;

    memset(live, 0, NOBJ * sizeof *live);       /* free them: the sweeper counts it */
    gort_gc();
    gort_gc();
    assert_int_equal(gort_pprof_write("allocs", path2), 0);
    assert_pprof_names("-top -sample_index=alloc_space", path2, "pprof_alloc_many");
    if (*go_cmd()) {
        long long alloc = pprof_raw_sum(path2, 1), after = pprof_raw_sum(path2, 3);
        print_message("heap: in use %lld, allocated %lld, in use after freeing %lld\n",
                      inuse, alloc, after);
        assert_true(inuse >= NOBJ * OBJSIZE / 2);
        assert_true(alloc >= NOBJ * OBJSIZE / 2);
        assert_true(after < inuse / 2);
    }
    gort_remove_roots(live, live + NOBJ);
    free(live);
    unlink(path);
    unlink(path2);
}

static void test_heap_profile_1p(void **st) { run_in_gort(heap_body, NULL, 1); }
static void test_heap_profile_2p(void **st) { run_in_gort(heap_body, NULL, 2); }

/* ---- Goroutines ---------------------------------------------------------------- */

enum { NBLOCKED = 10 };

NOINLINE void pprof_blocked_reader(void *arg)
{
    gort_chan_recv(arg, NULL);
    atomic_fetch_add(&sink, 1);                 /* not a tail call: keeps this frame */
}

static void goroutine_body(void *arg)
{
    char path[256];
    tmpname(path, sizeof path, "goroutine");
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < NBLOCKED; i++)
        gort_go(pprof_blocked_reader, c);
    while (gort_num_goroutine() < NBLOCKED + 1)
        gort_yield();
    gort_sleep(10 * GORT_MILLISECOND);          /* let them all park */
    assert_int_equal(gort_pprof_write("goroutine", path), 0);
    assert_pprof_names("-raw", path, "pprof_blocked_reader");
    if (*go_cmd()) {
        int st;
        char *out = pprof_run("-top", path, &st);
        /* Identical stacks are one sample: NBLOCKED goroutines in one line. */
        char want[64];
        snprintf(want, sizeof want, "%d", NBLOCKED);
        assert_non_null(strstr(out, want));
        free(out);
        assert_true(pprof_raw_sum(path, 0) >= NBLOCKED + 1);
    }
    gort_chan_close(c);
    unlink(path);
}

static void test_goroutine_profile_1p(void **st) { run_in_gort(goroutine_body, NULL, 1); }
static void test_goroutine_profile_2p(void **st) { run_in_gort(goroutine_body, NULL, 2); }

/* A thread that is not a goroutine writes it too (it borrows a goroutine). */
static void *foreign_writer(void *arg)
{
    return (void *)(intptr_t)gort_pprof_write("goroutine", arg);
}

static void goroutine_foreign_body(void *arg)
{
    char path[256];
    tmpname(path, sizeof path, "goroutine_foreign");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, foreign_writer, path), 0);
    void *rc;
    gort_syscall_enter();
    pthread_join(t, &rc);
    gort_syscall_exit();
    assert_int_equal((intptr_t)rc, 0);
    assert_true(nonempty(path));
    unlink(path);
}

static void test_goroutine_profile_foreign(void **st) { run_in_gort(goroutine_foreign_body, NULL, 2); }

/* ---- Mutex and block ------------------------------------------------------------- */

static gort_mutex mu = GORT_MUTEX_INIT;
static int shared;

NOINLINE void pprof_mutex_worker(void *arg)
{
    for (int i = 0; i < 50; i++) {
        gort_mutex_lock(&mu);
        shared++;
        gort_sleep(20 * GORT_MICROSECOND);       /* hold it while parked: others queue */
        gort_mutex_unlock(&mu);
    }
    gort_waitgroup_done(arg);
}

static void contention_body(void *arg)
{
    char mpath[256], bpath[256];
    tmpname(mpath, sizeof mpath, "mutex");
    tmpname(bpath, sizeof bpath, "block");
    assert_int_equal(gort_set_mutex_profile_fraction(1), 0);
    assert_int_equal(gort_set_mutex_profile_fraction(-1), 1);
    gort_set_block_profile_rate(1);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        gort_go(pprof_mutex_worker, &wg);
    gort_waitgroup_wait(&wg);
    assert_int_equal(shared % 200, 0);
    gort_set_block_profile_rate(0);
    gort_set_mutex_profile_fraction(0);
    assert_int_equal(gort_pprof_write("mutex", mpath), 0);
    assert_int_equal(gort_pprof_write("block", bpath), 0);
    assert_pprof_names("-top", mpath, "pprof_mutex_worker");
    assert_pprof_names("-top", bpath, "pprof_mutex_worker");
    assert_pprof_names("-top", bpath, "contention_body");   /* the waitgroup wait */
    if (*go_cmd()) {
        assert_true(pprof_raw_sum(mpath, 0) > 0);
        assert_true(pprof_raw_sum(bpath, 1) > 0);
    }
    assert_int_equal(gort_pprof_write("nosuch", mpath), -EINVAL);
    unlink(mpath);
    unlink(bpath);
}

static void test_contention_profiles_1p(void **st) { run_in_gort(contention_body, NULL, 1); }
static void test_contention_profiles_2p(void **st) { run_in_gort(contention_body, NULL, 2); }

/* ---- The environment -------------------------------------------------------------- */

static char envcpu[256], envmem[256];

static void env_main(void *arg)
{
    pprof_hot_spin(under_qemu() ? 400000000 : 200000000);
    live = calloc(NOBJ, sizeof *live);
    gort_add_roots(live, live + NOBJ);
    pprof_alloc_many();
}

static void env_child(void *arg)
{
    setenv("GORT_CPUPROFILE", envcpu, 1);
    setenv("GORT_MEMPROFILE", envmem, 1);
    gort_main(env_main, NULL);
    _exit(0);
}

/* GORT_CPUPROFILE and GORT_MEMPROFILE: both written when gort_main returns. */
static void test_env_profiles(void **st)
{
    tmpname(envcpu, sizeof envcpu, "envcpu");
    tmpname(envmem, sizeof envmem, "envmem");
    child_result r = run_child(env_child, NULL);
    if (r.exit_status != 0)
        print_error("child: %s\n", r.err);
    assert_int_equal(r.exit_status, 0);
    assert_true(nonempty(envcpu));
    assert_true(nonempty(envmem));
    if (!under_qemu() && !tsan)
        assert_pprof_names("-top", envcpu, "pprof_hot_spin");
    assert_pprof_names("-top", envmem, "pprof_alloc_many");
    unlink(envcpu);
    unlink(envmem);
}

/* A profile that cannot be written says so at start. */
static void bad_path_body(void *arg)
{
    assert_int_equal(gort_pprof_cpu_start("/nonexistent-dir/cpu.pb.gz"), -ENOENT);
    assert_int_equal(gort_pprof_write("heap", "/nonexistent-dir/heap.pb.gz"), -ENOENT);
}

static void test_bad_path(void **st) { run_in_gort(bad_path_body, NULL, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* children first: the parent must not have started the runtime */
        cmocka_unit_test(test_env_profiles),
        cmocka_unit_test(test_bad_path),
        cmocka_unit_test(test_cpu_profile_1p),
        cmocka_unit_test(test_cpu_profile_2p),
        cmocka_unit_test(test_heap_profile_1p),
        cmocka_unit_test(test_heap_profile_2p),
        cmocka_unit_test(test_goroutine_profile_1p),
        cmocka_unit_test(test_goroutine_profile_2p),
        cmocka_unit_test(test_goroutine_profile_foreign),
        cmocka_unit_test(test_contention_profiles_1p),
        cmocka_unit_test(test_contention_profiles_2p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
