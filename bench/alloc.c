/*
 * bench/alloc.c — gort's allocator; Go twin: bench/go/alloc.go; comparison
 * columns: the other bench/alloc_*.c files (glibc malloc+free, Microsoft's
 * allocator with free, the Boehm collector). Workloads: bench/alloc_bench.h.
 * (This comment avoids naming those libraries' symbols: the build links a
 * bench with them when its text does.)
 *
 * NO GC YET: gort's collector does not exist, so these numbers are the
 * allocation path alone (mcache fast path, refills, page allocator, first
 * touch of fresh memory), never a collection and never zeroing (fresh
 * pages are already zero). Go's column includes its GC. The loops run in a
 * goroutine, so the P's lock-free mcache is used.
 */
#include "gort.h"

#define bench_alloc(n)     gort_alloc_noscan(n)
#define bench_alloc_ptr(n) gort_alloc(n)
#define bench_free(p)      ((void)(p))
#include "alloc_bench.h"

static void bench_main(void *arg)
{
    (void)arg;
    run_alloc_benches();
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    return gort_main(bench_main, NULL);
}
