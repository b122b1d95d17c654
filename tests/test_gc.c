/*
 * test_gc.c — the collector: every kind of root keeps its objects (stack,
 * register only, global, a dlopen'ed library's data, registered range,
 * interior pointer, a foreign thread's stack, 10 000 parked goroutines),
 * unreachable objects are freed, churn runs in bounded memory, gort_after
 * in a select loop runs in bounded memory, a goroutine spinning in a tight
 * loop cannot hold a collection off, gccheckmark and gcpoison, the pacer's
 * knobs, the statistics and the gctrace line. Each heap test runs with 1
 * and with 2 Ps.
 *
 * "Hidden" pointers are stored XORed with a mask, so that no word anywhere
 * points at the object: that is how a test makes an object unreachable.
 */
#include "testutil.h"
#include "malloc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#define MASK 0x5a5a5a5a5a5a5a5aULL
static uintptr_t hide(void *p) { return (uintptr_t)p ^ MASK; }
static void *unhide(uintptr_t h) { return (void *)(h ^ MASK); }

static bool qemu;

/* Is the object at a still allocated? Valid right after gort_gc (the sweep
 * is done) and before anything allocates again. */
static bool slot_live(uintptr_t a)
{
    mspan *s = spanOfHeap(a);
    if (!s)
        return false;
    uintptr_t i = mspan_objIndex(s, a);
    return i < s->freeindex || ((s->allocBits[i / 64] >> (i % 64)) & 1);
}

static void fill(void *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = (uint8_t)(seed + i * 7);
}

static bool intact(const void *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)p)[i] != (uint8_t)(seed + i * 7))
            return false;
    return true;
}

/* Allocates and drops about n bytes of 64-byte objects that later
 * allocations would reuse if anything were wrongly freed. */
static NOINLINE void churn(size_t n)
{
    for (size_t i = 0; i < n / 64; i++) {
        void *p = gort_alloc(64);
        memset(p, 0xee, 64);
    }
}

/* A linked list of n nodes; only the head is returned. */
typedef struct node { struct node *next; uint64_t payload[6]; } node;

static NOINLINE uintptr_t make_list_hidden(int n)
{
    node *head = NULL;
    for (int i = 0; i < n; i++) {
        node *x = gort_alloc(sizeof *x);
        x->next = head;
        for (int k = 0; k < 6; k++)
            x->payload[k] = (uint64_t)i * 1000 + (uint64_t)k;
        head = x;
    }
    return hide(head);
}

static bool list_intact(node *head, int n)
{
    int i = n - 1;
    for (node *x = head; x; x = x->next, i--) {
        if (!slot_live((uintptr_t)x))
            return false;
        for (int k = 0; k < 6; k++)
            if (x->payload[k] != (uint64_t)i * 1000 + (uint64_t)k)
                return false;
    }
    return i == -1;
}

static void run_procs(void (*fn)(void *), void *arg)
{
    run_in_gort(fn, arg, 1);
    run_in_gort(fn, arg, 2);
}

/* ---- Unreachable objects are freed ------------------------------------------ */

enum { NHIDDEN = 1000 };

static NOINLINE void alloc_hidden(uintptr_t *h, int n, size_t size)
{
    for (int i = 0; i < n; i++)
        h[i] = hide(gort_alloc(size));
}

static void unreachable_main(void *arg)
{
    uintptr_t *h = malloc(NHIDDEN * sizeof *h);
    alloc_hidden(h, NHIDDEN, 48);
    gort_gc();
    int live = 0;
    for (int i = 0; i < NHIDDEN; i++)
        live += slot_live((uintptr_t)unhide(h[i]));
    /* Conservative scanning may keep a few through stale words; not more. */
    assert_true(live < NHIDDEN / 10);
    free(h);
}

static void test_unreachable_objects_are_freed(void **st) { run_procs(unreachable_main, NULL); }

/* ---- Roots ------------------------------------------------------------------------- */

static void stack_main(void *arg)
{
    volatile uintptr_t head = (uintptr_t)unhide(make_list_hidden(2000));
    void *volatile big = gort_alloc(100000);
    fill(big, 100000, 3);
    for (int r = 0; r < 3; r++) {
        gort_gc();
        churn(4 << 20);
    }
    assert_true(list_intact((node *)head, 2000));
    assert_true(intact(big, 100000, 3));
}

static void test_stack_roots(void **st) { run_procs(stack_main, NULL); }

