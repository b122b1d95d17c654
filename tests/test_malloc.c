/*
 * test_malloc.c — the span allocator through its public API and the hooks
 * the GC will use (malloc.c, mcache.c, mcentral.c, mheap.c, mstats.c).
 *
 * Covers: Go's sizes for every request up to 40 000 bytes, Go's alignment,
 * the tiny allocator, pointer bitmaps of gort_new / gort_alloc objects,
 * pointer → object lookup, zeroing of reused memory (needzero) and of
 * nothing else, statistics (exact deltas alone, invariants under
 * concurrency), mcache life cycle, objects spanning arenas, concurrent
 * allocation from goroutines on 2 Ps and from plain pthreads (the locked
 * mcache0 path), and "fatal error: runtime: out of memory" (exit 2) for
 * impossible sizes and OS refusals, in child processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "malloc.h"
#include "testutil.h"

static bool qemu;

/* Go's alignment guarantee: the largest power of two dividing the slot
 * size, at most a page (objects sit at base + i*size in page-aligned spans). */
static uintptr_t go_align(size_t slot)
{
    uintptr_t a = slot & -slot;
    return a > pageSize ? pageSize : a;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* The fixture of tests that handle spans themselves (take one off its
 * mcentral, push one on, read its list) or count exact statistics: the
 * collector off and the last cycle's sweep finished. A cycle started by the
 * test's own allocations would free objects under the counts and sweep the
 * same spans concurrently, moving them between lists under the test (a list
 * corrupted that way hung or crashed test_malloc under TSan). */
static int gc_percent_before;

static int gc_quiet(void **state)
{
    (void)state;
    gc_percent_before = gort_set_gc_percent(-1);
    gort_gc();
    return 0;
}

static int gc_restore(void **state)
{
    (void)state;
    gort_set_gc_percent(gc_percent_before);
    return 0;
}

#define quiet_test(f)   cmocka_unit_test_setup_teardown(f, gc_quiet, gc_restore)

/* ---- Sizes and alignment -------------------------------------------------- */

static void usable_size_is_go_class_size(void **state)
{
    (void)state;
    size_t step = qemu ? 37 : 1;
    for (size_t n = 1; n <= 40000; n += step) {
        void *p = gort_alloc(n);
        size_t want = n <= maxSmallSize ? class_to_size[sizeToClass(n)]
                                        : (n + pageMask) & ~(size_t)pageMask;
        if (gort_usable_size(p) != want)
            fail_msg("gort_alloc(%zu): usable %zu, want %zu", n, gort_usable_size(p), want);
        if ((uintptr_t)p % go_align(want))
            fail_msg("gort_alloc(%zu) = %p: not %zu-aligned", n, p, (size_t)go_align(want));
    }
    assert_int_equal(gort_usable_size(gort_alloc(8200)), 9472);
    assert_int_equal(gort_usable_size(gort_alloc(8388616)), 8396800);
    assert_int_equal(gort_usable_size(gort_alloc(32768)), 32768);
    assert_int_equal(gort_usable_size(gort_alloc(32769)), 40960);
}

static void noscan_objects_use_noscan_spans(void **state)
{
    (void)state;
    size_t sizes[] = { 16, 17, 100, 1024, 8200, 32768, 40000 };
    for (size_t i = 0; i < nelem(sizes); i++) {
        void *p = gort_alloc_noscan(sizes[i]);
        mspan *s = spanOfHeap((uintptr_t)p);
        assert_non_null(s);
        assert_true(spanClass_noscan(s->spanclass));
        assert_int_equal(gort_usable_size(p), roundupsize(sizes[i]));
        assert_true(all_zero(p, sizes[i]));
        assert_false(spanClass_noscan(spanOfHeap((uintptr_t)gort_alloc(sizes[i]))->spanclass));
    }
}

static void zero_size_allocations_share_one_address(void **state)
{
    (void)state;
    gort_type empty = { 0, NULL };
    void *a = gort_alloc(0), *b = gort_alloc_noscan(0), *c = gort_new(&empty);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_equal(a, c);
    assert_int_equal(gort_usable_size(a), 0);
}

/* ---- Tiny allocator ------------------------------------------------------------ */

static void tiny_objects_pack_and_align(void **state)
{
    (void)state;
    enum { N = 2000 };
    static uintptr_t addr[N];
    static size_t len[N];
    gort_mem_stats before, after;
    gort_read_mem_stats(&before);
    uint64_t blocks = 0, packed = 0;
    srandom(7);
    for (int i = 0; i < N; i++) {
        len[i] = 1 + (size_t)(random() % 15);
        addr[i] = (uintptr_t)gort_alloc_noscan(len[i]);
        size_t align = len[i] % 8 == 0 ? 8 : len[i] % 4 == 0 ? 4 : len[i] % 2 == 0 ? 2 : 1;
        assert_int_equal(addr[i] % align, 0);
        assert_true(all_zero((void *)addr[i], len[i]));
        memset((void *)addr[i], i & 0xff, len[i]);
        mspan *s = spanOfHeap(addr[i]);
        assert_int_equal(s->spanclass, tinySpanClass);
        assert_int_equal(gort_usable_size((void *)addr[i]), maxTinySize);
        /* A new block's object is at its start; placed objects never are. */
        if (addr[i] % maxTinySize == 0)
            blocks++;
        else
            packed++;
    }
    gort_read_mem_stats(&after);
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < len[i]; k++)
            assert_int_equal(((unsigned char *)addr[i])[k], i & 0xff);
    assert_true(packed > N / 4);   /* packing happened */
    /* Go's accounting: blocks are class-2 objects; packed objects count as
     * one malloc and one free each. */
    assert_int_equal(after.mallocs - before.mallocs, N);
    assert_int_equal(after.frees - before.frees, packed);
    assert_int_equal(after.heap_objects - before.heap_objects, blocks);
    assert_int_equal(after.total_alloc - before.total_alloc, blocks * maxTinySize);
    assert_int_equal(after.by_size[tinySizeClass].mallocs - before.by_size[tinySizeClass].mallocs, blocks);
}

