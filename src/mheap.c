/*
 * mheap.c — the page heap: arenas, spans, pointer → span (Go: mheap.go,
 * malloc.go's sysAlloc, mfixalloc.go, mbitmap.go's span bitmaps).
 *
 * The heap's address space comes from the OS in arenas: 64 MiB regions,
 * aligned to 64 MiB, reserved with MAP_NORESERVE so that an arena costs
 * nothing until its pages are touched. Every arena gets a heapArena record
 * (off-heap) and an entry in the arena index:
 *
 *   address p:  | arena number (22 bits) | page in arena (13) | byte in page (13) |
 *                        |                         |
 *   mheap_.arenas[arena] ──> heapArena { spans[page] ──> mspan, heapBits[word], … }
 *
 * so spanOf(p) is two loads, for any interior pointer, with no search: what
 * the GC needs to turn a conservative word into an object. The index covers
 * the whole 48-bit address space (4 M entries, reserved but only touched
 * where arenas exist).
 *
 * mheap_alloc takes a page run from the page allocator (mpagealloc.c),
 * growing the heap when there is none: heap growth hands the page allocator
 * whole 4 MiB chunks out of the current arena (curArena, one per page
 * heap), reserving another arena when that runs out. It then initialises
 * an mspan record for the run and publishes it in the span table, setting
 * the span's state last so that a concurrent reader that sees mSpanInUse
 * sees a complete span.
 *
 * Two page heaps: spans of noscan objects and spans whose objects may hold
 * pointers take pages from separate page allocators (mheap_.pages[kind]),
 * out of separate arenas; each arena records its kind. Go has one page heap,
 * and a compiler write barrier. gort's default collector tracks the
 * program's writes with page protection (mgcwp.c) instead, and a store
 * into a noscan object can never make an edge the marker must see: in
 * arenas of their own such pages are never protected, so writing them
 * never faults, and the collector's page-table walks skip them.
 *
 * Zeroing: memory fresh from the OS is already zero, and the page allocator
 * is address-ordered, so each arena remembers the highest byte ever handed
 * out (zeroedBase). A span entirely above it is fresh and gets needzero = 0;
 * anything else may hold old objects and is cleared when allocated: a large
 * object only up to the end of the pages used before (span.dirtyBytes), so
 * a huge buffer allocated across the top of the used pages costs only the
 * pages it touches.
 *
 * Scavenging (Go: mgcscavenge.go): free pages stay resident until the
 * scavenger returns them with MADV_DONTNEED, highest addresses first (the
 * page allocator hands out the lowest, so those are the last to be wanted
 * again). gort_free_os_memory returns every free page at once, after a
 * collection. In the background, sysmon calls mheap_scavenge one run at a
 * time while the heap's retained memory (in use plus free, still resident)
 * exceeds the heap goal by more than 10%, or all the runtime keeps resident
 * exceeds 95% of the memory limit, pacing itself to 1% of one CPU (Go's
 * bgscavenge, its gcPercentGoal and memoryLimitGoal). The lock is dropped for each
 * madvise: the run is marked in use meanwhile (mpagealloc.c).
 *
 * mspan and mcache records come from fixallocs: free lists of fixed-size
 * records carved from OS chunks, never returned (Go's fixalloc).
 *
 * mheap_.lock guards the page allocator, heap growth, the fixallocs and the
 * page counters in memstats. It is a leaf lock among the allocator's.
 */
#include "malloc.h"
#include "mgcwp.h"

#include <string.h>

mheap mheap_;

enum { fixAllocChunk = 64 << 10 };

/* ---- fixalloc --------------------------------------------------------------- */

void fixalloc_init(fixalloc *f, size_t size, uint64_t *stat)
{
    memset(f, 0, sizeof *f);
    f->size = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1); /* no false sharing between records */
    f->stat = stat;
}

/* Clears a recycled record with atomic stores: a marker may look up a free
 * page in the span table, find the stale record of the span that was there,
 * and read its state (atomically, then nothing else unless the state says
 * published) just as the record is recycled. */
static void fixalloc_clear(void *v, size_t size)
{
    for (size_t i = 0; i < size / 8; i++)
        __atomic_store_n((uint64_t *)v + i, 0, __ATOMIC_RELAXED);
}

