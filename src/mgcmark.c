/*
 * mgcmark.c — marking: from roots to every reachable object (Go: mgcmark.go's
 * greyobject, scanobject, scanblock, gcDrain, gcAssistAlloc, gcmarknewobject;
 * mbitmap.go's findObject; mcheckmark.go).
 *
 * Tri-colour marking. An object is white until its mark bit is set (grey),
 * and black once its words have been scanned. Grey objects wait in gcWork
 * buffers (mgcwork.c); the drain loop takes one, scans its words and greys
 * what they point to, until no grey object is left anywhere: then every
 * object reachable from the roots is black and every white object is
 * garbage. Several threads drain at once (background workers, assisting
 * goroutines), so a mark bit is set with an atomic OR and only the thread
 * whose OR set it queues the object.
 *
 * Any word may be a pointer. A candidate value v is checked in O(1):
 *   1. v within the span of addresses the heap's arenas ever covered;
 *   2. v's page belongs to an in-use span (the arena's span table);
 *   3. v below the span's last object; its slot is v's offset divided by the
 *      object size (a multiply by the span's divMul);
 *   4. the slot is allocated: below freeIndexForScan, or set in allocBits.
 * Interior pointers therefore keep their object alive, as in Go.
 *
 * How an object's words are read: noscan spans are never scanned; other
 * objects are scanned where the heap bitmap says a word may hold a pointer
 * (all ones for gort_alloc, the type's ptrmask for gort_new), 64 words per
 * bitmap load. An object larger than 128 KiB is queued as oblets, 128 KiB
 * pieces scanned separately, so one huge array spreads over the markers
 * and never makes one scan (or one region) long.
 *
 * Allocate-black: while marking runs beside the program, a new object gets
 * its mark bit at once (gcmarknewobject). It holds nothing the mark has to
 * find (only pointers the program had already, see docs/gc.md), and the
 * sweep keeps it.
 *
 * Assists: an allocating thread in debt (mgc.c sets the exchange rate from
 * the pacer) first takes credit the background workers banked, then scans
 * that many bytes of grey objects itself before its allocation returns.
 *
 * Checkmark mode (GORT_DEBUG=gccheckmark=1) marks a second time, with the
 * world stopped, into a separate bitmap per arena, and reports every object
 * it reaches that the cycle's mark left white: the test of the concurrent
 * marking (barriers, allocate-black, page tracking) against the simple one.
 * After a page-tracking mark (mgcconc.c) the check is strict: every root was
 * scanned again in the same pause, so every object it reaches must be
 * marked. After a barrier-mode mark one kind of miss is not a bug: a word
 * that only looks like a pointer and appeared after marking began (a new
 * stack frame over old data, a register, the allocator's own page addresses
 * in its globals) may name an object that was garbage when marking began.
 * So after a barrier-mode mark, an unmarked object reached from a stack,
 * register, global or runtime structure, or from another unmarked object,
 * is only followed; one reached from a registered range or from a marked
 * object is a miss: a black object pointing at a white one, what a lost
 * write barrier leaves behind.
 * Side marking uses the same bitmap without the comparison: the
 * goroutine-leak pass (mgcleak.c) marks from roots of its choosing between
 * cycles, and the cycle's mark bits and statistics never see it.
 *
 * The scanner reads stacks, globals and objects that the sanitizers consider
 * poisoned or racy (redzones, other threads' stacks, objects being written
 * by their goroutines): those reads are exempt from instrumentation.
 */
#include "malloc.h"

#include <string.h>

#define NOSANITIZE __attribute__((no_sanitize_address, no_sanitize_thread))

enum { maxObletBytes = 128 << 10 };

gcWorkState work;
_Atomic int64_t gcBgScanCredit;       /* bytes scanned by workers, not yet taken by assists */

static inline bool isAllocated(mspan *s, uintptr_t idx)
{
    return idx < atomic_load_explicit(&s->freeIndexForScan, memory_order_acquire) ||
           ((s->allocBits[idx / 64] >> (idx % 64)) & 1);
}

static NORETURN void checkmarkFail(uintptr_t obj, mspan *s)
{
    throw("checkmark found unmarked object: obj=%#lx span=[%#lx,%#lx) sizeclass=%u elemsize=%lu",
          (unsigned long)obj, (unsigned long)s->startAddr,
          (unsigned long)(s->startAddr + s->npages * pageSize),
          spanClass_sizeclass(s->spanclass), (unsigned long)s->elemsize);
}

