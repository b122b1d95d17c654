/*
 * mgcleak.c — goroutine leak detection (Go 1.26: mgc.go's findGoroutineLeaks,
 * isMaybeRunnable, findMaybeRunnableGoroutines and setSyncObjectsUntraceable;
 * mgcmark.go's allGsSnapshotSortedForGC; runtime/pprof's goroutineleak
 * profile).
 *
 * A goroutine leaks when it blocks forever: it waits on a channel, a mutex,
 * a wait group or a condition variable that no goroutine which can still run
 * will ever touch again. The collector can prove that for many of them,
 * because "will touch" needs "can reach": a goroutine that can run reaches
 * only what its stack, the globals and the objects they point to reach. So
 * the pass marks from the goroutines that can run and from the global roots
 * only, leaving out the blocked ones, and looks at what each blocked one
 * waits on:
 *
 *   1. Candidates: goroutines parked on a channel operation or select, or on
 *      gort_mutex / gort_rwmutex / gort_waitgroup / gort_cond (Go's
 *      isChanWait, isSyncWait, and nil-channel waits). Every other goroutine
 *      (running, runnable, in a system call, asleep, waiting for I/O or for
 *      the runtime itself) is a root, as are the globals, the registered
 *      ranges, the Ps and the threads' stacks.
 *   2. The candidates' wait objects are hidden from the marker: the channel
 *      of each of their sudogs, or the address a sync wait sleeps on (a
 *      sudog sits in global semaphore tables and in the channel's queues,
 *      and would otherwise mark what it waits on). Hiding flips the top bit
 *      of the pointer, which no heap address has; it is undone at the end.
 *   3. Mark from the roots (mgcmark.c's side marking: the checkmark bits, so
 *      the collector's own mark bits and statistics never see this pass).
 *   4. Fixpoint: a candidate whose wait object got marked is reachable by
 *      someone who can run, so it may run again: its struct and stack
 *      become roots, and marking goes on. Repeat until a round adds nobody.
 *      A nil-channel wait or an empty select never wakes: always leaked.
 *   5. The candidates left are leaked. Their goid, wait reason, wait object
 *      and creation site are copied out; the world starts again, and only
 *      then does the caller's callback run.
 *
 * Scanning is conservative, so a stale word anywhere in the roots can make a
 * dead channel look reachable: the pass can miss a leak, never report a
 * goroutine that can still be woken by a goroutine that runs (a pointer the
 * program hides from the collector, in malloc memory it did not register, is
 * outside that promise, as it is outside the collector's).
 *
 * The whole pass runs with the world stopped, between collector cycles
 * (gcRunStopped), and allocates nothing while stopped: its arrays are made
 * beforehand for the number of goroutines there are, and made again larger
 * if more appeared before the stop.
 */
#define UNW_LOCAL_ONLY
#include "malloc.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>

#define HIDDEN ((uintptr_t)1 << 63)   /* above every user-space address */

static void *flip(void *p) { return p ? (void *)((uintptr_t)p ^ HIDDEN) : NULL; }

typedef struct leakPass {
    size_t cap;                 /* room in each array */
    size_t ncand, nleaked;
    g **cand;
    bool *live;
    gort_goroutine_leak *leaked;
} leakPass;

static bool isChanWait(enum waitreason r)
{
    return r == waitReasonChanSend || r == waitReasonChanReceive || r == waitReasonSelect;
}

static bool isSyncWait(enum waitreason r)
{
    return r == waitReasonSyncMutexLock || r == waitReasonSyncRWMutexLock ||
           r == waitReasonSyncRWMutexRLock || r == waitReasonSyncCondWait ||
           r == waitReasonSyncWaitGroupWait;
}

static bool isNeverWait(enum waitreason r)
{
    return r == waitReasonSelectNoCases || r == waitReasonChanSendNilChan ||
           r == waitReasonChanReceiveNilChan;
}

