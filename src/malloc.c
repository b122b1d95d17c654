/*
 * malloc.c — the allocator's front door (Go: malloc.go, mbitmap.go's
 * heapBitsSetType, mcache.go's allocLarge).
 *
 * mallocgc sorts every request into one of three paths:
 *
 *   tiny   noscan, < 16 bytes: packed into a shared 16-byte block, at the
 *          alignment its size allows (multiple of 8 → 8, of 4 → 4, of 2 → 2).
 *          Small strings and scalars cost a bump of tinyoffset. The block
 *          lives as long as any object in it (a GC matter), so only objects
 *          without pointers may share one.
 *   small  <= 32 KiB: rounded up to a size class (sizeclasses.c) and taken
 *          from the P's mcache: nextFreeFast finds a free slot with one
 *          count-trailing-zeros on the span's allocCache, no lock, no atomic.
 *          When the cached span is full, mcache_nextFree refills it from the
 *          mcentral, which grows from the mheap (mcache.c, mcentral.c,
 *          mheap.c).
 *   large  > 32 KiB: a span of its own, the request rounded up to whole
 *          8 KiB pages, straight from the mheap.
 *
 * That is why gort_alloc(8200) costs 9472 bytes: 8200 > 8192 (class 51), so
 * it takes class 52, 9472-byte slots, 6 to a 7-page span, chosen by Go so
 * that the span's tail waste stays under 1/8 (see docs/allocator.md).
 *
 * Everything the public API returns is zeroed (only internal MALLOC_NOZERO
 * callers, which overwrite every byte, skip it). Memory fresh from the OS is
 * already zero, so a slot is cleared only when its span reuses pages
 * (span.needzero).
 *
 * For the GC, each object's words are described in the heap bitmap
 * (heapArena.heapBits, one bit per word): gort_alloc objects all ones
 * (conservative), gort_new objects their type's ptrmask (precise), noscan
 * objects nothing at all. While marking runs beside the program the new
 * object is marked at once (allocate-black, mgcmark.c), and the allocation
 * is charged to the thread's assist account. After the object and its bits
 * are ready, the span's freeIndexForScan is published so a conservative
 * scan never takes a slot still being set up for a live object.
 *
 * Threads without a P use mcache0 under mcache0Lock; large objects need no
 * cache. Out of memory is fatal, with Go's words:
 *   fatal error: runtime: out of memory: cannot allocate 1099511627776-byte block (…)
 */
#include "malloc.h"

#include <string.h>
#include <unistd.h>

/* Every zero-byte allocation returns this address (Go's zerobase). */
static uint64_t zerobase;

static mcache mcache0;             /* the cache of threads that hold no P */
static mutex mcache0Lock;
static mutex initLock;
static _Atomic bool mallocReady;
static uint64_t maxLargeObject;    /* larger single objects are refused */

/* Installs the heap once; safe to call from anywhere, any number of times. */
void mallocinit(void)
{
    if (likely(atomic_load_explicit(&mallocReady, memory_order_acquire)))
        return;
    lock(&initLock);
    if (!atomic_load_explicit(&mallocReady, memory_order_relaxed)) {
        if (class_to_size[tinySizeClass] != maxTinySize)
            throw("mallocinit: bad tinySizeClass");
        mheap_init();
        gcinit();
        for (int i = 0; i < numSpanClasses; i++)
            mcache0.alloc[i] = &emptymspan;
        mcache0.nextSample = nextSample();
        mstats_registerCache(&mcache0);
        /* Like the kernel's overcommit heuristic: no single object larger than
         * physical memory (our arenas are MAP_NORESERVE, so mmap would not
         * refuse it, but touching it could never succeed). */
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        maxLargeObject = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : maxAlloc;
        if (maxLargeObject > maxAlloc)
            maxLargeObject = maxAlloc;
        atomic_store_explicit(&mallocReady, true, memory_order_release);
    }
    unlock(&initLock);
}

