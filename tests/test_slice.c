/*
 * test_slice.c — slices (slice.c): Go's append growth, make, copy,
 * reslicing, bounds checks.
 *
 * The capacity check has its own model of Go's growslice (written from
 * the rules, with the size classes read from test_sizeclasses.csv, Go's
 * table, not from the runtime's copy) and compares every growth step from
 * length 0 to 10 million for elements of 1, 8, 12, 24 and 40 bytes, scanned
 * and noscan; then literal sequences printed by Go 1.26; then real appends.
 * Each bounds or make misuse dies in a child with Go's panic message and
 * exit status 2.
 */
#include "testutil.h"
#include "malloc.h"
#include "map.h"

/* ---- The model: Go's growslice from its rules ------------------------------------ */

static unsigned ref_classes[80], ref_nclasses;

static void load_classes(void)
{
    if (ref_nclasses)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "test_sizeclasses.csv");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    unsigned cls, size, span, objs, waste;
    while (fscanf(f, "%u,%u,%u,%u,%u", &cls, &size, &span, &objs, &waste) == 5)
        ref_classes[ref_nclasses++] = size;
    fclose(f);
    assert_int_equal(ref_nclasses, 67);
}

/* What Go's allocator hands out for size bytes, less its 8-byte header in
 * scanned objects over 512 bytes (Go 1.22+ roundupsize). */
static uint64_t ref_roundup(uint64_t size, bool noscan)
{
    if (size <= 32768 - 8) {
        uint64_t req = size + (!noscan && size > 512 ? 8 : 0);
        for (unsigned i = 0; i < ref_nclasses; i++)
            if (ref_classes[i] >= req)
                return ref_classes[i] - (req - size);
    }
    return (size + 8191) / 8192 * 8192;
}

static uint64_t ref_growcap(uint64_t newLen, uint64_t oldCap, uint64_t size, bool noscan)
{
    uint64_t c;
    if (newLen > 2 * oldCap)
        c = newLen;
    else if (oldCap < 256)
        c = 2 * oldCap;
    else
        for (c = oldCap; c < newLen;)
            c += (c + 768) / 4;
    return ref_roundup(c * size, noscan) / size;
}

static const size_t elem_sizes[] = { 1, 8, 12, 24, 40 };

/* One element at a time, 0 to 10 million: every growth step agrees. */
static void test_capacity_sequences(void **st)
{
    load_classes();
    for (size_t e = 0; e < nelem(elem_sizes); e++)
        for (int noscan = 0; noscan < 2; noscan++) {
            size_t size = elem_sizes[e], cap = 0, steps = 0, bytes;
            while (cap < 10000000) {
                size_t want = (size_t)ref_growcap(cap + 1, cap, size, noscan);
                size_t got = growslice_cap(cap + 1, cap, size, noscan, &bytes);
                if (got != want)
                    fail_msg("elem %zu noscan %d: cap %zu grows to %zu, Go: %zu",
                             size, noscan, cap, got, want);
                assert_int_equal(bytes, got * size);
                cap = got;
                steps++;
            }
            assert_true(steps > 30);
        }
}

/* Appending many at once: the "more than double" rule and rounding. */
static void test_capacity_bulk(void **st)
{
    load_classes();
    uint64_t r = 88172645463325252ull;
    for (size_t e = 0; e < nelem(elem_sizes); e++)
        for (int i = 0; i < 20000; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t cap = (size_t)(r % 100000), newLen = cap + 1 + (size_t)(r >> 40) % (3 * cap + 10);
            bool noscan = r >> 63;
            size_t bytes, size = elem_sizes[e];
            assert_int_equal(growslice_cap(newLen, cap, size, noscan, &bytes),
                             ref_growcap(newLen, cap, size, noscan));
        }
}

/* Sequences printed by Go 1.26 (escaping slices, appended one at a time). */
static void expect_caps(size_t size, bool noscan, const size_t *want, size_t n)
{
    size_t cap = 0, bytes;
    for (size_t i = 0; i < n; i++) {
        cap = growslice_cap(cap + 1, cap, size, noscan, &bytes);
        if (cap != want[i])
            fail_msg("elem %zu noscan %d step %zu: cap %zu, Go: %zu", size, noscan, i, cap, want[i]);
    }
}

static void test_capacity_literal(void **st)
{
    static const size_t bytes[] = { 8, 16, 32, 64, 128, 256, 512, 896, 1408, 2048, 3072, 4096, 5376, 6912, 9472, 12288, 16384, 21760 };
    static const size_t int64s[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 848, 1280, 1792, 2560, 3408, 5120, 7168, 9216, 12288, 16384, 21504 };
    static const size_t ptrs[] = { 1, 2, 4, 8, 16, 32, 64, 143, 287, 607, 1023, 1535, 2303, 3071, 4095, 6144, 8192 };
    static const size_t n12[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 853, 1365, 2048, 3413, 4778, 6826 };
    static const size_t p24[] = { 1, 2, 4, 8, 16, 37, 74, 170, 341, 682, 1135, 1706, 2389, 3413 };
    static const size_t n40[] = { 1, 2, 4, 8, 16, 32, 67, 134, 272, 544, 1024, 1638, 2252, 3072 };
    static const size_t p40[] = { 1, 2, 4, 8, 17, 35, 76, 153, 307, 614, 1024, 1638, 2252, 3072 };
    expect_caps(1, true, bytes, nelem(bytes));
    expect_caps(8, true, int64s, nelem(int64s));
    expect_caps(8, false, ptrs, nelem(ptrs));
    expect_caps(12, true, n12, nelem(n12));
    expect_caps(24, false, p24, nelem(p24));
    expect_caps(40, true, n40, nelem(n40));
    expect_caps(40, false, p40, nelem(p40));
}