/* Interior pointers only: one into a small object, one deep into a large one. */
static void interior_main(void *arg)
{
    char *small = gort_alloc(64), *large = gort_alloc(300000);
    fill(small, 64, 1);
    fill(large, 300000, 2);
    char *volatile sp = small + 40, *volatile lp = large + 250000;
    small = large = NULL;
    gort_gc();
    churn(4 << 20);
    gort_gc();
    assert_true(slot_live((uintptr_t)sp) && slot_live((uintptr_t)lp));
    assert_true(intact(sp - 40, 64, 1));
    assert_true(intact(lp - 250000, 300000, 2));
}

static void test_interior_pointers(void **st) { run_procs(interior_main, NULL); }

static void *volatile global_root;

static void global_main(void *arg)
{
    global_root = unhide(make_list_hidden(1000));
    gort_gc();
    churn(4 << 20);
    gort_gc();
    assert_true(list_intact(global_root, 1000));
    global_root = NULL;
}

static void test_global_roots(void **st) { run_procs(global_main, NULL); }

/* A range of malloc memory is a root while it is registered, and only then. */
static NOINLINE bool registered_keeps(uintptr_t *box)
{
    box[1] = (uintptr_t)unhide(make_list_hidden(500));
    gort_add_roots(box, box + 4);
    gort_gc();
    churn(4 << 20);
    gort_gc();
    return list_intact((node *)box[1], 500);
}

/* Unregisters the range and hides its pointer; returns it hidden. */
static NOINLINE uintptr_t unregister(uintptr_t *box)
{
    gort_remove_roots(box, box + 4);
    uintptr_t h = hide((void *)box[1]);
    box[1] = 0;
    return h;
}

static void registered_main(void *arg)
{
    uintptr_t *box = calloc(4, sizeof *box);
    assert_true(registered_keeps(box));
    uintptr_t h = unregister(box);
    gort_gc();
    assert_false(slot_live((uintptr_t)unhide(h)));
    free(box);
}

static void test_registered_roots(void **st) { run_procs(registered_main, NULL); }

/* A library loaded at run time: its data segment is a root. */
static void dlopen_main(void *arg)
{
    void *lib = dlopen(GC_DLROOT_PATH, RTLD_NOW);
    assert_non_null(lib);
    void (*set)(void *) = (void (*)(void *))dlsym(lib, "gc_dlroot_set");
    void *(*get)(void) = (void *(*)(void))dlsym(lib, "gc_dlroot_get");
    assert_non_null(set);
    assert_non_null(get);
    set(unhide(make_list_hidden(700)));
    gort_gc();
    churn(4 << 20);
    gort_gc();
    assert_true(list_intact(get(), 700));
    set(NULL);
    dlclose(lib);
}

static void test_dlopen_library_data_is_a_root(void **st) { run_procs(dlopen_main, NULL); }

/* A pointer held only in a callee-saved register by a goroutine spinning in
 * a loop that never enters the runtime: the collector must stop it by signal
 * and scan its registers. The collection runs from a foreign thread, so it
 * works with one P as well. */
#if defined(__x86_64__)
#define HOLD_REG "rbx"
#define UNHIDE_ASM "xorq %1, %0"
#else
#define HOLD_REG "x19"
#define UNHIDE_ASM "eor %0, %0, %1"
#endif

typedef struct spinner {
    uintptr_t hidden;
    atomic_int ready, stop, ok;
} spinner;

static void spin_holding(void *arg)
{
    spinner *sp = arg;
    register uintptr_t r __asm__(HOLD_REG) = sp->hidden;
    __asm__ volatile(UNHIDE_ASM : "+r"(r) : "r"((uintptr_t)MASK));
    atomic_store(&sp->ready, 1);
    while (!atomic_load_explicit(&sp->stop, memory_order_acquire)) {
        __asm__ volatile("" : "+r"(r));
#if defined(__SANITIZE_THREAD__)
        usleep(10);   /* TSan runs signal handlers only inside libc calls */
#endif
    }
    atomic_store(&sp->ok, list_intact((node *)r, 300));
    atomic_store(&sp->ready, 2);
}

static void *collect_thread(void *arg)
{
    spinner *sp = arg;
    while (atomic_load(&sp->ready) != 1)
        usleep(100);
    for (int i = 0; i < 3; i++) {
        gort_gc();
        churn(2 << 20);
    }
    atomic_store(&sp->stop, 1);
    return NULL;
}

static void register_main(void *arg)
{
    spinner *sp = calloc(1, sizeof *sp);
    sp->hidden = make_list_hidden(300);
    gort_go(spin_holding, sp);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, collect_thread, sp), 0);
    while (atomic_load(&sp->ready) != 2)
        gort_yield();
    pthread_join(t, NULL);
    assert_true(atomic_load(&sp->ok));
    free(sp);
}

