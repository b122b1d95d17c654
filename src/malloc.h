/*
 * malloc.h — the allocator's internal contract (Go: malloc.go, mheap.go,
 * mcache.go, mcentral.go, mpagealloc.go, sizeclasses.go, mstats.go).
 *
 * The heap is built in tiers, each one amortising the cost of the next:
 *
 *   mallocgc ──> mcache (per P, no locks) ──> mcentral (per span class, lock)
 *                                               ──> mheap (one lock) ──> pageAlloc ──> OS
 *
 *   - A size class is one of 67 object sizes (8 B … 32 KiB); class 0 means
 *     "large object", which gets its own run of whole 8 KiB pages.
 *   - A span (mspan) is a run of pages cut into objects of one size class.
 *     Which slots are free is a bitmap (allocBits) plus a cursor (freeindex);
 *     allocCache is a 64-bit window of the bitmap, inverted, so that
 *     count-trailing-zeros finds the next free slot in one instruction.
 *   - A span class is sizeclass*2 + noscan: objects without pointers live in
 *     their own spans, so the GC can skip them wholesale.
 *   - The mheap hands out page runs from 64 MiB arenas. Each arena has a
 *     heapArena record: the span of every page (pointer → span in O(1)),
 *     and one pointer/scalar bit per heap word (what the GC must scan).
 *
 * What the GC will use (see docs/allocator.md): spanOf / spanOfHeap /
 * findObject for pointer → object; mspan.allocBits, gcmarkBits, freeindex,
 * freeIndexForScan, sweepgen and state; heapBitsIsPointer for precise and
 * conservative scanning; mcentral_pushSwept and mheap_freeSpan to return
 * swept spans; memstats for the pacer.
 *
 * Lock order (outer first): mcache0Lock, mcentral.lock, mheap_.lock,
 * memstats.lock. No allocator lock is held while calling into the scheduler.
 */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include "runtime.h"

#include <string.h>

/* ---- Constants (Go: malloc.go, sizeclasses.go, mpagealloc.go) ------------ */

enum {
    pageShift        = 13,
    pageSize         = 1 << pageShift,       /* 8 KiB: the heap's page, not the OS's */
    pageMask         = pageSize - 1,
    maxSmallSize     = 32768,                /* larger objects get their own span */
    maxTinySize      = 16,                   /* tiny allocator block */
    tinySizeClass    = 2,
    numSizeClasses   = GORT_NUM_SIZE_CLASSES,/* 68, class 0 = large */
    numSpanClasses   = numSizeClasses << 1,
    smallSizeDiv     = 8,                    /* size_to_class8 step, sizes <= 1024 */
    smallSizeMax     = 1024,
    largeSizeDiv     = 128,                  /* size_to_class128 step, 1024 < size <= 32 KiB */

    logHeapArenaBytes = 26,
    heapArenaBytes   = 1 << logHeapArenaBytes,   /* 64 MiB */
    wpBlockBytes     = 256 << 10,                /* heapWillWrite's unit (mheap.c) */
    pagesPerArena    = heapArenaBytes / pageSize,
    heapArenaWords   = heapArenaBytes / 8,
    heapAddrBits     = 48,                   /* user addresses on amd64 and arm64 Linux */
    arenaBits        = heapAddrBits - logHeapArenaBytes,

    logPallocChunkPages = 9,
    pallocChunkPages = 1 << logPallocChunkPages, /* 512 pages = 4 MiB per bitmap chunk */
    logPallocChunkBytes = logPallocChunkPages + pageShift,
    pallocChunkBytes = 1 << logPallocChunkBytes,
    pallocChunksL1Bits = 13,
    pallocChunksL2Bits = heapAddrBits - logPallocChunkBytes - pallocChunksL1Bits,
    summaryLevels    = 5,
    summaryLevelBits = 3,
    summaryL0Bits    = heapAddrBits - logPallocChunkBytes - (summaryLevels - 1) * summaryLevelBits,
    logMaxPackedValue = logPallocChunkPages + (summaryLevels - 1) * summaryLevelBits,

    maxObjsPerSpan   = pageSize / 8,         /* class 1: 1024 eight-byte objects */
    inlineBitsObjects = 128,                 /* spans of <= 128 objects keep their bits inline */
};
/* Largest request we accept: the heap's address space. */
#define maxAlloc ((uint64_t)1 << heapAddrBits)

/* ---- Size classes (sizeclasses.c) ---------------------------------------- */

extern const uint16_t class_to_size[numSizeClasses];
extern const uint8_t  class_to_allocnpages[numSizeClasses];
extern uint32_t class_to_divmagic[numSizeClasses];
extern uint8_t  size_to_class8[smallSizeMax / smallSizeDiv + 1];
extern uint8_t  size_to_class128[(maxSmallSize - smallSizeMax) / largeSizeDiv + 1];

/* The size class of a small request (1 <= size <= maxSmallSize). */
static inline uint8_t sizeToClass(size_t size)
{
    if (size <= smallSizeMax)
        return size_to_class8[(size + smallSizeDiv - 1) / smallSizeDiv];
    return size_to_class128[(size - smallSizeMax + largeSizeDiv - 1) / largeSizeDiv];
}
/* The block mallocgc would hand out for size bytes (Go's roundupsize). */
size_t roundupsize(size_t size);

/* ---- Span classes --------------------------------------------------------- */

