/*
 * mgclimit.c — the GC CPU limiter (Go: mgclimit.go, gcCPULimiterState).
 *
 * With a soft memory limit (GORT_MEMLIMIT) below what the program keeps
 * live, the pacer's goal cannot be met: every cycle ends past the next
 * goal, cycles run back to back and every allocation owes an assist. With
 * nothing to stop it the collector would take nearly all the CPU and still
 * not get under the limit (a death spiral). Go caps the collector at 50% of
 * the CPU over about a second with a leaky bucket, and so does gort:
 *
 *     capacity  = 1 s of CPU per P
 *     on update: change = gcTime - mutatorTime      (over the window since
 *                fill   = clamp(fill + change, 0, capacity)  the last one)
 *     mutatorTime = window * busy Ps + background workers' time - gcTime
 *
 * The limiter is on while the bucket is full, that is while the collector
 * has been taking more than half the busy CPU for long enough to use up the
 * capacity; it goes off at the first update that drains some. While it is
 * on, allocations skip their assists (gcAssistAlloc): the heap outgrows
 * its goal, which is what makes the limit soft, and the collector keeps
 * the background workers' 25%. A mark with the world stopped (stw mode,
 * or its fallback) has no assists to skip, and its pause reaches the
 * bucket all at once when the cycle ends: what overflows a full bucket is
 * lost to it, and a cycle started at the first drain would let the
 * collector keep most of the CPU. So such a cycle starts only when the
 * bucket has room for what the last one cost (gcStart): the heap outgrows
 * its goal meanwhile, as it does when assists are skipped, and cycles go
 * on at about half the CPU. GC time is what gctrace reports: assist and
 * background workers' thread CPU, pauses times the Ps (mgc.c gcCPUTimeNow).
 * The busy Ps are sampled (Ps minus idle Ps) at each update. Go's workers
 * run on Ps; gort's run on threads of their own, so their CPU time counts
 * as CPU the program had besides its Ps: otherwise one goroutine and a
 * worker on the idle P's core would read as more GC than mutator.
 *
 * sysmon updates the limiter on every tick (every 20 us to 10 ms);
 * updates from elsewhere are not needed, since only a busy program can
 * fill the bucket and sysmon ticks often while one runs.
 */
#include "malloc.h"

enum { capacityPerProc = 1000 * 1000 * 1000 };   /* ns of CPU */

static struct {
    int64_t fill;                 /* ns of GC CPU over its share; sysmon's alone */
    int64_t capacity;             /* GOMAXPROCS s of CPU, as of the last update */
    int64_t lastUpdate;           /* nanotime of the last update, 0: none yet */
    int64_t lastGCTime;           /* gcCPUTimeNow() then */
    int64_t lastBgTime;           /* gcBgCPUTimeNow() then */
    _Atomic bool enabled;
    _Atomic int64_t room;         /* capacity - fill, for other threads */
    _Atomic uint64_t enabledCount;
    _Atomic int32_t fullness;     /* fill per mille of capacity, for other threads */
} limiter = {.room = INT64_MAX};

bool gcCPULimiting(void)
{
    return atomic_load_explicit(&limiter.enabled, memory_order_relaxed);
}

uint64_t gcCPULimiterEnabledCount(void)
{
    return atomic_load(&limiter.enabledCount);
}

int32_t gcCPULimiterFullness(void)
{
    return atomic_load_explicit(&limiter.fullness, memory_order_relaxed);
}

static _Atomic uint64_t skippedAssists, postponedStarts;

void gcCPULimiterSkippedAssist(void) { atomic_fetch_add_explicit(&skippedAssists, 1, memory_order_relaxed); }
uint64_t gcCPULimiterSkippedAssists(void) { return atomic_load(&skippedAssists); }
void gcCPULimiterPostponedStart(void) { atomic_fetch_add_explicit(&postponedStarts, 1, memory_order_relaxed); }
uint64_t gcCPULimiterPostponedStarts(void) { return atomic_load(&postponedStarts); }

/* Could the bucket take cpu ns of GC time without filling up? Never asked
 * for more than half of it, so a cycle dearer than that still runs once
 * the program has drained half. Before the first update there is no bucket
 * yet: room for anything. */
bool gcCPULimiterHasRoomFor(int64_t cpu)
{
    int64_t half = (int64_t)atomic_load(&gomaxprocs) * capacityPerProc / 2;
    return atomic_load_explicit(&limiter.room, memory_order_relaxed) > (cpu < half ? cpu : half);
}

static void setEnabled(bool on)
{
    if (on && !atomic_load(&limiter.enabled))
        atomic_fetch_add(&limiter.enabledCount, 1);
    atomic_store(&limiter.enabled, on);
}

/* Go's resetCapacity: GOMAXPROCS changed. A full bucket of the old size is
 * not full at a bigger one, so the limiter goes off; at a smaller one the
 * fill is cut to fit and the limiter is on. Without this, the flag set at
 * the old size would stay on until the bucket filled again. */
static void resetCapacity(int64_t capacity)
{
    limiter.capacity = capacity;
    if (limiter.fill >= capacity)
        limiter.fill = capacity;
    setEnabled(limiter.fill == capacity);
}

/* Go's accumulate: adds the window's GC time and drains its mutator time. */
static void accumulate(int64_t mutatorTime, int64_t gcTime)
{
    int64_t capacity = limiter.capacity;
    bool wasEnabled = limiter.fill >= capacity;
    int64_t change = gcTime - mutatorTime;
    if (change > 0 && capacity - limiter.fill <= change) {
        limiter.fill = capacity;
        if (!wasEnabled)
            setEnabled(true);
        return;
    }
    limiter.fill = limiter.fill + change < 0 ? 0 : limiter.fill + change;
    if (change != 0 && wasEnabled)
        setEnabled(false);
}

void gcCPULimiterUpdate(int64_t now)
{
    int64_t gcTime = gcCPUTimeNow(), bgTime = gcBgCPUTimeNow();
    if (limiter.lastUpdate == 0 || now <= limiter.lastUpdate) {
        limiter.lastUpdate = now;
        limiter.lastGCTime = gcTime;
        limiter.lastBgTime = bgTime;
        return;
    }
    int32_t procs = atomic_load(&gomaxprocs);
    int32_t idle = atomic_load(&sched.npidle);
    if ((int64_t)procs * capacityPerProc != limiter.capacity)
        resetCapacity((int64_t)procs * capacityPerProc);
    int64_t window = now - limiter.lastUpdate;
    /* The CPU the program had: its busy Ps, and the background workers,
     * which run on threads of their own (Go's run on Ps). */
    int64_t total = window * (procs - (idle < procs ? idle : procs)) + (bgTime - limiter.lastBgTime);
    limiter.lastBgTime = bgTime;
    /* A cycle's pauses join gcCPUTimeNow when it ends, all at once: the
     * window takes what fits and the rest is carried as GC time of the
     * next windows (never as negative time). */
    int64_t gcDelta = gcTime > limiter.lastGCTime ? gcTime - limiter.lastGCTime : 0;
    if (gcDelta > total)
        gcDelta = total;
    limiter.lastGCTime += gcDelta;
    limiter.lastUpdate = now;
    accumulate(total - gcDelta, gcDelta);
    atomic_store_explicit(&limiter.fullness, (int32_t)(limiter.fill / (limiter.capacity / 1000)),
                          memory_order_relaxed);
    atomic_store_explicit(&limiter.room, limiter.capacity - limiter.fill, memory_order_relaxed);
}
