/*
 * mgc.c — the garbage collector's cycle (Go: mgc.go's gcStart, gcMarkDone,
 * gcMarkTermination, gcBgMarkWorker, GC; mgcpacer.go's worker counts;
 * mstats.go's GC fields).
 *
 * gort's collector is a non-moving mark-sweep over the heap of malloc.c,
 * built from the same pieces as Go's, with one difference forced by C: a
 * goroutine may hold a pointer anywhere (any stack word, any register, any
 * global), so roots are scanned conservatively (roots.c).
 *
 * One cycle, as Go's phases:
 *
 *   1. sweep termination  (world stopped) finish sweeping the last cycle's
 *                         spans, list the data segments of every loaded
 *                         object, stop the world (every registered thread,
 *                         by signal), empty every mcache; turn on the write
 *                         barrier and allocate-black; grey the roots:
 *                         every thread's stack and registers, global and
 *                         registered range (the stacks of goroutines no
 *                         thread runs wait for phase 2);
 *   2. mark               (concurrent) background workers, assisting
 *                         allocations and gort_gc's caller drain the grey
 *                         objects (mgcmark.c) while the program runs; the
 *                         workers scan the waiting goroutines' stacks, and
 *                         the scheduler one it is about to run, once each;
 *   3. mark termination   (world stopped) flush every thread's grey buffers
 *                         and drain what is left (or go back to 2 if that
 *                         is much), after the stacks nobody scanned;
 *                         with GORT_DEBUG=gccheckmark=1 mark
 *                         again into separate bits and report any object
 *                         the mark missed; empty the mcaches, sweepgen += 2
 *                         (every span is now unswept), the pacer's next
 *                         goal (mgcpacer.c), the statistics;
 *   4. sweep              (concurrent) the background sweeper, allocations
 *                         in proportion to what they take, and lazily the
 *                         allocation that needs a span (mgcsweep.c).
 *
 * GORT_GCMODE picks how phase 2 runs. "barrier": as above, with the
 * program's promise that it stores pointers into GC memory through
 * gort_store_ptr/gort_memmove (mbarrier.c). "stw": phases 1 to 3 in one
 * stop, the mark inside it. "concurrent" (the default): no write barrier;
 * the kernel tracks the heap pages written during the mark, and before and
 * in the final stop the marked objects on them are scanned again, with every
 * root (mgcconc.c). Where the kernel cannot track writes, that mode marks
 * with the world stopped, counts the cycle in gcModeFallbacks and says so
 * once under gctrace.
 *
 * Background workers are threads of their own, not goroutines: a marker
 * must never be parked or switched away in the middle of an object, it
 * scans in suspension-free regions that a goroutine switch would break,
 * and it needs no P. How many, as Go's gcControllerState.startCycle: 25%
 * of GOMAXPROCS, rounded to whole dedicated workers when that is within
 * 30%, the rest as one fractional worker that keeps its thread CPU time at
 * its share of the elapsed mark time. The OS scheduler shares the CPUs
 * between them and the Ms, so the 25% comes out of the program's time as
 * in Go.
 *
 * A cycle starts when an allocation takes heapLive past the trigger (the
 * allocator notes it, and the cycle starts as the allocation returns:
 * malloc.h), or when gort_gc is called. One cycle runs at a time.
 */
#include "malloc.h"
#include "mgcwp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Atomic uint32_t gcphase;
_Atomic uint32_t gcBlackenEnabled;
_Atomic uint32_t writeBarrierEnabled;
_Atomic uint32_t gcCycles;
enum gcMode gcmode;
_Atomic uint64_t gcModeFallbacks;
double gcAssistBytesPerWork;

static mutex gcsema;                 /* one cycle start at a time */
static _Atomic uint32_t markDoneBusy;/* one mark termination at a time */
static int64_t initTime;             /* for gctrace's @seconds and the CPU fraction */
static _Atomic int64_t gcCPUTime;    /* ns of CPU spent by the collector, all Ps */
static _Atomic int64_t lastCycleCPU; /* the last cycle's share of it */

/* GORT_GCMODE: concurrent (default), barrier or stw. */
static enum gcMode readGCMode(void)
{
    const char *m = getenv("GORT_GCMODE");
    if (m && strcmp(m, "barrier") == 0)
        return gcModeBarrier;
    if (m && strcmp(m, "stw") == 0)
        return gcModeSTW;
    return gcModeConcurrent;
}