void *fixalloc_alloc(fixalloc *f)
{
    void *v;
    if (f->list) {
        v = f->list;
        f->list = *(void **)v;
        fixalloc_clear(v, f->size);
    } else {
        if (f->nchunk < f->size) {
            f->chunk = (uintptr_t)sysAlloc(fixAllocChunk, f->stat);
            if (!f->chunk)
                throw_oom(fixAllocChunk);
            f->nchunk = fixAllocChunk;
        }
        v = (void *)f->chunk;          /* fresh from the OS: already zero */
        f->chunk += f->size;
        f->nchunk -= f->size;
    }
    f->inuse += f->size;
    return v;
}

void fixalloc_free(fixalloc *f, void *p)
{
    f->inuse -= f->size;
    *(void **)p = f->list;
    f->list = p;
}

/* ---- Span lists --------------------------------------------------------------- */

void mSpanList_insert(mSpanList *l, mspan *s)
{
    GORT_ASSERT(s->list == NULL);
    s->prev = NULL;
    s->next = l->first;
    if (l->first)
        l->first->prev = s;
    else
        l->last = s;
    l->first = s;
    s->list = l;
}

void mSpanList_remove(mSpanList *l, mspan *s)
{
    GORT_ASSERT(s->list == l);
    if (s->prev)
        s->prev->next = s->next;
    else
        l->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->last = s->prev;
    s->next = s->prev = NULL;
    s->list = NULL;
}

/* ---- Span bitmaps (Go: mbitmap.go) ----------------------------------------------- */

void mspan_refillAllocCache(mspan *s, uintptr_t word)
{
    s->allocCache = ~s->allocBits[word];
}

uintptr_t mspan_nextFreeIndex(mspan *s)
{
    uintptr_t idx = s->freeindex, nelems = s->nelems;
    if (idx == nelems)
        return nelems;
    uint64_t cache = s->allocCache;
    while (cache == 0) {               /* nothing free in this word: try the next one */
        idx = (idx + 64) & ~(uintptr_t)63;
        if (idx >= nelems) {
            s->freeindex = nelems;
            return nelems;
        }
        mspan_refillAllocCache(s, idx / 64);
        cache = s->allocCache;
    }
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uintptr_t result = idx + bit;
    if (result >= nelems) {
        s->freeindex = nelems;
        return nelems;
    }
    s->allocCache = (cache >> bit) >> 1;   /* two shifts: bit may be 63 */
    idx = result + 1;
    if (idx % 64 == 0 && idx != nelems)
        mspan_refillAllocCache(s, idx / 64);
    s->freeindex = idx;
    return result;
}

/* Where s keeps its alloc and mark bits: inline for small object counts. */
static bool mspan_bitsInline(uintptr_t nelems) { return nelems <= inlineBitsObjects; }

/* Fills in a fresh span record for [base, base+npages) of class spc.
 * bits: zeroed out-of-line bitmap storage when the span needs it. */
static void mspan_init(mspan *s, uintptr_t base, uintptr_t npages, spanClass spc, uint64_t *bits)
{
    uint8_t sizeclass = spanClass_sizeclass(spc);
    uintptr_t nbytes = npages * pageSize;
    s->startAddr = base;
    s->npages = npages;
    s->spanclass = spc;
    s->elemsize = sizeclass ? class_to_size[sizeclass] : nbytes;
    s->nelems = nbytes / s->elemsize;
    s->divMul = class_to_divmagic[sizeclass];
    /* Usable to the end of the last object; for a large object that is the
     * whole page-rounded span, as gort_usable_size promises. */
    s->limit = base + s->nelems * s->elemsize;
    s->freeindex = 0;
    s->allocCache = ~0ULL;
    s->allocCount = 0;
    atomic_store_explicit(&s->freeIndexForScan, 0, memory_order_relaxed);
    if (bits) {
        s->allocBits = bits;
        s->gcmarkBits = bits + maxObjsPerSpan / 64;
    } else {
        memset(s->inlineBits, 0, sizeof s->inlineBits);
        s->allocBits = s->inlineBits[0];
        s->gcmarkBits = s->inlineBits[1];
    }
}

/* ---- Arenas --------------------------------------------------------------------------- */

static heapArena *arenaOf(uintptr_t p)
{
    return atomic_load_explicit(&mheap_.arenas[arenaIndex(p)], memory_order_acquire);
}