typedef uint8_t spanClass;
#define tinySpanClass ((spanClass)(tinySizeClass << 1 | 1))
static inline spanClass makeSpanClass(uint8_t sizeclass, bool noscan) { return (spanClass)(sizeclass << 1 | noscan); }
static inline uint8_t spanClass_sizeclass(spanClass sc) { return sc >> 1; }
static inline bool spanClass_noscan(spanClass sc) { return sc & 1; }

/* ---- mspan (Go: mheap.go) ------------------------------------------------- */

enum mSpanState { mSpanDead, mSpanInUse };

typedef struct mspan mspan;
typedef struct mSpanList { mspan *first, *last; } mSpanList;

struct mspan {
    mspan      *next, *prev;     /* links in an mSpanList */
    mSpanList  *list;            /* the list s is on, or NULL */
    uintptr_t   startAddr;       /* first byte of the span */
    uintptr_t   npages;
    uintptr_t   nelems;          /* objects in the span */
    uintptr_t   elemsize;        /* class size, or npages*pageSize for a large span */
    uintptr_t   limit;           /* end of the last object */

    /* Allocation state. Slots below freeindex are allocated; at or above it,
     * slot i is free iff bit i of allocBits is 0. allocCache holds the
     * complement of the 64 allocBits starting at freeindex's 64-aligned word,
     * shifted so that bit 0 is slot freeindex. */
    uintptr_t   freeindex;
    uint64_t    allocCache;
    uint64_t   *allocBits;       /* set by the sweeper: the previous cycle's marks */
    uint64_t   *gcmarkBits;      /* set by the marker */
    _Atomic uintptr_t freeIndexForScan; /* freeindex as published to the GC */
    uint16_t    allocCount;      /* allocated objects */
    uint32_t    divMul;          /* (offset * divMul) >> 32 == offset / elemsize */

    /* Sweep generation relative to mheap_.sweepgen (Go's encoding):
     * sg-2 needs sweeping, sg-1 being swept, sg swept, sg+1 cached before
     * sweep began (still needs it), sg+3 swept and cached. */
    _Atomic uint32_t sweepgen;
    spanClass   spanclass;
    _Atomic uint8_t state;       /* enum mSpanState; set last when publishing */
    uint8_t     needzero;        /* the span's free slots may hold old data */
    uintptr_t   dirtyBytes;      /* when allocated from the heap: how far from its start
                                    old data may lie (the rest is fresh, zero) */
    _Atomic uint8_t profiled;    /* holds an object the heap profile sampled (mprof.c) */
    _Atomic uint8_t hasFinalizer;/* holds a block with a finalizer record (mfinal.c) */
    _Atomic uint8_t hasChan;     /* has held a channel (chan.c's chanSweepFreed) */
    uint64_t    inlineBits[2][inlineBitsObjects / 64]; /* alloc and mark bits of small spans */
};

/* Index of the object containing address p (p inside s). */
static inline uintptr_t mspan_objIndex(const mspan *s, uintptr_t p)
{
    return (uintptr_t)(((uint64_t)(p - s->startAddr) * s->divMul) >> 32);
}

void mSpanList_insert(mSpanList *l, mspan *s);     /* at the front */
void mSpanList_remove(mSpanList *l, mspan *s);

/* Loads allocCache with the complement of allocBits word `word` (slots word*64 …). */
void mspan_refillAllocCache(mspan *s, uintptr_t word);
/* Advances freeindex to the next free slot and returns it (nelems: full). */
uintptr_t mspan_nextFreeIndex(mspan *s);

/* ---- heapArena and the arena index (Go: mheap.go, mbitmap.go) ------------ */

/* Metadata of one 64 MiB arena, allocated off-heap when the arena is mapped.
 *
 * heapBits is the pointer map: one bit per 8-byte word of the arena, 1 when
 * the word may hold a pointer. gort_alloc objects get all ones (scanned
 * conservatively), gort_new objects get their type's ptrmask (precise),
 * noscan spans are never consulted. It is written when an object is
 * allocated, so a slot reused by a different kind of object is rewritten. */
typedef struct heapArena {
    _Atomic(mspan *) spans[pagesPerArena]; /* page → span; free pages may be stale */
    _Atomic uint8_t pageInUse[pagesPerArena / 8]; /* first page of each in-use span */
    _Atomic uint8_t pageMarks[pagesPerArena / 8]; /* for the GC: spans with marked objects */
    _Atomic uintptr_t zeroedBase;         /* offset below which pages were ever used */
    _Atomic uint32_t wpOpenGen[heapArenaBytes / wpBlockBytes]; /* heapWillWrite's blocks:
                                             the arm after which each was unprotected */
    uint64_t *checkmarks;                 /* GORT_DEBUG=gccheckmark: one bit per word */
    uint8_t  kind;                        /* heapScan or heapNoscan: whose pages these are */
    uint64_t heapBits[heapArenaWords / 64];
} heapArena;

static inline uintptr_t arenaIndex(uintptr_t p) { return p >> logHeapArenaBytes; }
static inline uintptr_t arenaBase(uintptr_t i) { return i << logHeapArenaBytes; }

/* ---- Page allocator (mpagealloc.c) ------------------------------------------ */

/* Summary of a run of pages: free pages at the start, the longest free run,
 * free pages at the end; 21 bits each, bit 63 meaning "all three are 2^21". */
typedef uint64_t pallocSum;

/* One chunk's page bitmap (1 = in use) and scavenged bitmap (1 = returned
 * to the OS, so known to be zero and not resident). */