/* In concurrent mode: whether the last cycle could track pages. */
bool gcConcurrentMark(void)
{
    return gcmode == gcModeBarrier || (gcmode == gcModeConcurrent && work.pageTracking);
}

static void gctraceFallbackOnce(void)
{
    static bool said;
    if (said || !debug.gctrace)
        return;
    said = true;
    gprint("gc: GORT_GCMODE=concurrent: %s: marking with the world stopped\n", gcwp_why());
}

/* The mode this cycle marks in (before the first stop). Concurrent arms the
 * kernel's write tracking; where it cannot, the cycle marks with the world
 * stopped. */
static enum gcMode cycleMode(void)
{
    if (gcmode != gcModeConcurrent || gcconcStart())
        return gcmode;
    atomic_fetch_add(&gcModeFallbacks, 1);
    gctraceFallbackOnce();
    return gcModeSTW;
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
    int64_t start;                   /* the first stop requested */
    int64_t markStart;               /* the world started again, marking (or mark in stw) */
    int64_t termStart;               /* the final stop requested */
    int64_t end;                     /* the world started again */
    uint64_t heap0, heap1, heap2;    /* heapLive at start and at the end of mark; marked */
    _Atomic int64_t assistTime, bgTime; /* ns of CPU in assists and in background workers */
    int64_t restartPause;            /* stops that found more work and restarted the mark */
    int32_t procs;
    bool forced;
} cycleTimes;

static cycleTimes cur;               /* the cycle under way (written by its stops) */

void gcAddAssistTime(int64_t ns) { atomic_fetch_add(&cur.assistTime, ns); }

static _Atomic int64_t gcBgTime;     /* ns of background workers' CPU, all cycles */

static void addBgTime(int64_t ns)
{
    atomic_fetch_add(&cur.bgTime, ns);
    atomic_fetch_add(&gcBgTime, ns);
}

int64_t gcBgCPUTimeNow(void) { return atomic_load(&gcBgTime); }

int64_t gcCPUTimeNow(void)
{
    int64_t t = atomic_load(&gcCPUTime);
    if (atomic_load(&gcphase) != _GCoff)   /* the cycle under way, pauses not yet in */
        t += atomic_load(&cur.assistTime) + atomic_load(&cur.bgTime);
    return t;
}

/* The gctrace line of the cycle t, formatted into line (gctraceLineMax
 * bytes) while the world is still stopped: once it starts again the next
 * cycle may begin and reset cur, numgc and work before the line is printed. */
enum { gctraceLineMax = 320 };

static void gctraceFormat(const cycleTimes *t, char *line)
{
    char a[24], b[24], c[24], d[24], e[24], f[24], g[24];
    int64_t stw1 = t->markStart - t->start, mark = t->termStart - t->markStart;
    int64_t stw2 = t->end - t->termStart;
    snprintf(line, gctraceLineMax, "gc %u @%.3fs %d%%: %s+%s+%s ms clock, %s+%s/%s/0+%s ms cpu, "
           "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
           memstats.numgc, (double)(t->start - initTime) / 1e9,
           (int)(memstats.gc_cpu_fraction * 100),
           fmtNSAsMS(a, sizeof a, stw1), fmtNSAsMS(b, sizeof b, mark), fmtNSAsMS(c, sizeof c, stw2),
           fmtNSAsMS(d, sizeof d, stw1 * t->procs), fmtNSAsMS(e, sizeof e, atomic_load(&t->assistTime)),
           fmtNSAsMS(f, sizeof f, atomic_load(&t->bgTime)), fmtNSAsMS(g, sizeof g, stw2 * t->procs),
           (unsigned long long)(t->heap0 >> 20), (unsigned long long)(t->heap1 >> 20),
           (unsigned long long)(t->heap2 >> 20),
           (unsigned long long)(__atomic_load_n(&memstats.next_gc, __ATOMIC_RELAXED) >> 20),
           (unsigned long long)(work.stackBytes >> 20), (unsigned long long)(work.globalBytes >> 20),
           t->procs, t->forced ? " (forced)" : "");
}