/* ---- Pointer bitmaps and lookup ----------------------------------------------------- */

static void heap_bits_describe_objects(void **state)
{
    (void)state;
    static const uint8_t mask[] = { 0x15 };             /* words 0, 2, 4 */
    gort_type t = { 40, mask };
    uintptr_t p = (uintptr_t)gort_new(&t);
    assert_int_equal(gort_usable_size((void *)p), 48);
    bool want[6] = { 1, 0, 1, 0, 1, 0 };                /* word 5: slack, no pointer */
    for (int w = 0; w < 6; w++)
        assert_int_equal(heapBitsIsPointer(p + 8 * w), want[w]);

    uintptr_t q = (uintptr_t)gort_alloc(40);            /* conservative: every word */
    for (int w = 0; w < 6; w++)
        assert_true(heapBitsIsPointer(q + 8 * w));

    gort_type noptr = { 64, NULL };
    assert_true(spanClass_noscan(spanOfHeap((uintptr_t)gort_new(&noptr))->spanclass));

    /* A large precise object: every third word a pointer. */
    enum { WORDS = 6000 };
    static uint8_t bigmask[(WORDS + 7) / 8];
    for (int w = 0; w < WORDS; w += 3)
        bigmask[w / 8] |= (uint8_t)(1u << (w % 8));
    gort_type big = { WORDS * 8 - 4, bigmask };          /* last word partial: not a pointer slot */
    uintptr_t b = (uintptr_t)gort_new(&big);
    size_t slotWords = gort_usable_size((void *)b) / 8;
    for (size_t w = 0; w < slotWords; w++)
        assert_int_equal(heapBitsIsPointer(b + 8 * w), w < WORDS - 1 && w % 3 == 0);
}

