/*
 * mgcconc.c — GORT_GCMODE=concurrent, the default: concurrent marking that
 * is correct for plain C pointer stores, with the MMU as the card table (no
 * Go file: Go's compiler puts a write barrier on every pointer store, a C
 * compiler puts none. This is Boehm, Demers and Shenker's "mostly parallel"
 * collector, PLDI 1991, on the kernel's page tracking of mgcwp.c).
 *
 * The cycle, as mgc.c runs it in this mode:
 *
 *   arm           (world running) gcwp_arm write-protects every page of
 *                 the scan arenas (noscan spans have arenas of their own,
 *                 never tracked: no store into them makes an edge)
 *                 that is not (the pages written since the last cycle's
 *                 final collect); tracking stays armed between cycles, so
 *                 this walk protects only those
 *   first pause   the roots are greyed and allocate-black turns on, as in
 *                 barrier mode; no write barrier
 *   mark          (concurrent) workers and assists drain the grey objects
 *   precleaning   (concurrent) when no grey object is left: collect the
 *                 pages written since the last collect (which protects them
 *                 again), re-scan the words of the MARKED objects on them,
 *                 drain what that greyed; repeat while the written set
 *                 shrinks and is not small
 *   final pause   collect once more (leaving the pages writable) and
 *                 re-scan; grey the roots again: every goroutine stack,
 *                 every thread's stack and registers (from its signal
 *                 frame), the data and bss of every loaded object (listed
 *                 again, for a dlopen during the mark), registered ranges,
 *                 the runtime's G, M and P structures; drain to the end
 *                 with the world stopped; mark termination
 *
 * Why nothing reachable is left white (Boehm-Demers-Shenker's argument).
 * Take an object x reachable when the final pause drains its last grey
 * object, through a path r -> o1 -> ... -> x from a root r. If x is
 * unmarked, some edge of the path goes from a marked object a to an unmarked
 * object b (r itself is re-scanned in the final pause, so o1 is marked). a
 * was scanned once, when it was taken off a work queue, or allocated black
 * and never scanned. In either case the word of a that now points to b was
 * written after that scan (or after the allocation), else the scan would
 * have greyed b. That write made a's page "written" (the kernel records the
 * first write to a protected page, and within a cycle a page is protected
 * again only by a collect that reports it; the arm, which protects without
 * reporting, comes before the cycle scans anything). So a collect after the
 * write reported a's page,
 * and the re-scan that followed that collect read the word — unless the
 * word was written again after the collect, in which case a later collect
 * reports the page again. The final collect runs with the world stopped:
 * no write follows it, so the last write to that word was re-scanned, and
 * b was greyed. A contradiction: x is marked.
 *
 * The races, one by one:
 *   - a write between a collect and the re-scan of its page: the collect
 *     protected the page again before the re-scan; the write faults, the
 *     kernel marks the page written, the next collect (at the latest the
 *     final one) reports it. A write racing the collect itself is reported
 *     by that collect or the next (mgcwp.c explains the page-table lock).
 *   - a pointer moved from a stack (or a register) into a scanned object:
 *     the object's page is written, so it is re-scanned. Moved from an
 *     object into a stack or a register, the old slot then overwritten:
 *     every stack and register is scanned again in the final pause.
 *   - globals, registered ranges and the runtime's G, M and P structures
 *     (libc memory) are not tracked by the kernel: they are roots, scanned
 *     again in the final pause. So is any malloc memory the program
 *     registered with gort_add_roots.
 *   - the kernel writing for the program (read() into a heap buffer) takes
 *     the same fault: the page is reported. A thread in a system call is
 *     stopped only once the call has written or been interrupted, so no
 *     such write lands during the final pause.
 *   - objects allocated during the mark are black (mgcmark.c) but never
 *     scanned: whatever the program stores in them dirties their page, so
 *     they are re-scanned like any marked object.
 *   - new spans and new arenas: an arena is protected as soon as it is
 *     tracked (mheap.c tracks it before handing out its pages), and pages
 *     never populated fault in protected (UFFD_FEATURE_WP_UNPOPULATED). A
 *     span becomes visible to the re-scan with its state stored last, so
 *     its mark bits are those of its allocated, black, objects.
 *   - the sweeper: the previous cycle's sweep is finished before the first
 *     pause, and this cycle's begins after the final one, so no span is
 *     freed or reused while marking runs. The scavenger may return free
 *     pages meanwhile: they lose their protection and are reported
 *     written, a re-scan of nothing.
 *   - a mark bit set by another marker just after the re-scan read it as
 *     clear: that marker scans the whole object after setting the bit, and
 *     the write the collect reported is visible to it (the collect flushed
 *     the TLB entry of every CPU that could still write the page).
 *
 * What a re-scan reads: only the written pages, and of them only the words
 * of marked objects that the heap bitmap says may hold pointers. An
 * unmarked object needs no re-scan: if it is ever greyed, its whole body is
 * scanned then. A huge array written in one place costs one page.
 *
 * The cost: the first write to each protected page per cycle takes a fault
 * that the kernel resolves by itself (about a microsecond); a collect is a
 * walk of the heap's page tables (docs/gc.md, "Page tracking"). Tracking is
 * never disarmed, which costs a slow walk (11 ms per 256 MiB). Instead the
 * final collect does not protect the pages it reports: written during the
 * mark, they stay writable until the next cycle arms, so a page the program
 * keeps writing faults once per cycle, not once in the mark and once more
 * after it. Only the pages not written during the mark stay protected, and
 * fault at most once before the next arm.
 *
 * Where the kernel refuses page tracking (qemu-user, a sandbox, Linux < 6.7;
 * gcwp_init says why) every cycle of this mode marks with the world
 * stopped instead, counts itself in gcModeFallbacks and says so once under
 * GORT_DEBUG=gctrace=1.
 */
