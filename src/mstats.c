/*
 * mstats.c — memory statistics (Go: mstats.go).
 *
 * Every counter has one writer discipline, so a reader never needs to stop
 * the world:
 *
 *   - objects allocated, per size class: in each mcache, written only by the
 *     thread that owns it (a plain add, stored atomically so others may read
 *     it); folded into memstats when the mcache dies;
 *   - large objects: atomic adds in memstats;
 *   - heap pages (in use / free / released): under mheap_.lock;
 *   - objects freed, per size class: atomic adds by the sweeper; those of a
 *     span it returns to the heap under mheap_.lock, with the pages;
 *   - memory mapped for metadata (*_sys): atomic adds by sysAlloc.
 *
 * gort_read_mem_stats sums the allocation counters first and the free and
 * page counters second, under mheap_.lock. A span's pages are counted in use
 * before any object in it is counted allocated, and a span's objects are
 * counted freed no later than its pages are, so the snapshot always
 * satisfies heap_inuse >= heap_alloc, and every derived field (alloc, mallocs, heap_objects, sys,
 * heap_idle) is computed from that one snapshot, so they agree exactly.
 *
 * Tiny allocations are counted as Go counts them: the 16-byte block is one
 * malloc of size class 2, and every further object placed in it adds one to
 * both mallocs and frees (MemStats has no way to free them individually).
 */
#include "malloc.h"

#include <string.h>

mstats memstats = { .next_gc = 4 << 20 };   /* Go's initial heap goal: 4 MiB */

/* memstats.lock is taken only inside suspension-free regions (malloc.h), so
 * the collector may walk the cache list with the world stopped. */
void mstats_registerCache(mcache *c)
{
    nosuspend_enter();
    lock(&memstats.lock);
    c->statsprev = NULL;
    c->statsnext = memstats.caches;
    if (memstats.caches)
        memstats.caches->statsprev = c;
    memstats.caches = c;
    unlock(&memstats.lock);
    nosuspend_exit();
}

void mstats_forEachCache(void (*f)(mcache *c))
{
    for (mcache *c = memstats.caches; c; c = c->statsnext)
        f(c);
}

void mstats_unregisterCache(mcache *c)
{
    nosuspend_enter();
    lock(&memstats.lock);
    for (int i = 0; i < numSizeClasses; i++)
        memstats.nsmallalloc[i] += atomic_load_explicit(&c->nmalloc[i], memory_order_acquire);
    memstats.tinyAllocCount += atomic_load_explicit(&c->tinyAllocs, memory_order_acquire);
    if (c->statsprev)
        c->statsprev->statsnext = c->statsnext;
    else
        memstats.caches = c->statsnext;
    if (c->statsnext)
        c->statsnext->statsprev = c->statsprev;
    unlock(&memstats.lock);
    nosuspend_exit();
}

/* Small-object counts of every live and dead mcache, by size class. */
static uint64_t readSmallAllocs(uint64_t nsmall[numSizeClasses])
{
    lock(&memstats.lock);
    memcpy(nsmall, memstats.nsmallalloc, sizeof memstats.nsmallalloc);
    uint64_t tiny = memstats.tinyAllocCount;
    for (mcache *c = memstats.caches; c; c = c->statsnext) {
        for (int i = 0; i < numSizeClasses; i++)
            nsmall[i] += atomic_load_explicit(&c->nmalloc[i], memory_order_acquire);
        tiny += atomic_load_explicit(&c->tinyAllocs, memory_order_acquire);
    }
    unlock(&memstats.lock);
    return tiny;
}

static uint64_t loadSys(uint64_t *v) { return __atomic_load_n(v, __ATOMIC_RELAXED); }

uint64_t nonHeapSys(void)
{
    return atomic_load(&stack_resident_bytes) + loadSys(&memstats.mspan_sys) + loadSys(&memstats.mcache_sys) +
           loadSys(&memstats.buckhash_sys) + loadSys(&memstats.gcMiscSys) + loadSys(&memstats.other_sys);
}