/* Sets obj's checkmark bit; false if it was set already. World stopped. */
static bool setCheckmark(uintptr_t obj)
{
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(obj)], memory_order_relaxed);
    if (!ha->checkmarks) {
        ha->checkmarks = sysAlloc(heapArenaWords / 8, &memstats.gcMiscSys);
        if (!ha->checkmarks)
            throw("runtime: out of memory for checkmark bits");
    }
    uintptr_t w = (obj % heapArenaBytes) / 8;
    uint64_t bit = 1ULL << (w % 64);
    if (ha->checkmarks[w / 64] & bit)
        return false;
    ha->checkmarks[w / 64] |= bit;
    return true;
}

/* Sets bit idx of s's mark bits; false if it was set already. */
static inline bool setMarked(mspan *s, uintptr_t idx)
{
    uint64_t *mw = &s->gcmarkBits[idx / 64], bit = 1ULL << (idx % 64);
    if (__atomic_load_n(mw, __ATOMIC_RELAXED) & bit)
        return false;
    return !(__atomic_fetch_or(mw, bit, __ATOMIC_RELAXED) & bit);
}

/* Greys the object at slot idx of s (Go's greyobject). */
static inline void greyobject(uintptr_t obj, mspan *s, uintptr_t idx, gcWork *gcw)
{
    if (unlikely(work.checkmark)) {
        if (!setCheckmark(obj))
            return;
        if (!((s->gcmarkBits[idx / 64] >> (idx % 64)) & 1) && !work.checkmarkLenient &&
            !work.sidemark) {
            work.checkmarkMissed++;
            checkmarkFail(obj, s);
        }
    } else {
        if (!setMarked(s, idx))
            return;
        gcw->bytesMarked += s->elemsize;
    }
    if (!spanClass_noscan(s->spanclass))
        gcw_put(gcw, obj);
}

/* Greys whatever heap object v points into, if any; whether v lay in the
 * heap's range at all. */
static inline bool markword(uintptr_t v, gcWork *gcw)
{
    /* The bounds only widen (mheap_sysAlloc, beside a concurrent mark): a
     * stale pair leaves out only arenas mapped since, whose objects are
     * all black. */
    uintptr_t lo = __atomic_load_n(&mheap_.arenaLo, __ATOMIC_RELAXED);
    uintptr_t hi = __atomic_load_n(&mheap_.arenaHi, __ATOMIC_RELAXED);
    if (v - lo >= hi - lo)
        return false;
    mspan *s = spanOf(v);
    if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != mSpanInUse ||
        v < s->startAddr || v >= s->limit)
        return true;
    uintptr_t idx = mspan_objIndex(s, v);
    if (isAllocated(s, idx))
        greyobject(s->startAddr + idx * s->elemsize, s, idx, gcw);
    return true;
}

void shade(uintptr_t p) { markword(p, &gclocal.gcw); }

void gcmarknewobject(mspan *s, uintptr_t obj)
{
    if (setMarked(s, mspan_objIndex(s, obj)))
        gclocal.gcw.bytesMarked += s->elemsize;
}

NOSANITIZE void scanblock(uintptr_t b, uintptr_t n)
{
    gcWork *gcw = &gclocal.gcw;
    uintptr_t p = (b + 7) & ~(uintptr_t)7, end = b + n;
    for (; p + 8 <= end; p += 8)
        markword(*(volatile uintptr_t *)p, gcw);
}

/* scanrange and scanrangeSnap: with snap, a word equal to its snapshot word
 * is skipped and any other is recorded there as it is greyed; returns how
 * many of those lay in the heap's range. */
static ALWAYS_INLINE size_t scanwords(uintptr_t b, uintptr_t end, uintptr_t *snap, gcWork *gcw)
{
    size_t n = 0;
    for (uintptr_t a = b; a < end;) {
        heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(a)], memory_order_relaxed);
        uintptr_t w = (a % heapArenaBytes) / 8;
        unsigned cnt = 64 - (unsigned)(w % 64);
        if (cnt > (end - a) / 8)
            cnt = (unsigned)((end - a) / 8);
        uint64_t bits = __atomic_load_n(&ha->heapBits[w / 64], __ATOMIC_RELAXED) >> (w % 64);
        if (cnt < 64)
            bits &= (1ULL << cnt) - 1;
        while (bits) {
            unsigned k = (unsigned)__builtin_ctzll(bits);
            uintptr_t p = a + (uintptr_t)k * 8, v = *(volatile uintptr_t *)p;
            bits &= bits - 1;
            if (snap) {
                uintptr_t *sw = &snap[(p % snapGranuleBytes) / 8];
                if (*sw == v)
                    continue;
                *sw = v;
            }
            n += markword(v, gcw);
        }
        a += (uintptr_t)cnt * 8;
    }
    return n;
}