void throw_oom(size_t size)
{
    throw("runtime: out of memory: cannot allocate %zu-byte block (%llu in use)",
               size, (unsigned long long)__atomic_load_n(&memstats.heapInUse, __ATOMIC_RELAXED));
}

/* A runtime array in OS memory (not the GC heap) grown to twice its capacity,
 * or to first elements when it has none, keeping its n elements; accounted
 * in *stat. The OS refusing is fatal, as for the heap. */
void *sysGrowArray(void *a, size_t n, size_t *cap, size_t elem, size_t first, uint64_t *stat)
{
    size_t ncap = *cap ? *cap * 2 : first;
    void *na = sysAlloc(ncap * elem, stat);
    if (!na)
        throw_oom(ncap * elem);
    if (a) {
        memcpy(na, a, n * elem);
        sysFree(a, *cap * elem, stat);
    }
    *cap = ncap;
    return na;
}

/* ---- Heap bitmap (Go: mbitmap.go) ------------------------------------------- */

/* Bits [from, from+n) (n <= 64) of a ptrmask of maskwords bits; zeros past its end. */
static uint64_t maskBits(const uint8_t *mask, uintptr_t maskwords, uintptr_t from, unsigned n)
{
    if (from >= maskwords)
        return 0;
    if (n > maskwords - from)
        n = (unsigned)(maskwords - from);
    /* Whole bytes, then a shift: the bits can straddle nine bytes. */
    uintptr_t first = from / 8, last = (from + n - 1) / 8;
    unsigned shift = from % 8;
    uint64_t v = 0;
    for (uintptr_t i = first; i <= last && i < first + 8; i++)
        v |= (uint64_t)mask[i] << (8 * (i - first));
    v >>= shift;
    if (last == first + 8)
        v |= (uint64_t)mask[last] << (64 - shift);
    return n == 64 ? v : v & ((1ULL << n) - 1);
}

/* Writes the pointer bits of the nwords words at addr: a ptrmask, or all
 * ones when mask is NULL (conservative). Only the span's owner writes its
 * bits, and a bitmap word covers 512 bytes of one span, so no atomics. */
static void heapBitsWrite(uintptr_t addr, uintptr_t nwords, const uint8_t *mask, uintptr_t maskwords)
{
    for (uintptr_t done = 0; done < nwords;) {
        uintptr_t a = addr + done * 8;
        heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(a)], memory_order_relaxed);
        uintptr_t w = (a % heapArenaBytes) / 8;
        unsigned lo = w % 64;
        unsigned n = nwords - done < 64 - lo ? (unsigned)(nwords - done) : 64 - lo;
        uint64_t m = n == 64 ? ~0ULL : (1ULL << n) - 1;
        uint64_t bits = mask ? maskBits(mask, maskwords, done, n) : ~0ULL;
        ha->heapBits[w / 64] = (ha->heapBits[w / 64] & ~(m << lo)) | ((bits & m) << lo);
        done += n;
    }
}

/* Describes the slot of size bytes at x to the GC (Go's heapBitsSetType). */
static void heapBitsSetType(uintptr_t x, uintptr_t size, const gort_type *typ)
{
    if (typ)
        heapBitsWrite(x, size / 8, typ->ptrmask, typ->size / 8);
    else
        heapBitsWrite(x, size / 8, NULL, 0);
}

/* ---- Small and tiny objects ------------------------------------------------------ */

/* The next free slot of s from its allocCache, or 0 if the cache is empty or
 * the next slot would need a refill of the cache (then mcache_nextFree). */
static inline uintptr_t nextFreeFast(mspan *s)
{
    uint64_t cache = s->allocCache;
    if (cache == 0)
        return 0;
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uintptr_t result = s->freeindex + bit;
    if (result >= s->nelems)
        return 0;
    uintptr_t freeidx = result + 1;
    if (freeidx % 64 == 0 && freeidx != s->nelems)
        return 0;
    s->allocCache = (cache >> bit) >> 1;   /* two shifts: bit may be 63 */
    s->freeindex = freeidx;
    s->allocCount++;
    return s->startAddr + result * s->elemsize;
}

