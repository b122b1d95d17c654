/*
 * mpagealloc.c — the page allocator (Go: mpagealloc.go, mpagealloc_64bit.go,
 * mpallocbits.go).
 *
 * The mheap asks for "npages contiguous free 8 KiB pages" and gives pages
 * back; this file answers quickly, always with the lowest suitable address
 * (address-ordered first fit, which keeps the heap compact and lets mheap
 * know that pages above an arena's high-water mark are still zero).
 *
 * Free pages are a bitmap, 1 bit per page, split into chunks of 512 pages
 * (4 MiB). Freeing is clearing bits, so neighbouring free runs coalesce by
 * themselves. To avoid scanning bitmaps, a radix tree summarises them. Each
 * summary describes a region with three numbers:
 *
 *     start: free pages at the region's beginning
 *     max:   the longest free run anywhere inside
 *     end:   free pages at the region's end
 *
 *   level 0   16 GiB regions   (2^14 entries cover the 48-bit address space)
 *   level 1    2 GiB           each entry summarises 8 entries of the next level
 *   level 2  256 MiB
 *   level 3   32 MiB
 *   level 4    4 MiB = one chunk, summarised from its bitmap
 *
 * A search walks down from level 0: an entry whose max fits npages is worth
 * descending into; a run can also straddle entries (one entry's end plus the
 * next ones' starts), which is found without descending at all. Each level
 * looks at 8 summaries (one cache line), so finding a run costs about
 * 5 × 8 summary reads plus one bitmap scan, whatever the heap's size.
 *
 * Each level is one flat array covering the whole address space, reserved
 * (MAP_NORESERVE) at init: only the pages for regions the heap actually uses
 * are ever touched. The chunk bitmaps are a two-level sparse array, filled in
 * as the heap grows. searchAddr remembers that every page below it is in use,
 * so the common allocation scans one chunk from there and is done.
 *
 * Next to each chunk's page bitmap is a "scavenged" bitmap: pages the OS does
 * not back. Fresh heap memory starts scavenged; allocating such pages tells
 * the mheap how many bytes stop being "released" (heap_released). The
 * scavenger (mheap_scavenge) returns free pages to the OS: it takes a run of
 * free, unscavenged pages as if allocating it (so nobody allocates it while
 * the lock is dropped for madvise), then frees it with its scavenged bits set.
 * A scavenged page reads as zero, but the mheap does not rely on it: its
 * zeroing follows zeroedBase alone, and an OS that ignores the advice (qemu-user
 * does) leaves old bytes behind.
 *
 * All of it runs under mheap_.lock.
 */
#include "malloc.h"

#include <string.h>

enum { summaryPageBytes = 4096 };     /* granularity at which summary memory is counted */

static unsigned levelBits(int l) { return l == 0 ? summaryL0Bits : summaryLevelBits; }
/* An address shifted right by levelShift(l) is its entry index at level l. */
static unsigned levelShift(int l) { return heapAddrBits - summaryL0Bits - l * summaryLevelBits; }
/* log2 of the pages one entry of level l covers. */
static unsigned levelLogPages(int l) { return levelShift(l) - pageShift; }

static uintptr_t chunkIndex(uintptr_t p) { return p >> logPallocChunkBytes; }
static uintptr_t chunkBase(uintptr_t ci) { return ci << logPallocChunkBytes; }
static unsigned chunkPageIndex(uintptr_t p) { return (unsigned)((p % pallocChunkBytes) / pageSize); }
static pallocSum freeChunkSum(void) { return packPallocSum(pallocChunkPages, pallocChunkPages, pallocChunkPages); }

pallocData *pageAlloc_chunkOf(pageAlloc *p, uintptr_t ci)
{
    return &p->chunks[ci >> pallocChunksL2Bits][ci & ((1u << pallocChunksL2Bits) - 1)];
}

/* ---- Bitmaps of one chunk ---------------------------------------------------- */