static void pointers_map_to_objects(void **state)
{
    (void)state;
    size_t sizes[] = { 8, 24, 100, 1500, 9000, 30000, 70000 };
    for (size_t i = 0; i < nelem(sizes); i++) {
        uintptr_t p = (uintptr_t)gort_alloc(sizes[i]);
        for (size_t off = 0; off < sizes[i]; off += 1 + off / 3) {
            mspan *s;
            uintptr_t idx;
            assert_int_equal(findObject(p + off, &s, &idx), p);
            assert_int_equal(s->startAddr + idx * s->elemsize, p);
            assert_int_equal(gort_usable_size((void *)(p + off)), roundupsize(sizes[i]));
        }
    }
    int local;
    static int global;
    void *m = malloc(64);
    const void *outside[] = { NULL, (void *)1, &local, &global, m, (void *)UINTPTR_MAX,
                              (void *)((uintptr_t)1 << 47), (void *)(uintptr_t)all_zero };
    for (size_t i = 0; i < nelem(outside); i++)
        assert_int_equal(gort_usable_size(outside[i]), 0);
    free(m);
    mspan *s;
    uintptr_t idx;
    assert_int_equal(findObject((uintptr_t)&local, &s, &idx), 0);
}

static void large_objects_span_arenas(void **state)
{
    (void)state;
    size_t n = 100 << 20;
    uintptr_t p = (uintptr_t)gort_alloc_noscan(n);
    assert_int_equal(gort_usable_size((void *)p), n);
    mspan *s = spanOfHeap(p);
    assert_ptr_equal(spanOfHeap(p + n - 1), s);
    assert_true(arenaIndex(p + n - 1) > arenaIndex(p));
    for (uintptr_t a = arenaIndex(p); a <= arenaIndex(p + n - 1); a++) {
        bool found = false;
        for (size_t i = 0; i < mheap_.nallArenas; i++)
            found |= mheap_.allArenas[i] == a;
        assert_true(found);
    }
    heapArena *ha = atomic_load(&mheap_.arenas[arenaIndex(p)]);
    uintptr_t pg = (p / pageSize) % pagesPerArena;
    assert_true(atomic_load(&ha->pageInUse[pg / 8]) & (1u << (pg % 8)));

    /* A conservative object across an arena boundary: bits in both arenas. */
    uintptr_t q = (uintptr_t)gort_alloc(70 << 20);
    uintptr_t boundary = arenaBase(arenaIndex(q) + 1);
    assert_true(heapBitsIsPointer(q));
    assert_true(heapBitsIsPointer(boundary - 8));
    assert_true(heapBitsIsPointer(boundary));
    assert_true(heapBitsIsPointer(q + (70 << 20) - 8));
}

/* ---- Zeroing ---------------------------------------------------------------------- */

/* Takes a large span off its mcentral and frees it, counting the free, as
 * the sweeper will. */
static void free_large(void *p)
{
    mspan *s = spanOfHeap((uintptr_t)p);
    mcentral *c = &mheap_.central[s->spanclass];
    lock(&c->lock);
    mSpanList_remove(s->list, s);
    unlock(&c->lock);
    s->allocCount = 0;
    mheap_freeSpan(s, 1);
}

static void reused_large_memory_is_zeroed(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    gort_mem_stats st0, st1;
    void *p = gort_alloc_noscan(n);     /* fresh, or pages the collector freed */
    memset(p, 0xab, n);
    gort_read_mem_stats(&st0);
    free_large(p);
    gort_read_mem_stats(&st1);
    assert_int_equal(st0.heap_inuse - st1.heap_inuse, n);
    assert_int_equal(st1.heap_idle - st0.heap_idle, n);
    assert_null(spanOfHeap((uintptr_t)p));
    assert_int_equal(gort_usable_size(p), 0);

    void *q = gort_alloc_noscan(n);                           /* first fit: the same pages */
    assert_ptr_equal(q, p);
    assert_int_equal(spanOfHeap((uintptr_t)q)->needzero, 1);
    assert_true(all_zero(q, n));
}

/* Regression (a huge buffer beginning on used pages was cleared whole): a
 * large span that starts on pages used before and runs on into fresh memory
 * was memset from end to end, committing all of it (test_chan's 1 GiB
 * channel buffer grew RSS by 1 GiB under qemu). Now only the used pages are
 * cleared. */
/* Makes [p, p+used) the only pages of [p, p+n) ever handed out, as after a
 * span of used bytes at the top of the used pages was freed: what the
 * arenas' zeroedBase says of pages never written is true. */
