/*
 * bench/map.c — gort's maps and slices; Go twin: bench/go/map.go;
 * comparison column: bench/map_glib.c (GLib's hash table and array).
 * Workloads: bench/map_bench.h.
 *
 * 8-byte keys use a noscan map (Go's map[uint64]int64 holds no pointers
 * either); string keys a string map that references the caller's bytes, as
 * Go's map[string]int64 references its strings. The loops run in a
 * goroutine, so allocation takes the P's lock-free mcache. Go's column
 * includes its GC, gort's any collection its runtime starts.
 */
#include "gort.h"

typedef gort_map MB_MAP;

static gort_map *mb_new(bool str)
{
    return str ? gort_map_make_str(sizeof(int64_t), 0, 0) : gort_map_make_noscan(8, sizeof(int64_t), 0);
}

static inline void mb_put(gort_map *m, uint64_t k, int64_t v) { *(int64_t *)gort_map_assign(m, &k) = v; }
static inline void mb_del(gort_map *m, uint64_t k) { gort_map_delete(m, &k); }
static inline int64_t mb_get(gort_map *m, uint64_t k)
{
    int64_t *v = gort_map_get(m, &k);
    return v ? *v : 0;
}

/* mb_str has gort_str's layout: {ptr, len}. */
#define AS_STR(s) ((const gort_str *)(s))
struct mb_str;
static inline void mb_put_str(gort_map *m, const struct mb_str *s, int64_t v) { *(int64_t *)gort_map_assign(m, AS_STR(s)) = v; }
static inline void mb_del_str(gort_map *m, const struct mb_str *s) { gort_map_delete(m, AS_STR(s)); }
static inline int64_t mb_get_str(gort_map *m, const struct mb_str *s)
{
    int64_t *v = gort_map_get(m, AS_STR(s));
    return v ? *v : 0;
}

static inline void mb_free(gort_map *m) { (void)m; }   /* the collector's job */

static int64_t mb_sum(gort_map *m)
{
    int64_t sum = 0;
    gort_map_iter it;
    for (gort_map_iter_init(&it, m); gort_map_iter_next(&it);)
        sum += *(int64_t *)it.val;
    return sum;
}

static int64_t mb_append(int64_t n)
{
    gort_slice s = { 0 };
    for (int64_t i = 0; i < n; i++)
        GORT_SLICE_APPEND_NOSCAN(s, int64_t, i);
    return GORT_SLICE_AT(s, int64_t, n - 1);
}

static int64_t mb_now(void) { return gort_nanotime(); }

#include "map_bench.h"

static void bench_main(void *arg)
{
    (void)arg;
    run_map_benches();
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    return gort_main(bench_main, NULL);
}