/* Is gp blocked on something a leak can be proved for? (Not: roots.) */
static bool isCandidate(g *gp)
{
    if (atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) != Gwaiting)
        return false;
    enum waitreason r = gp->waitreason;
    return isChanWait(r) || isSyncWait(r) || isNeverWait(r);
}

static void collectCandidate(g *gp, void *arg)
{
    leakPass *lp = arg;
    if (!isCandidate(gp))
        return;
    if (lp->ncand < lp->cap) {
        lp->cand[lp->ncand] = gp;
        lp->live[lp->ncand] = false;
    }
    lp->ncand++;
}

/* Hides (or shows again) what gp waits on: step 2 above. A sync wait has
 * one sudog, whose waitlink belongs to the semaphore's queue. */
static void flipWaitObjects(g *gp)
{
    if (isChanWait(gp->waitreason)) {
        for (sudog *sg = gp->waiting; sg; sg = sg->waitlink)
            sg->c = flip(sg->c);
    } else if (isSyncWait(gp->waitreason) && gp->waiting) {
        gp->waiting->elem = flip(gp->waiting->elem);
    }
}

/* The object gp waits on, shown (the first channel of a select). */
static void *waitObject(g *gp)
{
    if (!gp->waiting || isNeverWait(gp->waitreason))
        return NULL;
    return flip(isChanWait(gp->waitreason) ? (void *)gp->waiting->c : gp->waiting->elem);
}

/* Go's isMaybeRunnable, on hidden pointers: may a goroutine that runs
 * still reach what gp waits on? */
static bool maybeRunnable(g *gp)
{
    enum waitreason r = gp->waitreason;
    if (isNeverWait(r))
        return false;
    if (isChanWait(r)) {
        for (sudog *sg = gp->waiting; sg; sg = sg->waitlink)
            if (gcSideMarked((uintptr_t)flip(sg->c)))
                return true;
        return false;
    }
    return !gp->waiting || gcSideMarked((uintptr_t)flip(gp->waiting->elem));
}

/* Where gp was made: the one place that reads the creation site. */
static void creationSite(g *gp, gort_goroutine_leak *l)
{
    l->created_pc = gp->gopc;
    l->creator_goid = gp->parentGoid;
}

static void recordLeak(leakPass *lp, g *gp)
{
    gort_goroutine_leak *l = &lp->leaked[lp->nleaked++];
    l->goid = gp->goid;
    l->wait_reason = waitreason_string(gp->waitreason);
    l->wait_object = waitObject(gp);
    creationSite(gp, l);
}

/* Steps 2 to 5, with the world stopped. */
static void findLeaks(void *arg)
{
    leakPass *lp = arg;
    lp->ncand = lp->nleaked = 0;
    forEachGStopped(collectCandidate, lp);
    if (lp->ncand > lp->cap)
        return;                       /* more goroutines than room: again, larger */
    for (size_t i = 0; i < lp->ncand; i++)
        flipWaitObjects(lp->cand[i]);
    gcSideMarkBegin();
    gcMarkRootsExcept(isCandidate);
    gcSideDrain();
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < lp->ncand; i++)
            if (!lp->live[i] && maybeRunnable(lp->cand[i])) {
                lp->live[i] = more = true;
                gcScanG(lp->cand[i]);
            }
        gcSideDrain();
    }
    for (size_t i = 0; i < lp->ncand; i++)
        if (!lp->live[i])
            recordLeak(lp, lp->cand[i]);
    gcSideMarkEnd();
    for (size_t i = 0; i < lp->ncand; i++)
        flipWaitObjects(lp->cand[i]);
}

static void leakPassFree(leakPass *lp)
{
    free(lp->cand);
    free(lp->live);
    free(lp->leaked);
}

static int byGoid(const void *a, const void *b)
{
    uint64_t x = ((const gort_goroutine_leak *)a)->goid, y = ((const gort_goroutine_leak *)b)->goid;
    return (x > y) - (x < y);
}