static void forget_use_beyond(uintptr_t p, size_t used, size_t n)
{
    for (uintptr_t a = p; a < p + n; a = arenaBase(arenaIndex(a) + 1)) {
        heapArena *ha = atomic_load(&mheap_.arenas[arenaIndex(a)]);
        uintptr_t off = a % heapArenaBytes;
        atomic_store(&ha->zeroedBase, a < p + used ? off + (p + used - a) : off);
    }
}

static void large_span_across_used_pages_clears_only_them(void **state)
{
    (void)state;
    size_t used = 16 << 20, big = (size_t)256 << 20;
    uint8_t *p = gort_alloc_noscan(big);    /* fresh: never written */
    memset(p, 0xab, used);
    free_large(p);
    forget_use_beyond((uintptr_t)p, used, big);
    long before = resident_bytes();
    uint8_t *q = gort_alloc_noscan(big);
    long grown = resident_bytes() - before;
    assert_ptr_equal(q, p);                 /* first fit: the same pages */
    assert_int_equal(spanOfHeap((uintptr_t)q)->dirtyBytes, used);
    assert_true(all_zero(q, used));
    if (grown >= 64L << 20)
        fail_msg("a %zu MiB object over %zu MiB of used pages made RSS grow by %ld MiB",
                 big >> 20, used >> 20, grown >> 20);
    for (size_t off = used; off < big; off += 1 << 20)
        assert_int_equal(q[off], 0);
    free_large(q);
}

/* A span of class spc holding old data, handed to its mcentral as the
 * sweeper would hand back a span whose objects all died. */
static mspan *dirty_span_in_mcentral(spanClass spc)
{
    uintptr_t npages = class_to_allocnpages[spanClass_sizeclass(spc)];
    mspan *s = mheap_alloc(npages, spc);
    mheap_freeSpan(s, 0);                    /* now below zeroedBase */
    s = mheap_alloc(npages, spc);
    assert_int_equal(s->needzero, 1);
    memset((void *)s->startAddr, 0xcd, npages * pageSize);
    mcentral_pushSwept(&mheap_.central[spc], s);
    return s;
}

/* Allocates with alloc until an object lands in s; returns it. */
static void *alloc_into(mspan *s, size_t size, void *(*alloc)(size_t))
{
    for (int i = 0; i < 4 * maxObjsPerSpan; i++) {
        uintptr_t x = (uintptr_t)alloc(size);
        if (x >= s->startAddr && x < s->limit)
            return (void *)x;
    }
    fail_msg("no allocation of %zu bytes came from the dirty span", size);
    return NULL;
}

/* An internal allocation: it enters gort as gort_alloc does (RUNTIME_ENTRY;
 * see test_sync.c's sem_acquire for why). */
static void *alloc_nozero(size_t n)
{
    RUNTIME_ENTRY();
    return mallocgc(n, NULL, MALLOC_NOSCAN | MALLOC_NOZERO);
}

static void reused_small_memory_is_zeroed(void **state)
{
    (void)state;
    uint8_t cls = sizeToClass(2688);
    mspan *s = dirty_span_in_mcentral(makeSpanClass(cls, true));
    assert_true(all_zero(alloc_into(s, 2688, gort_alloc_noscan), 2688));
    s = dirty_span_in_mcentral(makeSpanClass(cls, false));
    void *x = alloc_into(s, 2688, gort_alloc);
    assert_true(all_zero(x, 2688));
    assert_true(heapBitsIsPointer((uintptr_t)x + 2680));
    /* MALLOC_NOZERO: the caller overwrites everything, so nothing is cleared. */
    s = dirty_span_in_mcentral(makeSpanClass(cls, true));
    unsigned char *d = alloc_into(s, 2688, alloc_nozero);
    assert_int_equal(d[0], 0xcd);
    assert_int_equal(d[2687], 0xcd);
}

/* ---- Statistics --------------------------------------------------------------------- */

