/*
 * test_gcwp.c — kernel write tracking for the collector (src/mgcwp.c):
 * userfaultfd asynchronous write-protect and PAGEMAP_SCAN.
 *
 * Each test maps its own region, tracks it, arms, writes a known set of
 * pages and checks that collect reports exactly those (collect also reports
 * the gort heap's arenas, which the page heap tracks: only the test's region
 * is looked at). Under qemu-user (GORT_TEST_QEMU=1), which has no
 * userfaultfd, every test asserts the fallback instead: gcwp_init is false
 * and says why, arm refuses, collect reports nothing.
 *
 * The tests that fork come first, before any thread exists.
 */
#include "testutil.h"

#include "runtime.h"
#include "mgcwp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static size_t ps;   /* the OS page size */

static bool under_qemu(void)
{
    const char *q = getenv("GORT_TEST_QEMU");
    return q && *q == '1';
}

/* Natively, tracking must work (this machine runs Linux 6.18); under qemu
 * it must not, and must fail cleanly. False: the test has nothing more to do. */
static bool tracking(void)
{
    bool ok = gcwp_init();
    if (under_qemu()) {
        assert_false(ok);
        assert_non_null(strstr(gcwp_why(), "userfaultfd"));
        assert_int_equal(gcwp_arm(), -ENOTSUP);
        assert_int_equal(gcwp_collect(NULL, NULL), 0);
        gcwp_disarm();
        return false;
    }
    if (!ok)
        print_error("gcwp_init: %s\n", gcwp_why());
    assert_true(ok);
    return true;
}

/* ---- A tracked region and what collect says about it -------------------- */

typedef struct region {
    char  *base;
    size_t npages;
    bool  *seen;        /* per page: reported by the last collect_region */
} region;

static region region_new(size_t npages, bool populate)
{
    region r = { .npages = npages };
    r.base = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(r.base != MAP_FAILED);
    if (populate)
        memset(r.base, 0x5a, npages * ps);
    r.seen = calloc(npages, sizeof *r.seen);
    assert_non_null(r.seen);
    gcwp_track(r.base, npages * ps);
    return r;
}

/* The region stays mapped: the tracker never forgets a range (the heap never
 * unmaps arenas), and a scan of an unmapped range would only over-report. */
static void region_done(region *r)
{
    free(r->seen);
}

static void note_pages(uintptr_t addr, size_t len, void *arg)
{
    region *r = arg;
    uintptr_t lo = (uintptr_t)r->base, hi = lo + r->npages * ps;
    for (uintptr_t a = addr; a < addr + len; a += ps)
        if (a >= lo && a < hi)
            r->seen[(a - lo) / ps] = true;
}

/* Collects, and returns how many of the region's pages were reported. */
static size_t collect_region(region *r)
{
    memset(r->seen, 0, r->npages * sizeof *r->seen);
    gcwp_collect(note_pages, r);
    size_t n = 0;
    for (size_t i = 0; i < r->npages; i++)
        n += r->seen[i];
    return n;
}

/* Asserts that the last collect reported exactly the pages with want[i]. */
static void assert_seen(region *r, const bool *want)
{
    for (size_t i = 0; i < r->npages; i++)
        if (r->seen[i] != want[i]) {
            print_error("page %zu: reported %d, written %d\n", i, r->seen[i], want[i]);
            fail();
        }
}

/* The start of most tests: a fresh tracked region, armed. False under
 * qemu (the fallback asserted): nothing more to do. */
static bool start_armed(region *r, size_t npages, bool populate)
{
    if (!tracking())
        return false;
    *r = region_new(npages, populate);
    assert_int_equal(gcwp_arm(), 0);
    return true;
}

static void finish(region *r)
{
    gcwp_disarm();
    region_done(r);
}

static void write_page(region *r, size_t i) { ((volatile char *)r->base)[i * ps + 17] = 1; }

static int childfail(const char *what)
{
    fprintf(stderr, "child: %s (why: %s)\n", what, gcwp_why());
    return 1;
}