static void test_register_only_root_in_tight_loop(void **st) { run_procs(register_main, NULL); }

/* A foreign pthread keeps the only pointer on its own stack while blocked. */
typedef struct foreign {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage, ok;
} foreign;

static void *foreign_thread(void *arg)
{
    foreign *f = arg;
    volatile uintptr_t head = (uintptr_t)unhide(make_list_hidden(400));
    pthread_mutex_lock(&f->mu);
    f->stage = 1;
    pthread_cond_broadcast(&f->cv);
    while (f->stage != 2)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    f->ok = list_intact((node *)head, 400);
    return NULL;
}

static void foreign_main(void *arg)
{
    foreign *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, foreign_thread, f), 0);
    pthread_mutex_lock(&f->mu);
    while (f->stage != 1)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < 3; i++) {
        gort_gc();
        churn(2 << 20);
    }
    pthread_mutex_lock(&f->mu);
    f->stage = 2;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(t, NULL);
    assert_true(f->ok);
    free(f);
}

static void test_foreign_thread_stack(void **st) { run_procs(foreign_main, NULL); }

/* ---- Many parked goroutines hold the only references ---------------------------- */

typedef struct parked {
    gort_chan *release;
    atomic_int bad, done;
} parked;

static void parked_goroutine(void *arg)
{
    parked *pk = arg;
    uint8_t seed = (uint8_t)gort_goid();
    volatile uintptr_t obj = (uintptr_t)gort_alloc(96);
    fill((void *)obj, 96, seed);
    gort_chan_recv(pk->release, NULL);
    if (!slot_live(obj) || !intact((void *)obj, 96, seed))
        atomic_fetch_add(&pk->bad, 1);
    atomic_fetch_add(&pk->done, 1);
}

static void parked_main(void *arg)
{
    int n = scaled(10000);
    parked *volatile pk = gort_alloc(sizeof *pk);   /* GC memory: it holds the channel */
    pk->release = gort_chan_make(0, 0);
    for (int i = 0; i < n; i++)
        gort_go(parked_goroutine, pk);
    while (gort_num_goroutine() < n + 1)
        gort_yield();
    for (int r = 0; r < 3; r++) {
        gort_gc();
        churn(4 << 20);
    }
    gort_chan_close(pk->release);
    while (atomic_load(&pk->done) < n)
        gort_yield();
    assert_int_equal(atomic_load(&pk->bad), 0);
}

static void test_parked_goroutines_hold_only_references(void **st) { run_procs(parked_main, NULL); }

/* ---- Bounded memory ------------------------------------------------------------------ */

static size_t rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* 1.4 GB allocated (less under qemu and the sanitizers), 10 MB of it live at any time, in
 * objects of mixed sizes: RSS stays within 256 MB of where it started. */
static void churn_main(void *arg)
{
    enum { NLIVE = 10240 };
    size_t total = (size_t)scaled(1400) << 20;      /* MB: less under qemu and the sanitizers */
    void **live = calloc(NLIVE, sizeof *live);
    gort_add_roots(live, live + NLIVE);
    size_t start = rss_bytes(), peak = start, done = 0;
    uint32_t x = 12345;
    while (done < total) {
        x = x * 1103515245 + 12345;
        size_t size = (x >> 8) % 3 == 0 ? 2048 : (x >> 8) % 3 == 1 ? 512 : 64;
        live[(x >> 12) % NLIVE] = gort_alloc(size);
        done += size;
        if (done % (64 << 20) < size) {
            size_t r = rss_bytes();
            peak = r > peak ? r : peak;
        }
    }
    gort_remove_roots(live, live + NLIVE);
    free(live);
    gort_mem_stats ms;
    gort_read_mem_stats(&ms);
    assert_true(ms.num_gc > 0);
    if (peak - start > (256u << 20))
        fail_msg("RSS grew by %zu MB (from %zu MB)", (peak - start) >> 20, start >> 20);
}

static void test_churn_in_bounded_memory(void **st) { run_procs(churn_main, NULL); }

/* A select loop that makes a timer channel every iteration (as Go's
 * `case <-time.After(d)`), always won by a ready channel: the timers and
 * channels it leaves behind are reclaimed once they fired. A pending timer
 * keeps its channel alive and timers run when the P schedules, so the loop
 * yields now and then, as a server loop blocks now and then. */
