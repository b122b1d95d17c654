/*
 * bench/gc.c — the collector under the benchmarks game's binary-trees;
 * Go twin: bench/go/gc.go.
 *
 *   binarytrees      depth 18: a stretch tree of depth 19, a long-lived tree
 *                    of depth 18 kept to the end, and for depth 4, 6, ... 18,
 *                    2^(22-depth) trees built and checked; ns for the whole run
 *   bt_pause_max     the longest stop-the-world pause of the run (ns, from
 *                    the memory statistics' pause_ns)
 *   bt_rss_peak      peak resident set (VmHWM), in KiB, not ns
 *
 * Fair comparison: both sides allocate 16-byte nodes with two pointers,
 * scanned precisely (gort_new with a two-word ptrmask; Go's own type
 * information), with GOMAXPROCS as given (run.sh: 2).
 */
#include "gort.h"
#include "bench.h"

static const uint8_t nodeMask[] = { 0x3 };
static const gort_type nodeType = { 2 * sizeof(void *), nodeMask };
#define BT_NEW_NODE() gort_new(&nodeType)

#include "binarytrees.h"

static long checksum;

static void bench_main(void *arg)
{
    int depth = (int)scaled(18);
    gort_mem_stats st;
    gort_read_mem_stats(&st);
    uint32_t gc0 = st.num_gc;
    int64_t start = gort_nanotime();
    checksum = binarytrees(depth);
    report("binarytrees", gort_nanotime() - start, 1);
    gort_read_mem_stats(&st);
    uint64_t maxPause = 0;
    for (uint32_t i = gc0; i < st.num_gc; i++)
        if (st.pause_ns[i % 256] > maxPause)
            maxPause = st.pause_ns[i % 256];
    report("bt_pause_max", (int64_t)maxPause, 1);
    report("bt_rss_peak", vmhwm_kib(), 1);
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    gort_main(bench_main, NULL);
    return checksum == 0;
}