/* With the world stopped: the statistics of the cycle just marked. */
static void updateStats(cycleTimes *t)
{
    int64_t pause = (t->markStart - t->start) + (t->end - t->termStart) + t->restartPause;
    memstats.numgc++;
    if (t->forced)
        memstats.numforcedgc++;
    memstats.pause_ns[(memstats.numgc + 255) % 256] = (uint64_t)pause;
    memstats.pause_end[(memstats.numgc + 255) % 256] = (uint64_t)walltime();
    memstats.pause_total_ns += (uint64_t)pause;
    memstats.last_gc_unix = (uint64_t)walltime();
    int64_t used = pause * t->procs + atomic_load(&t->assistTime) + atomic_load(&t->bgTime);
    atomic_store(&lastCycleCPU, used);
    int64_t cpu = atomic_fetch_add(&gcCPUTime, used) + used;
    int64_t elapsed = (t->end - initTime) * t->procs;
    memstats.gc_cpu_fraction = elapsed > 0 ? (double)cpu / (double)elapsed : 0;
}

static void releaseCache(mcache *c) { mcache_releaseAll(c); }

/* Stops the world and runs fn(arg) with it stopped (the caller starts it
 * again), listing the data segments again if a dlopen finished meanwhile.
 * NOINLINE and spilling every callee-saved register first: this frame then
 * holds whatever the caller kept in registers, and stays alive while fn
 * scans roots; the collector's own stack is scanned from here. */
static NOINLINE void stopTheWorldAnd(bool listData, void (*fn)(void *), void *arg)
{
    __builtin_unwind_init();
    uintptr_t sp = getsp();            /* below the spilled registers */
    for (;;) {
        if (listData)
            gcSnapshotDataRoots();
        stopTheWorldGC(sp);
        if (!listData || !gcDataRootsStale())
            break;
        startTheWorldGC();
    }
    fn(arg);
    KEEP_FRAME_UNTIL_HERE(sp);
}

/* Go's gcControllerState.startCycle: dedicated workers and the fractional
 * share of one more, for procs Ps at 25% utilisation. */
static void markWorkerCounts(int32_t procs, int *dedicated, double *fractional)
{
    double goal = procs * 0.25;
    int n = (int)(goal + 0.5);
    double err = goal > 0 ? n / goal - 1 : 0;
    *fractional = 0;
    if (err < -0.3 || err > 0.3) {
        if (n > goal)
            n--;
        *fractional = goal - n;       /* of one CPU */
    }
    *dedicated = n;
}

/* ---- Background mark workers -------------------------------------------------- */

enum { maxMarkWorkers = 64 };
static _Atomic uint32_t markGen;     /* bumped as each concurrent mark begins */
static _Atomic int nMarkWorkers;     /* threads started */
static int cycleDedicated;           /* this cycle's roles, set in the first stop */
static double cycleFractional;

bool gcMarkDone(void);

/* One worker's part of one cycle's mark: drain; when there is nothing left
 * anywhere, try to end the mark. A fractional worker stops for a
 * millisecond whenever its CPU time is ahead of its share. */
static void runMarkWorker(bool dedicated)
{
    int64_t start = nanotime(), cpu0 = threadcputime();
    while (atomic_load(&gcphase) == _GCmark) {
        if (!dedicated) {
            double used = (double)(threadcputime() - cpu0), elapsed = (double)(nanotime() - start);
            if (used > cycleFractional * elapsed) {
                futexsleep(&gcphase, _GCmark, 1000 * 1000);
                continue;
            }
        }
        int64_t c0 = threadcputime();
        gcMarkStackJobs();
        uint64_t done = gcDrain(dedicated ? 0 : 256 << 10, false);
        atomic_fetch_add(&gcBgScanCredit, (int64_t)done);
        addBgTime(threadcputime() - c0);
        if (gcw_empty(&gclocal.gcw) && !gcWorkAvailable() && !gcMarkDone())
            futexsleep(&gcphase, _GCmark, 100 * 1000);
    }
}

static void *bgMarkWorker(void *arg)
{
    int id = (int)(intptr_t)arg;
    gcRegisterThread(NULL);
    uint32_t seen = 0;
    for (;;) {
        uint32_t gen = atomic_load(&markGen);
        if (gen == seen) {
            futexsleep(&markGen, gen, -1);
            continue;
        }
        seen = gen;
        bool dedicated = id < cycleDedicated;
        if (dedicated || (id == cycleDedicated && cycleFractional > 0))
            runMarkWorker(dedicated);
    }
    return NULL;
}