/* Relations that hold in every snapshot, whatever else is running. */
static bool stats_consistent(const gort_mem_stats *st)
{
    uint64_t small = 0, bytes = 0;
    for (int i = 0; i < numSizeClasses; i++) {
        small += st->by_size[i].mallocs;
        bytes += st->by_size[i].mallocs * st->by_size[i].size;
        if (st->by_size[i].size != class_to_size[i])
            return false;
    }
    return st->alloc == st->heap_alloc && st->alloc <= st->total_alloc &&
           st->heap_objects == st->mallocs - st->frees &&
           st->mallocs >= small && st->frees <= st->mallocs &&  /* the rest: large objects */
           st->total_alloc >= bytes &&
           (st->total_alloc - bytes) % pageSize == 0 &&        /* large objects: whole pages */
           st->heap_sys == st->heap_idle + st->heap_inuse &&
           st->heap_released <= st->heap_idle &&
           st->heap_inuse >= st->heap_alloc &&
           st->sys == st->heap_sys + st->stack_sys + st->mspan_sys + st->mcache_sys +
                      st->buck_hash_sys + st->gc_sys + st->other_sys &&
           st->mspan_inuse <= st->mspan_sys && st->mcache_inuse <= st->mcache_sys &&
           st->next_gc >= 4 << 20 && st->enable_gc;
}

static void stats_count_exactly(void **state)
{
    (void)state;
    gort_mem_stats a, b;
    gort_read_mem_stats(&a);
    assert_true(stats_consistent(&a));
    uint8_t cls = sizeToClass(100);
    for (int i = 0; i < 100; i++)
        gort_alloc(100);
    for (int i = 0; i < 10; i++)
        gort_alloc_noscan(40000);
    gort_read_mem_stats(&b);
    assert_true(stats_consistent(&b));
    assert_int_equal(b.mallocs - a.mallocs, 110);
    assert_int_equal(b.frees, a.frees);                 /* no GC: nothing is freed */
    assert_int_equal(b.total_alloc - a.total_alloc, 100 * 112 + 10 * 40960);
    assert_int_equal(b.heap_alloc - a.heap_alloc, 100 * 112 + 10 * 40960);
    assert_int_equal(b.by_size[cls].mallocs - a.by_size[cls].mallocs, 100);
    assert_true(b.heap_inuse >= a.heap_inuse + 10 * 40960);
    assert_true(b.sys >= b.heap_sys && b.gc_sys > 0 && b.mspan_sys > 0);
}

static void mcache_life_cycle(void **state)
{
    (void)state;
    gort_mem_stats a, b;
    spanClass spc = makeSpanClass(sizeToClass(48), true);
    mcache *c = allocmcache();
    mspan *spans[64];
    int nspans = 0;
    uintptr_t prev = 0;
    for (int i = 0; i < 1000; i++) {        /* several spans' worth: refills */
        mspan *s;
        uintptr_t x = mcache_nextFree(c, spc, &s);
        assert_true(x > 0 && x != prev && spanOfHeap(x) == s);
        assert_int_equal(atomic_load(&s->sweepgen), mheap_.sweepgen + 3);   /* cached */
        if (nspans == 0 || spans[nspans - 1] != s)
            spans[nspans++] = s;
        mstats_bump(&c->nmalloc[spanClass_sizeclass(spc)]);
        prev = x;
    }
    assert_true(nspans >= 1000 / 170);
    for (int i = 0; i < nspans - 1; i++)    /* full spans went back to the mcentral */
        assert_ptr_equal(spans[i]->list, &mheap_.central[spc].full[mheap_.sweepgen / 2 % 2]);
    gort_read_mem_stats(&a);
    freemcache(c);
    gort_read_mem_stats(&b);
    assert_ptr_equal(spans[nspans - 1]->list, &mheap_.central[spc].partial[mheap_.sweepgen / 2 % 2]);
    assert_int_equal(atomic_load(&spans[nspans - 1]->sweepgen), mheap_.sweepgen);
    assert_int_equal(b.by_size[sizeToClass(48)].mallocs, a.by_size[sizeToClass(48)].mallocs);
    assert_int_equal(b.mcache_inuse, a.mcache_inuse - mheap_.cachealloc.size);
}

/* ---- Concurrency ------------------------------------------------------------------- */

enum { WORKERS = 4 };

