/*
 * bench/gc_boehm.c — bench/gc.c's binary-trees on Boehm-Demers-Weiser GC,
 * the classic conservative collector for C (GC_malloc, single-threaded
 * marking, stop-the-world): the "boehm" column beside gort and Go.
 */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

typedef struct node { struct node *l, *r; } node;

static node *bottomUp(int depth)
{
    node *n = GC_malloc(sizeof *n);
    if (depth > 0) {
        n->l = bottomUp(depth - 1);
        n->r = bottomUp(depth - 1);
    } else {
        n->l = n->r = NULL;
    }
    return n;
}

static long check(const node *n) { return n->l ? 1 + check(n->l) + check(n->r) : 1; }

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long vmhwm_kib(void)
{
    char line[256];
    long v = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    GC_INIT();
    int maxDepth = (int)scaled(18);
    long checksum = 0;
    int64_t start = now_ns();
    checksum += check(bottomUp(maxDepth + 1));
    node *longLived = bottomUp(maxDepth);
    for (int d = 4; d <= maxDepth; d += 2) {
        long iters = 1L << (maxDepth - d + 4);
        for (long i = 0; i < iters; i++)
            checksum += check(bottomUp(d));
    }
    checksum += check(longLived);
    report("binarytrees", now_ns() - start, 1);
    report("bt_rss_peak", vmhwm_kib(), 1);
    return checksum == 0;
}
