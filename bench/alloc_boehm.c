/*
 * bench/alloc_boehm.c — comparison column "boehm" for bench/alloc.c: the
 * same workloads (bench/alloc_bench.h) with the Boehm-Demers-Weiser
 * collector, the classic conservative GC for C: GC_malloc for objects that
 * may hold pointers, GC_malloc_atomic for pointer-free buffers (gort's
 * noscan). Nothing is freed by hand; Boehm's collections are included.
 */
#include <gc.h>

#define bench_alloc(n)     GC_malloc_atomic(n)
#define bench_alloc_ptr(n) GC_malloc(n)
#define bench_free(p)      ((void)(p))
#include "alloc_bench.h"

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    GC_INIT();
    run_alloc_benches();
    return 0;
}