typedef struct worker {
    int id, n;
    void **objs;
    size_t *lens;
    _Atomic int *done;
    _Atomic int bad;
} worker;

/* A size mix: tiny, small scan/noscan, and now and then a large object. */
static size_t worker_size(int i)
{
    static const size_t mix[] = { 1, 3, 8, 12, 16, 24, 33, 100, 250, 600, 1024, 3000, 8200, 20000 };
    return i % 97 == 0 ? 40000 + (size_t)i % 5000 : mix[(size_t)i * 7 % nelem(mix)];
}

static unsigned char pattern(int id, int i, size_t k) { return (unsigned char)(id * 31 + i * 7 + k); }

static void *worker_alloc(int i, size_t n) { return i % 2 ? gort_alloc(n) : gort_alloc_noscan(n); }

/* Allocates w->n objects, fills each with its own pattern, and checks
 * afterwards that nobody else wrote into them. Failures are counted, not
 * asserted: cmocka cannot unwind from a goroutine. */
static void worker_run(worker *w)
{
    for (int i = 0; i < w->n; i++) {
        size_t n = worker_size(i);
        unsigned char *p = worker_alloc(i, n);
        if (!all_zero(p, n) || gort_usable_size(p) < n)
            atomic_fetch_add(&w->bad, 1);
        for (size_t k = 0; k < n; k++)
            p[k] = pattern(w->id, i, k);
        w->objs[i] = p;
        w->lens[i] = n;
        if (i % 256 == 0)
            gort_yield();           /* migrate between Ps now and then */
    }
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < w->lens[i]; k++)
            if (((unsigned char *)w->objs[i])[k] != pattern(w->id, i, k)) {
                atomic_fetch_add(&w->bad, 1);
                break;
            }
    atomic_fetch_add(w->done, 1);
}

static void worker_goroutine(void *arg) { worker_run(arg); }
static void *worker_thread(void *arg) { worker_run(arg); return NULL; }

typedef struct run {
    worker w[WORKERS];
    _Atomic int done;
    _Atomic int statsBad, statsReads;
} run;

static void setup_run(run *r, int n)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < WORKERS; i++) {
        r->w[i].id = i + 1;
        r->w[i].n = n;
        r->w[i].objs = calloc((size_t)n, sizeof(void *));
        r->w[i].lens = calloc((size_t)n, sizeof(size_t));
        gort_add_roots(r->w[i].objs, r->w[i].objs + n);   /* malloc memory: a root only if registered */
        r->w[i].done = &r->done;
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Every worker's objects: clean, and no two overlapping. */
static void check_run(run *r)
{
    size_t total = 0;
    for (int i = 0; i < WORKERS; i++)
        total += (size_t)r->w[i].n;
    uintptr_t (*iv)[2] = calloc(total, sizeof *iv);
    size_t k = 0;
    for (int i = 0; i < WORKERS; i++) {
        assert_int_equal(atomic_load(&r->w[i].bad), 0);
        for (int j = 0; j < r->w[i].n; j++, k++) {
            iv[k][0] = (uintptr_t)r->w[i].objs[j];
            iv[k][1] = iv[k][0] + r->w[i].lens[j];
        }
        gort_remove_roots(r->w[i].objs, r->w[i].objs + r->w[i].n);
        free(r->w[i].objs);
        free(r->w[i].lens);
    }
    qsort(iv, total, sizeof *iv, cmp_ptr);
    for (size_t j = 1; j < total; j++)
        if (iv[j][0] < iv[j - 1][1])
            fail_msg("objects overlap: [%#lx, %#lx) and [%#lx, %#lx)", (unsigned long)iv[j - 1][0],
                     (unsigned long)iv[j - 1][1], (unsigned long)iv[j][0], (unsigned long)iv[j][1]);
    free(iv);
}

/* Reads stats while the workers run; every snapshot must be consistent and
 * total_alloc must never go backwards. */
static void stats_reader(void *arg)
{
    run *r = arg;
    uint64_t last = 0;
    gort_mem_stats *st = malloc(sizeof *st);
    while (atomic_load(&r->done) < WORKERS) {
        gort_read_mem_stats(st);
        if (!stats_consistent(st) || st->total_alloc < last)
            atomic_fetch_add(&r->statsBad, 1);
        last = st->total_alloc;
        atomic_fetch_add(&r->statsReads, 1);
        gort_yield();
    }
    free(st);
    atomic_fetch_add(&r->done, 1);
}

static void goroutines_main(void *arg)
{
    run *r = arg;
    gort_gomaxprocs(2);
    for (int i = 0; i < WORKERS; i++)
        gort_go(worker_goroutine, &r->w[i]);
    gort_go(stats_reader, r);
    while (atomic_load(&r->done) < WORKERS + 1)
        gort_yield();
}

static void goroutines_on_two_ps(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    setup_run(r, qemu ? 1500 : 10000);
    assert_int_equal(gort_main(goroutines_main, r), 0);
    assert_int_equal(atomic_load(&r->statsBad), 0);
    assert_true(atomic_load(&r->statsReads) > 0);
    check_run(r);
    free(r);
}

static void pthreads_share_mcache0(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    setup_run(r, qemu ? 1000 : 8000);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_thread, &r->w[i]), 0);
    gort_mem_stats *st = malloc(sizeof *st);
    while (atomic_load(&r->done) < WORKERS) {
        gort_read_mem_stats(st);
        assert_true(stats_consistent(st));
    }
    free(st);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    check_run(r);
    free(r);
}