typedef struct pallocData {
    uint64_t pallocBits[pallocChunkPages / 64];
    uint64_t scavenged[pallocChunkPages / 64];
} pallocData;

typedef struct pageAlloc {
    pallocSum  *summary[summaryLevels];       /* radix tree levels, reserved up front */
    pallocData *chunks[1 << pallocChunksL1Bits]; /* sparse: L2 arrays made on grow */
    uintptr_t   searchAddr;   /* every page below it is in use */
    uintptr_t   start, end;   /* chunk indices ever grown: [start, end) */
    uint64_t   *sysStat;      /* where metadata memory is counted */
    uint64_t   *summaryMapped[summaryLevels]; /* which 4 KiB pages of each level were counted */
} pageAlloc;

void      pageAlloc_init(pageAlloc *p, uint64_t *sysStat);
/* Adds [base, base+size) (chunk-aligned, never seen before) as free, scavenged pages. */
void      pageAlloc_grow(pageAlloc *p, uintptr_t base, uintptr_t size);
/* First fit: the address of npages free pages, now in use, or 0. *scav gets
 * how many of those bytes were scavenged. */
uintptr_t pageAlloc_alloc(pageAlloc *p, uintptr_t npages, uintptr_t *scav);
void      pageAlloc_free(pageAlloc *p, uintptr_t base, uintptr_t npages);
pallocData *pageAlloc_chunkOf(pageAlloc *p, uintptr_t chunkIdx);
uintptr_t pageAlloc_takeUnscavenged(pageAlloc *p, uintptr_t chunkIdx, uintptr_t maxPages, uintptr_t *npages);
void      pageAlloc_freeScavenged(pageAlloc *p, uintptr_t base, uintptr_t npages);

pallocSum pallocBits_summarize(const uint64_t *b);
/* Index of the first run of npages free pages at or after searchIdx, or
 * ~0; *firstFree gets the first free page seen (where the next search may start). */
unsigned  pallocBits_find(const uint64_t *b, uintptr_t npages, unsigned searchIdx, unsigned *firstFree);
static inline pallocSum packPallocSum(unsigned start, unsigned max, unsigned end)
{
    if (max == 1u << logMaxPackedValue)
        return (pallocSum)1 << 63;
    const uint64_t m = ((uint64_t)1 << logMaxPackedValue) - 1;
    return (start & m) | ((max & m) << logMaxPackedValue) | ((end & m) << (2 * logMaxPackedValue));
}
static inline unsigned pallocSum_field(pallocSum s, int i)
{
    if (s >> 63)
        return 1u << logMaxPackedValue;
    return (unsigned)((s >> (i * logMaxPackedValue)) & ((1u << logMaxPackedValue) - 1));
}
static inline unsigned pallocSum_start(pallocSum s) { return pallocSum_field(s, 0); }
static inline unsigned pallocSum_max(pallocSum s) { return pallocSum_field(s, 1); }
static inline unsigned pallocSum_end(pallocSum s) { return pallocSum_field(s, 2); }

/* ---- fixalloc: free lists of fixed-size off-heap records (mheap.c) ------- */

typedef struct fixalloc {
    size_t     size;
    void      *list;          /* freed records */
    uintptr_t  chunk, nchunk; /* current carve-out */
    uint64_t   inuse;         /* bytes handed out */
    uint64_t  *stat;          /* bytes obtained from the OS */
} fixalloc;

void  fixalloc_init(fixalloc *f, size_t size, uint64_t *stat);
void *fixalloc_alloc(fixalloc *f);   /* zeroed; caller holds mheap_.lock */
void  fixalloc_free(fixalloc *f, void *p);

/* ---- mcache (mcache.c) ------------------------------------------------------ */

/* Per-P cache: one span per span class to allocate from without locks, the
 * tiny block, and this P's allocation counters (read by gort_read_mem_stats
 * from other threads, so stored atomically; only the owner writes them). */
struct mcache {
    uintptr_t   tiny;                       /* current tiny block, or 0 */
    uintptr_t   tinyoffset;
    _Atomic uint64_t tinyAllocs;            /* objects placed in an existing tiny block */
    mspan      *alloc[numSpanClasses];      /* &emptymspan when none */
    _Atomic uint64_t nmalloc[numSizeClasses]; /* small objects allocated, by class */
    mcache     *statsnext, *statsprev;      /* memstats' list of live caches */
    uintptr_t   nextSample;                 /* bytes until the heap profile's next sample */
};

/* ---- Heap profile hooks (mprof.c) ------------------------------------------- */

uintptr_t nextSample(void);               /* a fresh countdown for mcache.nextSample */
void mProf_Malloc(void *x, uintptr_t size);/* x was sampled: outside any region */
void mProf_Free(mspan *s);                /* s (profiled) is being swept: count the dead */
/* Finalizers (mfinal.c). markFinalizerRoots: with the roots, greys what each
 * block with a finalizer points to (not the block). finSweep: s
 * (hasFinalizer) is being swept: queues the finalizers of its unmarked
 * blocks and marks those blocks, before the marks are counted. */
void markFinalizerRoots(void);
void finSweep(mspan *s);
/* s (hasChan) is being swept: marks its freed blocks as dead channels (chan.c). */
void chanSweepFreed(mspan *s);
/* Counts size bytes against c's countdown; true when this allocation is
 * the heap profile's next sample (Go's mallocgc tail, c.nextSample). */
static inline bool memprofSample(mcache *c, uintptr_t size)
{
    if (likely(size < c->nextSample)) {
        c->nextSample -= size;
        return false;
    }
    c->nextSample = nextSample();
    return true;
}

