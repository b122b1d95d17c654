/*
 * mcentral.c — central span lists, one per span class (Go: mcentral.go).
 *
 * An mcentral holds the spans of its class that no mcache is using. When an
 * mcache's span is full it trades it in here for one with free slots
 * (cacheSpan / uncacheSpan): one lock per span rather than per object.
 *
 * The spans sit on four lists:
 *
 *                  has free slots     no free slots
 *      swept       partial[sg/2%2]    full[sg/2%2]
 *      unswept     partial[1-sg/2%2]  full[1-sg/2%2]
 *
 * where sg is mheap_.sweepgen. A GC cycle adds 2 to sg, which swaps the
 * roles of the two halves at once: everything that was swept becomes
 * unswept without touching a single span. The sweeper then moves spans back
 * to the swept lists (mcentral_pushSwept) or frees empty ones to the heap
 * (mheap_freeSpan). cacheSpan takes a partially-free swept span, else
 * sweeps unswept ones of its class until one has room (mgcsweep.c), else
 * grows a fresh span.
 *
 * The pacer counts a span's free bytes as live ("heapLive") from the moment
 * an mcache takes it, as Go does: what the mcache will hand out without
 * asking again.
 *
 * Large objects (class 0) also get an mcentral: their spans are pushed on
 * its full list so the sweeper finds them like any other span.
 */
#include "malloc.h"

static mSpanList *partialSwept(mcentral *c, uint32_t sg) { return &c->partial[sg / 2 % 2]; }
static mSpanList *fullSwept(mcentral *c, uint32_t sg) { return &c->full[sg / 2 % 2]; }

/* A fresh span of c's class from the heap; NULL if out of memory. */
static mspan *mcentral_grow(mcentral *c)
{
    return mheap_alloc(class_to_allocnpages[spanClass_sizeclass(c->spanclass)], c->spanclass);
}

mspan *mcentral_cacheSpan(mcentral *c)
{
    deductSweepCredit(class_to_allocnpages[spanClass_sizeclass(c->spanclass)] * pageSize);
    lock(&c->lock);
    mSpanList *l = partialSwept(c, mheap_.sweepgen);
    mspan *s = l->first;
    if (s)
        mSpanList_remove(l, s);
    unlock(&c->lock);
    if (!s)
        s = mcentral_sweepForAlloc(c);
    if (!s && !(s = mcentral_grow(c)))
        return NULL;
    GORT_ASSERT(s->allocCount < s->nelems && s->freeindex < s->nelems);
    gcAddHeapLive((int64_t)((s->nelems - s->allocCount) * s->elemsize));
    /* Line allocCache up so that its bit 0 is slot freeindex. */
    mspan_refillAllocCache(s, s->freeindex / 64);
    s->allocCache >>= s->freeindex % 64;
    return s;
}

void mcentral_uncacheSpan(mcentral *c, mspan *s)
{
    GORT_ASSERT(s->allocCount > 0);
    /* Every mcache is emptied while the world is stopped, before sweepgen
     * moves on, so a cached span is always one swept in this cycle (sg+3). */
    GORT_ASSERT(atomic_load(&s->sweepgen) == mheap_.sweepgen + 3);
    gcAddHeapLive(-(int64_t)((s->nelems - s->allocCount) * s->elemsize));
    atomic_store_explicit(&s->sweepgen, mheap_.sweepgen, memory_order_relaxed);
    mcentral_pushSwept(c, s);
}

void mcentral_pushSwept(mcentral *c, mspan *s)
{
    uint32_t sg = mheap_.sweepgen;
    lock(&c->lock);
    mSpanList_insert(s->allocCount < s->nelems ? partialSwept(c, sg) : fullSwept(c, sg), s);
    unlock(&c->lock);
}