#include "mgcwp.h"
#include "malloc.h"

#include <string.h>

/* Precleaning stops after a pass whose re-scan greyed little (the final
 * pause re-scans what the program wrote during a long drain too) if the pass
 * found at most this many written pages, or a quarter fewer than the pass
 * before it. */
enum { precleanSmallPages = 64, precleanSmallDrain = 256 << 10, precleanMaxPasses = 8 };
enum { rescanChunk = 64 << 10 };     /* bytes re-scanned per suspension-free region */

bool gcTestSkipRescan;
void (*gcTestBeforePreclean)(void);

typedef struct dirtyRange { uintptr_t lo, hi; } dirtyRange;

static struct {
    dirtyRange *r;                    /* the last collect's written ranges (sysAlloc) */
    size_t n, cap;
    uint64_t passes, pages;           /* precleaning passes and pages re-scanned, all cycles */
} conc;

/* gcwp_collect's callback: note one written range. */
static void noteDirty(uintptr_t addr, size_t len, void *arg)
{
    (void)arg;
    if (conc.n == conc.cap)
        conc.r = sysGrowArray(conc.r, conc.n, &conc.cap, sizeof *conc.r, 256, &memstats.gcMiscSys);
    conc.r[conc.n++] = (dirtyRange){ addr, addr + len };
}

static bool isMarked(const mspan *s, uintptr_t idx)
{
    return (__atomic_load_n(&s->gcmarkBits[idx / 64], __ATOMIC_RELAXED) >> (idx % 64)) & 1;
}

/*
 * Snapshots of pointer-dense granules. A page the program keeps writing (an
 * array of pointers, a hash table's slots) is reported by every
 * precleaning pass and by the final collect, and each re-scan greyed every
 * pointer word on it again: a span lookup and a mark-bit test per word,
 * cache misses nearly all, and the final pause paid them for each such
 * page. Yet a word whose value was greyed earlier in this cycle needs
 * nothing more: marks only grow within a cycle. So a granule (4 KiB) whose
 * re-scan greyed at least snapDenseWords words that point into the heap's
 * range gets a snapshot of the words that re-scan greyed; later re-scans
 * in the cycle grey only the words that differ from their snapshot word,
 * and record the new value: a sequential compare instead of a miss per
 * word. Granules whose re-scan finds fewer heap pointers (new objects
 * still mostly zeros) never get one, and granules whose heap bitmap has
 * fewer pointer words than that are not even considered. A granule of new
 * pointer-dense objects does get one though it may never be re-scanned
 * again (binarytrees' nodes): up to snapMax granules of memory for
 * nothing.
 *
 * Why it is safe: a snapshot word is 0 until a re-scan greys that word (0
 * needs no greying), and only words of marked objects are greyed and
 * recorded, so every nonzero snapshot word holds a value greyed in this
 * cycle. The re-scan that makes a snapshot records into a scratch granule
 * as it greys, and the snapshot is copied from there, never from the page (which
 * the program may have written since). Snapshots are forgotten when a
 * cycle arms (gcconcStart); no re-scan runs between cycles.
 *
 * At most snapMax granules have snapshots; a table of twice as many
 * entries, open addressing, finds them, and an entry of an older
 * generation is free. The memory stays resident from cycle to cycle
 * (faulting it in again each cycle cost more than the snapshots saved) and
 * is returned after a cycle that made none. One thread at a time re-scans
 * (gcMarkDone's markDoneBusy, or the stopped world), so none of this is
 * shared.
 */