/* A slot of span class spc from c; *sp gets its span. Out of memory is fatal. */
static inline uintptr_t nextFree(mcache *c, spanClass spc, size_t size, mspan **sp)
{
    mspan *s = c->alloc[spc];
    /* Every cache is emptied before sweepgen moves (gcMarkTermination): a
     * cached span is always one this cycle's sweep already did. */
    GORT_ASSERT(s == &emptymspan ||
                atomic_load_explicit(&s->sweepgen, memory_order_relaxed) == mheap_.sweepgen + 3);
    uintptr_t v = nextFreeFast(s);
    if (likely(v)) {
        *sp = s;
        return v;
    }
    v = mcache_nextFree(c, spc, sp);
    if (!v)
        throw_oom(size);
    return v;
}

/* Places a noscan object of size < 16 in c's tiny block. Returns it and sets
 * *sp to NULL when it fit in the current block; otherwise returns a new
 * zeroed block (whose first bytes are the object) and sets *sp to its span. */
static inline uintptr_t tinyalloc(mcache *c, size_t size, mspan **sp)
{
    uintptr_t off = c->tinyoffset;
    if ((size & 7) == 0)
        off = (off + 7) & ~(uintptr_t)7;
    else if ((size & 3) == 0)
        off = (off + 3) & ~(uintptr_t)3;
    else if ((size & 1) == 0)
        off = (off + 1) & ~(uintptr_t)1;
    if (off + size <= maxTinySize && c->tiny) {
        c->tinyoffset = off + size;
        mstats_bump(&c->tinyAllocs);
        *sp = NULL;
        return c->tiny + off;
    }
    uintptr_t v = nextFree(c, tinySpanClass, maxTinySize, sp);
    memset((void *)v, 0, maxTinySize);
    mstats_bump(&c->nmalloc[tinySizeClass]);
    /* Keep whichever block has more room left. */
    if (size < c->tinyoffset || c->tiny == 0) {
        c->tiny = v;
        c->tinyoffset = size;
    }
    return v;
}

static void *mallocgc_small(mcache *c, size_t size, const gort_type *typ, bool noscan, bool needzero)
{
    mspan *span;
    uintptr_t x;
    if (noscan && size < maxTinySize) {
        x = tinyalloc(c, size, &span);
        if (!span)
            return (void *)x;
    } else {
        uint8_t sizeclass = sizeToClass(size);
        size = class_to_size[sizeclass];
        x = nextFree(c, makeSpanClass(sizeclass, noscan), size, &span);
        if (needzero && span->needzero)
            memset((void *)x, 0, size);
        mstats_bump(&c->nmalloc[sizeclass]);
        if (!noscan)
            heapBitsSetType(x, size, typ);
    }
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gcmarknewobject(span, x);
    /* The slot is ready: let the GC see it as allocated. */
    atomic_store_explicit(&span->freeIndexForScan, span->freeindex, memory_order_release);
    return (void *)x;
}

/* ---- Large objects ------------------------------------------------------------------ */

/* A span of its own for a large object (Go's mcache.allocLarge). */
static mspan *allocLarge(size_t size, bool noscan)
{
    if (size > maxLargeObject)
        throw_oom(size);
    uintptr_t npages = (size + pageMask) >> pageShift;
    spanClass spc = makeSpanClass(0, noscan);
    mspan *s = mheap_alloc(npages, spc);
    if (!s)
        throw_oom(size);
    s->freeindex = 1;
    s->allocCount = 1;
    gcAddHeapLive((int64_t)(npages * pageSize));
    atomic_fetch_add_explicit(&memstats.largeAlloc, npages * pageSize, memory_order_release);
    atomic_fetch_add_explicit(&memstats.largeAllocCount, 1, memory_order_release);
    /* On its mcentral's full list, where the sweeper will look for it. */
    mcentral_pushSwept(&mheap_.central[spc], s);
    return s;
}