extern mspan emptymspan;
/* The next free object of span class spc, refilling the cache from its
 * mcentral when the cached span is full; *sp: the object's span. 0: out of
 * memory. */
uintptr_t mcache_nextFree(mcache *c, spanClass spc, mspan **sp);
/* Gives every cached span back to its mcentral and drops the tiny block. */
void      mcache_releaseAll(mcache *c);

/* ---- mcentral (mcentral.c) -------------------------------------------------- */

/* All spans of one span class that no mcache holds. partial have free slots,
 * full have none. Each has a swept and an unswept set, which trade roles
 * every GC cycle: the swept set is [sweepgen/2 % 2]. */
typedef struct mcentral {
    mutex      lock;
    spanClass  spanclass;
    mSpanList  partial[2];
    mSpanList  full[2];
} ALIGNED_CL mcentral;

mspan *mcentral_cacheSpan(mcentral *c);          /* NULL: out of memory */
void   mcentral_uncacheSpan(mcentral *c, mspan *s);
/* Puts a swept span that still has live objects on the right swept list
 * (the sweeper's way back; an mcache's too). */
void   mcentral_pushSwept(mcentral *c, mspan *s);

/* ---- mheap (mheap.c) ----------------------------------------------------------- */

/* The two page heaps (mheap.c): spans whose objects may hold pointers, and
 * noscan spans, in arenas of their own that page tracking never covers. */
enum { heapScan, heapNoscan, heapKinds };

typedef struct mheap {
    mutex       lock;
    pageAlloc   pages[heapKinds];
    uint32_t    sweepgen;        /* +2 per GC cycle; written with the world stopped */
    _Atomic(heapArena *) *arenas;/* [1 << arenaBits], reserved at init */
    uintptr_t  *allArenas;       /* arena indices, in order mapped (for the GC) */
    size_t      nallArenas, capAllArenas;
    struct arenaSpace { uintptr_t base, end; } curArena[heapKinds]; /* reserved, not yet grown into */
    fixalloc    spanalloc;       /* mspan records */
    fixalloc    cachealloc;      /* mcache records */
    fixalloc    bitsalloc;       /* out-of-line alloc+mark bits of spans with > 128 objects */
    uintptr_t   arenaLo, arenaHi;/* bounds of every arena ever mapped (the GC's quick filter) */
    mcentral    central[numSpanClasses];
} mheap;

extern mheap mheap_;

void   mheap_init(void);
/* A span of npages pages of class spanclass, fully initialised and published;
 * NULL if the OS refuses memory. Its needzero says whether its memory may
 * hold old data (callers clear what they hand out then). */
mspan *mheap_alloc(uintptr_t npages, spanClass spanclass);
void   heapWillWrite(uintptr_t base, size_t len); /* unprotect for the page tracker */
/* Returns an in-use span with no live objects to the page heap (the sweeper's
 * way back; needs allocCount == 0), counting its nfreed objects freed. */
void   mheap_freeSpan(mspan *s, uintptr_t nfreed);
/* Returns free pages to the OS, highest first, until about nbytes are (a
 * run may overshoot) or none is left resident; the bytes returned. */
uintptr_t mheap_scavenge(uintptr_t nbytes);
/* How far the heap's resident pages exceed the heap goal plus 10%, or the
 * runtime's resident memory 95% of the memory limit (the larger; 0: not). */
uint64_t mheap_scavengeGoalExcess(void);

/* The span holding p, or NULL if p's page was never in the heap. May be a
 * dead or reused span: check state and bounds (or use spanOfHeap). */
static inline mspan *spanOf(uintptr_t p)
{
    _Atomic(heapArena *) *arenas = mheap_.arenas;
    if (unlikely(!arenas || (p >> heapAddrBits) != 0))
        return NULL;
    heapArena *ha = atomic_load_explicit(&arenas[arenaIndex(p)], memory_order_acquire);
    if (!ha)
        return NULL;
    return atomic_load_explicit(&ha->spans[(p / pageSize) % pagesPerArena], memory_order_relaxed);
}
/* The in-use heap span whose objects include p, or NULL. */
static inline mspan *spanOfHeap(uintptr_t p)
{
    mspan *s = spanOf(p);
    if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != mSpanInUse ||
        p < s->startAddr || p >= s->limit)
        return NULL;
    return s;
}
/* The base of the heap object containing p (0 if none); *sp and *idx get its
 * span and slot index. Interior pointers count, as for the GC. */
uintptr_t findObject(uintptr_t p, mspan **sp, uintptr_t *idx);

/* Pointer map: is the heap word at addr (8-aligned, in an arena) a pointer? */
static inline bool heapBitsIsPointer(uintptr_t addr)
{
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(addr)], memory_order_acquire);
    uintptr_t w = (addr % heapArenaBytes) / 8;
    return (ha->heapBits[w / 64] >> (w % 64)) & 1;
}

/* ---- Statistics (mstats.c) -------------------------------------------------- */

/* The allocator's counters, in one place. Object counts live in each mcache
 * (flushed here when the mcache dies); page counts are guarded by
 * mheap_.lock; the *_sys counters are bytes mapped for each purpose, updated
 * with atomic adds (sysAlloc's stat argument). The GC fields are the GC's. */