/* Records arena ai in allArenas (the GC's list of arenas to sweep and scan). */
static void mheap_recordArena(mheap *h, uintptr_t ai)
{
    if (h->nallArenas == h->capAllArenas) {
        size_t ncap = h->capAllArenas ? h->capAllArenas * 2 : 64;
        uintptr_t *na = sysAlloc(ncap * sizeof *na, &memstats.gcMiscSys);
        if (!na)
            throw_oom(ncap * sizeof *na);
        if (h->allArenas) {
            memcpy(na, h->allArenas, h->nallArenas * sizeof *na);
            sysFree(h->allArenas, h->capAllArenas * sizeof *na, &memstats.gcMiscSys);
        }
        h->allArenas = na;
        h->capAllArenas = ncap;
    }
    h->allArenas[h->nallArenas++] = ai;
}

/* Reserves at least n bytes of new arenas, aligned to heapArenaBytes, and
 * registers them in the arena index. Returns the base (0 if the OS refuses)
 * and the reserved size in *size. mheap_.lock held. */
static uintptr_t mheap_sysAlloc(mheap *h, uintptr_t n, int kind, uintptr_t *size)
{
    assertLockHeld(&h->lock);
    n = (n + heapArenaBytes - 1) & ~(uintptr_t)(heapArenaBytes - 1);
    if (n == 0 || n >= maxAlloc)
        return 0;
    /* Over-reserve by one arena, then trim to the aligned part. */
    uintptr_t v = (uintptr_t)sysReserve(n + heapArenaBytes);
    if (!v)
        return 0;
    uintptr_t p = (v + heapArenaBytes - 1) & ~(uintptr_t)(heapArenaBytes - 1);
    if (p > v)
        sysFree((void *)v, p - v, NULL);
    if (v + heapArenaBytes > p)
        sysFree((void *)(p + n), v + heapArenaBytes - p, NULL);
    if ((p + n - 1) >> heapAddrBits) {  /* outside what the arena index covers */
        sysFree((void *)p, n, NULL);
        return 0;
    }
    for (uintptr_t a = p; a < p + n; a += heapArenaBytes) {
        heapArena *r = sysAlloc(sizeof(heapArena), &memstats.gcMiscSys);
        if (!r)
            return 0;
        r->kind = (uint8_t)kind;
        mheap_recordArena(h, arenaIndex(a));
        atomic_store_explicit(&h->arenas[arenaIndex(a)], r, memory_order_release);
    }
    if (kind == heapScan)   /* the collector's page tracking covers what may hold pointers */
        gcwp_track((void *)p, n);
    /* Atomic: markers read the bounds while marking runs beside us. */
    if (h->arenaLo == 0 || p < h->arenaLo)
        __atomic_store_n(&h->arenaLo, p, __ATOMIC_RELAXED);
    if (p + n > h->arenaHi)
        __atomic_store_n(&h->arenaHi, p + n, __ATOMIC_RELAXED);
    *size = n;
    return p;
}

/* Hands [base, limit) of reserved arena space to the page allocator. The
 * pages are untouched, so they count as released (not resident). */
static void mheap_growInto(mheap *h, int kind, uintptr_t base, uintptr_t limit)
{
    __atomic_fetch_add(&memstats.heapReleased, limit - base, __ATOMIC_RELAXED);
    pageAlloc_grow(&h->pages[kind], base, limit - base);
}

/* Adds at least npage pages to the page allocator, in whole 4 MiB chunks.
 * False if the OS refuses. mheap_.lock held. */
static bool mheap_grow(mheap *h, uintptr_t npage, int kind)
{
    assertLockHeld(&h->lock);
    struct arenaSpace *cur = &h->curArena[kind];
    uintptr_t ask = ((npage + pallocChunkPages - 1) & ~(uintptr_t)(pallocChunkPages - 1)) * pageSize;
    uintptr_t nBase = cur->base + ask;
    if (nBase > cur->end || nBase < cur->base) {
        uintptr_t asize, av = mheap_sysAlloc(h, ask, kind, &asize);
        if (!av)
            return false;
        if (av == cur->end) {
            cur->end = av + asize;      /* contiguous: just extend */
        } else {
            if (cur->end > cur->base)   /* keep what is left of the old space */
                mheap_growInto(h, kind, cur->base, cur->end);
            cur->base = av;
            cur->end = av + asize;
        }
        nBase = cur->base + ask;
    }
    mheap_growInto(h, kind, cur->base, nBase);
    cur->base = nBase;
    return true;
}

