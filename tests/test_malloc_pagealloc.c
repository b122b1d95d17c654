/*
 * test_malloc_pagealloc.c — the page allocator (mpagealloc.c) against a
 * naive model.
 *
 * A private pageAlloc manages made-up addresses (it never touches the pages
 * it hands out), so these tests exercise the radix tree alone: first-fit
 * addresses, runs across chunks and across separately grown regions,
 * coalescing on free, the scavenged accounting, and random alloc/free
 * sequences compared step by step with a linear first-fit search over a
 * plain page bitmap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "malloc.h"

/* Made-up heap addresses, far from anything real. */
#define FAKE_BASE ((uintptr_t)0x300000000000)

static pageAlloc pa;
static uint64_t sysStat;

static void fresh(void)
{
    pageAlloc_init(&pa, &sysStat);
}

static uintptr_t alloc(uintptr_t npages)
{
    uintptr_t scav;
    return pageAlloc_alloc(&pa, npages, &scav);
}

/* Naive reference: one bool per page, linear first fit. */
static uintptr_t naive_find(const bool *used, uintptr_t npages_total, uintptr_t n)
{
    for (uintptr_t i = 0, run = 0; i < npages_total; i++) {
        run = used[i] ? 0 : run + 1;
        if (run == n)
            return i + 1 - n;
    }
    return UINTPTR_MAX;
}

static void bitmap_summaries(void **state)
{
    (void)state;
    uint64_t b[8] = {0};
    pallocSum s = pallocBits_summarize(b);
    assert_int_equal(pallocSum_start(s), 512);
    assert_int_equal(pallocSum_max(s), 512);
    assert_int_equal(pallocSum_end(s), 512);

    srandom(1);
    for (int iter = 0; iter < 20000; iter++) {
        for (int i = 0; i < 8; i++) {  /* sparse, dense and mixed words */
            uint64_t r = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
            int mode = (int)(random() % 4);
            b[i] = mode == 0 ? 0 : mode == 1 ? ~0ULL : mode == 2 ? (r & ((uint64_t)random() << 20)) : r;
        }
        unsigned start = 0, max = 0, run = 0;
        bool seen = false;
        for (unsigned i = 0; i < 512; i++) {
            bool used = (b[i / 64] >> (i % 64)) & 1;
            if (used && !seen) {
                start = run;
                seen = true;
            }
            run = used ? 0 : run + 1;
            if (run > max)
                max = run;
        }
        if (!seen)
            start = 512;
        s = pallocBits_summarize(b);
        assert_int_equal(pallocSum_start(s), start);
        assert_int_equal(pallocSum_max(s), max);
        assert_int_equal(pallocSum_end(s), run);

        /* find agrees with a linear search for every interesting length. */
        bool used[512];
        for (unsigned i = 0; i < 512; i++)
            used[i] = (b[i / 64] >> (i % 64)) & 1;
        for (uintptr_t n = 1; n <= max + 1; n += 1 + n / 4) {
            unsigned ff, got = pallocBits_find(b, n, 0, &ff);
            uintptr_t want = naive_find(used, 512, n);
            assert_int_equal(got, want == UINTPTR_MAX ? ~0u : (unsigned)want);
        }
    }
}

static void first_fit_and_coalescing(void **state)
{
    (void)state;
    fresh();
    assert_int_equal(alloc(1), 0);                 /* nothing grown yet */
    pageAlloc_grow(&pa, FAKE_BASE, 16 * pallocChunkBytes);
    uintptr_t a = alloc(1), b = alloc(3), c = alloc(1);
    assert_int_equal(a, FAKE_BASE);
    assert_int_equal(b, FAKE_BASE + pageSize);
    assert_int_equal(c, FAKE_BASE + 4 * pageSize);
    pageAlloc_free(&pa, a, 1);
    assert_int_equal(alloc(2), FAKE_BASE + 5 * pageSize); /* the 1-page hole is too small */
    pageAlloc_free(&pa, b, 3);                     /* the hole becomes [0, 4): coalesced */
    assert_int_equal(alloc(4), FAKE_BASE);
    /* A run longer than a chunk, then one straddling chunk boundaries. */
    uintptr_t big = alloc(pallocChunkPages * 3 + 7);
    assert_int_equal(big, FAKE_BASE + 7 * pageSize);
    pageAlloc_free(&pa, big, pallocChunkPages * 3 + 7);
    assert_int_equal(alloc(pallocChunkPages * 3 + 7), big);
    /* Exhaust the region: the remaining pages exactly, then nothing. */
    uintptr_t left = 16 * pallocChunkPages - 7 - (pallocChunkPages * 3 + 7);
    assert_int_equal(alloc(left), big + (pallocChunkPages * 3 + 7) * pageSize);
    assert_int_equal(alloc(1), 0);
}

