/*
 * mcache.c — per-P allocation caches (Go: mcache.go).
 *
 * Each P owns an mcache: for every span class, one span it allocates from.
 * Only the thread running the P touches its mcache, so the common
 * allocation (malloc.c's nextFreeFast) takes no lock and no atomic: it finds
 * the next free slot in the span's allocCache with count-trailing-zeros.
 *
 *   mcache (P0)                     mcentral[class 5, scan]
 *   alloc[5*2+0] ──> span ■■■■■□□□   partial: span ■■□□□□□□ ...
 *   alloc[5*2+1] ──> span ■■□□□□□□   full:    span ■■■■■■■■ ...
 *
 * When the span is full, refill returns it to its mcentral and takes one with
 * free slots (or a fresh one the mcentral cuts from the heap). A cached span
 * is marked sweepgen+3 so the sweeper leaves it alone.
 *
 * Threads that hold no P (foreign threads, or before the scheduler starts)
 * share one extra cache, mcache0 in malloc.c, under a lock.
 *
 * The mcache also counts its allocations per size class (stored atomically
 * by the owner, read by gort_read_mem_stats); when a P is destroyed its
 * counts are folded into memstats (mstats.c).
 */
#include "malloc.h"

/* A span with no free slots: an empty mcache slot makes the fast path fail
 * and refill run, with no NULL check on the fast path. */
mspan emptymspan;

mcache *allocmcache(void)
{
    mallocinit();
    nosuspend_enter();
    lock(&mheap_.lock);
    mcache *c = fixalloc_alloc(&mheap_.cachealloc);
    unlock(&mheap_.lock);
    for (int i = 0; i < numSpanClasses; i++)
        c->alloc[i] = &emptymspan;
    c->nextSample = nextSample();
    mstats_registerCache(c);
    nosuspend_exit();
    return c;
}

void freemcache(mcache *c)
{
    nosuspend_enter();
    mcache_releaseAll(c);
    mstats_unregisterCache(c);
    lock(&mheap_.lock);
    fixalloc_free(&mheap_.cachealloc, c);
    unlock(&mheap_.lock);
    nosuspend_exit();
}

/* Swaps the full cached span of class spc for one with free slots; false:
 * out of memory. */
static bool mcache_refill(mcache *c, spanClass spc)
{
    mspan *s = c->alloc[spc];
    if (s != &emptymspan) {
        GORT_ASSERT(s->allocCount == s->nelems);
        mcentral_uncacheSpan(&mheap_.central[spc], s);
    }
    c->alloc[spc] = &emptymspan;
    s = mcentral_cacheSpan(&mheap_.central[spc]);
    if (!s)
        return false;
    atomic_store_explicit(&s->sweepgen, mheap_.sweepgen + 3, memory_order_relaxed);
    heapWillWrite(s->startAddr, s->npages * pageSize);   /* its free slots get written */
    c->alloc[spc] = s;
    return true;
}

uintptr_t mcache_nextFree(mcache *c, spanClass spc, mspan **sp)
{
    mspan *s = c->alloc[spc];
    uintptr_t idx = mspan_nextFreeIndex(s);
    if (idx == s->nelems) {
        GORT_ASSERT(s->allocCount == s->nelems);
        if (!mcache_refill(c, spc))
            return 0;
        s = c->alloc[spc];
        idx = mspan_nextFreeIndex(s);
    }
    GORT_ASSERT(idx < s->nelems);
    s->allocCount++;
    *sp = s;
    return s->startAddr + idx * s->elemsize;
}

void mcache_releaseAll(mcache *c)
{
    for (int i = 0; i < numSpanClasses; i++) {
        if (c->alloc[i] != &emptymspan)
            mcentral_uncacheSpan(&mheap_.central[i], c->alloc[i]);
        c->alloc[i] = &emptymspan;
    }
    c->tiny = 0;
    c->tinyoffset = 0;
}