/* Sets (value) or clears bits [i, i+n) of b; returns how many were set before. */
static unsigned writeRange(uint64_t *b, unsigned i, unsigned n, bool value)
{
    unsigned was = 0;
    while (n > 0) {
        unsigned lo = i % 64, cnt = 64 - lo < n ? 64 - lo : n;
        uint64_t mask = (cnt == 64 ? ~0ULL : ((1ULL << cnt) - 1)) << lo;
        was += (unsigned)__builtin_popcountll(b[i / 64] & mask);
        b[i / 64] = value ? b[i / 64] | mask : b[i / 64] & ~mask;
        i += cnt;
        n -= cnt;
    }
    return was;
}

/* Length of the longest run of 0 bits in x: each step shortens every run of
 * 1s in ~x by one. */
static unsigned maxZeroRun64(uint64_t x)
{
    unsigned n = 0;
    for (uint64_t z = ~x; z; z &= z >> 1)
        n++;
    return n;
}

pallocSum pallocBits_summarize(const uint64_t *b)
{
    unsigned start = 0, max = 0, cur = 0;
    bool sawUsed = false;
    for (int i = 0; i < pallocChunkPages / 64; i++) {
        uint64_t x = b[i];
        if (x == 0) {
            cur += 64;
            continue;
        }
        unsigned t = (unsigned)__builtin_ctzll(x), l = (unsigned)__builtin_clzll(x);
        cur += t;                       /* the run that ends in this word */
        if (!sawUsed)
            start = cur;
        sawUsed = true;
        if (cur > max)
            max = cur;
        /* Runs strictly inside the word, between its lowest and highest 1. */
        unsigned inner = 64 - t - l;
        if (inner > max + 2) {
            uint64_t y = (x >> t) | (inner == 64 ? 0 : ~0ULL << inner);
            unsigned r = maxZeroRun64(y);
            if (r > max)
                max = r;
        }
        cur = l;                        /* the run that may continue in the next word */
    }
    if (!sawUsed)
        return freeChunkSum();
    if (cur > max)
        max = cur;
    return packPallocSum(start, max, cur);
}

/* Index of the first run of n consecutive 1 bits in c, or 64. Each step
 * keeps only the bits that start a long enough run, doubling the length
 * checked per step (runs of k+1 ones combine into runs of up to 2k+2). */
static unsigned findBitRange64(uint64_t c, unsigned n)
{
    for (unsigned have = 1, want = n; want > have && c;) {
        unsigned s = want - have < have ? want - have : have;
        c &= c >> s;
        have += s;
    }
    return c ? (unsigned)__builtin_ctzll(c) : 64;
}

unsigned pallocBits_find(const uint64_t *b, uintptr_t npages, unsigned searchIdx, unsigned *firstFree)
{
    uintptr_t size = 0;          /* free pages in the run that reaches the current word */
    unsigned start = 0;
    *firstFree = ~0u;
    for (unsigned i = searchIdx / 64; i < pallocChunkPages / 64; i++) {
        uint64_t x = b[i];
        if (x == ~0ULL) {
            size = 0;
            continue;
        }
        if (*firstFree == ~0u)
            *firstFree = i * 64 + (unsigned)__builtin_ctzll(~x);
        if (x == 0) {
            if (size == 0)
                start = i * 64;
            size += 64;
            if (size >= npages)
                return start;
            continue;
        }
        if (size + (unsigned)__builtin_ctzll(x) >= npages)
            return size ? start : i * 64;
        if (npages <= 64) {
            unsigned j = findBitRange64(~x, (unsigned)npages);
            if (j < 64)
                return i * 64 + j;
        }
        size = (unsigned)__builtin_clzll(x);
        start = i * 64 + 64 - (unsigned)size;
    }
    return ~0u;
}

/* ---- The radix tree ------------------------------------------------------------ */

