/*
 * bench/alloc_glibc.c — comparison column "glibc" for bench/alloc.c: the
 * same workloads (bench/alloc_bench.h) with glibc's malloc, each object
 * freed right away (malloc+free pairs: the memory stays hot in the cache,
 * which no garbage-collected allocator can match).
 */
#include <stdlib.h>

#define bench_alloc(n)     malloc(n)
#define bench_alloc_ptr(n) malloc(n)
#define bench_free(p)      free(p)
#include "alloc_bench.h"

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    run_alloc_benches();
    return 0;
}
