/*
 * bench/gc_boehm.c — bench/gc.c's binary-trees on Boehm-Demers-Weiser GC,
 * the classic conservative collector for C (GC_malloc, single-threaded
 * marking, stop-the-world): the "boehm" column beside gort and Go.
 */
#include <gc.h>

#include "bench.h"

#define BT_NEW_NODE() GC_malloc(2 * sizeof(void *))   /* cleared memory */
#include "binarytrees.h"

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    GC_INIT();
    int64_t start = now_ns();
    long checksum = binarytrees((int)scaled(18));
    report("binarytrees", now_ns() - start, 1);
    report("bt_rss_peak", vmhwm_kib(), 1);
    return checksum == 0;
}
