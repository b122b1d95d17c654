/*
 * mgcsweep.c — sweeping: turning the mark bits into free slots (Go:
 * mgcsweep.go's sweepone, mspan.sweep; mcentral.go's cacheSpan sweep loop).
 *
 * After a cycle's mark, mheap_.sweepgen grows by 2 and every span becomes
 * "unswept" at once: each mcentral's swept and unswept lists trade places
 * (mcentral.c). Sweeping a span is cheap because marking already did the
 * work: the mark bits *are* the new allocation bits.
 *
 *   before:  allocBits  1 1 0 1 1 1 0 0     (allocated since the last sweep:
 *            freeindex  ----------^          every slot below it, too)
 *            gcmarkBits 1 0 0 0 1 1 0 0     (reached by the mark)
 *   after:   allocBits  1 0 0 0 1 1 0 0     = the old mark bits
 *            gcmarkBits 0 0 0 0 0 0 0 0     = the old alloc bits, cleared
 *            freeindex 0, allocCount 3
 *
 * A span with no marked object goes back to the page heap; any other goes
 * on its mcentral's swept lists, partial or full. Spans are swept:
 *   - by the background sweeper, a thread woken at the end of each cycle
 *     that sweeps span after span, yielding the CPU every few (Go's bgsweep);
 *   - in proportion to allocation: an mcache taking a span first sweeps
 *     enough pages that the whole heap is swept by the time the heap
 *     reaches the next trigger (Go's deductSweepCredit, paced in
 *     gcSweepPace);
 *   - lazily, by an allocation that needs a span of that class
 *     (mcentral_sweepForAlloc, before the heap is grown);
 *   - by finishsweep before the next cycle begins (and in gort_gc), so no
 *     span is ever two cycles behind.
 * A span is claimed by taking it off its unswept list under the mcentral's
 * lock; sweepgen then says sg-1 (being swept) until it is done.
 *
 * GORT_DEBUG=gcpoison=1 fills every freed object with 0xdeadbeef words, so
 * a use after free shows itself instead of reading plausible old data.
 */
#include "malloc.h"

#include <string.h>

_Atomic uint32_t sweepActive;

static mSpanList *unsweptList(mcentral *c, bool full)
{
    uint32_t half = 1 - mheap_.sweepgen / 2 % 2;
    return full ? &c->full[half] : &c->partial[half];
}

/* Takes an unswept span off c's lists (partial ones first); NULL if none. */
static mspan *takeUnswept(mcentral *c, bool fullToo)
{
    lock(&c->lock);
    mSpanList *l = unsweptList(c, false);
    mspan *s = l->first;
    if (!s && fullToo) {
        l = unsweptList(c, true);
        s = l->first;
    }
    if (s) {
        mSpanList_remove(l, s);
        atomic_store_explicit(&s->sweepgen, mheap_.sweepgen - 1, memory_order_relaxed);
        atomic_fetch_add(&sweepActive, 1);
    }
    unlock(&c->lock);
    return s;
}

static void poison(uintptr_t obj, uintptr_t n)
{
    for (uintptr_t a = obj; a + 4 <= obj + n; a += 4)
        *(uint32_t *)a = 0xdeadbeef;
}

/* Poisons every object that was allocated and is not marked. */
static void poisonFreed(mspan *s)
{
    for (uintptr_t i = 0; i < s->nelems; i++) {
        bool alloc = i < s->freeindex || ((s->allocBits[i / 64] >> (i % 64)) & 1);
        bool marked = (s->gcmarkBits[i / 64] >> (i % 64)) & 1;
        if (alloc && !marked)
            poison(s->startAddr + i * s->elemsize, s->elemsize);
    }
}

static uintptr_t countMarked(const mspan *s)
{
    uintptr_t n = 0, words = (s->nelems + 63) / 64;
    for (uintptr_t w = 0; w < words; w++) {
        uint64_t m = s->gcmarkBits[w];
        if (w == words - 1 && s->nelems % 64)
            m &= (1ULL << (s->nelems % 64)) - 1;
        n += (uintptr_t)__builtin_popcountll(m);
    }
    return n;
}

bool mspan_sweep(mspan *s, bool preserve)
{
    uint8_t sizeclass = spanClass_sizeclass(s->spanclass);
    if (unlikely(atomic_load_explicit(&s->hasFinalizer, memory_order_relaxed)))
        finSweep(s);                    /* may mark blocks: before counting */
    uintptr_t nalloc = countMarked(s);
    uintptr_t nfreed = s->allocCount - nalloc;
    GORT_ASSERT(s->allocCount >= nalloc);
    if (nfreed) {
        if (unlikely(atomic_load_explicit(&s->profiled, memory_order_relaxed)))
            mProf_Free(s);              /* the heap profile counts its samples' frees */
        if (unlikely(atomic_load_explicit(&s->hasChan, memory_order_relaxed)))
            chanSweepFreed(s);          /* before poisoning, which overwrites it anyway */
        if (debug.gcpoison)
            poisonFreed(s);
        s->needzero = 1;
        if (nalloc)                     /* else mheap_freeSpan counts them, with the pages */
            atomic_fetch_add_explicit(&memstats.smallFreeCount[sizeclass], nfreed, memory_order_relaxed);
    }
    /* The marks become the allocation bits; the old allocation bits, cleared,
     * the next cycle's marks. */
    uint64_t *old = s->allocBits;
    s->allocBits = s->gcmarkBits;
    s->gcmarkBits = old;
    memset(old, 0, (s->nelems + 63) / 64 * 8);
    s->allocCount = (uint16_t)nalloc;
    s->freeindex = 0;
    atomic_store_explicit(&s->freeIndexForScan, 0, memory_order_relaxed);
    mspan_refillAllocCache(s, 0);
    atomic_store_explicit(&s->sweepgen, mheap_.sweepgen, memory_order_release);
    /* sweepActive drops last: whoever waits for the sweep to be over
     * (finishsweep, gort_gc) must also find its frees counted and the span
     * back on a list or in the page heap. */
    if (nalloc == 0) {
        mheap_freeSpan(s, nfreed);
        atomic_fetch_sub(&sweepActive, 1);
        return false;
    }
    if (!preserve)
        mcentral_pushSwept(&mheap_.central[s->spanclass], s);
    atomic_fetch_sub(&sweepActive, 1);
    return true;
}

