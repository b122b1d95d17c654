/*
 * mgcpacer.c — when to collect (Go: mgcpacer.go's gcControllerState,
 * commit, setGCPercent; readGOGC).
 *
 * GOGC's rule, Go 1.18 and later: after a cycle that found `marked` bytes of
 * live heap, the next cycle should finish by the time the heap reaches
 *
 *     goal = marked + (marked + stacks + globals) * GOGC / 100
 *
 * where stacks and globals are the bytes of goroutine stack and of data/bss
 * the cycle scanned: they cost marking work too, so they buy heap growth.
 * The goal is never below 4 MiB * GOGC/100 (Go's heapMinimum), so a tiny
 * program does not collect constantly. GOGC=off (GORT_GC=off, or a negative
 * gort_set_gc_percent) stops triggered cycles; gort_gc still collects.
 *
 * The trigger is the heapLive value (bytes in spans handed to mcaches plus
 * large objects, malloc.h) at which an allocation starts the cycle. With the
 * world stopped for the whole mark, the cycle is over the moment it starts,
 * so the trigger is the goal itself. When marking runs beside the program
 * the heap keeps growing while it does, so the trigger sits at 70% of the
 * runway from the marked heap to the goal (Go's lower trigger bound), and
 * assists make allocation pay for marking at the rate that finishes the
 * expected scan work (last cycle's marked heap, stacks and globals) by the
 * time the heap reaches the goal (gcAssistRatio, Go's revise).
 *
 * The soft memory limit (GORT_MEMLIMIT, gort_set_memory_limit; Go's
 * GOMEMLIMIT and memoryLimitHeapGoal) caps the goal so that the memory the
 * runtime has mapped and resident stays under the limit:
 *
 *     goal = limit - nonheap - overage - headroom
 *
 * nonheap is everything resident but the heap's pages (span and cache
 * records, GC metadata, profiling buckets, two pages per goroutine stack:
 * stack.c's stack_resident_bytes); overage how far the
 * resident total already exceeds the limit; headroom 3% of the rest (at
 * least 1 MiB), for what grows before the next cycle ends. The goal never
 * drops below the marked heap: then cycles run back to back, and the GC CPU
 * limiter (mgclimit.c) keeps the collector to about half the CPU by
 * turning assists off.
 * Free resident heap pages count against the limit too: the scavenger
 * returns them while the resident total exceeds 95% of it (mheap.c).
 * Unlike Go, fragmentation inside spans is part of the heap here, not of
 * nonheap: heapLive counts whole spans, so the goal bounds them.
 */
#include "malloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { heapMinimum = 4 << 20 };

int32_t gcPercent = 100;
_Atomic int64_t gcMemoryLimit = INT64_MAX;   /* written under pacerLock */
_Atomic uint64_t gcHeapLive;
_Atomic uint64_t gcTrigger = heapMinimum;
static uint64_t lastMarked, lastStacks, lastGlobals;
static mutex pacerLock;        /* taken only inside suspension-free regions */

/* GORT_GC: a percentage, or "off" (Go's readGOGC). */
static int32_t readGOGC(void)
{
    const char *s = getenv("GORT_GC");
    if (!s || !*s)
        return 100;
    if (strcmp(s, "off") == 0)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v > 1 << 30)
        return 100;
    return v < 0 ? -1 : (int32_t)v;
}

/* GORT_MEMLIMIT: bytes, with an optional B, KiB, MiB, GiB or TiB suffix
 * (Go's parseByteCount), or "off"; INT64_MAX if unset. Malformed: fatal. */
static int64_t readMEMLIMIT(void)
{
    const char *s = getenv("GORT_MEMLIMIT");
    if (!s || !*s || strcmp(s, "off") == 0)
        return INT64_MAX;
    static const char *const units[] = { "", "B", "KiB", "MiB", "GiB", "TiB" };
    static const int shifts[] = { 0, 0, 10, 20, 30, 40 };
    char *end;
    errno = 0;
    long long n = isdigit((unsigned char)*s) ? strtoll(s, &end, 10) : -1;
    for (size_t i = 0; n >= 0 && errno == 0 && i < nelem(units); i++)
        if (strcmp(end, units[i]) == 0 && n <= INT64_MAX >> shifts[i])
            return (int64_t)n << shifts[i];
    gprint("GORT_MEMLIMIT=%s\n", s);
    throw("malformed GORT_MEMLIMIT; see gort_set_memory_limit in gort.h");
}