typedef struct mstats {
    mutex       lock;            /* guards caches and the flushed counts */
    mcache     *caches;          /* live mcaches */
    uint64_t    nsmallalloc[numSizeClasses]; /* from dead mcaches */
    uint64_t    tinyAllocCount;
    _Atomic uint64_t largeAlloc, largeAllocCount;  /* bytes and objects */
    _Atomic uint64_t smallFreeCount[numSizeClasses]; /* kept by the sweeper */
    _Atomic uint64_t largeFree, largeFreeCount;

    uint64_t    heapInUse;       /* bytes in in-use spans      } changed atomically */
    uint64_t    heapFree;        /* free, resident pages       } under mheap_.lock */
    uint64_t    heapReleased;    /* free pages not resident    } */

    uint64_t    mspan_sys, mcache_sys, buckhash_sys, gcMiscSys, other_sys;

    uint64_t    next_gc;         /* heap goal */
    uint64_t    last_gc_unix, pause_total_ns;
    uint64_t    pause_ns[256], pause_end[256];
    uint32_t    numgc, numforcedgc;
    double      gc_cpu_fraction;
} mstats;

extern mstats memstats;

void mstats_registerCache(mcache *c);
/* Calls f(c) for every live mcache (memstats.lock held: allocator context). */
void mstats_forEachCache(void (*f)(mcache *c));
void mstats_unregisterCache(mcache *c);   /* folds its counters into memstats */
/* Counts one event in a counter that only the calling thread writes. */
static inline void mstats_bump(_Atomic uint64_t *ctr)
{
    atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* ---- malloc.c ----------------------------------------------------------------- */

enum { MALLOC_NOSCAN = 1, MALLOC_NOZERO = 2 };
/* Allocates size bytes. typ != NULL: precise object (typ->ptrmask NULL means
 * noscan). typ == NULL: noscan if flags has MALLOC_NOSCAN, else conservative.
 * MALLOC_NOZERO: the caller overwrites every byte (noscan only). Never NULL. */
void *mallocgc(size_t size, const gort_type *typ, unsigned flags);
NORETURN void throw_oom(size_t size);
void *sysGrowArray(void *a, size_t n, size_t *cap, size_t elem, size_t first, uint64_t *stat);

/* ---- The collector (mgc.c, mgcmark.c, mgcsweep.c, mgcpacer.c, roots.c) ------ */

/* Suspension-free regions (roots.c). The collector stops the world by
 * signalling every thread (Boehm-style), so a thread can be stopped at any
 * instruction, except inside these regions: there the signal only records
 * that a stop is pending, and the thread stops itself when it leaves the
 * outermost region. The allocator runs inside one, so a stopped thread never
 * holds an allocator lock or a half-made object, and the collector may take
 * those locks and read every span while the world is stopped. Nothing may
 * block inside a region on anything but another region's short critical
 * section. The same word carries "this thread should start a GC cycle",
 * acted on at the end of the region (never inside, where the cycle's own
 * stop would wait for this thread forever). */
/* Grey objects waiting to be scanned (mgcwork.c): a per-thread pair of
 * buffers in front of a global list. */
enum { workbufEntries = 254 };    /* 2 KiB buffers */
typedef struct workbuf {
    struct workbuf *next;
    uintptr_t nobj;
    uintptr_t obj[workbufEntries];  /* object addresses, or oblet addresses inside large ones */
} workbuf;
typedef struct gcWork {
    workbuf  *wbuf1, *wbuf2;
    uint64_t  bytesMarked;        /* folded into work.bytesMarked by gcw_dispose */
    uint64_t  scanWork;           /* bytes scanned since the owner last looked */
} gcWork;
void      gcw_put(gcWork *w, uintptr_t obj);
uintptr_t gcw_tryGet(gcWork *w);  /* 0: no work here nor on the global list */
bool      gcw_empty(const gcWork *w);
void      gcw_balance(gcWork *w);
void      gcw_dispose(gcWork *w);
bool      gcWorkAvailable(void);  /* the global list has a buffer */
void      gcWorkReset(void);

typedef struct gcLocal {
    volatile int32_t nosuspend;   /* region depth */
    union {                       /* two bytes, so the handler and the thread never */
        struct { volatile uint8_t suspend, start; };   /* write the same one */
        volatile uint16_t any;
    } pending;
    struct gcthread *thread;      /* this thread's record in the collector's list, or NULL */
    gcWork   gcw;                 /* this thread's grey objects (marking, shading) */
    int64_t  assistBytes;         /* allocation credit (>0) or debt (<0) of this cycle's assists */
    uint32_t assistCycle;         /* the cycle assistBytes belongs to */
} gcLocal;
extern __thread gcLocal gclocal_tls __attribute__((tls_model("initial-exec")));
/* This thread's gcLocal, found again at every use. A goroutine may resume
 * on another thread after any call that can switch it out (a park, a
 * yield), while the compiler takes the thread pointer as fixed for the
 * whole function and may reuse it: a plain `gclocal_tls.x` after such a
 * call could reach the old thread's block, and an update there races with
 * that thread's own. The asm is volatile, so every gclocal re-reads the
 * thread pointer, as getg does. */
#if defined(__x86_64__) || defined(__aarch64__)
static inline gcLocal *gclocal_get(void)
{
    gcLocal *l;
#if defined(__x86_64__)
    __asm__ volatile("movq %%fs:0, %0\n\t"
                     "addq gclocal_tls@gottpoff(%%rip), %0" : "=r"(l));
#else
    uintptr_t off;
    __asm__ volatile("mrs %0, tpidr_el0\n\t"
                     "adrp %1, :gottprel:gclocal_tls\n\t"
                     "ldr %1, [%1, #:gottprel_lo12:gclocal_tls]\n\t"
                     "add %0, %0, %1" : "=&r"(l), "=&r"(off));
#endif
    return l;
}
#else
NOINLINE gcLocal *gclocal_get(void);  /* roots.c: a call the compiler cannot see into */
#endif
#define gclocal (*gclocal_get())
extern _Atomic uint32_t gcStopping;   /* a stop of the world is under way */
void nosuspend_slow(void);            /* act on gclocal.pending */

/* TSan runs a signal handler only when the thread next calls into libc, so
 * a region's end also looks at the stop itself there. */
#if GORT_TSAN
#define nosuspendPending(l) ((l)->pending.any || atomic_load_explicit(&gcStopping, memory_order_relaxed))
#else
#define nosuspendPending(l) ((l)->pending.any)
#endif

/* A region belongs to its thread: nothing inside one may switch goroutines,
 * and asynchronous preemption leaves regions alone (signal.c), so the
 * gcLocal that nosuspend_enter returns stays the caller's until the
 * region ends. nosuspend_exit_on(l) ends it without finding l again. */
static inline gcLocal *nosuspend_enter(void)
{
    gcLocal *l = gclocal_get();
    l->nosuspend++;
    atomic_signal_fence(memory_order_seq_cst);
    return l;
}
static inline void nosuspend_exit_on(gcLocal *l)
{
    atomic_signal_fence(memory_order_seq_cst);
    if (--l->nosuspend == 0 && unlikely(nosuspendPending(l)))
        nosuspend_slow();
}
static inline void nosuspend_exit(void) { nosuspend_exit_on(gclocal_get()); }

/* Registers the calling thread with the collector (idempotent): its stack
 * is scanned and it is stopped with the world. Ms register in mstart;
 * foreign threads when they first allocate, block or call gort_gc. standin:
 * a foreign thread's stand-in g (deadlock.c), scanned with the thread. */
/* (declared in runtime.h) void gcRegisterThread(g *standin); */

/* The allocator's hooks into the pacer (mgcpacer.c). heapLive counts bytes in
 * spans handed to mcaches and in large objects since the last mark. */
extern _Atomic uint64_t gcHeapLive;
extern _Atomic uint64_t gcTrigger;        /* start a cycle when heapLive reaches it */
static inline void gcAddHeapLive(int64_t d)
{
    uint64_t v = atomic_fetch_add_explicit(&gcHeapLive, (uint64_t)d, memory_order_relaxed) + (uint64_t)d;
    if (d > 0 && unlikely(v >= atomic_load_explicit(&gcTrigger, memory_order_relaxed)))
        gclocal.pending.start = 1;
}

/* The cycle (mgc.c). forced: gort_gc, run even below the trigger. */
void gcStart(bool forced);
void gcinit(void);                        /* reads GORT_GC; idempotent */
/* Runs fn(arg) with the world stopped and no cycle under way (mgcleak.c);
 * fn must not allocate, lock or call anything that may wait. */
void gcRunStopped(void (*fn)(void *), void *arg);
/* Runs fn(arg) between cycles, no cycle starting until it returns (a
 * cycle under way is helped to its end first): keep fn short. */
void gcRunBetweenCycles(void (*fn)(void *), void *arg);
/* The same if no cycle is under way or starting right now; false, fn not
 * run, otherwise. Never waits. */
bool gcTryBetweenCycles(void (*fn)(void *), void *arg);
/* Tests only: called by a stack job with the G it took from allgs, before
 * it reads the G. */
extern void (*gcTestStackJobGap)(g *gp);

/* What one cycle measured and needs (mgc.c, filled by mgcmark.c and roots.c). */
typedef struct gcWorkState {
    _Atomic uint64_t bytesMarked; /* bytes of marked objects (gcw_dispose adds) */
    uint64_t stackBytes;      /* bytes of goroutine stack scanned */
    uint64_t globalBytes;     /* bytes of data and bss scanned */
    bool     checkmark;       /* marking into the checkmark bits */
    bool     sidemark;        /* ... for the leak pass: no comparison with the cycle's */
    bool     concurrent;      /* this cycle marks beside the program */
    bool     pageTracking;    /* ... with the kernel's page tracking (mgcconc.c) */
    bool     checkmarkLenient;/* the words being scanned may be stale (see mgcmark.c) */
    uint64_t checkmarkMissed; /* objects reachable but not marked by the cycle */
    uint32_t stacksInPause;   /* goroutine stacks scanned in the first pause */
    _Atomic uint32_t stacksLate; /* ... beside the program, or in the final pause */
} gcWorkState;
extern gcWorkState work;

/* Stopping the world by signal (roots.c); the caller is a registered thread
 * outside any suspension-free region. */
void gcSignalInit(void);
void stopTheWorldGC(uintptr_t selfsp);
void startTheWorldGC(void);
void gcSnapshotDataRoots(void);           /* before stopping */
bool gcDataRootsStale(void);              /* stopped: a dlopen finished since */
void gcMarkRoots(void);                   /* stopped */
/* The same, without the Gs for which skip(gp) is true; gcScanG scans one
 * such G later (its struct and stacks). */
void gcMarkRootsExcept(bool (*skip)(g *gp));
void gcScanG(g *gp);
/* A G no thread runs on (its saved sp is right): its struct and stacks. */
void gcScanParkedG(g *gp);
/* Stopped: the roots as gcMarkRoots, but of the Gs only those a thread is
 * on or about to switch to, each marked scanned in generation gen. */
void gcMarkRootsRunning(uint32_t gen);

/* The collector's state (mgc.c). gcphase: _GCoff between cycles, _GCmark
 * while marking runs beside the program, _GCmarktermination in the final
 * stop. Both flags below change only with the world stopped, and are read
 * inside suspension-free regions, so a region sees one value throughout. */
enum { _GCoff, _GCmark, _GCmarktermination };
extern _Atomic uint32_t gcphase;
extern _Atomic uint32_t gcBlackenEnabled;    /* allocate black, assist (mark runs concurrently) */
extern _Atomic uint32_t writeBarrierEnabled; /* shade overwritten pointers (mbarrier.c) */
extern _Atomic uint32_t gcCycles;            /* completed cycles */
enum gcMode { gcModeConcurrent, gcModeBarrier, gcModeSTW };
extern enum gcMode gcmode;                   /* as asked by GORT_GCMODE */
extern _Atomic uint64_t gcModeFallbacks;     /* cycles marked stw although concurrent was asked */
bool gcConcurrentMark(void);                 /* cycles mark beside the program in this mode */
/* Charges an allocation of size bytes to the calling thread's assist
 * account and, in debt, scans to pay for it (mgcmark.c; outside regions). */
void gcAssistCharge(size_t size);
extern _Atomic int64_t gcBgScanCredit;       /* scan work the workers did, for assists to take */
/* Tries to end the concurrent mark (mgc.c); true once it has ended. */
bool gcMarkDone(void);

/* Marking (mgcmark.c). */
void scanblock(uintptr_t b, uintptr_t n); /* conservative: every word may be a pointer */
/* Scans grey objects of the calling thread's gcWork (and the global list)
 * until none are left or `budget` bytes were scanned (budget 0: no limit),
 * in short suspension-free units; stops early when gcphase leaves _GCmark
 * unless stw. Returns the bytes scanned. */
uint64_t gcDrain(uint64_t budget, bool stw);
extern _Atomic int32_t gcDrainers;  /* threads inside gcDrain */
void gcClearCheckmarks(void);
/* Barrier mode's goroutine stacks, once per cycle (mgcmark.c). Start: in
 * the first pause, the roots but the stacks of Gs no thread is on. Jobs:
 * scans unclaimed stacks, beside the program. Finish: in the final pause,
 * scans any stack still unscanned and ends the scheme. */
void gcMarkRootsStart(void);
void gcMarkStackJobs(void);
bool gcStackJobsLeft(void);
void gcStackScanFinish(void);
/* Allocate-black: marks a new object (inside the allocation's region). */
void gcmarknewobject(mspan *s, uintptr_t obj);
/* Greys the heap object p points into, if any, onto the calling thread's
 * gcWork (the write barrier's shade). Inside a region. */
void shade(uintptr_t p);
/* Scans [b, end) where the heap bitmap says a word may hold a pointer,
 * greying onto gcw (a part of an object; inside a region). */
void scanrange(uintptr_t b, uintptr_t end, gcWork *gcw);
/* scanrange for a re-scan within one snapGranuleBytes granule with a
 * snapshot of its words (mgcconc.c): greys only the words that differ from
 * their snapshot word, and records them there; returns how many of those
 * lay in the heap's range. */
enum { snapGranuleBytes = 4096 };
size_t scanrangeSnap(uintptr_t b, uintptr_t end, uintptr_t *snap, gcWork *gcw);
/* GORT_GCMODE=concurrent with the kernel's page tracking (mgcconc.c).
 * gcconcStart: before a cycle's first stop, arm the tracking; false: it is
 * unavailable (gcwp_why says why) and the cycle marks with the world
 * stopped. gcconcPreclean: the mark found no grey object; re-scan what was
 * written meanwhile, concurrently, until little is. gcconcFinalRescan: world
 * stopped, before the last drain: re-scan what was written, and the roots.
 * gcconcStats: precleaning passes and written pages collected, all cycles. */
bool gcconcStart(void);
void gcconcPreclean(void);
void gcconcFinalRescan(void);
void gcconcStats(uint64_t *passes, uint64_t *pages);
extern bool gcTestSkipRescan;             /* tests: collect, but re-scan nothing */
extern void (*gcTestBeforePreclean)(void);/* tests: called as precleaning begins */
extern void (*gcTestSuspendGap)(void);   /* tests: called inside suspendHere's reads */
extern bool (*gcTestLoseSuspendSignal)(void); /* tests: true makes the stop signal's handler do nothing */
extern void (*gcTestCycleEndGap)(void);  /* tests: called after a cycle's restart, before its gctrace line */
/* Flushes every registered thread's gcWork to the global list (world stopped). */
void gcFlushAllWork(void);
/* Clears n bytes of GC memory through the write barrier (mbarrier.c). */
void memclrHasPointers(void *dst, size_t n);

/* A copy whose common sizes the compiler turns into plain moves (a
 * constant-size memmove); other sizes call memmove. */
static inline void memmove_sized(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 8:  memmove(dst, src, 8); break;
    case 16: memmove(dst, src, 16); break;
    case 4:  memmove(dst, src, 4); break;
    default: memmove(dst, src, n); break;
    }
}
static inline void memclr_sized(void *dst, size_t n)
{
    switch (n) {
    case 8:  memset(dst, 0, 8); break;
    case 16: memset(dst, 0, 16); break;
    case 4:  memset(dst, 0, 4); break;
    default: memset(dst, 0, n); break;
    }
}