NOSANITIZE void scanrange(uintptr_t b, uintptr_t end, gcWork *gcw) { scanwords(b, end, NULL, gcw); }

NOSANITIZE size_t scanrangeSnap(uintptr_t b, uintptr_t end, uintptr_t *snap, gcWork *gcw)
{
    return scanwords(b, end, snap, gcw);
}

/* Scans the grey object (or oblet) at b (Go's scanobject); returns the bytes
 * scanned. A large object is split into oblets the first time it is seen. */
static uintptr_t scanobject(uintptr_t b, gcWork *gcw)
{
    mspan *s = spanOf(b);
    if (unlikely(work.checkmark) && work.concurrent && !work.pageTracking) {
        uintptr_t idx = mspan_objIndex(s, b);
        work.checkmarkLenient = !((s->gcmarkBits[idx / 64] >> (idx % 64)) & 1);
    }
    uintptr_t end = b + s->elemsize;
    if (s->elemsize > maxObletBytes) {
        end = s->startAddr + s->elemsize;
        if (b == s->startAddr)
            for (uintptr_t o = b + maxObletBytes; o < end; o += maxObletBytes)
                gcw_put(gcw, o);
        if (end - b > maxObletBytes)
            end = b + maxObletBytes;
    }
    scanrange(b, end, gcw);
    return end - b;
}

enum { drainUnitBytes = 64 << 10 };   /* work per suspension-free unit */

/*
 * Scanning is bound by cache misses: a grey object was last touched when
 * the program wrote it, long ago, so its first word is rarely in the cache.
 * The drain therefore takes objects a few ahead of the one it scans and
 * prefetches each as it takes it (the prefetch FIFO of Cher, Hosking and
 * Vijaykumar, "Software prefetching for mark-sweep garbage collection",
 * 2004): by the time an object's turn comes its line is on the way. The
 * FIFO lives for one unit; what is left in it goes back to the gcWork
 * before the unit ends, so a stop-the-world that follows sees every grey
 * object in some gcWork.
 */
enum { drainPrefetch = 32 };

typedef struct {
    uintptr_t obj[drainPrefetch];
    unsigned  head, n;
} drainFIFO;

/* The next object to scan, after topping the FIFO up; 0 when no grey
 * object is left. */
static inline uintptr_t drainNext(drainFIFO *f, gcWork *gcw)
{
    while (f->n < drainPrefetch) {
        uintptr_t b = gcw_tryGet(gcw);
        if (!b)
            break;
        heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(b)], memory_order_relaxed);
        __builtin_prefetch((void *)b);
        __builtin_prefetch(&ha->heapBits[(b % heapArenaBytes) / 8 / 64]);
        f->obj[(f->head + f->n++) % drainPrefetch] = b;
    }
    if (f->n == 0)
        return 0;
    uintptr_t b = f->obj[f->head];
    f->head = (f->head + 1) % drainPrefetch;
    f->n--;
    return b;
}

static void drainFlush(drainFIFO *f, gcWork *gcw)
{
    for (; f->n; f->n--, f->head = (f->head + 1) % drainPrefetch)
        gcw_put(gcw, f->obj[f->head]);
}

_Atomic int32_t gcDrainers;

uint64_t gcDrain(uint64_t budget, bool stw)
{
    gcWork *gcw = &gclocal.gcw;
    uint64_t done = 0;
    atomic_fetch_add(&gcDrainers, 1);
    for (;;) {
        if (!stw && atomic_load_explicit(&gcphase, memory_order_relaxed) != _GCmark)
            break;
        uint64_t unit = 0;
        bool empty = false;
        nosuspend_enter();
        if (stw || atomic_load_explicit(&gcphase, memory_order_relaxed) == _GCmark) {
            drainFIFO fifo = { .n = 0 };
            while (unit < drainUnitBytes) {
                uintptr_t b = drainNext(&fifo, gcw);
                if (!b) {
                    empty = true;
                    break;
                }
                unit += scanobject(b, gcw);
            }
            drainFlush(&fifo, gcw);
            if (!stw)
                gcw_balance(gcw);
        }
        nosuspend_exit();
        done += unit;
        if (empty || (budget && done >= budget))
            break;
    }
    atomic_fetch_sub(&gcDrainers, 1);
    return done;
}

