/*
 * test_traceback.c — goroutine dumps and what they are made of: each
 * goroutine's creation site (g.gopc, its creator's goid), the time it
 * started waiting (g.waitsince, noted lazily by the GC or a dump), and the
 * dump itself, by gort_dump_goroutines and by SIGQUIT (exit status 2):
 * three goroutines blocked on a channel, a mutex and a sleep are listed
 * with their wait reasons, a frame of their own function each and their
 * creator.
 */
#define UNW_LOCAL_ONLY
#include "testutil.h"
#include "runtime.h"

#include <libunwind.h>
#include <stdatomic.h>
#include <signal.h>

/* The start of the function holding pc, from its unwind info. */
static uintptr_t func_start(uintptr_t pc)
{
    unw_proc_info_t pi;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, pc - 1, &pi, NULL) != 0)
        return 0;
    return pi.start_ip;
}

/* ---- creation site ------------------------------------------------------- */

static g *_Atomic child_g;
static gort_chan *release_ch;

static void child(void *arg)
{
    atomic_store(&child_g, getg());
    int v;
    gort_chan_recv(release_ch, &v);
}

/* Not a tail call: the creation site is a return address in spawner. */
static NOINLINE uint64_t spawner(void)
{
    uint64_t id = gort_go(child, NULL);
    __asm__ volatile("" ::: "memory");
    return id;
}

static void creation_site_body(void *arg)
{
    release_ch = gort_chan_make(sizeof(int), 0);
    atomic_store(&child_g, NULL);
    uint64_t id = spawner();
    while (!atomic_load(&child_g))
        gort_yield();
    g *gp = atomic_load(&child_g);
    assert_int_equal(gp->goid, id);
    assert_int_equal(gp->parentGoid, gort_goid());
    assert_int_equal(func_start(gp->gopc), (uintptr_t)spawner);
    send_int(release_ch, 1);
}
BOTH(creation_site)

/* The main goroutine has no creator, as in Go. */
static void main_has_no_creator_body(void *arg)
{
    assert_int_equal(getg()->gopc, 0);
    assert_int_equal(getg()->parentGoid, 0);
}
BOTH(main_has_no_creator)

/* ---- wait time ----------------------------------------------------------- */

static void waitsince_body(void *arg)
{
    release_ch = gort_chan_make(sizeof(int), 0);
    atomic_store(&child_g, NULL);
    gort_go(child, NULL);
    g *gp;
    while (!(gp = atomic_load(&child_g)) ||
           atomic_load(&gp->atomicstatus) != Gwaiting)
        gort_yield();
    assert_int_equal(atomic_load(&gp->waitsince), 0);   /* nobody looked yet */
    int64_t before = nanotime();
    gort_gc();                                           /* the stack scan looks */
    int64_t since = atomic_load(&gp->waitsince);
    assert_true(since >= before && since <= nanotime());
    gort_gc();                                           /* noted once, kept */
    assert_int_equal(atomic_load(&gp->waitsince), since);
    assert_int_equal(gp->waitreason, waitReasonChanReceive);
    send_int(release_ch, 1);
}
BOTH(waitsince)

/* ---- the dump ------------------------------------------------------------ */

static gort_chan *never;              /* nobody sends */
static gort_mutex held = GORT_MUTEX_INIT;
static g *_Atomic blocked[3];

static void on_chan(void *arg)
{
    atomic_store(&blocked[0], getg());
    int v;
    gort_chan_recv(never, &v);
    __asm__ volatile("" ::: "memory");   /* no tail call: keep this frame */
}

static void on_mutex(void *arg)
{
    atomic_store(&blocked[1], getg());
    gort_mutex_lock(&held);
    gort_mutex_unlock(&held);           /* released: the next test takes it again */
}

static void on_sleep(void *arg)
{
    atomic_store(&blocked[2], getg());
    gort_sleep(3600 * GORT_SECOND);
    __asm__ volatile("" ::: "memory");
}