/* ---- Forked children (before any thread) ---------------------------------- */

static void gcwpoff_child(void *arg)
{
    (void)arg;
    debug.gcwpoff = 1;
    if (gcwp_init())
        _exit(childfail("gcwp_init succeeded with gcwpoff=1"));
    if (!strstr(gcwp_why(), "gcwpoff") && !under_qemu())
        _exit(childfail("reason does not name gcwpoff"));
    if (gcwp_arm() != -ENOTSUP)
        _exit(childfail("arm did not refuse"));
    _exit(0);
}

/* GORT_DEBUG=gcwpoff=1 (test only) takes the fallback path. */
static void test_gcwpoff_forces_fallback(void **st)
{
    (void)st;
    child_result r = run_child(gcwpoff_child, NULL);
    if (r.exit_status != 0)
        print_error("%s", r.err);
    assert_int_equal(r.exit_status, 0);
}

/* A sandbox that refuses userfaultfd with EPERM, as a seccomp profile does. */
static void seccomp_child(void *arg)
{
    (void)arg;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = nelem(f), .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        _exit(childfail("cannot install the seccomp filter"));
    if (gcwp_init())
        _exit(childfail("gcwp_init succeeded under a seccomp refusal"));
    if (!strstr(gcwp_why(), "refused") || !strstr(gcwp_why(), strerror(EPERM)))
        _exit(childfail("reason does not say refused (EPERM)"));
    _exit(0);
}

static void test_seccomp_refusal_falls_back(void **st)
{
    (void)st;
    if (under_qemu()) {   /* a guest's filter would see the host's syscall numbers */
        tracking();
        return;
    }
    child_result r = run_child(seccomp_child, NULL);
    if (r.exit_status != 0)
        print_error("%s", r.err);
    assert_int_equal(r.exit_status, 0);
}

static region fork_region;

/* The child of an armed parent: the kernel dropped the registration at
 * fork, gcwp re-probes and tracks on its own. */
static void forked_child(void *arg)
{
    (void)arg;
    region *r = &fork_region;
    if (!gcwp_init())
        _exit(childfail("gcwp_init failed in the child"));
    if (gcwp_arm() != 0)
        _exit(childfail("arm failed in the child"));
    write_page(r, 5);
    if (collect_region(r) != 1 || !r->seen[5])
        _exit(childfail("the child's write was not reported alone"));
    gcwp_disarm();
    _exit(0);
}

static void test_forked_child_tracks_again(void **st)
{
    (void)st;
    if (!tracking())
        return;
    fork_region = region_new(16, true);
    assert_int_equal(gcwp_arm(), 0);
    child_result r = run_child(forked_child, NULL);
    if (r.exit_status != 0)
        print_error("%s", r.err);
    assert_int_equal(r.exit_status, 0);
    /* The child's writes were its own copy-on-write pages: the parent saw none. */
    assert_int_equal(collect_region(&fork_region), 0);
    write_page(&fork_region, 2);
    assert_int_equal(collect_region(&fork_region), 1);
    assert_true(fork_region.seen[2]);
    gcwp_disarm();
    region_done(&fork_region);
}

/* ---- Pattern written by goroutines ---------------------------------------- */

enum { patternPages = 256, patternWriters = 4 };

static bool in_pattern(size_t i) { return i % 3 == 0 || i % 7 == 1; }

struct pattern_writer { region *r; int k; gort_waitgroup *wg; };

static void pattern_write(void *arg)
{
    struct pattern_writer *w = arg;
    for (size_t i = (size_t)w->k; i < w->r->npages; i += patternWriters) {
        if (in_pattern(i))
            write_page(w->r, i);
        if (i % 16 == 0)
            gort_yield();
    }
    gort_waitgroup_done(w->wg);
}

/* Half the region populated before arm, half never touched: both kinds of
 * page report their first write after arm, and only that. */