/* How many bytes from base of [base, base+npage pages) may hold old data (0:
 * none; the span's end when its last arena was used past it), and raises
 * each arena's zeroedBase past the run. Needs no lock: zeroedBase only
 * grows, by CAS. A large span that starts on used pages and runs on into
 * fresh ones is cleared only up to where the used pages end. */
static uintptr_t mheap_allocDirtyBytes(uintptr_t base, uintptr_t npage)
{
    uintptr_t start = base, dirtyEnd = base;
    while (npage > 0) {
        heapArena *ha = arenaOf(base);
        uintptr_t off = base % heapArenaBytes;
        uintptr_t lim = off + npage * pageSize;
        if (lim > heapArenaBytes)
            lim = heapArenaBytes;
        uintptr_t zeroed = atomic_load_explicit(&ha->zeroedBase, memory_order_relaxed);
        if (off < zeroed)
            dirtyEnd = base - off + (zeroed < lim ? zeroed : lim);
        while (lim > zeroed &&
               !atomic_compare_exchange_strong_explicit(&ha->zeroedBase, &zeroed, lim,
                                                      memory_order_relaxed, memory_order_relaxed)) {
            if (zeroed > off && zeroed <= lim)
                throw("potentially overlapping in-use allocations detected");
        }
        base += lim - off;
        npage -= (lim - off) / pageSize;
    }
    return dirtyEnd - start;
}

/* Points every page of [base, base+npage pages) at s in the span table. */
static void mheap_setSpans(uintptr_t base, uintptr_t npage, mspan *s)
{
    for (uintptr_t n = 0; n < npage; n++) {
        uintptr_t a = base + n * pageSize;
        atomic_store_explicit(&arenaOf(a)->spans[(a / pageSize) % pagesPerArena], s, memory_order_relaxed);
    }
}

/* Sets or clears s's bit in its arena's pageInUse bitmap. */
static void mheap_markInUse(mspan *s, bool inuse)
{
    heapArena *ha = arenaOf(s->startAddr);
    uintptr_t pg = (s->startAddr / pageSize) % pagesPerArena;
    uint8_t bit = (uint8_t)(1u << (pg % 8));
    if (inuse)
        atomic_fetch_or_explicit(&ha->pageInUse[pg / 8], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&ha->pageInUse[pg / 8], (uint8_t)~bit, memory_order_relaxed);
}

/* ---- Allocating and freeing spans ------------------------------------------------------ */

void mheap_init(void)
{
    mheap *h = &mheap_;
    for (int k = 0; k < heapKinds; k++)
        pageAlloc_init(&h->pages[k], &memstats.gcMiscSys);
    h->arenas = sysReserve(sizeof(*h->arenas) << arenaBits);
    if (!h->arenas)
        throw("runtime: cannot reserve the arena index");
    fixalloc_init(&h->spanalloc, sizeof(mspan), &memstats.mspan_sys);
    fixalloc_init(&h->cachealloc, sizeof(mcache), &memstats.mcache_sys);
    fixalloc_init(&h->bitsalloc, 2 * maxObjsPerSpan / 8, &memstats.gcMiscSys);
    for (int i = 0; i < numSpanClasses; i++)
        h->central[i].spanclass = (spanClass)i;
}

/* A page run of npages, growing the heap if needed; 0 if the OS refuses.
 * *scav: how many of its bytes were released to the OS. mheap_.lock held. */
static uintptr_t mheap_allocPages(mheap *h, uintptr_t npages, int kind, uintptr_t *scav)
{
    assertLockHeld(&h->lock);
    uintptr_t base = pageAlloc_alloc(&h->pages[kind], npages, scav);
    if (base)
        return base;
    if (!mheap_grow(h, npages, kind))
        return 0;
    base = pageAlloc_alloc(&h->pages[kind], npages, scav);
    if (!base)
        throw("grew heap, but no adequate free space found");
    return base;
}