/* Starts the three and returns once each is parked. */
static NOINLINE void start_blocked(void)
{
    never = gort_chan_make(sizeof(int), 0);
    gort_mutex_lock(&held);
    void (*fns[3])(void *) = { on_chan, on_mutex, on_sleep };
    for (int i = 0; i < 3; i++) {
        atomic_store(&blocked[i], NULL);
        gort_go(fns[i], NULL);
    }
    for (int i = 0; i < 3; i++) {
        g *gp;
        while (!(gp = atomic_load(&blocked[i])) || atomic_load(&gp->atomicstatus) != Gwaiting)
            gort_yield();
    }
    __asm__ volatile("" ::: "memory");
}

/* The text of goroutine goid's entry in dump out (up to the next entry). */
static char *entry_of(const char *out, uint64_t goid)
{
    char hdr[64];
    snprintf(hdr, sizeof hdr, "goroutine %llu [", (unsigned long long)goid);
    const char *s = strstr(out, hdr);
    if (!s) {
        print_error("no \"%s\" in the dump:\n%s\n", hdr, out);
        return NULL;
    }
    const char *e = strstr(s + 1, "\ngoroutine ");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    char *r = malloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void expect_in(const char *entry, const char *want)
{
    if (!strstr(entry, want))
        print_error("no \"%s\" in:\n%s\n", want, entry);
    assert_non_null(strstr(entry, want));
}

/* Checks the entries of the three blocked goroutines, made by creator. */
static void check_dump(const char *out, uint64_t creator, const char *const reasons[3])
{
    static const char *const fns[3] = { "on_chan(...)", "on_mutex(...)", "on_sleep(...)" };
    char created[128];
    snprintf(created, sizeof created, "created by start_blocked in goroutine %llu\n",
             (unsigned long long)creator);
    for (int i = 0; i < 3; i++) {
        g *gp = atomic_load(&blocked[i]);
        char *e = entry_of(out, gp->goid);
        assert_non_null(e);
        char hdr[96];
        snprintf(hdr, sizeof hdr, "goroutine %llu [%s]:\n", (unsigned long long)gp->goid, reasons[i]);
        expect_in(e, hdr);
        expect_in(e, fns[i]);
        expect_in(e, created);
        expect_in(e, "test_traceback.c:");       /* file:line from the debug info */
        free(e);
    }
}

static const char *const reasons[3] = { "chan receive", "sync.Mutex.Lock", "sleep" };

static char *dump_to_string(void)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    gort_dump_goroutines(f);
    long n = ftell(f);
    assert_true(n > 0);
    char *out = calloc(1, (size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return out;
}

static void release_blocked(void)
{
    gort_chan_close(never);
    gort_mutex_unlock(&held);
    /* the sleeper stays: an hour is nothing to a test process that exits */
}

static void dump_function_body(void *arg)
{
    start_blocked();
    char *out = dump_to_string();
    check_dump(out, gort_goid(), reasons);
    /* The caller comes first, running, with its own frames. */
    char hdr[64];
    snprintf(hdr, sizeof hdr, "goroutine %llu [running]:\n", (unsigned long long)gort_goid());
    assert_ptr_equal(strstr(out, hdr), out);
    char *self = entry_of(out, gort_goid());
    expect_in(self, "dump_to_string(...)");
    expect_in(self, "dump_function_body(...)");
    free(self);
    free(out);
    release_blocked();
}
BOTH(dump_function)

/* Go's minutes rule: "N minutes" once a goroutine waited a minute or more. */
static void dump_minutes_body(void *arg)
{
    start_blocked();
    g *gp = atomic_load(&blocked[0]);
    atomic_store(&gp->waitsince, nanotime() - 3 * 60 * GORT_SECOND - GORT_SECOND);
    g *gm = atomic_load(&blocked[1]);
    atomic_store(&gm->waitsince, nanotime() - 59 * GORT_SECOND);
    char *out = dump_to_string();
    const char *const r[3] = { "chan receive, 3 minutes", "sync.Mutex.Lock", "sleep" };
    check_dump(out, gort_goid(), r);
    free(out);
    release_blocked();
}
BOTH(dump_minutes)

/* ---- a goroutine switched out by async preemption --------------------------
 * It sits in asyncPreempt, called from the signal frame asyncPreemptReturn;
 * the dump goes on through that frame to the instruction the signal
 * interrupted (gwalk.h), so its entry shows the loop it was spinning in and
 * the goroutine's own function below. Before, it ended at asyncPreempt. */
static _Atomic bool spin_stop, spin_done;
static g *_Atomic spin_g;
static _Atomic uint64_t spin_sink;

/* A loop with no call and no memory access inside, in the test program's
 * own text (where preempting is allowed), checking the flag now and then.
 * noipa: no clone under another name (spin_loop.constprop.0). */
static __attribute__((noipa)) uint64_t spin_loop(uint64_t x)
{
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static void spinner(void *arg)
{
    atomic_store(&spin_g, getg());
    atomic_store(&spin_sink, spin_loop(1));
    atomic_store(&spin_done, true);
}

static void dump_async_preempted_body(void *arg)
{
    atomic_store(&spin_stop, false);
    atomic_store(&spin_done, false);
    atomic_store(&spin_g, NULL);
    gort_go(spinner, NULL);
    /* One P: once the spinner has started, this goroutine runs again only
     * after sysmon's signal switched the spinner out (its time slice is
     * 10 ms); it never calls the runtime, so only a signal can. */
    g *gp;
    do
        gort_sleep(GORT_MILLISECOND);
    while (!(gp = atomic_load(&spin_g)));
    char *out = dump_to_string();
    char *e = entry_of(out, gp->goid);
    assert_non_null(e);
    expect_in(e, "asyncPreempt(...)");
    expect_in(e, "spin_loop(...)");
    expect_in(e, "spinner(...)");
    assert_true(strstr(e, "spin_loop(...)") > strstr(e, "asyncPreempt(...)"));
    free(e);
    free(out);
    atomic_store(&spin_stop, true);
    while (!atomic_load(&spin_done))
        gort_sleep(GORT_MILLISECOND);
}

static void test_dump_async_preempted(void **st)
{
#if defined(__SANITIZE_THREAD__)
    print_message("async preemption is off under TSan (docs/sysmon.md); skipped\n");
    skip();
#endif
    run_in_gort(dump_async_preempted_body, NULL, 1);
}

/* SIGQUIT in a child: the dump on stderr, then exit status 2. */
static void sigquit_main(void *arg)
{
    start_blocked();
    kill(getpid(), SIGQUIT);
    for (;;)
        gort_sleep(GORT_SECOND);
}

static void test_sigquit_dump(void **st)
{
    child_result r = run_main_child(sigquit_main, 2);
    if (r.exit_status != 2 || !strstr(r.err, "SIGQUIT: quit\n"))
        print_error("status %d signal %d, stderr:\n%s\n", r.exit_status, r.signal, r.err);
    assert_int_equal(r.exit_status, 2);
    assert_non_null(strstr(r.err, "SIGQUIT: quit\n"));
    /* In the child the main goroutine is goroutine 1, and the three are 2, 3
     * and 4: check_dump finds them through blocked[]. */
    static g gs[3] = { { .goid = 2 }, { .goid = 3 }, { .goid = 4 } };
    for (int i = 0; i < 3; i++)
        atomic_store(&blocked[i], &gs[i]);
    check_dump(r.err, 1, reasons);
    /* The main goroutine is listed: parked in its sleep, or still running
     * when the dumper stopped the world (then Go's words). */
    char *mainentry = entry_of(r.err, 1);
    assert_non_null(mainentry);
    expect_in(mainentry, strstr(mainentry, "[running]") ?
              "goroutine running on other thread; stack unavailable" : "sigquit_main(...)");
    free(mainentry);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigquit_dump),  /* first: forks before the runtime starts */
        BOTH_TESTS(dump_function),
        BOTH_TESTS(dump_minutes),
        BOTH_TESTS(creation_site),
        BOTH_TESTS(main_has_no_creator),
        BOTH_TESTS(waitsince),
        cmocka_unit_test(test_dump_async_preempted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
