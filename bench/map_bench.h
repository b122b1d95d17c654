/*
 * bench/map_bench.h — the map and slice workloads, shared by bench/map.c
 * (gort) and bench/map_glib.c (GLib's GHashTable and GArray); the Go twin
 * is bench/go/map.go.
 *
 * The includer defines the operations first: a map type MB_MAP and
 *   mb_new(bool str)                      a new empty map (string keys if str)
 *   mb_put(m, k, v) / mb_put_str(m, s, v) m[k] = v
 *   mb_get(m, k) / mb_get_str(m, s)       m[k], 0 when absent
 *   mb_del(m, k) / mb_del_str(m, s)       delete(m, k)
 *   mb_sum(m)                             the sum of all values, by iteration
 *   mb_free(m)                            done with m (a collected heap: nothing)
 *   mb_append(n)                          appends 0..n-1 to an empty []int64,
 *                                         returns the last element
 *   mb_now()                              a clock in ns
 *
 * Workloads, for 8-byte keys (u64) and 16-byte string keys (str), at 1 000
 * and 1 000 000 entries (suffix 1k / 1m), in ns per entry:
 *   insert_*   fresh map, no size hint, insert every key (growth included)
 *   hit_*      look up every key of a full map
 *   miss_*     look up as many keys that are not in it
 *   delete_*   delete every key of a full map (the filling is not timed)
 *   iter_*     iterate over a full map, summing values
 *   append_10m append 10 M int64s one at a time to an empty slice
 * Keys are 64-bit integers spread by a multiplication (string keys: their
 * 16 hex digits), generated once, before any timing, in an array that the
 * loops walk in order.
 */
#ifndef GORT_MAP_BENCH_H
#define GORT_MAP_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

typedef struct mb_str { const char *p; size_t len; } mb_str;   /* NUL-terminated too */

static uint64_t *mb_keys, *mb_misses;
static mb_str *mb_skeys, *mb_smisses;
static int64_t mb_sink;

static uint64_t mb_key(uint64_t i) { return (i + 1) * 0x9e3779b97f4a7c15ull; }

static void mb_make_keys(int64_t n)
{
    mb_keys = malloc((size_t)n * sizeof *mb_keys);
    mb_misses = malloc((size_t)n * sizeof *mb_misses);
    mb_skeys = malloc((size_t)n * sizeof *mb_skeys);
    mb_smisses = malloc((size_t)n * sizeof *mb_smisses);
    char *text = malloc((size_t)n * 2 * 17);
    for (int64_t i = 0; i < n; i++) {
        mb_keys[i] = mb_key((uint64_t)i);
        mb_misses[i] = mb_key((uint64_t)(i + n));
        char *a = text + i * 34, *b = a + 17;
        snprintf(a, 17, "%016llx", (unsigned long long)mb_keys[i]);
        snprintf(b, 17, "%016llx", (unsigned long long)mb_misses[i]);
        mb_skeys[i] = (mb_str){ a, 16 };
        mb_smisses[i] = (mb_str){ b, 16 };
    }
}

static MB_MAP *mb_filled(bool str, int64_t n)
{
    MB_MAP *m = mb_new(str);
    for (int64_t i = 0; i < n; i++) {
        if (str)
            mb_put_str(m, &mb_skeys[i], i);
        else
            mb_put(m, mb_keys[i], i);
    }
    return m;
}

static void mb_insert(const char *name, bool str, int64_t n, int64_t rounds)
{
    if (!wanted(name))
        return;
    rounds = scaled(rounds);
    int64_t start = mb_now();
    for (int64_t r = 0; r < rounds; r++)
        mb_free(mb_filled(str, n));
    report(name, mb_now() - start, rounds * n);
}

static void mb_lookup(const char *name, bool str, bool hit, int64_t n, int64_t rounds)
{
    if (!wanted(name))
        return;
    rounds = scaled(rounds);
    MB_MAP *m = mb_filled(str, n);
    int64_t sum = 0, start = mb_now();
    for (int64_t r = 0; r < rounds; r++) {
        if (str) {
            const mb_str *k = hit ? mb_skeys : mb_smisses;
            for (int64_t i = 0; i < n; i++)
                sum += mb_get_str(m, &k[i]);
        } else {
            const uint64_t *k = hit ? mb_keys : mb_misses;
            for (int64_t i = 0; i < n; i++)
                sum += mb_get(m, k[i]);
        }
    }
    report(name, mb_now() - start, rounds * n);
    mb_sink += sum;
    mb_free(m);
}

static void mb_delete(const char *name, bool str, int64_t n, int64_t rounds)
{
    if (!wanted(name))
        return;
    rounds = scaled(rounds);
    int64_t total = 0;
    for (int64_t r = 0; r < rounds; r++) {
        MB_MAP *m = mb_filled(str, n);
        int64_t start = mb_now();
        for (int64_t i = 0; i < n; i++) {
            if (str)
                mb_del_str(m, &mb_skeys[i]);
            else
                mb_del(m, mb_keys[i]);
        }
        total += mb_now() - start;
        mb_free(m);
    }
    report(name, total, rounds * n);
}

static void mb_iterate(const char *name, bool str, int64_t n, int64_t rounds)
{
    if (!wanted(name))
        return;
    rounds = scaled(rounds);
    MB_MAP *m = mb_filled(str, n);
    int64_t sum = 0, start = mb_now();
    for (int64_t r = 0; r < rounds; r++)
        sum += mb_sum(m);
    report(name, mb_now() - start, rounds * n);
    mb_sink += sum;
    mb_free(m);
}

static void mb_appends(const char *name, int64_t n, int64_t rounds)
{
    if (!wanted(name))
        return;
    rounds = scaled(rounds);
    int64_t start = mb_now();
    for (int64_t r = 0; r < rounds; r++)
        mb_sink += mb_append(n);
    report(name, mb_now() - start, rounds * n);
}

static void run_map_benches(void)
{
    mb_make_keys(sized(1000000));
    static const struct { const char *suffix; bool str; } kinds[] = { { "u64", false }, { "str", true } };
    for (int k = 0; k < 2; k++) {
        bool str = kinds[k].str;
        char name[32];
#define MB_NAME(op, size) (snprintf(name, sizeof name, "%s_%s_%s", op, kinds[k].suffix, size), name)
        mb_insert(MB_NAME("insert", "1k"), str, 1000, 3000);
        mb_lookup(MB_NAME("hit", "1k"), str, true, 1000, 20000);
        mb_lookup(MB_NAME("miss", "1k"), str, false, 1000, 20000);
        mb_delete(MB_NAME("delete", "1k"), str, 1000, 3000);
        mb_iterate(MB_NAME("iter", "1k"), str, 1000, 20000);
        mb_insert(MB_NAME("insert", "1m"), str, sized(1000000), 3);
        mb_lookup(MB_NAME("hit", "1m"), str, true, sized(1000000), 5);
        mb_lookup(MB_NAME("miss", "1m"), str, false, sized(1000000), 5);
        mb_delete(MB_NAME("delete", "1m"), str, sized(1000000), 3);
        mb_iterate(MB_NAME("iter", "1m"), str, sized(1000000), 20);
#undef MB_NAME
    }
    mb_appends("append_10m", sized(10000000), 3);
}

#endif