static void pattern_body(void *arg)
{
    (void)arg;
    if (!tracking())
        return;
    region r = region_new(patternPages, false);
    memset(r.base, 0x5a, patternPages / 2 * ps);
    bool want[patternPages];
    for (size_t i = 0; i < patternPages; i++)
        want[i] = in_pattern(i);
    assert_int_equal(gcwp_arm(), 0);
    for (size_t i = 0; i < patternPages; i += 5)   /* reads report nothing */
        (void)((volatile char *)r.base)[i * ps];
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct pattern_writer w[patternWriters];
    gort_waitgroup_add(&wg, patternWriters);
    for (int k = 0; k < patternWriters; k++) {
        w[k] = (struct pattern_writer){ &r, k, &wg };
        gort_go(pattern_write, &w[k]);
    }
    gort_waitgroup_wait(&wg);
    collect_region(&r);
    assert_seen(&r, want);
    finish(&r);
}
BOTH(pattern)

/* ---- Re-protection, disarm ------------------------------------------------ */

/* A collect re-protects what it reports: the next one sees only new writes. */
static void test_second_collect_sees_only_new_writes(void **st)
{
    (void)st;
    region r;
    if (!start_armed(&r, 64, true))
        return;
    write_page(&r, 1);
    write_page(&r, 40);
    assert_int_equal(collect_region(&r), 2);
    assert_true(r.seen[1] && r.seen[40]);
    assert_int_equal(collect_region(&r), 0);
    write_page(&r, 1);          /* again: protected again by the collect */
    write_page(&r, 63);
    assert_int_equal(collect_region(&r), 2);
    assert_true(r.seen[1] && r.seen[63]);
    assert_int_equal(collect_region(&r), 0);
    finish(&r);
}

/* gcwp_unprotect (the allocator's way round a fault per page) makes pages
 * read as written: the next collect reports them, written or not, and
 * protects them again; the last collect of a cycle leaves what it reports
 * writable until the next arm. gcwp_armGen counts arms, 0 when disarmed. */
static void test_unprotected_and_last_collected_pages(void **st)
{
    (void)st;
    region r;
    if (!start_armed(&r, 64, true))
        return;
    uint32_t gen = gcwp_armGen();
    assert_true(gen != 0);
    gcwp_unprotect(r.base + 8 * ps, 4 * ps);
    write_page(&r, 9);
    assert_int_equal(collect_region(&r), 4);
    for (size_t i = 8; i < 12; i++)
        assert_true(r.seen[i]);
    write_page(&r, 3);
    memset(r.seen, 0, r.npages * sizeof *r.seen);
    assert_int_equal(gcwp_collect_last(note_pages, &r), 1);
    assert_true(r.seen[3]);
    assert_int_equal(collect_region(&r), 1);    /* still writable: reported again */
    assert_int_equal(collect_region(&r), 0);
    assert_int_equal(gcwp_arm(), 0);
    assert_int_equal(gcwp_armGen(), gen + 1);
    finish(&r);
    assert_int_equal(gcwp_armGen(), 0);
}

/* After disarm nothing is reported; a new arm forgets writes made before it. */
static void test_disarm_stops_and_rearm_starts_clean(void **st)
{
    (void)st;
    region r;
    if (!start_armed(&r, 32, true))
        return;
    write_page(&r, 3);
    gcwp_disarm();
    assert_int_equal(gcwp_collect(note_pages, &r), 0);
    write_page(&r, 4);          /* unprotected now: no fault, nothing noted */
    assert_int_equal(gcwp_arm(), 0);
    assert_int_equal(collect_region(&r), 0);
    write_page(&r, 4);
    assert_int_equal(collect_region(&r), 1);
    assert_true(r.seen[4]);
    finish(&r);
}

/* ---- Writes by the kernel, released pages, growth while armed ------------- */

/* read() writes into a protected page in the kernel (copy_to_user): the
 * page counts as written. The buffer is a gort_alloc object, so this also
 * checks that the page heap tracks its arenas. */