enum {
    snapMax = 2048, snapDenseWords = 128, snapTableLen = 2 * snapMax,
    snapGranuleWords = snapGranuleBytes / 8,
};

static struct {
    struct { uintptr_t granule; uint32_t gen, idx; } table[snapTableLen];
    uintptr_t *area;          /* snapMax granules of words, then the scratch granule
                                 (sysReserve: free until touched, and not a root) */
    uint32_t gen;
    uint32_t used;            /* granules given out in this cycle */
    uint32_t resident;        /* granules touched since the memory was last returned */
} snap;

static void snapReset(void)
{
    if (snap.used == 0 && snap.resident) {
        sysUnused(snap.area, (size_t)snap.resident * snapGranuleBytes);
        __atomic_fetch_sub(&memstats.gcMiscSys, (uint64_t)snap.resident * snapGranuleBytes,
                           __ATOMIC_RELAXED);
        snap.resident = 0;
    }
    snap.used = 0;
    if (++snap.gen == 0)             /* generation 0 marks never-used entries */
        snap.gen = 1;
}

/* Whether g's heap bitmap has enough pointer words to be worth a snapshot.
 * An allocation may be writing the bits meanwhile (unsynchronised, as
 * heapBitsWrite's owner writes them): it only sways this guess. */
__attribute__((no_sanitize_thread)) static bool granuleDense(uintptr_t g)
{
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(g)], memory_order_relaxed);
    const uint64_t *hb = &ha->heapBits[(g % heapArenaBytes) / 8 / 64];
    unsigned n = 0;
    for (int i = 0; i < snapGranuleWords / 64; i++)
        n += (unsigned)__builtin_popcountll(hb[i]);
    return n >= snapDenseWords;
}

static uintptr_t *snapWords(uint32_t h) { return snap.area + (size_t)snap.table[h].idx * snapGranuleWords; }

/* g's table entry: its own, or the free one where it would go. */
static uint32_t snapSlot(uintptr_t g)
{
    uint32_t h = (uint32_t)((g / snapGranuleBytes) * 0x9e3779b1u) % snapTableLen;
    while (snap.table[h].gen == snap.gen && snap.table[h].granule != g)
        h = (h + 1) % snapTableLen;
    return h;
}

/* The scratch granule, after the snapshots: in the reservation rather than
 * in bss, where the roots scan would find what it holds. */
static uintptr_t *snapScratch(void)
{
    if (!snap.area && !(snap.area = sysReserve((size_t)(snapMax + 1) * snapGranuleBytes)))
        return NULL;
    uintptr_t *s = snap.area + (size_t)snapMax * snapGranuleWords;
    memset(s, 0, snapGranuleBytes);
    return s;
}

/* Gives g the free entry h and a snapshot copied from scratch. */
static void snapTake(uint32_t h, uintptr_t g, const uintptr_t *scratch)
{
    snap.table[h].gen = snap.gen;
    snap.table[h].granule = g;
    snap.table[h].idx = snap.used++;
    if (snap.used > snap.resident) {
        snap.resident = snap.used;
        __atomic_fetch_add(&memstats.gcMiscSys, snapGranuleBytes, __ATOMIC_RELAXED);
    }
    memcpy(snapWords(h), scratch, snapGranuleBytes);
}

/* Re-scans the words in [lo, hi) of the marked objects of s; with sn, the
 * snapshot of the granule [lo, hi) lies in. Returns the heap candidates
 * greyed. */
static size_t rescanSpan(mspan *s, uintptr_t lo, uintptr_t hi, uintptr_t *sn)
{
    if (hi > s->limit)
        hi = s->limit;
    if (lo >= hi || spanClass_noscan(s->spanclass))
        return 0;
    size_t n = 0;
    uintptr_t idx = mspan_objIndex(s, lo);
    for (uintptr_t obj = s->startAddr + idx * s->elemsize; obj < hi; obj += s->elemsize, idx++) {
        if (!isMarked(s, idx))
            continue;
        uintptr_t b = obj > lo ? obj : lo, e = obj + s->elemsize < hi ? obj + s->elemsize : hi;
        if (sn)
            n += scanrangeSnap(b, e, sn, &gclocal.gcw);
        else
            scanrange(b, e, &gclocal.gcw);
    }
    return n;
}

