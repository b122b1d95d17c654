/*
 * fuzz_map.c — libFuzzer target: random operation sequences on a map and
 * a slice, checked step by step against simple models (docs/maps.md says
 * how to run it for longer).
 *
 * The input is a program: each operation is a byte (the opcode) and up to
 * three argument bytes. Keys are 16-bit, so programs hit the same keys
 * often; a bulk-insert operation adds up to 4080 keys at once, so short
 * programs reach table growth and directory splits. The same operations
 * run on an 8-byte-key map and a string-key map against one model (a
 * presence array and a value array); iteration with deletes in the middle
 * checks Go's iteration rules; the slice runs append / append-self /
 * reslice / copy / grow against a plain C array.
 *
 * Built with clang -fsanitize=fuzzer,address (CMakeLists.txt, native
 * configuration only) together with map.c, slice.c and hash.c, so that the
 * fuzzer sees their coverage; `make test` runs it briefly.
 */
// fuzz-sources: src/map.c src/slice.c src/hash.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

enum { KEYS = 1 << 16 };

static uint8_t present[KEYS];
static uint64_t value[KEYS];
static size_t count;

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_map: check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* String keys point into this table: the map need not copy them. */
static char names[KEYS][8];

static gort_str strkey(unsigned k, char *buf)
{
    (void)buf;
    return (gort_str){ names[k], strlen(names[k]) };
}

static void assign(gort_map *m, gort_map *s, unsigned k, uint64_t v)
{
    uint64_t key = k * 0x9e3779b97f4a7c15ull;
    uint64_t *a = gort_map_assign(m, &key);
    char buf[16];
    gort_str sk = strkey(k, buf);
    uint64_t *b = gort_map_assign(s, &sk);
    if (!present[k]) {
        CHECK(*a == 0 && *b == 0);
        present[k] = 1;
        count++;
    } else {
        CHECK(*a == value[k] && *b == value[k]);
    }
    *a = *b = value[k] = v;
}

static void delete(gort_map *m, gort_map *s, unsigned k)
{
    uint64_t key = k * 0x9e3779b97f4a7c15ull;
    char buf[16];
    gort_str sk = strkey(k, buf);
    CHECK(gort_map_delete(m, &key) == present[k]);
    CHECK(gort_map_delete(s, &sk) == present[k]);
    count -= present[k];
    present[k] = 0;
}

static void get(gort_map *m, gort_map *s, unsigned k)
{
    uint64_t key = k * 0x9e3779b97f4a7c15ull;
    char buf[16];
    gort_str sk = strkey(k, buf);
    uint64_t *a = gort_map_get(m, &key), *b = gort_map_get(s, &sk);
    CHECK((a != NULL) == present[k] && (b != NULL) == present[k]);
    CHECK(!a || (*a == value[k] && *b == value[k]));
}

/* A full loop, deleting the key at every step'th entry and one key ahead:
 * each key is produced at most once, deleted keys never after deletion,
 * and every key that stayed is produced. */
static void iterate(gort_map *m, gort_map *s, unsigned step, unsigned victim)
{
    static uint8_t state[KEYS];           /* 1 seen, 2 deleted unseen, 3 deleted seen */
    memset(state, 0, sizeof state);
    gort_map_iter it;
    unsigned n = 0;
    for (gort_map_iter_init(&it, m); gort_map_iter_next(&it); n++) {
        uint64_t key = *(const uint64_t *)it.key;
        unsigned k = (unsigned)(key * 0xf1de83e19937733dull);   /* inverse of the key scramble */
        CHECK(k < KEYS && state[k] == 0 && present[k]);
        CHECK(*(uint64_t *)it.val == value[k]);
        state[k] = 1;
        if (step && n % step == 0) {
            unsigned v = (victim + n) % KEYS;
            if (present[v] && state[v] < 2) {
                delete(m, s, v);
                state[v] = state[v] ? 3 : 2;
            }
        }
    }
    for (unsigned k = 0; k < KEYS; k++)
        CHECK(!present[k] || state[k] == 1);
}

/* ---- Slice against a C array ------------------------------------------------------ */

static int32_t *arr;
static size_t arrlen;

