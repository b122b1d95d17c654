/*
 * bench/map_glib.c — the map workloads of bench/map_bench.h on GLib's
 * GHashTable (and append on GArray), a column beside gort and Go.
 *
 * 8-byte keys are stored in the table's pointers themselves
 * (g_direct_hash: no allocation per key, GLib's fastest integer use);
 * string keys are the NUL-terminated strings with g_str_hash / g_str_equal.
 * Tables are destroyed when a workload is done with them; for insert_*
 * that is inside the timed loop (as Go's column includes its GC).
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef GHashTable MB_MAP;

static GHashTable *mb_new(bool str)
{
    return str ? g_hash_table_new(g_str_hash, g_str_equal) : g_hash_table_new(g_direct_hash, NULL);
}

static inline void mb_put(GHashTable *m, uint64_t k, int64_t v)
{
    g_hash_table_insert(m, (gpointer)(uintptr_t)k, (gpointer)(intptr_t)v);
}
static inline void mb_del(GHashTable *m, uint64_t k) { g_hash_table_remove(m, (gpointer)(uintptr_t)k); }
static inline int64_t mb_get(GHashTable *m, uint64_t k)
{
    return (int64_t)(intptr_t)g_hash_table_lookup(m, (gpointer)(uintptr_t)k);
}

struct mb_str;
#define STR_OF(s) (*(const char *const *)(s))      /* mb_str's first field */
static inline void mb_put_str(GHashTable *m, const struct mb_str *s, int64_t v)
{
    g_hash_table_insert(m, (gpointer)STR_OF(s), (gpointer)(intptr_t)v);
}
static inline void mb_del_str(GHashTable *m, const struct mb_str *s) { g_hash_table_remove(m, STR_OF(s)); }
static inline int64_t mb_get_str(GHashTable *m, const struct mb_str *s)
{
    return (int64_t)(intptr_t)g_hash_table_lookup(m, STR_OF(s));
}

static inline void mb_free(GHashTable *m) { g_hash_table_destroy(m); }

static int64_t mb_sum(GHashTable *m)
{
    int64_t sum = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, m);
    while (g_hash_table_iter_next(&it, &k, &v))
        sum += (int64_t)(intptr_t)v;
    return sum;
}

static int64_t mb_append(int64_t n)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        g_array_append_val(a, i);
    int64_t last = g_array_index(a, int64_t, n - 1);
    g_array_free(a, TRUE);
    return last;
}

static int64_t mb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#include "map_bench.h"

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    run_map_benches();
    return 0;
}
