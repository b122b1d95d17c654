/*
 * bench/binarytrees.h — the benchmarks game's binary-trees, shared by
 * bench/gc.c (gort) and its comparison column bench/gc_boehm.c (the Boehm
 * collector); Go twin: bench/go/gc.go.
 *
 * For maxDepth 18: a stretch tree of depth 19 built, checked and dropped,
 * a long-lived tree of depth 18 kept to the end, and for depth 4, 6, ... 18,
 * 2^(22-depth) short-lived trees built and checked. Every node is a 16-byte
 * object holding two pointers; a leaf has both NULL.
 *
 * The includer defines, before including this file:
 *   BT_NEW_NODE()   a zeroed 16-byte node from its collector (gort_new
 *                   with a two-pointer type, GC_malloc)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node { struct node *l, *r; } node;

static node *bottomUp(int depth)
{
    node *n = BT_NEW_NODE();
    if (depth > 0) {
        n->l = bottomUp(depth - 1);
        n->r = bottomUp(depth - 1);
    }
    return n;
}

static long check(const node *n) { return n->l ? 1 + check(n->l) + check(n->r) : 1; }

/* The whole run; returns the sum of the checks, so nothing is optimised away. */
static long binarytrees(int maxDepth)
{
    long checksum = check(bottomUp(maxDepth + 1));
    node *longLived = bottomUp(maxDepth);
    for (int d = 4; d <= maxDepth; d += 2) {
        long iters = 1L << (maxDepth - d + 4);
        for (long i = 0; i < iters; i++)
            checksum += check(bottomUp(d));
    }
    return checksum + check(longLived);
}