static void *mallocgc_large(size_t size, const gort_type *typ, bool noscan, bool needzero)
{
    mallocinit();
    mspan *s = allocLarge(size, noscan);
    void *x = (void *)s->startAddr;
    heapWillWrite((uintptr_t)x, s->npages * pageSize);   /* the program fills it */
    if (needzero && s->needzero)          /* only the pages that were used before */
        memset(x, 0, s->dirtyBytes < s->elemsize ? s->dirtyBytes : s->elemsize);
    if (!noscan)
        heapBitsSetType(s->startAddr, s->elemsize, typ);
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gcmarknewobject(s, s->startAddr);
    atomic_store_explicit(&s->freeIndexForScan, 1, memory_order_release);
    return x;
}

/* ---- mallocgc and the public API ------------------------------------------------------------ */

/* Threads without a P share mcache0 under its lock; *sample: whether the
 * heap profile samples this allocation. */
static void *mallocgc_nocache(size_t size, const gort_type *typ, bool noscan, bool needzero,
                              bool *sample)
{
    mallocinit();
    lock(&mcache0Lock);
    void *x = size > maxSmallSize ? NULL : mallocgc_small(&mcache0, size, typ, noscan, needzero);
    *sample = memprofSample(&mcache0, size);
    unlock(&mcache0Lock);
    return x;
}

/* The whole allocation is a suspension-free region (malloc.h): the
 * collector never sees a half-made object or a held allocator lock. When
 * the heap reached the GC trigger, the cycle starts as the region ends. */
void *mallocgc(size_t size, const gort_type *typ, unsigned flags)
{
    if (unlikely(size == 0))
        return &zerobase;
    bool noscan = typ ? typ->ptrmask == NULL : (flags & MALLOC_NOSCAN) != 0;
    bool needzero = !(flags & MALLOC_NOZERO);
    GORT_ASSERT(needzero || noscan);
    void *x;
    bool sample;
    mcache *c = getmcache();
    if (unlikely(!c) && unlikely(!gclocal.thread))
        gcRegisterThread(NULL);         /* a foreign thread: its stack is a root from now on */
    nosuspend_enter();
    if (likely(c)) {
        if (unlikely(size > maxSmallSize))
            x = mallocgc_large(size, typ, noscan, needzero);
        else
            x = mallocgc_small(c, size, typ, noscan, needzero);
        sample = memprofSample(c, size);
    } else {
        x = mallocgc_nocache(size, typ, noscan, needzero, &sample);
        if (!x)
            x = mallocgc_large(size, typ, noscan, needzero);
    }
    nosuspend_exit();
    if (unlikely(sample))
        mProf_Malloc(x, size);          /* with its stack, outside the region */
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gcAssistCharge(size);
    return x;
}

/* The public entries yield first if the P was asked to (gopreempt_check):
 * a goroutine that only allocates still lets the world stop. */
void *gort_alloc(size_t n) { RUNTIME_ENTRY(); gopreempt_check(); return mallocgc(n, NULL, 0); }
void *gort_alloc_noscan(size_t n) { RUNTIME_ENTRY(); gopreempt_check(); return mallocgc(n, NULL, MALLOC_NOSCAN); }
void *gort_new(const gort_type *t) { RUNTIME_ENTRY(); gopreempt_check(); return mallocgc(t->size, t, 0); }

/* The size of the slot holding p: its size class, or the page-rounded size of
 * a large object; 0 if p is not in an in-use heap span. A tiny object
 * reports its whole 16-byte block, of which only the bytes it asked for are
 * its own. */
size_t gort_usable_size(const void *p)
{
    mspan *s = spanOfHeap((uintptr_t)p);
    return s ? s->elemsize : 0;
}