/* Runs the pass; lp->leaked[0, nleaked) holds the leaks by goid after it.
 * The caller frees with leakPassFree. */
static void runLeakPass(leakPass *lp)
{
    *lp = (leakPass){ .cap = allgcount() + 16 };
    for (;;) {
        lp->cand = malloc(lp->cap * sizeof *lp->cand);
        lp->live = malloc(lp->cap * sizeof *lp->live);
        lp->leaked = malloc(lp->cap * sizeof *lp->leaked);
        if (!lp->cand || !lp->live || !lp->leaked)
            throw("runtime: out of memory for the goroutine leak pass");
        gcRunStopped(findLeaks, lp);
        if (lp->ncand <= lp->cap)
            break;
        lp->cap = lp->ncand * 2;
        leakPassFree(lp);
    }
    qsort(lp->leaked, lp->nleaked, sizeof *lp->leaked, byGoid);
}

int gort_goroutine_leaks(gort_goroutine_leak_fn fn, void *arg)
{
    RUNTIME_ENTRY();
    leakPass lp;
    runLeakPass(&lp);
    for (size_t i = 0; fn && i < lp.nleaked; i++)
        fn(&lp.leaked[i], arg);
    int n = (int)lp.nleaked;
    leakPassFree(&lp);
    return n;
}

/* ---- The report ------------------------------------------------------------------ */

/* The name of the function holding pc and pc's offset in it, from the
 * symbol tables (static functions included): libunwind looks it up for a
 * cursor moved to pc. */
static bool procName(uintptr_t pc, char *buf, size_t n, uintptr_t *off)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t o;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0 ||
        unw_set_reg(&c, UNW_REG_IP, pc) != 0 || unw_get_proc_name(&c, buf, n, &o) != 0)
        return false;
    *off = o;
    return true;
}

/* "created by f+0x1c in goroutine 1" and the object and offset of the call
 * site, as traceback.c prints frames. The PC is a return address: the name
 * is looked up in the call, at PC-1. */
static void printCreatedBy(FILE *f, const gort_goroutine_leak *l)
{
    if (!l->created_pc)
        return;
    char name[256];
    uintptr_t off;
    if (procName(l->created_pc - 1, name, sizeof name, &off))
        fprintf(f, "created by %s+0x%lx", name, (unsigned long)(off + 1));
    else
        fprintf(f, "created by ?");
    if (l->creator_goid)
        fprintf(f, " in goroutine %llu", (unsigned long long)l->creator_goid);
    Dl_info info;
    if (dladdr((void *)l->created_pc, &info) && info.dli_fname)
        fprintf(f, "\n\t%s +0x%lx pc=0x%lx", info.dli_fname,
                (unsigned long)(l->created_pc - (uintptr_t)info.dli_fbase),
                (unsigned long)l->created_pc);
    fprintf(f, "\n");
}

static void printLeak(const gort_goroutine_leak *l, void *arg)
{
    FILE *f = arg;
    fprintf(f, "goroutine %llu [%s (leaked)]:\n", (unsigned long long)l->goid, l->wait_reason);
    printCreatedBy(f, l);
    fprintf(f, "\n");
}

int gort_goroutine_leaks_report(FILE *f)
{
    RUNTIME_ENTRY();
    return gort_goroutine_leaks(printLeak, f);
}

/* GORT_DEBUG=leakcheck=1: the report, on stderr, when the main goroutine
 * returns. */
void leakcheckAtExit(void)
{
    if (!debug.leakcheck)
        return;
    leakPass lp;
    runLeakPass(&lp);
    fflush(stdout);
    fprintf(stderr, "leakcheck: %zu leaked goroutine%s\n", lp.nleaked, lp.nleaked == 1 ? "" : "s");
    for (size_t i = 0; i < lp.nleaked; i++)
        printLeak(&lp.leaked[i], stderr);
    leakPassFree(&lp);
}