/* Is the write barrier on? Read only inside a region, where it cannot
 * change (it flips with the world stopped). */
static inline bool writeBarrierOn(void)
{
    return unlikely(atomic_load_explicit(&writeBarrierEnabled, memory_order_relaxed) != 0);
}

/* The runtime's copies into memory that may hold GC pointers (Go's
 * typedmemmove, typedmemclr): inline when the barrier is off. The check
 * and the copy form one region, so marking cannot begin between them; big
 * copies take the chunked path, which keeps regions short. */
enum { inlineBarrierCopy = 4096 };
static inline void typedmemmove(void *dst, const void *src, size_t n)
{
    if (likely(n <= inlineBarrierCopy)) {
        gcLocal *l = nosuspend_enter();
        if (!writeBarrierOn()) {
            memmove_sized(dst, src, n);
            nosuspend_exit_on(l);
            return;
        }
        nosuspend_exit_on(l);
    }
    gort_memmove(dst, src, n);
}
static inline void typedmemclr(void *dst, size_t n)
{
    if (likely(n <= inlineBarrierCopy)) {
        gcLocal *l = nosuspend_enter();
        if (!writeBarrierOn()) {
            memclr_sized(dst, n);
            nosuspend_exit_on(l);
            return;
        }
        nosuspend_exit_on(l);
    }
    memclrHasPointers(dst, n);
}
/* Time spent in assists, for gctrace's CPU figures (mgc.c). */
void gcAddAssistTime(int64_t ns);
/* ns of CPU the collector used so far: ended cycles' (pauses times the Ps,
 * assists, background workers) and the current cycle's assists and workers
 * (mgc.c). It can fall back a little as a cycle ends. */
