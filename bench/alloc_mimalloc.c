/*
 * bench/alloc_mimalloc.c — comparison column "mimalloc" for bench/alloc.c:
 * the same workloads (bench/alloc_bench.h) with mimalloc's mi_malloc, each
 * object freed right away with mi_free.
 */
#include <mimalloc.h>

#define bench_alloc(n)     mi_malloc(n)
#define bench_alloc_ptr(n) mi_malloc(n)
#define bench_free(p)      mi_free(p)
#include "alloc_bench.h"

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    run_alloc_benches();
    return 0;
}