static void kernel_write_body(void *arg)
{
    (void)arg;
    if (!tracking())
        return;
    size_t len = 64 << 10;
    char *buf = gort_alloc(len);   /* may hold pointers: noscan memory is not tracked */
    memset(buf, 1, len);        /* populated before arm */
    char *lo = (char *)((uintptr_t)buf & ~(uintptr_t)(ps - 1));
    size_t npages = (size_t)(buf + len - lo + ps - 1) / ps;
    region r = { .base = lo, .npages = npages, .seen = calloc(npages, sizeof(bool)) };
    assert_int_equal(gcwp_arm(), 0);
    assert_int_equal(collect_region(&r), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char src[3 * 4096];
    memset(src, 7, sizeof src);
    size_t off = (size_t)(buf - lo) + 2 * ps + 100, n = ps + 200;   /* spans two pages */
    assert_int_equal(write(fds[1], src, n), (ssize_t)n);
    assert_int_equal(read(fds[0], lo + off, n), (ssize_t)n);
    assert_int_equal(collect_region(&r), 2);
    assert_true(r.seen[off / ps] && r.seen[(off + n - 1) / ps]);
    int z = open("/dev/zero", O_RDONLY);
    assert_true(z >= 0);
    assert_int_equal(read(z, lo + off, 8), 8);
    assert_int_equal(collect_region(&r), 1);
    assert_true(r.seen[off / ps]);
    close(z);
    close(fds[0]);
    close(fds[1]);
    gcwp_disarm();
    free(r.seen);
    gort_keep_alive(buf);
}

static void test_read_into_heap_buffer_is_reported(void **st)
{
    (void)st;
    run_in_gort(kernel_write_body, NULL, 1);
}

/* MADV_DONTNEED (the scavenger's release) drops a page's protection with its
 * contents: the page may be reported as written until a collect protects it
 * again (over-reporting), and a write after the release is always reported. */
static void test_dontneed_pages_are_not_lost(void **st)
{
    (void)st;
    region r;
    if (!start_armed(&r, 64, true))
        return;
    assert_int_equal(collect_region(&r), 0);
    sysUnused(r.base, 16 * ps);
    size_t n = collect_region(&r);
    for (size_t i = 16; i < r.npages; i++)
        assert_false(r.seen[i]);
    assert_true(n <= 16);
    assert_int_equal(collect_region(&r), 0);     /* protected again */
    write_page(&r, 3);                           /* released, then written */
    assert_int_equal(collect_region(&r), 1);
    assert_true(r.seen[3]);
    sysUnused(r.base + 5 * ps, ps);              /* released and written between collects */
    write_page(&r, 5);
    collect_region(&r);
    assert_true(r.seen[5]);
    (void)((volatile char *)r.base)[6 * ps];     /* a read of a released page */
    collect_region(&r);
    assert_false(r.seen[3]);
    finish(&r);
}

/* Transparent huge pages: a written huge page may be reported whole (2 MiB),
 * but every written page is reported, nothing outside the written huge
 * pages is, and the next collect starts clean. */
static void test_huge_pages(void **st)
{
    (void)st;
    if (!tracking())
        return;
    size_t huge = 2u << 20, hp = huge / ps, n = 4 * hp;
    region r = { .npages = n + hp, .seen = calloc(n + hp, sizeof(bool)) };
    char *v = mmap(NULL, (n + hp) * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(v != MAP_FAILED);
    r.base = (char *)(((uintptr_t)v + huge - 1) & ~(uintptr_t)(huge - 1));
    r.npages = n;
    madvise(r.base, n * ps, MADV_HUGEPAGE);   /* best effort: 4 KiB pages pass too */
    memset(r.base, 1, n * ps);
    gcwp_track(r.base, n * ps);
    assert_int_equal(gcwp_arm(), 0);
    assert_int_equal(collect_region(&r), 0);
    size_t w[] = { 3, 7, 2 * hp + 100 };
    for (size_t i = 0; i < nelem(w); i++)
        write_page(&r, w[i]);
    collect_region(&r);
    for (size_t i = 0; i < nelem(w); i++)
        assert_true(r.seen[w[i]]);
    for (size_t i = 0; i < n; i++)
        if (r.seen[i])
            assert_true(i / hp == 0 || i / hp == 2);
    assert_int_equal(collect_region(&r), 0);
    finish(&r);
}

/* A range tracked while armed (an arena mapped during marking) is protected
 * at once: its writes are reported in this cycle and the next. */
static void test_track_while_armed(void **st)
{
    (void)st;
    if (!tracking())
        return;
    region old = region_new(8, true);
    assert_int_equal(gcwp_arm(), 0);
    region r = region_new(32, false);
    write_page(&r, 0);
    write_page(&r, 31);
    write_page(&old, 7);
    assert_int_equal(collect_region(&r), 2);
    assert_true(r.seen[0] && r.seen[31]);
    assert_int_equal(collect_region(&r), 0);
    gcwp_disarm();
    assert_int_equal(gcwp_arm(), 0);             /* the next cycle covers it too */
    write_page(&r, 9);
    assert_int_equal(collect_region(&r), 1);
    assert_true(r.seen[9]);
    gcwp_disarm();
    region_done(&r);
    region_done(&old);
}

/* ---- Stress: writers racing with collects --------------------------------- */

/* What the collector needs is that whatever it last read from a page, when
 * a collect reported it, is what the page holds in the end: a write that no
 * later re-read saw is a write lost (a pointer the marker would miss). Each
 * writer owns one word per page (its slot) and writes increasing values;
 * the collector re-reads every slot of each reported page, as the marker
 * re-scans the objects there. */
enum { stressPages = 1024, stressWriters = 2, slotStride = 8 };   /* slots a cache line apart */

static struct {
    region r;
    uint64_t shadow[stressPages][stressWriters];   /* collector's last reading */
    _Atomic int started;                           /* writers that have written */
    _Atomic bool stop;
} stress;

struct stress_writer { uint64_t wrote[stressPages]; int id; long writes; };

static uint64_t *slot(size_t p, int w)
{
    return (uint64_t *)(stress.r.base + p * ps) + w * slotStride;
}

static void *stress_write(void *arg)
{
    struct stress_writer *w = arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    long k;
    for (k = 1; !atomic_load_explicit(&stress.stop, memory_order_relaxed); k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t p = (size_t)(seed >> 33) % stressPages;
        __atomic_store_n(slot(p, w->id), (uint64_t)k, __ATOMIC_RELAXED);
        w->wrote[p] = (uint64_t)k;      /* recorded after the write */
        if (k == 1)
            atomic_fetch_add(&stress.started, 1);
    }
    w->writes = k - 1;
    return NULL;
}

static void stress_reread(uintptr_t addr, size_t len, void *arg)
{
    (void)arg;
    uintptr_t lo = (uintptr_t)stress.r.base, hi = lo + stressPages * ps;
    for (uintptr_t a = addr; a < addr + len; a += ps)
        if (a >= lo && a < hi)
            for (int w = 0; w < stressWriters; w++)
                stress.shadow[(a - lo) / ps][w] = __atomic_load_n(slot((a - lo) / ps, w), __ATOMIC_RELAXED);
}

/* Two threads write random pages while this one collects over and over
 * (from the writers' first write until they are told to stop): in the end,
 * every page's every slot holds what the last collect that reported the
 * page read there. */
static void test_stress_no_write_lost(void **st)
{
    (void)st;
    if (!tracking())
        return;
    stress.r = region_new(stressPages, false);
    memset(stress.r.base, 0, stressPages / 2 * ps);    /* half populated, all zero */
    assert_int_equal(gcwp_arm(), 0);
    static struct stress_writer w[stressWriters];
    pthread_t th[stressWriters];
    for (int i = 0; i < stressWriters; i++) {
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, stress_write, &w[i]), 0);
    }
    while (atomic_load(&stress.started) < stressWriters)   /* collects must overlap writes */
        sched_yield();
    int collects = scaled(2000);
    for (int c = 0; c < collects; c++)
        gcwp_collect(stress_reread, NULL);
    atomic_store(&stress.stop, true);
    for (int i = 0; i < stressWriters; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    gcwp_collect(stress_reread, NULL);                  /* after the last write */
    for (size_t p = 0; p < stressPages; p++)
        for (int i = 0; i < stressWriters; i++)
            if (stress.shadow[p][i] != w[i].wrote[p]) {
                print_error("page %zu slot %d: wrote %lu last, the collector read %lu (%d collects, %ld writes)\n",
                            p, i, (unsigned long)w[i].wrote[p], (unsigned long)stress.shadow[p][i],
                            collects, w[i].writes);
                fail();
            }
    gcwp_disarm();
    region_done(&stress.r);
}

/* ---- File mappings, and a range the kernel will not track ---------------- */

/* A private mapping of a regular file, as a loaded object's .data: with
 * asynchronous write-protect the kernel tracks any kind of memory. */
static void test_private_file_mapping_is_tracked(void **st)
{
    (void)st;
    if (!tracking())
        return;
    char path[] = "/tmp/test_gcwp_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, (off_t)(8 * ps)), 0);
    region r = { .npages = 8, .seen = calloc(8, sizeof(bool)) };
    r.base = mmap(NULL, 8 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    assert_true(r.base != MAP_FAILED);
    close(fd);
    r.base[0] = 1;                              /* one page copied on write */
    gcwp_track(r.base, 8 * ps);
    assert_int_equal(gcwp_arm(), 0);
    assert_int_equal(collect_region(&r), 0);
    (void)((volatile char *)r.base)[3 * ps];    /* read from the file: not a write */
    write_page(&r, 0);
    write_page(&r, 5);
    assert_int_equal(collect_region(&r), 2);
    assert_true(r.seen[0] && r.seen[5]);
    finish(&r);
}

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

/* Droppable memory (Linux 6.11+, what the vDSO's getrandom uses) is the one
 * kind the kernel will not register: every collect reports it whole
 * (over-reporting, never a lost write) and arm says it failed. Runs last:
 * the range stays tracked. */
static void test_untrackable_range_is_reported_whole(void **st)
{
    (void)st;
    if (!tracking())
        return;
    region r = { .npages = 4, .seen = calloc(4, sizeof(bool)) };
    r.base = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
    assert_true(r.base != MAP_FAILED);
    gcwp_track(r.base, 4 * ps);
    assert_true(gcwp_arm() < 0);
    for (int round = 0; round < 2; round++)
        assert_int_equal(collect_region(&r), 4);
    gcwp_disarm();
    region_done(&r);
}

/* ---- Fallback under emulation ---------------------------------------------- */

/* Under qemu-user the probe fails cleanly with ENOSYS; natively it works. */
static void test_probe_result(void **st)
{
    (void)st;
    if (tracking())
        assert_int_equal(gcwp_init(), true);   /* idempotent */
    else
        assert_non_null(strstr(gcwp_why(), strerror(ENOSYS)));
}

int main(void)
{
    ps = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcwpoff_forces_fallback),
        cmocka_unit_test(test_seccomp_refusal_falls_back),
        cmocka_unit_test(test_forked_child_tracks_again),
        cmocka_unit_test(test_probe_result),
        cmocka_unit_test(test_second_collect_sees_only_new_writes),
        cmocka_unit_test(test_unprotected_and_last_collected_pages),
        cmocka_unit_test(test_disarm_stops_and_rearm_starts_clean),
        cmocka_unit_test(test_dontneed_pages_are_not_lost),
        cmocka_unit_test(test_huge_pages),
        cmocka_unit_test(test_track_while_armed),
        cmocka_unit_test(test_stress_no_write_lost),
        cmocka_unit_test(test_read_into_heap_buffer_is_reported),
        BOTH_TESTS(pattern),
        cmocka_unit_test(test_private_file_mapping_is_tracked),
        cmocka_unit_test(test_untrackable_range_is_reported_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