int64_t gcCPUTimeNow(void);
/* The background workers' part of it, which runs on threads of its own
 * rather than on Ps (mgc.c). */
int64_t gcBgCPUTimeNow(void);

/* The GC CPU limiter (mgclimit.c): sysmon updates it; while it is on,
 * allocations skip their assists. */
void gcCPULimiterUpdate(int64_t now);
bool gcCPULimiting(void);
uint64_t gcCPULimiterEnabledCount(void);  /* times it went on (tests) */
int32_t gcCPULimiterFullness(void);       /* the bucket's fill, per mille (tests) */
void gcCPULimiterSkippedAssist(void);    /* an allocation owed an assist and skipped it */
uint64_t gcCPULimiterSkippedAssists(void);  /* how many did (tests) */
bool gcCPULimiterHasRoomFor(int64_t cpu); /* may a stopped mark costing cpu ns start? */
void gcCPULimiterPostponedStart(void);   /* a stopped mark was due and did not start */
uint64_t gcCPULimiterPostponedStarts(void); /* how many were (tests) */

/* Side marking, for the goroutine-leak pass (mgcleak.c): with the world
 * stopped and no cycle under way, marks into the checkmark bits, leaving the
 * cycle's mark bits and `work` as they were. Between Begin and End: the
 * roots above, scanblock and gcSideDrain mark; gcSideMarked(p) is true if
 * p points into a side-marked object or into no heap object at all. */