/* ---- Real appends ------------------------------------------------------------------ */

static void test_append_macro(void **st)
{
    load_classes();
    gort_slice s = { 0 };
    size_t n = (size_t)scaled(1 << 20), prevcap = 0;
    for (size_t i = 0; i < n; i++) {
        GORT_SLICE_APPEND_NOSCAN(s, int64_t, (int64_t)i * 5);
        if (s.cap != prevcap) {
            assert_int_equal(s.cap, ref_growcap(i + 1, prevcap, 8, true));
            assert_true(gort_usable_size(s.ptr) >= s.cap * 8);
            assert_true(spanClass_noscan(spanOfHeap((uintptr_t)s.ptr)->spanclass));
            prevcap = s.cap;
        }
    }
    assert_int_equal(s.len, n);
    for (size_t i = 0; i < n; i += 997)
        assert_int_equal(GORT_SLICE_AT(s, int64_t, i), (int64_t)i * 5);
}

typedef struct e12 { uint32_t a, b, c; } e12;

static void test_append_many(void **st)
{
    gort_slice s = { 0 };
    size_t prevcap = 0, total = 0;
    for (uint32_t i = 0; total < 100000; i++) {
        e12 batch[7];
        size_t k = i % 7 + 1;
        for (size_t j = 0; j < k; j++)
            batch[j] = (e12){ (uint32_t)(total + j), 1, 2 };
        s = gort_slice_append(s, sizeof(e12), batch, k);
        total += k;
        if (s.cap != prevcap) {
            assert_int_equal(s.cap, ref_growcap(total, prevcap, 12, false));
            assert_false(spanClass_noscan(spanOfHeap((uintptr_t)s.ptr)->spanclass));
            prevcap = s.cap;
        }
    }
    for (size_t i = 0; i < total; i++)
        assert_int_equal(GORT_SLICE_AT(s, e12, i).a, i);
    /* s = append(s, s...): the source is the slice itself. */
    gort_slice d = gort_slice_append(s, sizeof(e12), s.ptr, s.len);
    assert_int_equal(d.len, 2 * total);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(GORT_SLICE_AT(d, e12, i + total).a, i);
    /* Within capacity, appending from inside the array itself. */
    gort_slice w = gort_slice_make_noscan(4, 4, 10);
    for (int i = 0; i < 4; i++)
        GORT_SLICE_AT(w, int32_t, i) = i + 1;
    gort_slice w2 = gort_slice_append_noscan(w, 4, (int32_t *)w.ptr + 1, 3);
    assert_ptr_equal(w2.ptr, w.ptr);
    int32_t want[] = { 1, 2, 3, 4, 2, 3, 4 };
    assert_memory_equal(w2.ptr, want, sizeof want);
}

static void test_make_copy_sub(void **st)
{
    gort_slice s = gort_slice_make(sizeof(int), 5, 8);
    assert_int_equal(s.len, 5);
    assert_int_equal(s.cap, 8);
    for (int i = 0; i < 5; i++)
        assert_int_equal(GORT_SLICE_AT(s, int, i), 0);
    for (int i = 0; i < 5; i++)
        GORT_SLICE_AT(s, int, i) = i;
    /* Subslices share the array; appending within capacity writes into it. */
    gort_slice t = gort_slice_sub(s, sizeof(int), 2, 4);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.cap, 6);
    GORT_SLICE_AT(t, int, 0) = 99;
    assert_int_equal(GORT_SLICE_AT(s, int, 2), 99);
    GORT_SLICE_APPEND(t, int, 77);
    assert_int_equal(GORT_SLICE_AT(s, int, 4), 77);
    /* s[2:4:4] has no spare capacity: append copies and leaves s alone. */
    gort_slice u = gort_slice_sub3(s, sizeof(int), 2, 4, 4);
    assert_int_equal(u.cap, 2);
    GORT_SLICE_APPEND(u, int, 55);
    assert_true(u.ptr != s.ptr);
    assert_int_equal(GORT_SLICE_AT(s, int, 4), 77);
    assert_int_equal(GORT_SLICE_AT(u, int, 2), 55);
    /* copy: min of the lengths, overlapping allowed (copy(s[1:], s)). */
    assert_int_equal(gort_slice_copy(gort_slice_sub(s, sizeof(int), 1, 5), s, sizeof(int)), 4);
    int shifted[] = { 0, 0, 1, 99, 3 };
    assert_memory_equal(s.ptr, shifted, sizeof shifted);
    assert_int_equal(gort_slice_copy(s, gort_slice_make(sizeof(int), 0, 0), sizeof(int)), 0);
    /* s[cap:cap] keeps a pointer into the array, not one past it. */
    gort_slice e = gort_slice_sub(s, sizeof(int), 8, 8);
    assert_ptr_equal(e.ptr, s.ptr);
    assert_int_equal(e.len + e.cap, 0);
    assert_ptr_equal(gort_slice_index(s, sizeof(int), 3), (int *)s.ptr + 3);
    /* Zero-size elements and empty makes allocate nothing. */
    gort_slice z = gort_slice_make(0, 1000, 1000);
    assert_int_equal(z.len, 1000);
    z = gort_slice_append(z, 0, "", 5);
    assert_int_equal(z.len, 1005);
    assert_ptr_equal(gort_slice_make(8, 0, 0).ptr, gort_slice_make_noscan(1, 0, 0).ptr);
    /* grow: room for n more, length unchanged. */
    gort_slice g = gort_slice_grow(s, sizeof(int), 100, true);
    assert_int_equal(g.len, 5);
    assert_true(g.cap >= 105);
    assert_memory_equal(g.ptr, shifted, sizeof shifted);
}