/* One summary for n consecutive summaries that each cover 2^logPages pages. */
static pallocSum mergeSummaries(const pallocSum *sums, unsigned n, unsigned logPages)
{
    unsigned start = pallocSum_start(sums[0]), max = pallocSum_max(sums[0]), end = pallocSum_end(sums[0]);
    const unsigned whole = 1u << logPages;
    for (unsigned i = 1; i < n; i++) {
        unsigned si = pallocSum_start(sums[i]), mi = pallocSum_max(sums[i]), ei = pallocSum_end(sums[i]);
        if (start == i * whole)        /* everything so far is free: the start grows */
            start += si;
        if (end + si > max)            /* a run across the boundary */
            max = end + si;
        if (mi > max)
            max = mi;
        end = ei == whole ? end + whole : ei;
    }
    return packPallocSum(start, max, end);
}

/* Recomputes the summaries over [base, base+npages) after its bitmap changed
 * (the range was just allocated if alloc, else freed), leaf first, then up
 * the tree until a level does not change. */
static void pageAlloc_update(pageAlloc *p, uintptr_t base, uintptr_t npages, bool alloc)
{
    uintptr_t last = base + npages * pageSize - 1;
    uintptr_t sc = chunkIndex(base), ec = chunkIndex(last);
    pallocSum *leaf = p->summary[summaryLevels - 1];
    for (uintptr_t c = sc; c <= ec; c++) {
        if (c > sc && c < ec)          /* chunks in the middle changed wholesale */
            leaf[c] = alloc ? 0 : freeChunkSum();
        else
            leaf[c] = pallocBits_summarize(pageAlloc_chunkOf(p, c)->pallocBits);
    }
    for (int l = summaryLevels - 2; l >= 0; l--) {
        bool changed = false;
        unsigned cb = levelBits(l + 1);
        for (uintptr_t i = base >> levelShift(l); i <= last >> levelShift(l); i++) {
            pallocSum sum = mergeSummaries(&p->summary[l + 1][i << cb], 1u << cb, levelLogPages(l + 1));
            if (sum != p->summary[l][i]) {
                p->summary[l][i] = sum;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
}

/* Counts (once) the pages of summary memory that [base, limit) makes us touch. */
static void pageAlloc_accountSummaries(pageAlloc *p, uintptr_t base, uintptr_t limit)
{
    for (int l = 0; l < summaryLevels; l++) {
        uintptr_t lo = (base >> levelShift(l)) * sizeof(pallocSum) / summaryPageBytes;
        uintptr_t hi = ((limit - 1) >> levelShift(l)) * sizeof(pallocSum) / summaryPageBytes;
        for (uintptr_t pg = lo; pg <= hi; pg++) {
            uint64_t bit = 1ULL << (pg % 64);
            if (!(p->summaryMapped[l][pg / 64] & bit)) {
                p->summaryMapped[l][pg / 64] |= bit;
                __atomic_fetch_add(p->sysStat, summaryPageBytes, __ATOMIC_RELAXED);
            }
        }
    }
}

void pageAlloc_init(pageAlloc *p, uint64_t *sysStat)
{
    memset(p, 0, sizeof *p);
    p->sysStat = sysStat;
    p->searchAddr = UINTPTR_MAX;       /* no free memory yet */
    for (int l = 0; l < summaryLevels; l++) {
        size_t bytes = ((size_t)1 << (heapAddrBits - levelShift(l))) * sizeof(pallocSum);
        size_t pages = bytes / summaryPageBytes;
        p->summary[l] = sysReserve(bytes);
        p->summaryMapped[l] = sysAlloc((pages + 63) / 64 * 8, sysStat);
        if (!p->summary[l] || !p->summaryMapped[l])
            throw("pageAlloc: cannot reserve %zu bytes of page summaries", bytes);
    }
}

void pageAlloc_grow(pageAlloc *p, uintptr_t base, uintptr_t size)
{
    GORT_ASSERT(base % pallocChunkBytes == 0 && size % pallocChunkBytes == 0);
    uintptr_t limit = base + size;
    pageAlloc_accountSummaries(p, base, limit);
    if (p->end == 0 || chunkIndex(base) < p->start)
        p->start = chunkIndex(base);
    if (chunkIndex(limit) > p->end)
        p->end = chunkIndex(limit);
    if (base < p->searchAddr)
        p->searchAddr = base;
    for (uintptr_t c = chunkIndex(base); c < chunkIndex(limit); c++) {
        pallocData **l2 = &p->chunks[c >> pallocChunksL2Bits];
        if (!*l2) {
            *l2 = sysAlloc(sizeof(pallocData) << pallocChunksL2Bits, p->sysStat);
            if (!*l2)
                throw("pageAlloc: out of memory");
        }
        writeRange(pageAlloc_chunkOf(p, c)->scavenged, 0, pallocChunkPages, true);
    }
    pageAlloc_update(p, base, size / pageSize, false);
}

/* Marks [base, base+npages) in use; returns how many of its bytes were scavenged. */
static uintptr_t pageAlloc_allocRange(pageAlloc *p, uintptr_t base, uintptr_t npages)
{
    uintptr_t last = base + npages * pageSize - 1, scav = 0;
    for (uintptr_t c = chunkIndex(base); c <= chunkIndex(last); c++) {
        unsigned lo = c == chunkIndex(base) ? chunkPageIndex(base) : 0;
        unsigned hi = c == chunkIndex(last) ? chunkPageIndex(last) + 1 : pallocChunkPages;
        pallocData *d = pageAlloc_chunkOf(p, c);
        writeRange(d->pallocBits, lo, hi - lo, true);
        scav += writeRange(d->scavenged, lo, hi - lo, false);
    }
    pageAlloc_update(p, base, npages, true);
    return scav * pageSize;
}

/* Walks the radix tree for the first run of npages free pages; 0 if none. */
static uintptr_t pageAlloc_find(pageAlloc *p, uintptr_t npages)
{
    uintptr_t i = 0;                   /* first entry of the block examined at this level */
    for (int l = 0; l < summaryLevels; l++) {
        unsigned logMaxPages = levelLogPages(l);
        uintptr_t blockMask = ((uintptr_t)1 << levelBits(l)) - 1, entries = blockMask + 1;
        i <<= levelBits(l);
        if (l == 0)                    /* the root covers everything: stop at the heap's end */
            entries = ((p->end - 1) >> (levelShift(0) - logPallocChunkBytes)) + 1;
        uintptr_t searchIdx = p->searchAddr >> levelShift(l), j = 0;
        if ((searchIdx & ~blockMask) == i)
            j = searchIdx & blockMask; /* entries before searchAddr are full */

        uintptr_t base = 0, size = 0;  /* a run (in pages, relative to entry i) being built */
        bool descend = false;
        for (; j < entries; j++) {
            pallocSum sum = p->summary[l][i + j];
            if (sum == 0) {
                size = 0;
                continue;
            }
            uintptr_t s = pallocSum_start(sum);
            if (size + s >= npages) {  /* the run reaches far enough into entry j */
                if (size == 0)
                    base = j << logMaxPages;
                size += s;
                break;
            }
            if (pallocSum_max(sum) >= npages) {
                i += j;
                descend = true;
                break;
            }
            if (size == 0 || s < ((uintptr_t)1 << logMaxPages)) {
                size = pallocSum_end(sum);     /* a new run starts at the entry's end */
                base = ((j + 1) << logMaxPages) - size;
                continue;
            }
            size += (uintptr_t)1 << logMaxPages;  /* a wholly free entry extends the run */
        }
        if (descend)
            continue;
        if (size >= npages)
            return (i << levelShift(l)) + base * pageSize;
        if (l == 0)
            return 0;
        throw("pageAlloc: bad summary data at level %d", l);
    }
    unsigned firstFree, j = pallocBits_find(pageAlloc_chunkOf(p, i)->pallocBits, npages, 0, &firstFree);
    if (j == ~0u)
        throw("pageAlloc: bad summary data in chunk %#lx", (unsigned long)i);
    return chunkBase(i) + (uintptr_t)j * pageSize;
}

uintptr_t pageAlloc_alloc(pageAlloc *p, uintptr_t npages, uintptr_t *scav)
{
    if (chunkIndex(p->searchAddr) >= p->end)
        return 0;                      /* everything below the heap's end is in use */
    uintptr_t addr, first = p->searchAddr;
    uintptr_t ci = chunkIndex(first);
    unsigned si = chunkPageIndex(first);
    if (pallocChunkPages - si >= npages &&
        pallocSum_max(p->summary[summaryLevels - 1][ci]) >= npages) {
        /* Fast path: the chunk at searchAddr has room. */
        unsigned firstFree, j = pallocBits_find(pageAlloc_chunkOf(p, ci)->pallocBits, npages, si, &firstFree);
        if (j == ~0u)
            throw("pageAlloc: bad summary data in chunk %#lx", (unsigned long)ci);
        addr = chunkBase(ci) + (uintptr_t)j * pageSize;
        first = chunkBase(ci) + (uintptr_t)firstFree * pageSize;
    } else {
        addr = pageAlloc_find(p, npages);
        if (!addr) {
            if (npages == 1)
                p->searchAddr = UINTPTR_MAX;   /* not a single free page */
            return 0;
        }
    }
    *scav = pageAlloc_allocRange(p, addr, npages);
    /* Pages below first were in use; if the run began there, so are its pages. */
    if (first == addr)
        first = addr + npages * pageSize;
    if (first > p->searchAddr)
        p->searchAddr = first;
    return addr;
}

void pageAlloc_free(pageAlloc *p, uintptr_t base, uintptr_t npages)
{
    if (base < p->searchAddr)
        p->searchAddr = base;
    uintptr_t last = base + npages * pageSize - 1;
    for (uintptr_t c = chunkIndex(base); c <= chunkIndex(last); c++) {
        unsigned lo = c == chunkIndex(base) ? chunkPageIndex(base) : 0;
        unsigned hi = c == chunkIndex(last) ? chunkPageIndex(last) + 1 : pallocChunkPages;
        writeRange(pageAlloc_chunkOf(p, c)->pallocBits, lo, hi - lo, false);
    }
    pageAlloc_update(p, base, npages, false);
}

/* ---- Scavenging ------------------------------------------------------------------ */

/* Takes the highest run of free pages the OS still backs in chunk ci, at
 * most maxPages long, marking it in use. Its base, and *npages; 0 if there
 * is none (also for a chunk never grown into: its summary says no page is free). */
uintptr_t pageAlloc_takeUnscavenged(pageAlloc *p, uintptr_t ci, uintptr_t maxPages, uintptr_t *npages)
{
    if (!p->chunks[ci >> pallocChunksL2Bits] || pallocSum_max(p->summary[summaryLevels - 1][ci]) == 0)
        return 0;
    const pallocData *d = pageAlloc_chunkOf(p, ci);
    int w = pallocChunkPages / 64 - 1;
    while (w >= 0 && (d->pallocBits[w] | d->scavenged[w]) == ~0ULL)
        w--;
    if (w < 0)
        return 0;
    unsigned top = (unsigned)w * 64 + 63 - (unsigned)__builtin_clzll(~(d->pallocBits[w] | d->scavenged[w]));
    unsigned lo = top;
    while (lo > 0 && top - lo + 1 < maxPages &&
           !(((d->pallocBits[(lo - 1) / 64] | d->scavenged[(lo - 1) / 64]) >> ((lo - 1) % 64)) & 1))
        lo--;
    uintptr_t base = chunkBase(ci) + (uintptr_t)lo * pageSize;
    *npages = top - lo + 1;
    pageAlloc_allocRange(p, base, *npages);
    return base;
}

/* Frees a run taken by pageAlloc_takeUnscavenged, now returned to the OS. */
void pageAlloc_freeScavenged(pageAlloc *p, uintptr_t base, uintptr_t npages)
{
    writeRange(pageAlloc_chunkOf(p, chunkIndex(base))->scavenged, chunkPageIndex(base), (unsigned)npages, true);
    pageAlloc_free(p, base, npages);
}