void gcSideMarkBegin(void);
void gcSideDrain(void);
bool gcSideMarked(uintptr_t p);
void gcSideMarkEnd(void);

/* Sweeping (mgcsweep.c). */
/* Sweeps s, which the caller took off every list with s->sweepgen == sg-2.
 * Returns true if s still holds objects and was pushed on its mcentral's
 * swept lists (unless preserve: then the caller keeps it, swept). false:
 * s was freed to the heap. */
bool   mspan_sweep(mspan *s, bool preserve);
/* Takes one unswept span of c, sweeps it and returns it if it has a free
 * slot (the lazy sweep of mcentral_cacheSpan); NULL when none did within a
 * small budget. */
mspan *mcentral_sweepForAlloc(mcentral *c);
/* Sweeps one span of any class; false when there was none left. */
bool   sweepone(void);
/* Sweeps every span left from the last cycle, waiting for sweeps under way. */
void   finishsweep(void);
/* World stopped, sweepgen just moved: pace the proportional sweep. */
void   gcSweepPace(void);
/* Wakes the background sweeper (started at the first call). */
void   gcSweepStart(void);
/* An mcache takes a span of spanBytes: sweep in proportion first (Go's
 * deductSweepCredit). */
void   deductSweepCredit(uintptr_t spanBytes);
extern _Atomic uint32_t sweepActive;     /* sweeps in progress */

/* The heap goal after a cycle that marked `marked` bytes (mgcpacer.c). */
void   gcControllerCommit(uint64_t marked, uint64_t stacks, uint64_t globals);
extern int32_t gcPercent;                /* GOGC; < 0: off (written under pacerLock,
                                            atomically: sysmon reads it unlocked) */
extern _Atomic int64_t gcMemoryLimit;    /* GOMEMLIMIT; INT64_MAX: none */
/* Resident memory outside the heap's pages: records, GC metadata, buckets,
 * two pages per goroutine stack (stack.c); the heap's resident pages, in
 * use and free (mstats.c). */
uint64_t nonHeapSys(void);
uint64_t heapResidentBytes(void);
void   gcControllerInit(void);           /* reads GORT_GC */
/* Bytes of allocation that one byte of scan work pays for, for a cycle
 * starting at heapLive (Go's assistBytesPerWork). */
double gcAssistRatio(uint64_t heapLive);

#endif /* GORT_MALLOC_H */