static void after_main(void *arg)
{
    int n = qemu ? 100000 : scaled(1000000);
    gort_chan *ready = gort_chan_make(sizeof(int), 1);
    gort_mem_stats ms;
    uint64_t maxInuse = 0;
    for (int i = 0; i < n; i++) {
        int v = i;
        gort_chan_try_send(ready, &v);          /* full if the timer won last time */
        gort_select_case cases[2] = {
            { .chan = ready, .dir = GORT_RECV, .elem = &v },
            { .chan = gort_after(20 * 1000), .dir = GORT_RECV, .elem = NULL },
        };
        gort_select(cases, 2, true);
        if (i % 1000 == 0)
            gort_yield();
        if (i % 50000 == 0) {
            gort_read_mem_stats(&ms);
            maxInuse = ms.heap_inuse > maxInuse ? ms.heap_inuse : maxInuse;
        }
    }
    gort_read_mem_stats(&ms);
    assert_true(ms.num_gc > 0);
    if (maxInuse > (64u << 20))
        fail_msg("heap in use reached %llu MB", (unsigned long long)(maxInuse >> 20));
}

static void test_after_in_select_loop_bounded(void **st) { run_procs(after_main, NULL); }

/* ---- Debug modes, knobs, statistics ------------------------------------------------- */

static void checkmark_main(void *arg)
{
    debug.gccheckmark = 1;
    volatile uintptr_t head = (uintptr_t)unhide(make_list_hidden(3000));
    for (int r = 0; r < 3; r++) {
        gort_gc();
        churn(8 << 20);
    }
    assert_true(list_intact((node *)head, 3000));
    debug.gccheckmark = 0;
}

static void test_gccheckmark_finds_nothing_missed(void **st) { run_procs(checkmark_main, NULL); }

static void poison_main(void *arg)
{
    debug.gcpoison = 1;
    uintptr_t h[64];
    alloc_hidden(h, 64, 256);
    for (int i = 0; i < 64; i++)
        memset(unhide(h[i]), 0x11, 256);
    gort_gc();
    int poisoned = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t w;
        mspan *s = spanOf((uintptr_t)unhide(h[i]));
        if (!s || slot_live((uintptr_t)unhide(h[i])))
            continue;
        memcpy(&w, unhide(h[i]), 4);
        poisoned += w == 0xdeadbeef;
    }
    debug.gcpoison = 0;
    assert_true(poisoned > 32);
}

static void test_gcpoison_fills_freed_objects(void **st) { run_in_gort(poison_main, NULL, 1); }

static void stats_main(void *arg)
{
    gort_mem_stats a, b;
    uintptr_t h[16];
    alloc_hidden(h, 16, 128);
    gort_read_mem_stats(&a);
    gort_gc();
    gort_read_mem_stats(&b);
    assert_int_equal(b.num_gc, a.num_gc + 1);
    assert_int_equal(b.num_forced_gc, a.num_forced_gc + 1);
    assert_true(b.pause_ns[(b.num_gc + 255) % 256] > 0);
    assert_true(b.pause_total_ns >= a.pause_total_ns + b.pause_ns[(b.num_gc + 255) % 256]);
    assert_true(b.last_gc > 0 && b.last_gc >= a.last_gc);
    assert_true(b.next_gc >= 4 << 20);
    assert_true(b.gc_cpu_fraction >= 0 && b.gc_cpu_fraction < 1);
    assert_true(b.frees > a.frees);
}

static void test_stats_after_gc(void **st) { run_in_gort(stats_main, NULL, 2); }

/* GORT_GC=off's equivalent: no cycle starts by itself; gort_gc still runs one. */
static void percent_main(void *arg)
{
    int old = gort_set_gc_percent(-1);
    assert_int_equal(gort_set_gc_percent(-1), -1);
    gort_mem_stats a, b;
    gort_read_mem_stats(&a);
    churn(64 << 20);
    gort_read_mem_stats(&b);
    assert_int_equal(b.num_gc, a.num_gc);
    gort_gc();
    gort_read_mem_stats(&b);
    assert_int_equal(b.num_gc, a.num_gc + 1);
    assert_int_equal(gort_set_gc_percent(50), -1);
    churn(64 << 20);
    gort_read_mem_stats(&b);
    assert_true(b.num_gc > a.num_gc + 1);
    assert_int_equal(gort_set_gc_percent(old), 50);
}

static void test_set_gc_percent(void **st) { run_in_gort(percent_main, NULL, 2); }