static void runs_across_grown_regions(void **state)
{
    (void)state;
    fresh();
    /* Two regions with a gap, then a third that closes the gap. */
    pageAlloc_grow(&pa, FAKE_BASE, 4 * pallocChunkBytes);
    pageAlloc_grow(&pa, FAKE_BASE + 8 * (uintptr_t)pallocChunkBytes, 4 * pallocChunkBytes);
    assert_int_equal(alloc(5 * pallocChunkPages), 0);
    assert_int_equal(alloc(4 * pallocChunkPages), FAKE_BASE);
    assert_int_equal(alloc(2), FAKE_BASE + 8 * (uintptr_t)pallocChunkBytes);
    pageAlloc_free(&pa, FAKE_BASE, 4 * pallocChunkPages);
    pageAlloc_grow(&pa, FAKE_BASE + 4 * (uintptr_t)pallocChunkBytes, 4 * pallocChunkBytes);
    assert_int_equal(alloc(8 * pallocChunkPages), FAKE_BASE);
    /* A region far away (another level-0 entry) is found too. */
    uintptr_t far = FAKE_BASE + ((uintptr_t)1 << 40);
    pageAlloc_grow(&pa, far, 4 * pallocChunkBytes);
    assert_int_equal(alloc(4 * pallocChunkPages), far);
}

static void scavenged_bytes_are_reported_once(void **state)
{
    (void)state;
    fresh();
    pageAlloc_grow(&pa, FAKE_BASE, pallocChunkBytes);
    uintptr_t scav;
    uintptr_t a = pageAlloc_alloc(&pa, 10, &scav);
    assert_int_equal(scav, 10 * pageSize);          /* fresh pages: released */
    pageAlloc_free(&pa, a, 10);
    a = pageAlloc_alloc(&pa, 12, &scav);
    assert_int_equal(a, FAKE_BASE);
    assert_int_equal(scav, 2 * pageSize);           /* only the 2 never-used pages */
    pallocData *d = pageAlloc_chunkOf(&pa, FAKE_BASE >> logPallocChunkBytes);
    assert_int_equal(d->pallocBits[0], (1ULL << 12) - 1);
    assert_int_equal(d->scavenged[0], ~((1ULL << 12) - 1));
}

static void random_ops_match_model(void **state)
{
    (void)state;
    enum { NPAGES = 40 * pallocChunkPages };
    fresh();
    pageAlloc_grow(&pa, FAKE_BASE, (uintptr_t)NPAGES * pageSize);
    bool *used = calloc(NPAGES, 1);
    struct { uintptr_t base, n; } live[4096];
    int nlive = 0;
    int iters = getenv("GORT_TEST_QEMU") ? 4000 : 40000;
    srandom(42);
    for (int it = 0; it < iters; it++) {
        if (nlive > 0 && (nlive == (int)nelem(live) || random() % 2)) {
            int k = (int)(random() % nlive);
            pageAlloc_free(&pa, live[k].base, live[k].n);
            uintptr_t first = (live[k].base - FAKE_BASE) / pageSize;
            memset(used + first, 0, live[k].n);
            live[k] = live[--nlive];
            continue;
        }
        uintptr_t n = random() % 8 ? 1 + random() % 16 : 1 + random() % (3 * pallocChunkPages);
        uintptr_t want = naive_find(used, NPAGES, n), got = alloc(n);
        if (want == UINTPTR_MAX) {
            assert_int_equal(got, 0);
            continue;
        }
        assert_int_equal(got, FAKE_BASE + want * pageSize);
        memset(used + want, 1, n);
        live[nlive].base = got;
        live[nlive++].n = n;
    }
    free(used);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bitmap_summaries),
        cmocka_unit_test(first_fit_and_coalescing),
        cmocka_unit_test(runs_across_grown_regions),
        cmocka_unit_test(scavenged_bytes_are_reported_once),
        cmocka_unit_test(random_ops_match_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