/* Starts enough worker threads for this cycle's roles (before the stop). */
static void gcBgMarkStartWorkers(void)
{
    int32_t procs = atomic_load(&gomaxprocs);
    int dedicated;
    double fractional;
    markWorkerCounts(procs > 0 ? procs : 1, &dedicated, &fractional);
    int want = dedicated + (fractional > 0);
    if (want > maxMarkWorkers)
        want = maxMarkWorkers;
    while (atomic_load(&nMarkWorkers) < want)
        newosproc(bgMarkWorker, (void *)(intptr_t)atomic_fetch_add(&nMarkWorkers, 1));
}

/* ---- The cycle ------------------------------------------------------------------ */

/* World stopped, marking done: the end of the cycle. line: its gctrace
 * line, when gctrace is on. */
static void gcMarkTermination(char *line)
{
    if (debug.gccheckmark) {
        uint64_t stacks = work.stackBytes, globals = work.globalBytes;
        gcClearCheckmarks();
        work.checkmark = true;
        gcMarkRoots();
        gcDrain(0, true);
        work.checkmark = false;
        work.stackBytes = stacks;
        work.globalBytes = globals;
    }
    if (traceOn()) traceGCPhase("mark termination");
    gcw_dispose(&gclocal.gcw);
    gcWorkReset();
    mstats_forEachCache(releaseCache);
    cur.heap1 = atomic_load(&gcHeapLive);
    cur.heap2 = atomic_load(&work.bytesMarked);
    mheap_.sweepgen += 2;
    atomic_store(&gcHeapLive, cur.heap2);
    gcControllerCommit(cur.heap2, work.stackBytes, work.globalBytes);
    gcSweepPace();
    atomic_store(&gcphase, _GCoff);
    atomic_fetch_add(&gcCycles, 1);
    cur.end = nanotime();
    updateStats(&cur);
    if (debug.gctrace)
        gctraceFormat(&cur, line);
}

/* Cycles whose end below is done (gort_gc returns after that). */
static _Atomic uint32_t gcCyclesEnded;

void (*gcTestCycleEndGap)(void);

/* After the world started again: trace, sweeper, waiters. */
static void gcCycleEnded(const char *gctraceLine)
{
    void (*gap)(void) = __atomic_load_n(&gcTestCycleEndGap, __ATOMIC_RELAXED);
    if (gap)
        gap();
    if (traceOn()) traceGCPhase("sweep");
    if (debug.gctrace)
        gprint("%s", gctraceLine);
    futexwakeup(&gcphase, INT32_MAX);
    futexwakeup(&gcCycles, INT32_MAX);
    gcSweepStart();
    atomic_fetch_add(&gcCyclesEnded, 1);
}

static void gcResetWork(void)
{
    atomic_store(&work.bytesMarked, 0);
    work.stackBytes = work.globalBytes = 0;
    work.checkmarkMissed = 0;
    work.stacksInPause = 0;
    atomic_store(&work.stacksLate, 0);
    atomic_store(&gcBgScanCredit, 0);
}

/* gcStartCycle's stop: in: the cycle's mode; out: the gctrace line of a
 * cycle that ended in it (stw). */
typedef struct startStop { enum gcMode mode; char gctraceLine[gctraceLineMax]; } startStop;

/* The first stop, with the world stopped: reset, roots, and with
 * GORT_GCMODE=stw the whole mark. */
static void gcStartStopped(void *arg)
{
    startStop *st = arg;
    enum gcMode mode = st->mode;
    if (traceOn()) traceGCPhase("mark");
    cur.procs = atomic_load(&gomaxprocs) > 0 ? atomic_load(&gomaxprocs) : 1;
    mstats_forEachCache(releaseCache);
    gcResetWork();
    work.concurrent = mode != gcModeSTW;
    work.pageTracking = mode == gcModeConcurrent;
    if (mode == gcModeSTW) {
        atomic_store(&gcphase, _GCmarktermination);
        cur.markStart = cur.termStart = nanotime();
        gcMarkRoots();
        gcDrain(0, true);
        gcMarkTermination(st->gctraceLine);
        return;
    }
    markWorkerCounts(cur.procs, &cycleDedicated, &cycleFractional);
    gcAssistBytesPerWork = gcAssistRatio(cur.heap0);
    atomic_store(&gcphase, _GCmark);
    atomic_store(&writeBarrierEnabled, mode == gcModeBarrier);
    atomic_store(&gcBlackenEnabled, 1);
    if (mode == gcModeBarrier)
        gcMarkRootsStart();          /* parked Gs' stacks: beside the program */
    else
        gcMarkRoots();
    gcw_dispose(&gclocal.gcw);
    cur.markStart = nanotime();
}

