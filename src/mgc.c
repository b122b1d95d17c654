/*
 * mgc.c — the garbage collector's cycle (Go: mgc.go's gcStart,
 * gcMarkTermination, GC; mstats.go's GC fields).
 *
 * gort's collector is a non-moving mark-sweep over the heap of malloc.c,
 * built from the same pieces as Go's, with one difference forced by C: a
 * goroutine may hold a pointer anywhere (any stack word, any register, any
 * global), so roots are scanned conservatively (roots.c).
 *
 * One cycle, as Go's phases:
 *
 *   1. sweep termination  finish sweeping the last cycle's spans, list the
 *                         data segments of every loaded object, stop the
 *                         world (every registered thread, by signal), and
 *                         empty every mcache, so no span is cached while
 *                         the sweep generation moves on;
 *   2. mark               grey the roots, drain the mark stack (mgcmark.c);
 *                         with GORT_DEBUG=gccheckmark=1, mark again into
 *                         separate bits and report any object the first
 *                         mark missed;
 *   3. mark termination   sweepgen += 2 (every span is now unswept), the
 *                         pacer's next goal (mgcpacer.c), the statistics,
 *                         start the world;
 *   4. sweep              concurrent with the program: lazily by
 *                         allocations, and by the goroutine that ran the
 *                         cycle (mgcsweep.c).
 *
 * Marking runs with the world stopped (GORT_GCMODE=stw). The
 * concurrent modes of DESIGN.md ("barrier", and "concurrent" with kernel
 * page tracking) are not in this build: any GORT_GCMODE marks with the world
 * stopped, and GORT_DEBUG=gctrace=1 says so once.
 *
 * A cycle starts when an allocation takes heapLive past the trigger (the
 * allocator notes it, and the cycle runs as the allocation returns: malloc.h),
 * or when gort_gc is called. One cycle runs at a time (gcsema).
 */
#include "malloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mutex gcsema;                 /* one cycle at a time */
static int64_t initTime;             /* for gctrace's @seconds and the CPU fraction */
static _Atomic int64_t gcCPUTime;    /* ns of CPU spent by the collector, all Ps */

static void gctraceModeOnce(void)
{
    static bool said;
    const char *mode = getenv("GORT_GCMODE");
    if (said || !debug.gctrace)
        return;
    said = true;
    if (mode && strcmp(mode, "stw") != 0)
        gprint("gc: GORT_GCMODE=%s is not available in this build: marking with the world stopped\n", mode);
}

/* Go's fmtNSAsMS: whole ms from 10 ms up, else three significant digits. */
static const char *fmtNSAsMS(char *buf, size_t n, int64_t ns)
{
    if (ns >= 10 * 1000 * 1000) {
        snprintf(buf, n, "%lld", (long long)(ns / 1000000));
        return buf;
    }
    long long us = ns / 1000;
    if (us == 0) {
        snprintf(buf, n, "0");
        return buf;
    }
    int dec = 3;
    while (us >= 100) {
        us /= 10;
        dec--;
    }
    /* us has at most two digits left, dec of them after the point. */
    long long scale = 1;
    for (int i = 0; i < dec; i++)
        scale *= 10;
    if (dec == 0)
        snprintf(buf, n, "%lld", us);
    else
        snprintf(buf, n, "%lld.%0*lld", us / scale, dec, us % scale);
    return buf;
}

typedef struct cycleTimes {
    int64_t start, mark, end;        /* stop requested, world stopped, world started */
    uint64_t heap0, heap1, heap2;    /* heapLive at start and at the end of mark; marked */
    int32_t procs;
    bool forced;
} cycleTimes;

static void gctrace(const cycleTimes *t)
{
    char a[24], b[24], c[24], d[24];
    int64_t stw1 = t->mark - t->start, stw2 = t->end - t->mark;
    gprint("gc %u @%.3fs %d%%: %s+0+%s ms clock, %s+0/0/0+%s ms cpu, "
           "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
           memstats.numgc, (double)(t->start - initTime) / 1e9,
           (int)(memstats.gc_cpu_fraction * 100),
           fmtNSAsMS(a, sizeof a, stw1), fmtNSAsMS(b, sizeof b, stw2),
           fmtNSAsMS(c, sizeof c, stw1 * t->procs), fmtNSAsMS(d, sizeof d, stw2 * t->procs),
           (unsigned long long)(t->heap0 >> 20), (unsigned long long)(t->heap1 >> 20),
           (unsigned long long)(t->heap2 >> 20),
           (unsigned long long)(__atomic_load_n(&memstats.next_gc, __ATOMIC_RELAXED) >> 20),
           (unsigned long long)(work.stackBytes >> 20), (unsigned long long)(work.globalBytes >> 20),
           t->procs, t->forced ? " (forced)" : "");
}