mspan *mheap_alloc(uintptr_t npages, spanClass spanclass)
{
    mheap *h = &mheap_;
    uint8_t sizeclass = spanClass_sizeclass(spanclass);
    bool outOfLine = sizeclass && !mspan_bitsInline(npages * pageSize / class_to_size[sizeclass]);
    uintptr_t scav = 0, nbytes = npages * pageSize;

    lock(&h->lock);
    uintptr_t base = mheap_allocPages(h, npages, spanClass_noscan(spanclass) ? heapNoscan : heapScan,
                                      &scav);
    if (!base) {
        unlock(&h->lock);
        return NULL;
    }
    mspan *s = fixalloc_alloc(&h->spanalloc);
    uint64_t *bits = outOfLine ? fixalloc_alloc(&h->bitsalloc) : NULL;
    __atomic_fetch_sub(&memstats.heapReleased, scav, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&memstats.heapFree, nbytes - scav, __ATOMIC_RELAXED);
    __atomic_fetch_add(&memstats.heapInUse, nbytes, __ATOMIC_RELAXED);
    unlock(&h->lock);

    mspan_init(s, base, npages, spanclass, bits);
    s->dirtyBytes = mheap_allocDirtyBytes(base, npages);
    s->needzero = s->dirtyBytes != 0;
    atomic_store_explicit(&s->sweepgen, h->sweepgen, memory_order_relaxed);
    /* Publish: state last, so whoever sees mSpanInUse sees every field above. */
    atomic_store_explicit(&s->state, mSpanInUse, memory_order_release);
    mheap_setSpans(base, npages, s);
    mheap_markInUse(s, true);
    return s;
}

/* The allocator is about to write [base, base+len) (a span it takes for
 * allocation, or a large object). The collector's page tracking stays
 * armed between cycles, so each first write to a page it protected faults;
 * instead, between cycles, the 256 KiB blocks around the range are
 * unprotected, once per block per arm (wpOpenGen), adjacent ones in one
 * call. That is safe even if a mark begins meanwhile: unprotected pages are
 * reported as written (mgcwp.c). During a mark the faults stay: they pace
 * the program against precleaning, which has no assists (without them, a
 * fast allocator outran the precleaning passes and the mark never ended).
 * Noscan memory is never tracked, so it needs nothing. */
void heapWillWrite(uintptr_t base, size_t len)
{
    uint32_t gen = gcwp_armGen();
    if (gen == 0 || arenaOf(base)->kind == heapNoscan ||
        atomic_load_explicit(&gcphase, memory_order_relaxed) != _GCoff)
        return;
    /* Adjacent blocks within one arena go in one call: each call also
     * flushes the other CPUs' TLBs. */
    uintptr_t run = 0, runEnd = 0;
    for (uintptr_t b = base & ~(uintptr_t)(wpBlockBytes - 1); b < base + len; b += wpBlockBytes) {
        heapArena *ha = arenaOf(b);
        _Atomic uint32_t *open = &ha->wpOpenGen[(b % heapArenaBytes) / wpBlockBytes];
        uint32_t old = atomic_load_explicit(open, memory_order_relaxed);
        if (old == gen || !atomic_compare_exchange_strong(open, &old, gen))
            continue;
        if (b != runEnd || b % heapArenaBytes == 0) {
            if (runEnd > run)
                gcwp_unprotect((void *)run, runEnd - run);
            run = b;
        }
        runEnd = b + wpBlockBytes;
    }
    if (runEnd > run)
        gcwp_unprotect((void *)run, runEnd - run);
}

void mheap_freeSpan(mspan *s, uintptr_t nfreed)
{
    mheap *h = &mheap_;
    GORT_ASSERT(atomic_load(&s->state) == mSpanInUse && s->allocCount == 0 && s->list == NULL);
    uintptr_t nbytes = s->npages * pageSize;
    uint8_t sizeclass = spanClass_sizeclass(s->spanclass);
    lock(&h->lock);
    if (sizeclass) {
        atomic_fetch_add_explicit(&memstats.smallFreeCount[sizeclass], nfreed, memory_order_relaxed);
    } else if (nfreed) {
        atomic_fetch_add_explicit(&memstats.largeFree, nbytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&memstats.largeFreeCount, 1, memory_order_relaxed);
    }
    mheap_markInUse(s, false);
    atomic_store_explicit(&s->state, mSpanDead, memory_order_release);
    __atomic_fetch_add(&memstats.heapFree, nbytes, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&memstats.heapInUse, nbytes, __ATOMIC_RELAXED);
    pageAlloc_free(&h->pages[arenaOf(s->startAddr)->kind], s->startAddr, s->npages);
    /* Sweeping swaps the two halves of the bits' block: free the lower one. */
    uint64_t *bits = s->allocBits < s->gcmarkBits ? s->allocBits : s->gcmarkBits;
    if (bits != s->inlineBits[0])
        fixalloc_free(&h->bitsalloc, bits);
    fixalloc_free(&h->spanalloc, s);
    unlock(&h->lock);
}