/* The first stop, and with GORT_GCMODE=stw the whole cycle. */
static void gcStartCycle(bool forced)
{
    startStop st = { .mode = cycleMode() };   /* arming is not part of the pause */
    memset(&cur, 0, sizeof cur);
    cur.forced = forced;
    cur.start = nanotime();
    cur.heap0 = atomic_load(&gcHeapLive);
    stopTheWorldAnd(true, gcStartStopped, &st);
    startTheWorldGC();
    if (st.mode == gcModeSTW) {
        gcCycleEnded(st.gctraceLine);
        return;
    }
    atomic_fetch_add(&markGen, 1);
    futexwakeup(&markGen, INT32_MAX);
}

/* gcMarkDone's stop: in: when it was asked for; out: whether marking ended,
 * and then the cycle's gctrace line. */
typedef struct markDoneStop {
    int64_t asked;
    bool done;
    char gctraceLine[gctraceLineMax];
} markDoneStop;

static void gcMarkDoneStopped(void *arg)
{
    static int restarts;
    markDoneStop *st = arg;
    /* Grey objects still in other threads' buffers (a marker or an assist
     * was draining as this one ran dry): mark them concurrently, and skip
     * the re-scan, which would only be done again at the next stop. */
    gcFlushAllWork();
    if (gcWorkAvailable() && restarts < 2) {
        restarts++;
        return;
    }
    if (work.pageTracking)
        gcconcFinalRescan();
    gcFlushAllWork();
    if (gcWorkAvailable() && restarts < 2) {
        restarts++;                   /* the program shaded more: mark it concurrently */
        return;
    }
    restarts = 0;
    cur.termStart = st->asked;
    atomic_store(&gcphase, _GCmarktermination);
    atomic_store(&gcBlackenEnabled, 0);
    atomic_store(&writeBarrierEnabled, 0);
    gcStackScanFinish();
    gcDrain(0, true);
    gcMarkTermination(st->gctraceLine);
    st->done = true;
}

/* Tries to end the concurrent mark (Go's gcMarkDone): stop the world,
 * flush every thread's grey buffers, and if they held little, finish
 * there. false: marking goes on (work was found, or another thread is
 * ending it). The caller is a registered thread outside any region. */
bool gcMarkDone(void)
{
    if (atomic_load(&gcphase) != _GCmark)
        return true;
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&markDoneBusy, &zero, 1))
        return false;
    markDoneStop st = { .asked = nanotime(), .done = false };
    nosuspend_enter();
    gcw_dispose(&gclocal.gcw);
    nosuspend_exit();
    /* Another thread still draining holds grey objects in its own buffers:
     * a stop now would find them and restart the mark, and after two
     * restarts drain them all with the world stopped. That thread, or this
     * one on its next try, ends the mark once it runs dry (Go's gcMarkDone
     * flushes the Ps without a stop for the same reason). */
    if (atomic_load(&gcphase) == _GCmark && !gcWorkAvailable() && !gcStackJobsLeft() &&
        atomic_load(&gcDrainers) == 0) {
        if (work.pageTracking) {      /* its CPU counts as background marking */
            int64_t c0 = threadcputime();
            gcconcPreclean();
            addBgTime(threadcputime() - c0);
            st.asked = nanotime();
        }
        stopTheWorldAnd(work.pageTracking, gcMarkDoneStopped, &st);
        int64_t resumed = nanotime();   /* before the world runs: it may take this CPU */
        startTheWorldGC();
        if (!st.done)
            cur.restartPause += resumed - st.asked;
        if (st.done)
            gcCycleEnded(st.gctraceLine);
    }
    atomic_store(&markDoneBusy, 0);
    return st.done;
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
    if (!forced && atomic_load(&gcHeapLive) < atomic_load(&gcTrigger))
        return;
    if (atomic_load(&gcphase) != _GCoff)
        return;                       /* a cycle is under way */
    if (!forced && !gcConcurrentMark() && !gcCPULimiterHasRoomFor(atomic_load(&lastCycleCPU))) {
        gcCPULimiterPostponedStart();   /* the limiter's part in stopped marks (mgclimit.c) */
        return;
    }
    lock(&gcsema);
    if (atomic_load(&gcphase) != _GCoff ||
        (!forced && atomic_load(&gcHeapLive) < atomic_load(&gcTrigger))) {
        unlock(&gcsema);              /* another thread just started one */
        return;
    }
    if (traceOn()) traceGCPhase("sweep termination");
    finishsweep();
    if (gcmode != gcModeSTW)
        gcBgMarkStartWorkers();
    gcStartCycle(forced);
    unlock(&gcsema);
}