enum { gcOverAssistWork = 64 << 10 };  /* the least scan work an assist does */

/* How much allocation one byte of scan work pays for, from the pacer
 * (mgc.c sets it as each cycle starts). */
extern double gcAssistBytesPerWork;

static void gcAssistAlloc(void)
{
    gcLocal *l = &gclocal;
    if (l->assistBytes >= 0 || l->nosuspend)
        return;
    if (gcCPULimiting()) {            /* the debt stays, the heap overshoots */
        gcCPULimiterSkippedAssist();
        return;
    }
    int64_t t0 = nanotime();
    double perWork = gcAssistBytesPerWork > 0 ? gcAssistBytesPerWork : 1;
    /* At least gcOverAssistWork, as Go: the surplus becomes credit, so the
     * next allocations do not each come back here (a clock read on either
     * side, the buffers handed to the global list). */
    int64_t need = (int64_t)((double)-l->assistBytes / perWork) + 1;
    if (need < gcOverAssistWork)
        need = gcOverAssistWork;
    /* Background credit first (Go's bgScanCredit). */
    int64_t credit = atomic_load(&gcBgScanCredit);
    while (credit > 0) {
        int64_t take = credit < need ? credit : need;
        if (atomic_compare_exchange_weak(&gcBgScanCredit, &credit, credit - take)) {
            need -= take;
            break;
        }
    }
    if (need > 0) {
        uint64_t done = gcDrain((uint64_t)need, false);
        need -= (int64_t)done;
    }
    /* What the assist greyed and left goes to the global list: in this
     * thread's buffers the end-of-mark check would not see it, and the
     * final pause would have to drain it. */
    nosuspend_enter();
    gcw_dispose(&l->gcw);
    nosuspend_exit();
    /* Paid, or no grey object was left to scan: marking is about to end,
     * so what is still owed is forgiven. */
    l->assistBytes = need > 0 ? 0 : (int64_t)((double)-need * perWork);
    gcAddAssistTime(nanotime() - t0);
}

void gcAssistCharge(size_t size)
{
    gcLocal *l = &gclocal;
    uint32_t cyc = atomic_load_explicit(&gcCycles, memory_order_relaxed);
    if (l->assistCycle != cyc) {      /* a new cycle: last cycle's balance is void */
        l->assistCycle = cyc;
        l->assistBytes = 0;
    }
    l->assistBytes -= (int64_t)size;
    if (l->assistBytes < 0)
        gcAssistAlloc();
}

/* ---- Goroutine stacks, once per cycle (barrier mode) ------------------------------ */

/*
 * Barrier mode scans each goroutine stack once per cycle, beside the
 * program (Go's markroot and scanstack), so that the first pause does not
 * grow with the number of goroutines. The pause scans the stacks of the Gs
 * some thread is on (running, in a system call, switching) together with
 * the other roots, and leaves every other G frozen: such a G cannot run
 * again before its stack is scanned, because the scheduler scans it first
 * (gcScanBeforeRun, on its way to switching to it) if nobody has. The
 * background workers claim the others one by one, and the final pause scans
 * whatever is left (Gs made or left out meanwhile).
 *
 * A frozen stack holds what it held when marking began, so scanning it
 * later finds what the first pause would have found: the snapshot argument
 * of mbarrier.c holds as before. Other goroutines' stores into a frozen
 * stack (a channel receive into a waiting receiver's variable) go through
 * the barrier, which shades what they overwrite.
 *
 * g.gcscangen says who scanned a stack in this cycle: the cycle's
 * generation once scanned, with stackScanBusy while one thread scans it.
 * Claiming is a CAS, so each stack is scanned exactly once; a scheduler
 * that finds a stack being scanned waits for the scan to end.
 */
enum { stackScanBusy = 1u << 31 };

_Atomic uint32_t gcScanGen;
static uint32_t scanGenLast;
static _Atomic size_t stackJobNext;    /* the next allgs index for a job */
static _Atomic size_t stackJobCount;   /* allgs' length in the first pause */

void gcMarkRootsStart(void)
{
    scanGenLast = (scanGenLast + 1) & ~stackScanBusy;
    if (scanGenLast == 0)
        scanGenLast = 1;
    atomic_store(&stackJobCount, allgcount());
    atomic_store(&stackJobNext, 0);
    atomic_store(&gcScanGen, scanGenLast);
    gcMarkRootsRunning(scanGenLast);
}