uintptr_t findObject(uintptr_t p, mspan **sp, uintptr_t *idx)
{
    mspan *s = spanOfHeap(p);
    if (!s)
        return 0;
    *sp = s;
    *idx = mspan_objIndex(s, p);
    return s->startAddr + *idx * s->elemsize;
}

/* ---- Scavenging ---------------------------------------------------------------------- */

enum { scavRunPages = 64 };   /* one madvise of at most 512 KiB: the lock is never held long */

/* mheap_.lock, in a suspension-free region on a thread the collector stops
 * (sysmon is not one: it is never stopped, and must not stop itself). */
static void scavLock(mheap *h)
{
    if (gclocal.thread)
        nosuspend_enter();
    lock(&h->lock);
}

static void scavUnlock(mheap *h)
{
    unlock(&h->lock);
    if (gclocal.thread)
        nosuspend_exit();
}

/* The highest mapped arena index below `below`, or UINTPTR_MAX. Lock held. */
static uintptr_t scavNextArena(const mheap *h, uintptr_t below)
{
    uintptr_t best = UINTPTR_MAX;
    for (size_t i = 0; i < h->nallArenas; i++) {
        uintptr_t ai = h->allArenas[i];
        if (ai < below && (best == UINTPTR_MAX || ai > best))
            best = ai;
    }
    return best;
}

/* Returns one run of free pages of chunk ci to the OS; its bytes, or 0 if
 * the chunk has none resident. Lock held; dropped during the madvise. */
static uintptr_t scavengeOne(mheap *h, uintptr_t ci)
{
    pageAlloc *pa = &h->pages[arenaOf(ci << logPallocChunkBytes)->kind];
    uintptr_t np, base = pageAlloc_takeUnscavenged(pa, ci, scavRunPages, &np);
    if (!base)
        return 0;
    scavUnlock(h);
    sysUnused((void *)base, np * pageSize);
    scavLock(h);
    pageAlloc_freeScavenged(pa, base, np);
    __atomic_fetch_sub(&memstats.heapFree, np * pageSize, __ATOMIC_RELAXED);
    __atomic_fetch_add(&memstats.heapReleased, np * pageSize, __ATOMIC_RELAXED);
    return np * pageSize;
}

uintptr_t mheap_scavenge(uintptr_t nbytes)
{
    mheap *h = &mheap_;
    enum { chunksPerArena = heapArenaBytes / pallocChunkBytes };
    uintptr_t released = 0;
    scavLock(h);
    for (uintptr_t ai = scavNextArena(h, UINTPTR_MAX); ai != UINTPTR_MAX && released < nbytes;
         ai = scavNextArena(h, ai)) {
        uintptr_t first = arenaBase(ai) >> logPallocChunkBytes;
        for (uintptr_t ci = first + chunksPerArena; ci-- > first && released < nbytes;) {
            uintptr_t n;
            while (released < nbytes && (n = scavengeOne(h, ci)) != 0)
                released += n;
        }
    }
    scavUnlock(h);
    return released;
}

uint64_t mheap_scavengeGoalExcess(void)
{
    uint64_t retained = heapResidentBytes(), excess = 0;
    uint64_t goal = __atomic_load_n(&memstats.next_gc, __ATOMIC_RELAXED);
    if (goal != UINT64_MAX && retained > goal + goal / 10)
        excess = retained - goal - goal / 10;
    int64_t limit = atomic_load(&gcMemoryLimit);
    if (limit != INT64_MAX) {
        uint64_t mapped = retained + nonHeapSys(), target = (uint64_t)limit / 100 * 95;
        if (mapped > target && mapped - target > excess)
            excess = mapped - target;
    }
    return excess;
}

void gort_free_os_memory(void)
{
    RUNTIME_ENTRY();
    gort_gc();
    mheap_scavenge(UINTPTR_MAX);
}