/* Helps the concurrent mark under way along (gort_gc's caller), or waits a
 * little for the cycle's stops to pass. */
static void gcHelpMark(void)
{
    if (atomic_load(&gcphase) == _GCmark) {
        gcMarkStackJobs();
        gcDrain(0, false);
        if (gcMarkDone())
            return;
    }
    futexsleep(&gcphase, atomic_load(&gcphase), 100 * 1000);
}

/* Runs fn(arg) with the world stopped between cycles, ready to mark (the
 * goroutine-leak pass): a concurrent mark under way is helped to its end
 * first, and no cycle starts while gcsema is held. */
static void lockBetweenCycles(void)
{
    mallocinit();
    if (!gclocal.thread)
        gcRegisterThread(NULL);
    for (;;) {
        while (atomic_load(&gcphase) != _GCoff)
            gcHelpMark();
        lock(&gcsema);
        if (atomic_load(&gcphase) == _GCoff)
            return;
        unlock(&gcsema);
    }
}

void gcRunStopped(void (*fn)(void *), void *arg)
{
    lockBetweenCycles();
    finishsweep();
    stopTheWorldAnd(true, fn, arg);
    startTheWorldGC();
    unlock(&gcsema);
}

void gcRunBetweenCycles(void (*fn)(void *), void *arg)
{
    lockBetweenCycles();
    fn(arg);
    unlock(&gcsema);
}

bool gcTryBetweenCycles(void (*fn)(void *), void *arg)
{
    if (atomic_load(&gcphase) != _GCoff || !trylock(&gcsema))
        return false;
    bool off = atomic_load(&gcphase) == _GCoff;
    if (off)
        fn(arg);
    unlock(&gcsema);
    return off;
}

void gcinit(void)
{
    static _Atomic bool done;
    if (atomic_exchange(&done, true))
        return;
    initTime = nanotime();
    parsedebugvars();
    gcmode = readGCMode();
    gcControllerInit();
}

/* runtime.GC: waits for a cycle under way, then runs a whole new one (and
 * helps mark it), then sweeps what is left. */
void gort_gc(void)
{
    RUNTIME_ENTRY();
    mallocinit();
    if (!gclocal.thread)
        gcRegisterThread(NULL);
    while (atomic_load(&gcphase) != _GCoff || atomic_load(&gcCyclesEnded) != atomic_load(&gcCycles))
        gcHelpMark();
    uint32_t n = atomic_load(&gcCyclesEnded);
    gcStart(true);
    while (atomic_load(&gcCyclesEnded) == n)   /* its gctrace line printed, too */
        gcHelpMark();
    /* Sweep what the cycle left, unless another one has begun: goroutines
     * allocating fast start cycle after cycle, and waiting for "all swept"
     * then never ends (Go's runtime.GC stops waiting the same way). */
    n = atomic_load(&gcCycles);
    while (atomic_load(&gcphase) == _GCoff && atomic_load(&gcCycles) == n && sweepone())
        ;
    while (atomic_load(&gcCycles) == n && atomic_load(&sweepActive) != 0)
        osyield();
    if (traceOn()) traceGCPhase(NULL);
}

/* An empty asm that claims to read p: p stays in a register or a stack slot
 * (where the collector sees it) at least until here. */
NOINLINE void gort_keep_alive(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}