/* With the world stopped: the statistics of the cycle just marked. */
static void updateStats(const cycleTimes *t)
{
    int64_t pause = t->end - t->start;
    memstats.numgc++;
    if (t->forced)
        memstats.numforcedgc++;
    memstats.pause_ns[(memstats.numgc + 255) % 256] = (uint64_t)pause;
    memstats.pause_end[(memstats.numgc + 255) % 256] = (uint64_t)walltime();
    memstats.pause_total_ns += (uint64_t)pause;
    memstats.last_gc_unix = (uint64_t)walltime();
    int64_t cpu = atomic_fetch_add(&gcCPUTime, pause * t->procs) + pause * t->procs;
    int64_t elapsed = (t->end - initTime) * t->procs;
    memstats.gc_cpu_fraction = elapsed > 0 ? (double)cpu / (double)elapsed : 0;
}

static void releaseCache(mcache *c) { mcache_releaseAll(c); }

/* Stops the world with a fresh list of data segments; selfsp as for
 * stopTheWorldGC. */
static void stopTheWorldForMark(uintptr_t selfsp)
{
    for (;;) {
        gcSnapshotDataRoots();
        stopTheWorldGC(selfsp);
        if (!gcDataRootsStale())
            return;
        startTheWorldGC();            /* a dlopen finished meanwhile: list again */
    }
}

/* Stops the world, marks, and starts it again. NOINLINE and spilling every
 * callee-saved register first: this frame then holds whatever the caller
 * kept in registers, and the collector's own stack is scanned from here. */
static NOINLINE void gcCycle(bool forced)
{
    __builtin_unwind_init();
    volatile uintptr_t here = 0;
    cycleTimes t = { .start = nanotime(), .forced = forced };
    t.heap0 = atomic_load(&gcHeapLive);
    stopTheWorldForMark((uintptr_t)&here);
    t.mark = nanotime();
    if (traceOn()) traceGCPhase("mark");
    t.procs = atomic_load(&gomaxprocs) > 0 ? atomic_load(&gomaxprocs) : 1;

    mstats_forEachCache(releaseCache);
    memset(&work, 0, sizeof work);
    gcMarkPrepare();
    gcMarkRoots();
    gcDrain();
    if (debug.gccheckmark) {
        uint64_t marked = work.bytesMarked, stacks = work.stackBytes, globals = work.globalBytes;
        gcClearCheckmarks();
        work.checkmark = true;
        gcMarkRoots();
        gcDrain();
        work.checkmark = false;
        work.bytesMarked = marked;
        work.stackBytes = stacks;
        work.globalBytes = globals;
    }

    if (traceOn()) traceGCPhase("mark termination");
    t.heap1 = atomic_load(&gcHeapLive);
    t.heap2 = work.bytesMarked;
    mheap_.sweepgen += 2;
    atomic_store(&gcHeapLive, work.bytesMarked);
    gcControllerCommit(work.bytesMarked, work.stackBytes, work.globalBytes);
    t.end = nanotime();
    updateStats(&t);
    startTheWorldGC();
    if (debug.gctrace)
        gctrace(&t);
    (void)here;
}

void gcStart(bool forced)
{
    if (gclocal.nosuspend) {          /* inside a region: when it ends */
        gclocal.pending.start = 1;
        return;
    }
    mallocinit();
    if (!gclocal.thread)
        gcRegisterThread(NULL);
    if (!forced && (atomic_load(&gcHeapLive) < atomic_load(&gcTrigger)))
        return;
    lock(&gcsema);
    if (!forced && atomic_load(&gcHeapLive) < atomic_load(&gcTrigger)) {
        unlock(&gcsema);              /* another thread just collected */
        return;
    }
    gctraceModeOnce();
    if (traceOn()) traceGCPhase("sweep termination");
    finishsweep();
    gcCycle(forced);
    if (traceOn()) traceGCPhase("sweep");
    uint32_t cycle = memstats.numgc;
    unlock(&gcsema);
    int64_t t0 = nanotime();
    /* Sweep what the cycle left, unless another one has begun: goroutines
     * allocating fast start cycle after cycle, and waiting for "all swept"
     * then never ends (Go's runtime.GC stops waiting the same way). */
    while (memstats.numgc == cycle && sweepone())
        ;
    while (memstats.numgc == cycle && atomic_load(&sweepActive) != 0)
        osyield();
    if (traceOn()) traceGCPhase(NULL);
    atomic_fetch_add(&gcCPUTime, nanotime() - t0);
}

/* Runs fn(arg) with the world stopped between cycles, ready to mark (the
 * goroutine-leak pass). NOINLINE with every callee-saved register spilled,
 * as gcCycle. */
NOINLINE void gcRunStopped(void (*fn)(void *), void *arg)
{
    __builtin_unwind_init();
    volatile uintptr_t here = 0;
    mallocinit();
    if (!gclocal.thread)
        gcRegisterThread(NULL);
    lock(&gcsema);
    finishsweep();
    stopTheWorldForMark((uintptr_t)&here);
    fn(arg);
    startTheWorldGC();
    unlock(&gcsema);
    (void)here;
}

void gcinit(void)
{
    static _Atomic bool done;
    if (atomic_exchange(&done, true))
        return;
    initTime = nanotime();
    parsedebugvars();
    gcControllerInit();
}

void gort_gc(void)
{
    RUNTIME_ENTRY();
    gcStart(true);
}

/* An empty asm that claims to read p: p stays in a register or a stack slot
 * (where the collector sees it) at least until here. */
NOINLINE void gort_keep_alive(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}