mspan *mcentral_sweepForAlloc(mcentral *c)
{
    for (int budget = 100; budget > 0; budget--) {
        mspan *s = takeUnswept(c, true);
        if (!s)
            return NULL;
        if (!mspan_sweep(s, true))
            continue;                   /* it was empty: back to the heap */
        if (s->allocCount < s->nelems)
            return s;
        mcentral_pushSwept(c, s);       /* still full */
    }
    return NULL;
}

static _Atomic uint32_t sweepNext;      /* the class where the last span was found */
static _Atomic uint64_t pagesSwept;     /* by sweepone since the cycle ended */
static double sweepPagesPerByte;        /* the proportional sweep's rate; 0: off */
/* The sweepgen whose sweep found no span left (Go's sweep.active drained
 * mark): from then on sweepone answers at once instead of locking every
 * class's mcentral, which the proportional sweep would do on every span
 * an mcache takes once the sweep is done. A new cycle bumps sweepgen. */
static _Atomic uint32_t sweepDrainedGen = UINT32_MAX;
static uint64_t sweepHeapLiveBasis;     /* heapLive when the rate was set */

bool sweepone(void)
{
    bool found = false;
    nosuspend_enter();                  /* sweepgen cannot change in here */
    uint32_t gen = mheap_.sweepgen;
    if (atomic_load_explicit(&sweepDrainedGen, memory_order_relaxed) == gen) {
        nosuspend_exit();
        return false;
    }
    uint32_t start = atomic_load_explicit(&sweepNext, memory_order_relaxed);
    for (uint32_t k = 0; k < numSpanClasses && !found; k++) {
        uint32_t i = (start + k) % numSpanClasses;
        mspan *s = takeUnswept(&mheap_.central[i], true);
        if (s) {
            atomic_store_explicit(&sweepNext, i, memory_order_relaxed);
            atomic_fetch_add_explicit(&pagesSwept, s->npages, memory_order_relaxed);
            mspan_sweep(s, false);
            found = true;
        }
    }
    if (!found)
        atomic_store_explicit(&sweepDrainedGen, gen, memory_order_relaxed);
    nosuspend_exit();
    return found;
}

void finishsweep(void)
{
    while (sweepone())
        ;
    while (atomic_load(&sweepActive) != 0)
        osyield();
}

void gcSweepPace(void)
{
    uint64_t live = atomic_load(&gcHeapLive), trigger = atomic_load(&gcTrigger);
    uint64_t pages = __atomic_load_n(&memstats.heapInUse, __ATOMIC_RELAXED) / pageSize;
    atomic_store(&pagesSwept, 0);
    sweepHeapLiveBasis = live;
    /* Go keeps 1 MiB of slack, so the sweep is done before the trigger. */
    sweepPagesPerByte = trigger > live + (1 << 20) ? (double)pages / (double)(trigger - live - (1 << 20)) : 0;
}

void deductSweepCredit(uintptr_t spanBytes)
{
    double rate = sweepPagesPerByte;
    if (rate == 0)
        return;
    uint64_t live = atomic_load_explicit(&gcHeapLive, memory_order_relaxed) + spanBytes;
    if (live <= sweepHeapLiveBasis)
        return;
    uint64_t target = (uint64_t)(rate * (double)(live - sweepHeapLiveBasis));
    while (atomic_load_explicit(&pagesSwept, memory_order_relaxed) < target)
        if (!sweepone())
            return;
}

/* ---- The background sweeper ---------------------------------------------------- */

static _Atomic uint32_t sweepWake;      /* bumped at the end of each cycle */

static void *bgsweep(void *arg)
{
    (void)arg;
    gcRegisterThread(NULL);
    for (;;) {
        uint32_t w = atomic_load(&sweepWake);
        for (int n = 1; sweepone(); n++)
            if (n % 16 == 0)
                osyield();              /* low priority, as Go's goschedIfBusy */
        gfreeReleaseStacks();
        futexsleep(&sweepWake, w, -1);
    }
    return NULL;
}

void gcSweepStart(void)
{
    static _Atomic bool started;
    if (!atomic_exchange(&started, true))
        newosproc(bgsweep, NULL);
    atomic_fetch_add(&sweepWake, 1);
    futexwakeup(&sweepWake, 1);
}