/* Re-scans the marked objects in [lo, hi), within one granule, span by
 * span. A span's fields are read only once its state says it is published. */
static size_t rescanGranule(uintptr_t lo, uintptr_t hi, uintptr_t *sn)
{
    size_t n = 0;
    for (uintptr_t a = lo; a < hi;) {
        mspan *s = spanOf(a);
        bool inuse = s && atomic_load_explicit(&s->state, memory_order_acquire) == mSpanInUse;
        uintptr_t send = inuse ? s->startAddr + s->npages * pageSize : 0;
        if (!inuse || a < s->startAddr || a >= send) {
            a = (a & ~(uintptr_t)(pageSize - 1)) + pageSize;   /* a free page */
            continue;
        }
        uintptr_t end = send < hi ? send : hi;
        n += rescanSpan(s, a, end, sn);
        a = end;
    }
    return n;
}

/* Re-scans the marked objects in [lo, hi), granule by granule, with their
 * snapshots, making snapshots for the dense ones. Inside a region. */
static void rescanRange(uintptr_t lo, uintptr_t hi)
{
    for (uintptr_t g = lo & ~(uintptr_t)(snapGranuleBytes - 1); g < hi; g += snapGranuleBytes) {
        uintptr_t a = g > lo ? g : lo, e = g + snapGranuleBytes < hi ? g + snapGranuleBytes : hi;
        uint32_t h = snapSlot(g);
        uintptr_t *scratch;
        if (snap.table[h].gen == snap.gen) {
            rescanGranule(a, e, snapWords(h));
        } else if (snap.used < snapMax && granuleDense(g) && (scratch = snapScratch())) {
            if (rescanGranule(a, e, scratch) >= snapDenseWords)
                snapTake(h, g, scratch);
        } else {
            rescanGranule(a, e, NULL);
        }
    }
}

/* Collects the pages written since the last collect and re-scans the marked
 * objects on them, greying onto this thread's gcWork; the pages reported.
 * The last collect of a cycle leaves them writable (see the top). */
static size_t collectAndRescan(bool last)
{
    conc.n = 0;
    size_t pages = last ? gcwp_collect_last(noteDirty, NULL) : gcwp_collect(noteDirty, NULL);
    conc.pages += pages;
    if (gcTestSkipRescan)
        return pages;
    for (size_t i = 0; i < conc.n; i++)
        for (uintptr_t lo = conc.r[i].lo; lo < conc.r[i].hi; lo += rescanChunk) {
            uintptr_t hi = conc.r[i].hi - lo > rescanChunk ? lo + rescanChunk : conc.r[i].hi;
            nosuspend_enter();
            rescanRange(lo, hi);
            gcw_balance(&gclocal.gcw);
            nosuspend_exit();
        }
    return pages;
}

bool gcconcStart(void)
{
    snapReset();
    if (!gcwp_init())
        return false;
    return gcwp_arm() == 0;
}

void gcconcPreclean(void)
{
    void (*hook)(void) = __atomic_load_n(&gcTestBeforePreclean, __ATOMIC_SEQ_CST);
    if (hook)
        hook();
    size_t prev = SIZE_MAX;
    for (int pass = 0; pass < precleanMaxPasses; pass++) {
        if (atomic_load(&gcphase) != _GCmark)
            return;
        size_t pages = collectAndRescan(false);
        conc.passes++;
        bool quick = gcDrain(0, false) <= precleanSmallDrain;
        if (quick && (pages <= precleanSmallPages || pages > prev / 4 * 3))
            return;
        prev = quick ? pages : SIZE_MAX;   /* after a long drain, expect more pages */
    }
}

void gcconcFinalRescan(void)
{
    collectAndRescan(true);
    uint64_t stacks = work.stackBytes, globals = work.globalBytes;
    gcMarkRoots();
    work.stackBytes = stacks;
    work.globalBytes = globals;
}

void gcconcStats(uint64_t *passes, uint64_t *pages)
{
    *passes = conc.passes;
    *pages = conc.pages;
}