/* gctrace prints Go's line for each cycle. */
static void gctrace_main(void *arg)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    debug.gctrace = 1;
    gort_gc();
    debug.gctrace = 0;
    dup2(saved, 2);
    close(saved);
    char line[512] = { 0 };
    rewind(tmp);
    assert_non_null(fgets(line, sizeof line, tmp));
    fclose(tmp);
    unsigned n;
    double at;
    int pct;
    assert_int_equal(sscanf(line, "gc %u @%lfs %d%%:", &n, &at, &pct), 3);
    assert_non_null(strstr(line, " ms clock, "));
    assert_non_null(strstr(line, " ms cpu, "));
    assert_non_null(strstr(line, " MB goal, "));
    assert_non_null(strstr(line, " MB stacks, "));
    assert_non_null(strstr(line, " MB globals, 2 P (forced)\n"));
}

static void test_gctrace_line(void **st) { run_in_gort(gctrace_main, NULL, 2); }

/* Regression: a P removed by gort_gomaxprocs kept its sudog cache, but only
 * the Ps below GOMAXPROCS are roots. A collection freed the cached sudogs,
 * other objects took their memory, and when the P came back a select was
 * handed one of them (caught by acquireSudog's assertion, or corruption). */
enum { SELPAIRS = 16 };
struct selpair { gort_chan *a, *b; int rounds; gort_waitgroup *wg; };
struct selside { struct selpair *pair; int first; };   /* first: GORT_SEND or GORT_RECV on a */

/* One side of a pair: it offers a on its first direction and b on the other,
 * and the other side does the opposite, so every select may block. */
static void select_side(void *v)
{
    struct selside *sd = v;
    struct selpair *sp = sd->pair;
    int second = sd->first == GORT_SEND ? GORT_RECV : GORT_SEND, x = 0;
    for (int i = 0; i < sp->rounds; i++) {
        gort_select_case c[2] = { { sp->a, sd->first, &x, NULL }, { sp->b, second, &x, NULL } };
        gort_select(c, 2, true);
    }
    gort_waitgroup_done(sp->wg);
}

/* Blocking selects on every P, so each P's sudog cache fills. */
static void selects_everywhere(void)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct selpair *sp = gort_alloc(SELPAIRS * sizeof *sp);
    struct selside *sd = gort_alloc(2 * SELPAIRS * sizeof *sd);
    for (int i = 0; i < SELPAIRS; i++) {
        sp[i] = (struct selpair){ gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0),
                                  (int)scaled(2000), &wg };
        sd[2 * i] = (struct selside){ &sp[i], GORT_SEND };
        sd[2 * i + 1] = (struct selside){ &sp[i], GORT_RECV };
        gort_waitgroup_add(&wg, 2);
        gort_go(select_side, &sd[2 * i]);
        gort_go(select_side, &sd[2 * i + 1]);
    }
    gort_waitgroup_wait(&wg);
}

static void destroyed_p_sudog_cache_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 3; round++) {
        gort_gomaxprocs(2);
        selects_everywhere();
        gort_gomaxprocs(1);
        gort_gc();
        /* Objects of a sudog's size class take the freed sudogs' slots. */
        enum { NFILL = 4096 };
        void **keep = gort_alloc(NFILL * sizeof *keep);
        for (int i = 0; i < NFILL; i++) {
            keep[i] = gort_alloc(sizeof(sudog));
            memset(keep[i], 0xff, sizeof(sudog));
        }
        gort_gomaxprocs(2);
        selects_everywhere();
        gort_keep_alive(keep);
    }
}
static void test_destroyed_p_sudog_cache(void **st) { run_in_gort(destroyed_p_sudog_cache_main, NULL, 2); }

int main(void)
{
    qemu = getenv("GORT_TEST_QEMU") && getenv("GORT_TEST_QEMU")[0] == '1';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable_objects_are_freed),
        cmocka_unit_test(test_stack_roots),
        cmocka_unit_test(test_interior_pointers),
        cmocka_unit_test(test_global_roots),
        cmocka_unit_test(test_registered_roots),
        cmocka_unit_test(test_dlopen_library_data_is_a_root),
        cmocka_unit_test(test_register_only_root_in_tight_loop),
        cmocka_unit_test(test_foreign_thread_stack),
        cmocka_unit_test(test_parked_goroutines_hold_only_references),
        cmocka_unit_test(test_churn_in_bounded_memory),
        cmocka_unit_test(test_after_in_select_loop_bounded),
        cmocka_unit_test(test_gccheckmark_finds_nothing_missed),
        cmocka_unit_test(test_gcpoison_fills_freed_objects),
        cmocka_unit_test(test_stats_after_gc),
        cmocka_unit_test(test_set_gc_percent),
        cmocka_unit_test(test_gctrace_line),
        cmocka_unit_test(test_destroyed_p_sudog_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
