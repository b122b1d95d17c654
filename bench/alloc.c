/*
 * bench/alloc.c — gort's allocator; Go twin: bench/go/alloc.go; comparison
 * columns: the other bench/alloc_*.c files (glibc malloc+free, Microsoft's
 * allocator with free, the Boehm collector). Workloads: bench/alloc_bench.h.
 * (This comment avoids naming those libraries' symbols: the build links a
 * bench with them when its text does.)
 *
 * Both columns include their collector: each workload keeps one object
 * live (the sink), so the heap stays at its 4 MiB minimum goal and cycles
 * come every few MiB allocated, on both sides; slots of swept spans are
 * zeroed as they are reused. The loops run in a goroutine, so the P's
 * lock-free mcache is used.
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
