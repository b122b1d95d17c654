/*
 * bench/gc_barrier.c — bench/gc.c's binary-trees with GORT_GCMODE=barrier
 * (marking beside the program, Go's write barrier): the "barrier" column
 * beside gort's default mode, Go and Boehm. The same program, compiled
 * again with a main that picks the mode first. Its pointer stores all go
 * into nodes allocated a moment before, whose old value is NULL: the
 * barrier would shade nothing, so plain stores keep barrier mode's promise.
 */
#include <stdlib.h>

#define main gc_bench_main
#include "gc.c"
#undef main

int main(int argc, char **argv)
{
    setenv("GORT_GCMODE", "barrier", 1);
    return gc_bench_main(argc, argv);
}