/* ---- Out of memory --------------------------------------------------------------- */

/* What a child process does before it should die. It runs right after fork
 * (exec would need binfmt under qemu-user); the parent's other threads hold
 * no allocator lock at that point, the allocating tests being over. */
static void child_main(void *arg)
{
    const char *mode = arg;
    if (!strcmp(mode, "oom-huge")) {
        gort_alloc((size_t)1 << 62);
    } else if (!strcmp(mode, "oom-max")) {
        gort_alloc_noscan(SIZE_MAX);
    } else if (!strcmp(mode, "oom-rlimit")) {
        long vm = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &vm) != 1)
            _exit(3);
        fclose(f);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + (64 << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        gort_alloc_noscan((size_t)1 << 30);
    }
    _exit(0);                                   /* not reached if OOM works */
}

static void expect_oom(const char *mode, const char *size)
{
    char want[128];
    snprintf(want, sizeof want, "fatal error: runtime: out of memory: cannot allocate %s-byte block", size);
    child_result r = run_child(child_main, (void *)mode);
    assert_child_died_with(r, want);
}

static void impossible_sizes_are_fatal(void **state)
{
    (void)state;
    expect_oom("oom-huge", "4611686018427387904");
    char max[32];
    snprintf(max, sizeof max, "%zu", (size_t)SIZE_MAX);
    expect_oom("oom-max", max);
}

static void os_refusal_is_fatal(void **state)
{
    (void)state;
#if GORT_ASAN || GORT_TSAN
    skip();     /* the sanitizers' own mappings do not survive an address-space limit */
#endif
    if (qemu)
        skip(); /* qemu-user does not pass RLIMIT_AS to the host */
    expect_oom("oom-rlimit", "1073741824");
}

int main(void)
{
    qemu = getenv("GORT_TEST_QEMU") != NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usable_size_is_go_class_size),
        cmocka_unit_test(noscan_objects_use_noscan_spans),
        cmocka_unit_test(zero_size_allocations_share_one_address),
        quiet_test(tiny_objects_pack_and_align),
        cmocka_unit_test(heap_bits_describe_objects),
        cmocka_unit_test(pointers_map_to_objects),
        cmocka_unit_test(large_objects_span_arenas),
        quiet_test(reused_large_memory_is_zeroed),
        quiet_test(large_span_across_used_pages_clears_only_them),
        quiet_test(reused_small_memory_is_zeroed),
        quiet_test(stats_count_exactly),
        quiet_test(mcache_life_cycle),
        cmocka_unit_test(goroutines_on_two_ps),
        cmocka_unit_test(pthreads_share_mcache0),
        cmocka_unit_test(impossible_sizes_are_fatal),
        cmocka_unit_test(os_refusal_is_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
