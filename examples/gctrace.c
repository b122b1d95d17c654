/*
 * gctrace.c — watching the collector and its pacer (GORT_DEBUG=gctrace=1).
 *
 * The program keeps about 4 MB live and allocates 64 MB of garbage. With
 * gctrace=1 the runtime prints one line per collection, in Go's format:
 *
 *   gc 3 @0.051s 2%: 0.12+0+0.40 ms clock, ..., 7->8->4 MB, 8 MB goal, ...
 *
 *   gc 3            the third cycle
 *   @0.051s         since the program started
 *   2%              share of CPU time spent in the GC so far
 *   7->8->4 MB      heap at the start of the cycle, at the end of marking,
 *                   and what marking found live
 *   8 MB goal       where the pacer will start the next cycle
 *
 * The goal is the pacer's rule (Go 1.18+): the heap may grow by GOGC% of
 * the live heap plus stacks plus globals before the next cycle, so with
 * GOGC=100, 4 MB live and 2 MB of globals the goal is 4 + (4 + 2) = 10 MB
 * (docs/gc.md). The program prints the live heap and that goal at the end,
 * from gort_read_mem_stats.
 */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>

enum { KEEP = 64, CHUNK = 64 << 10 };            /* 64 x 64 KiB = 4 MB kept live */

void *keep[KEEP];                                 /* a global: a GC root */

static void main_goroutine(void *arg)
{
    for (int i = 0; i < KEEP; i++)
        keep[i] = gort_alloc_noscan(CHUNK);
    for (int i = 0; i < 1024; i++)               /* 64 MB of garbage */
        gort_alloc_noscan(CHUNK);
    gort_gc();                                    /* a last cycle: live = what is kept */
    gort_mem_stats st;
    gort_read_mem_stats(&st);
    printf("collections: %s\n", st.num_gc >= 2 ? "several" : "too few");
    printf("live heap %llu MB, next GC when the heap reaches %llu MB\n",
           (unsigned long long)(st.heap_alloc >> 20), (unsigned long long)(st.next_gc >> 20));
}

int main(void)
{
    setenv("GORT_DEBUG", "gctrace=1", 0);         /* read when the runtime starts */
    return gort_main(main_goroutine, NULL);
}