/* ---- Panics ------------------------------------------------------------------------ */

static void expect_death(void (*body)(void *), const char *msg)
{
    child_result r = run_main_child(body, 0);
    assert_child_died_with(r, msg);
    assert_non_null(strstr(r.err, "goroutine "));
}

static gort_slice three(void) { return gort_slice_make(sizeof(int), 3, 4); }

static void index5(void *a) { GORT_SLICE_AT(three(), int, 5) = 1; }
static void index_neg(void *a) { gort_slice_index(three(), sizeof(int), (size_t)-1); }
static void sub_hi(void *a) { gort_slice_sub(three(), sizeof(int), 0, 7); }
static void sub_lo(void *a) { gort_slice_sub(three(), sizeof(int), 3, 2); }
static void sub3_max(void *a) { gort_slice_sub3(three(), sizeof(int), 0, 1, 9); }
static void sub3_hi(void *a) { gort_slice_sub3(three(), sizeof(int), 0, 5, 3); }
static void sub3_lo(void *a) { gort_slice_sub3(three(), sizeof(int), 3, 2, 4); }
static void make_len(void *a) { gort_slice_make(8, (size_t)-1, 10); }
static void make_len_huge(void *a) { gort_slice_make(1 << 20, (size_t)1 << 40, (size_t)1 << 40); }
static void make_cap(void *a) { gort_slice_make(8, 10, 5); }
static void grow_huge(void *a) { gort_slice_grow(three(), 1 << 20, (size_t)1 << 40, true); }

static void test_panics(void **st)
{
    expect_death(index5, "panic: runtime error: index out of range [5] with length 3\n");
    expect_death(index_neg, "panic: runtime error: index out of range [-1]\n");
    expect_death(sub_hi, "panic: runtime error: slice bounds out of range [:7] with capacity 4\n");
    expect_death(sub_lo, "panic: runtime error: slice bounds out of range [3:2]\n");
    expect_death(sub3_max, "panic: runtime error: slice bounds out of range [::9] with capacity 4\n");
    expect_death(sub3_hi, "panic: runtime error: slice bounds out of range [:5:3]\n");
    expect_death(sub3_lo, "panic: runtime error: slice bounds out of range [3:2:]\n");
    expect_death(make_len, "panic: runtime error: makeslice: len out of range\n");
    expect_death(make_len_huge, "panic: runtime error: makeslice: len out of range\n");
    expect_death(make_cap, "panic: runtime error: makeslice: cap out of range\n");
    expect_death(grow_huge, "panic: runtime error: growslice: len out of range\n");
}

/* ---- From goroutines, 1 and 2 Ps ----------------------------------------------------- */

static gort_waitgroup wg;

static void appender(void *arg)
{
    gort_slice s = { 0 };
    uintptr_t id = (uintptr_t)arg;
    for (size_t i = 0; i < (size_t)scaled(200000); i++) {
        GORT_SLICE_APPEND(s, uintptr_t, id + i);
        if (i % 1000 == 0)
            gort_yield();
    }
    for (size_t i = 0; i < s.len; i++)
        assert_int_equal(GORT_SLICE_AT(s, uintptr_t, i), id + i);
    gort_waitgroup_done(&wg);
}

static void appenders_body(void *arg)
{
    for (uintptr_t g = 0; g < 8; g++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(appender, (void *)(g << 32));
    }
    gort_waitgroup_wait(&wg);
}
BOTH(appenders)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panics),    /* children first: the runtime is not started yet */
        cmocka_unit_test(test_capacity_sequences),
        cmocka_unit_test(test_capacity_bulk),
        cmocka_unit_test(test_capacity_literal),
        cmocka_unit_test(test_append_macro),
        cmocka_unit_test(test_append_many),
        cmocka_unit_test(test_make_copy_sub),
        BOTH_TESTS(appenders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