/* The heap goal the memory limit allows (see the top), or UINT64_MAX. */
static uint64_t memoryLimitHeapGoal(void)
{
    int64_t limit = atomic_load(&gcMemoryLimit);
    if (limit == INT64_MAX)
        return UINT64_MAX;
    uint64_t nonheap = nonHeapSys(), heapResident = heapResidentBytes();
    uint64_t mapped = heapResident + nonheap, overage = mapped > (uint64_t)limit ? mapped - (uint64_t)limit : 0;
    if (nonheap + overage >= (uint64_t)limit)
        return lastMarked;
    uint64_t goal = (uint64_t)limit - nonheap - overage;
    uint64_t headroom = goal / 100 * 3 > (1 << 20) ? goal / 100 * 3 : (1 << 20);
    goal = goal < 2 * headroom ? headroom : goal - headroom;
    return goal > lastMarked ? goal : lastMarked;
}

static void commitLocked(void)
{
    uint64_t goal = UINT64_MAX, trigger;
    if (gcPercent >= 0) {
        uint64_t minimum = (uint64_t)heapMinimum * (uint64_t)gcPercent / 100;
        goal = lastMarked + (lastMarked + lastStacks + lastGlobals) * (uint64_t)gcPercent / 100;
        if (goal < minimum)
            goal = minimum;
    }
    uint64_t limitGoal = memoryLimitHeapGoal();
    if (limitGoal < goal)
        goal = limitGoal;
    if (goal == UINT64_MAX)
        trigger = UINT64_MAX;          /* GC off and no limit: no triggered cycles */
    else
        trigger = !gcConcurrentMark() ? goal : lastMarked + (goal - lastMarked) * 7 / 10;
    __atomic_store_n(&memstats.next_gc, goal, __ATOMIC_RELAXED);
    atomic_store(&gcTrigger, trigger);
}

void gcControllerCommit(uint64_t marked, uint64_t stacks, uint64_t globals)
{
    lastMarked = marked;          /* the world is stopped: no one holds pacerLock */
    lastStacks = stacks;
    lastGlobals = globals;
    commitLocked();
}

void gcControllerInit(void)
{
    nosuspend_enter();
    lock(&pacerLock);
    __atomic_store_n(&gcPercent, readGOGC(), __ATOMIC_RELAXED);
    atomic_store(&gcMemoryLimit, readMEMLIMIT());
    commitLocked();
    unlock(&pacerLock);
    nosuspend_exit();
}

int gort_set_gc_percent(int pct)
{
    RUNTIME_ENTRY();
    mallocinit();
    nosuspend_enter();
    lock(&pacerLock);
    int old = gcPercent;
    __atomic_store_n(&gcPercent, pct < 0 ? -1 : pct, __ATOMIC_RELAXED);
    commitLocked();
    unlock(&pacerLock);
    nosuspend_exit();
    /* A lower goal may already be behind us: collect now, as Go does. */
    if (pct >= 0 && atomic_load(&gcHeapLive) >= atomic_load(&gcTrigger))
        gcStart(false);
    return old;
}

int64_t gort_set_memory_limit(int64_t limit)
{
    RUNTIME_ENTRY();
    mallocinit();
    if (limit < 0)
        return atomic_load(&gcMemoryLimit);
    nosuspend_enter();
    lock(&pacerLock);
    int64_t old = atomic_exchange(&gcMemoryLimit, limit);
    commitLocked();
    unlock(&pacerLock);
    nosuspend_exit();
    if (atomic_load(&gcHeapLive) >= atomic_load(&gcTrigger))
        gcStart(false);
    return old;
}

double gcAssistRatio(uint64_t heapLive)
{
    uint64_t goal = __atomic_load_n(&memstats.next_gc, __ATOMIC_RELAXED);
    uint64_t runway = goal > heapLive + (1 << 20) ? goal - heapLive : 1 << 20;
    uint64_t scanWork = lastMarked + lastStacks + lastGlobals;
    return scanWork ? (double)runway / (double)scanWork : (double)runway;
}
