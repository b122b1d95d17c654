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
 */
#include "malloc.h"

#include <stdlib.h>
#include <string.h>

enum { heapMinimum = 4 << 20 };

int32_t gcPercent = 100;
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

static void commitLocked(void)
{
    uint64_t goal, trigger;
    if (gcPercent < 0) {
        goal = trigger = UINT64_MAX;
    } else {
        uint64_t minimum = (uint64_t)heapMinimum * (uint64_t)gcPercent / 100;
        goal = lastMarked + (lastMarked + lastStacks + lastGlobals) * (uint64_t)gcPercent / 100;
        if (goal < minimum)
            goal = minimum;
        trigger = !gcConcurrentMark() ? goal : lastMarked + (goal - lastMarked) * 7 / 10;
    }
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
    gcPercent = readGOGC();
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
    gcPercent = pct < 0 ? -1 : pct;
    commitLocked();
    unlock(&pacerLock);
    nosuspend_exit();
    /* A lower goal may already be behind us: collect now, as Go does. */
    if (pct >= 0 && atomic_load(&gcHeapLive) >= atomic_load(&gcTrigger))
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