/* Scans gp's stack if nobody has this cycle. Inside a region; false when
 * another thread is scanning it right now. */
static bool scanStackOnce(g *gp, uint32_t gen)
{
    uint32_t seen = atomic_load_explicit(&gp->gcscangen, memory_order_acquire);
    if (seen == gen)
        return true;
    if (seen == (gen | stackScanBusy) ||
        !atomic_compare_exchange_strong(&gp->gcscangen, &seen, gen | stackScanBusy))
        return atomic_load_explicit(&gp->gcscangen, memory_order_acquire) == gen;
    uint32_t st = atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed);
    if (st != Gdead) {
        waitsince_observe(gp, st, nanotime());
        gcScanParkedG(gp);
        atomic_fetch_add_explicit(&work.stacksLate, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&gp->gcscangen, gen, memory_order_release);
    return true;
}

void gcScanBeforeRunSlow(g *gp)
{
    for (;;) {
        nosuspend_enter();
        uint32_t gen = atomic_load_explicit(&gcScanGen, memory_order_relaxed);
        bool done = gen == 0 || scanStackOnce(gp, gen);
        if (done && gen != 0)
            gcw_dispose(&gclocal.gcw);   /* what it greyed, for the markers */
        nosuspend_exit();
        if (done)
            return;
        osyield();                       /* another thread scans it: wait for that */
    }
}

void (*gcTestStackJobGap)(g *gp);

void gcMarkStackJobs(void)
{
    for (;;) {
        size_t i = atomic_fetch_add(&stackJobNext, 1);
        if (i >= atomic_load_explicit(&stackJobCount, memory_order_relaxed))
            return;
        g *gp = allgAt(i);
        if (!gp)
            return;
        void (*gap)(g *) = __atomic_load_n(&gcTestStackJobGap, __ATOMIC_RELAXED);
        if (gap)
            gap(gp);
        nosuspend_enter();
        uint32_t gen = atomic_load_explicit(&gcScanGen, memory_order_relaxed);
        if (gen != 0)
            scanStackOnce(gp, gen);
        nosuspend_exit();
        if (gen == 0)
            return;
    }
}

bool gcStackJobsLeft(void)
{
    return atomic_load(&gcScanGen) != 0 && atomic_load(&stackJobNext) < atomic_load(&stackJobCount);
}

static void scanIfUnscanned(g *gp, void *arg)
{
    uint32_t gen = *(uint32_t *)arg;
    if (atomic_load_explicit(&gp->gcscangen, memory_order_relaxed) != gen &&
        atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) != Gdead) {
        gcScanParkedG(gp);
        atomic_fetch_add_explicit(&work.stacksLate, 1, memory_order_relaxed);
    }
}

void gcStackScanFinish(void)
{
    uint32_t gen = atomic_load(&gcScanGen);
    if (gen == 0)
        return;
    forEachGStopped(scanIfUnscanned, &gen);
    atomic_store(&gcScanGen, 0);
}

/* Clears every arena's checkmark bits (world stopped, before a checkmark pass). */
void gcClearCheckmarks(void)
{
    for (size_t i = 0; i < mheap_.nallArenas; i++) {
        heapArena *ha = mheap_.arenas[mheap_.allArenas[i]];
        if (ha->checkmarks)
            sysUnused(ha->checkmarks, heapArenaWords / 8);   /* reads back as zero */
    }
}

/* ---- Side marking (the goroutine-leak pass) --------------------------------------- */

/* What root scanning adds to during a side pass, put back at its end. */
static uint64_t sideStackBytes, sideGlobalBytes;

void gcSideMarkBegin(void)
{
    sideStackBytes = work.stackBytes;
    sideGlobalBytes = work.globalBytes;
    gcClearCheckmarks();
    work.checkmark = work.sidemark = true;
}

void gcSideDrain(void) { gcDrain(0, true); }

bool gcSideMarked(uintptr_t p)
{
    mspan *s;
    uintptr_t idx, obj = findObject(p, &s, &idx);
    if (!obj || !isAllocated(s, idx))
        return true;
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(obj)], memory_order_relaxed);
    uintptr_t w = (obj % heapArenaBytes) / 8;
    return ha->checkmarks && ((ha->checkmarks[w / 64] >> (w % 64)) & 1);
}

void gcSideMarkEnd(void)
{
    work.checkmark = work.sidemark = false;
    work.stackBytes = sideStackBytes;
    work.globalBytes = sideGlobalBytes;
}