/* No lock: the heap counters change atomically (under mheap_.lock, which
 * these readers, the pacer in a stop and sysmon, cannot take); a sum torn
 * between two changes only steers the pacer and the scavenger a little. */
uint64_t heapResidentBytes(void)
{
    return __atomic_load_n(&memstats.heapInUse, __ATOMIC_RELAXED) +
           __atomic_load_n(&memstats.heapFree, __ATOMIC_RELAXED);
}

void gort_read_mem_stats(gort_mem_stats *st)
{
    RUNTIME_ENTRY();
    memset(st, 0, sizeof *st);
    /* A region: the collector writes the GC fields with the world stopped. */
    nosuspend_enter();

    /* Allocations first, then frees and pages together under mheap_.lock
     * (see above). */
    uint64_t nsmall[numSizeClasses];
    uint64_t tiny = readSmallAllocs(nsmall);
    uint64_t totalAlloc = atomic_load_explicit(&memstats.largeAlloc, memory_order_acquire);
    uint64_t nMalloc = atomic_load_explicit(&memstats.largeAllocCount, memory_order_acquire);
    lock(&mheap_.lock);
    uint64_t inUse = memstats.heapInUse, free = memstats.heapFree, released = memstats.heapReleased;
    st->mspan_inuse = mheap_.spanalloc.inuse;
    st->mcache_inuse = mheap_.cachealloc.inuse;
    uint64_t totalFree = atomic_load(&memstats.largeFree);
    uint64_t nFree = atomic_load(&memstats.largeFreeCount);
    uint64_t smallFree[numSizeClasses];
    for (int i = 0; i < numSizeClasses; i++)
        smallFree[i] = atomic_load(&memstats.smallFreeCount[i]);
    unlock(&mheap_.lock);
    for (int i = 0; i < numSizeClasses; i++) {
        uint64_t f = smallFree[i];
        st->by_size[i].size = class_to_size[i];
        st->by_size[i].mallocs = nsmall[i];
        st->by_size[i].frees = f;
        totalAlloc += nsmall[i] * class_to_size[i];
        nMalloc += nsmall[i];
        totalFree += f * class_to_size[i];
        nFree += f;
    }
    nMalloc += tiny;
    nFree += tiny;

    st->alloc = st->heap_alloc = totalAlloc - totalFree;
    st->total_alloc = totalAlloc;
    st->mallocs = nMalloc;
    st->frees = nFree;
    st->heap_objects = nMalloc - nFree;
    st->heap_sys = inUse + free + released;
    st->heap_idle = free + released;
    st->heap_inuse = inUse;
    st->heap_released = released;
    st->stack_inuse = atomic_load(&stack_inuse_bytes);
    st->stack_sys = atomic_load(&stack_sys_bytes);
    st->mspan_sys = loadSys(&memstats.mspan_sys);
    st->mcache_sys = loadSys(&memstats.mcache_sys);
    st->buck_hash_sys = loadSys(&memstats.buckhash_sys);
    st->gc_sys = loadSys(&memstats.gcMiscSys);
    st->other_sys = loadSys(&memstats.other_sys);
    st->sys = st->heap_sys + st->stack_sys + st->mspan_sys + st->mcache_sys +
              st->buck_hash_sys + st->gc_sys + st->other_sys;

    st->next_gc = __atomic_load_n(&memstats.next_gc, __ATOMIC_RELAXED);
    st->last_gc = memstats.last_gc_unix;
    st->pause_total_ns = memstats.pause_total_ns;
    memcpy(st->pause_ns, memstats.pause_ns, sizeof st->pause_ns);
    memcpy(st->pause_end, memstats.pause_end, sizeof st->pause_end);
    st->num_gc = memstats.numgc;
    st->num_forced_gc = memstats.numforcedgc;
    st->gc_cpu_fraction = memstats.gc_cpu_fraction;
    nosuspend_exit();
    st->enable_gc = true;
    st->debug_gc = false;
}