static void slice_step(gort_slice *s, uint8_t op, unsigned a, unsigned b)
{
    switch (op % 5) {
    case 0: {                             /* append a run of values */
        int32_t tmp[64];
        unsigned n = a % 64;
        for (unsigned i = 0; i < n; i++)
            tmp[i] = (int32_t)(b + i);
        size_t oldcap = s->cap;
        *s = gort_slice_append_noscan(*s, 4, tmp, n);
        CHECK(s->cap >= s->len && (s->cap == oldcap || s->cap >= arrlen + n));
        arr = realloc(arr, (arrlen + n + 1) * 4);
        memcpy(arr + arrlen, tmp, n * 4);
        arrlen += n;
        break;
    }
    case 1:                               /* s = append(s, s...) */
        if (arrlen < 4096) {
            *s = gort_slice_append_noscan(*s, 4, s->ptr, s->len);
            arr = realloc(arr, (2 * arrlen + 1) * 4);
            memcpy(arr + arrlen, arr, arrlen * 4);
            arrlen *= 2;
        }
        break;
    case 2: {                             /* s = s[lo:hi] */
        size_t hi = arrlen ? b % (arrlen + 1) : 0, lo = hi ? a % (hi + 1) : 0;
        *s = gort_slice_sub(*s, 4, lo, hi);
        memmove(arr, arr + lo, (hi - lo) * 4);
        arrlen = hi - lo;
        break;
    }
    case 3: {                             /* copy(s[a:], s) */
        size_t off = arrlen ? a % arrlen : 0;
        size_t n = gort_slice_copy(gort_slice_sub(*s, 4, off, arrlen), *s, 4);
        CHECK(n == arrlen - off);
        memmove(arr + off, arr, n * 4);
        break;
    }
    default: {                            /* GORT_SLICE_APPEND one at a time */
        for (unsigned i = 0; i < a % 16; i++)
            GORT_SLICE_APPEND_NOSCAN(*s, int32_t, (int32_t)(b ^ i));
        arr = realloc(arr, (arrlen + a % 16 + 1) * 4);
        for (unsigned i = 0; i < a % 16; i++)
            arr[arrlen++] = (int32_t)(b ^ i);
        break;
    }
    }
    CHECK(s->len == arrlen);
    CHECK(arrlen == 0 || memcmp(s->ptr, arr, arrlen * 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    if (size == 0)
        return 0;
    if (++runs % 256 == 0)
        gort_gc();
    /* One map pair and one slice for all runs, emptied each time, so that
     * memory stays bounded however often the collector runs. Clearing
     * keeps tables and capacity: a run starts from whatever shape earlier
     * runs grew. */
    static gort_map *m, *s;
    static gort_slice base;               /* the biggest backing array so far */
    if (!m) {
        m = gort_map_make_noscan(8, 8, 0);
        s = gort_map_make_str(8, 0, 0);
        for (unsigned k = 0; k < KEYS; k++)
            snprintf(names[k], sizeof names[k], "k%u", k);
    }
    gort_map_clear(m);
    gort_map_clear(s);
    memset(present, 0, sizeof present);
    count = 0;
    gort_slice sl = { base.ptr, 0, base.cap };
    arrlen = 0;
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint8_t op = data[i];
        unsigned a = data[i + 1], b = data[i + 2], c = data[i + 3];
        unsigned k = a << 8 | b;
        switch (op % 9) {
        case 0: case 1: assign(m, s, k, (uint64_t)c << 32 | i); break;
        case 2: delete(m, s, k); break;
        case 3: get(m, s, k); break;
        case 4:                           /* bulk insert of a run of keys */
            for (unsigned j = 0; j < c * 16u; j++)
                assign(m, s, (k + j) % KEYS, j);
            break;
        case 5:                           /* bulk delete */
            for (unsigned j = 0; j < c * 16u; j++)
                delete(m, s, (k + j) % KEYS);
            break;
        case 6: iterate(m, s, c % 8, k); break;
        case 7:
            if (c == 0) {                 /* rarely: clear both */
                gort_map_clear(m);
                gort_map_clear(s);
                memset(present, 0, sizeof present);
                count = 0;
            }
            break;
        default: slice_step(&sl, (uint8_t)c, a, b); break;
        }
        CHECK(gort_map_len(m) == count && gort_map_len(s) == count);
    }
    if (sl.cap > base.cap)
        base = sl;
    return 0;
}
