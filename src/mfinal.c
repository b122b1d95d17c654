/*
 * mfinal.c — finalizers (Go: mfinal.go's SetFinalizer, queuefinalizer,
 * createfing and runfinq; the finalizer parts of mgcmark.go's markrootSpans
 * and of mgcsweep.go's sweep).
 *
 * gort_set_finalizer(obj, fn) asks for fn(obj) to run once obj has become
 * unreachable. Each request is a record (block base, obj, fn) in a hash
 * table keyed by the base of the heap block obj lies in, and the block's
 * span gets the flag `hasFinalizer` (as the heap profile's records and
 * `profiled`, mprof.c). The collector treats a record in three places:
 *
 *   mark roots   every pause that greys the roots scans each recorded
 *                block's words (markFinalizerRoots, from roots.c), but does
 *                not mark the block itself. So whatever the block points to
 *                survives the cycle, while the block is marked only if the
 *                program reaches it. A record made while marking runs has
 *                its block scanned at once, as Go's addfinalizer does.
 *   sweep        a flagged span's sweep (finSweep, before it counts the
 *                marks) looks up the record of every block: an unmarked one
 *                is unreachable. Its record moves to the queue and its mark
 *                bit is set, so the block and (from the roots above) all it
 *                refers to stay allocated for the finalizer to use.
 *   finalizer    one goroutine (fing, made with the first record) takes the
 *   goroutine    queue and calls each fn(obj) in turn, as a goroutine: a
 *                finalizer may block, send on channels, allocate.
 *
 * The record is gone once queued, so the finalizer runs once. If fn stores
 * obj somewhere reachable (resurrection), obj simply stays alive: it has no
 * record any more, so a later cycle frees it when it is dropped again,
 * without running fn twice; a finalizer that wants another run sets one
 * again. A cycle of blocks with finalizers is never collected (each keeps
 * the next marked from the roots), as in Go.
 *
 * fing parks when the queue is empty; its park commits under finlock only
 * if the queue is still empty, and the sweeper, having queued under finlock,
 * readies fing if it had parked: no wakeup is lost. While parked, fing is a
 * system goroutine (Go's isSystemGoroutine): gort_num_goroutine does not
 * count it and goroutine dumps leave it out.
 *
 * finlock is taken only inside suspension-free regions (malloc.h): the
 * sweeper takes it while the world may be stopping, and records are
 * allocated (malloc) before it is taken.
 */
#include "malloc.h"

#include <stdlib.h>

typedef struct finalizer {
    uintptr_t base;               /* the heap block's first byte */
    void     *obj;                /* what fn gets: base, or inside a tiny block */
    void    (*fn)(void *);
    struct finalizer *next;
} finalizer;

enum { finTabBits = 12 };

static mutex finlock;
static finalizer *fintab[1 << finTabBits];  /* records by block base */
static finalizer *finq;                     /* unreachable: fn to run */
static g *fing;                             /* the finalizer goroutine */
static _Atomic bool fingParked;             /* written under finlock */
static _Atomic bool fingMade;
static _Atomic int64_t nfinalizers;         /* records in fintab */

static size_t finHash(uintptr_t base)
{
    return (size_t)(((uint64_t)base * 0x9E3779B97F4A7C15ull) >> (64 - finTabBits));
}

static void finLock(void)
{
    nosuspend_enter();
    lock(&finlock);
}

static void finUnlock(void)
{
    unlock(&finlock);
    nosuspend_exit();
}

/* The record slot for obj, or where a new one goes. finlock held. */
static finalizer **finFind(uintptr_t base, void *obj)
{
    finalizer **fp = &fintab[finHash(base)];
    while (*fp && ((*fp)->base != base || (*fp)->obj != obj))
        fp = &(*fp)->next;
    return fp;
}

/* ---- The finalizer goroutine --------------------------------------------------------- */

/* gopark's unlock function: parks fing only if nothing was queued meanwhile. */
static bool fingCommit(g *gp, void *arg)
{
    (void)arg;
    finLock();
    bool empty = finq == NULL;
    fing = gp;
    fingParked = empty;
    finUnlock();
    return empty;
}

/* The queue, emptied. NOINLINE: finLock reaches gclocal, a thread-local,
 * and runfinq's loop switches goroutines (gopark, the finalizers), so it
 * may run on another thread each time round: inlined, the compiler could
 * keep the first thread's gclocal address across the loop (runtime.h). */
static NOINLINE finalizer *takefinq(void)
{
    finLock();
    finalizer *q = finq;
    finq = NULL;
    finUnlock();
    return q;
}

static void runfinq(void *arg)
{
    (void)arg;
    for (;;) {
        finalizer *q = takefinq();
        if (!q) {
            gopark(fingCommit, NULL, waitReasonFinalizerWait);
            continue;
        }
        while (q) {
            finalizer *f = q;
            q = f->next;
            void (*fn)(void *) = f->fn;
            void *obj = f->obj;
            free(f);
            fn(obj);
        }
    }
}

static void createfing(void)
{
    bool made = false;
    if (!atomic_compare_exchange_strong(&fingMade, &made, true))
        return;
    gort_go(runfinq, NULL);
}

/* Lock-free: gort_num_goroutine runs under sched.lock, in deadlock checks. */
bool fingHidden(void) { return atomic_load(&fingParked); }

/* ---- Setting ------------------------------------------------------------------------ */

/* The heap block obj starts (its span in *sp), or a fatal error naming the
 * misuse as Go's SetFinalizer does. */
static uintptr_t finBlock(void *obj, mspan **sp)
{
    if (!obj)
        throw("runtime.SetFinalizer: first argument is nil");
    uintptr_t idx, base = findObject((uintptr_t)obj, sp, &idx);
    if (!base)
        throw("runtime.SetFinalizer: pointer not in allocated block");
    /* As Go: inside a block only for the tiny allocator's pointer-free
     * objects, which share a block (the finalizer waits for all of them). */
    if ((uintptr_t)obj != base && (*sp)->spanclass != tinySpanClass)
        throw("runtime.SetFinalizer: pointer not at beginning of allocated block");
    return base;
}

void gort_set_finalizer(void *obj, void (*fn)(void *obj))
{
    RUNTIME_ENTRY();
    mallocinit();
    mspan *s;
    uintptr_t base = finBlock(obj, &s);
    finalizer *nf = fn ? malloc(sizeof *nf) : NULL;
    if (fn && !nf)
        throw("runtime: out of memory for a finalizer record");
    finLock();
    finalizer **fp = finFind(base, obj);
    if (!fn) {                              /* SetFinalizer(obj, nil): remove */
        finalizer *old = *fp;
        if (old) {
            *fp = old->next;
            atomic_fetch_sub(&nfinalizers, 1);
        }
        finUnlock();
        free(old);
        return;
    }
    if (*fp)
        throw("runtime.SetFinalizer: finalizer already set");
    *nf = (finalizer){ .base = base, .obj = obj, .fn = fn, .next = NULL };
    *fp = nf;
    atomic_fetch_add(&nfinalizers, 1);
    atomic_store_explicit(&s->hasFinalizer, 1, memory_order_relaxed);
    /* Marking under way: the roots were greyed without this block. */
    if (atomic_load(&gcphase) != _GCoff && !spanClass_noscan(s->spanclass))
        scanblock(base, s->elemsize);
    finUnlock();
    createfing();
}

/* ---- The collector's side ----------------------------------------------------------------- */

void markFinalizerRoots(void)
{
    if (atomic_load_explicit(&nfinalizers, memory_order_relaxed) == 0)
        return;
    finLock();
    for (size_t i = 0; i < nelem(fintab); i++)
        for (finalizer *f = fintab[i]; f; f = f->next) {
            mspan *s = spanOfHeap(f->base);
            if (s && !spanClass_noscan(s->spanclass))
                scanblock(f->base, s->elemsize);
        }
    finUnlock();
}

void finSweep(mspan *s)
{
    bool left = false, wake = false;
    finLock();
    for (uintptr_t i = 0; i < s->nelems; i++) {
        uintptr_t base = s->startAddr + i * s->elemsize;
        uint64_t bit = 1ULL << (i % 64);
        bool marked = s->gcmarkBits[i / 64] & bit;
        for (finalizer **fp = &fintab[finHash(base)]; *fp;) {
            finalizer *f = *fp;
            if (f->base != base || marked) {
                left |= f->base == base;
                fp = &f->next;
                continue;
            }
            *fp = f->next;                  /* unreachable: queue fn(obj) */
            f->next = finq;
            finq = f;
            atomic_fetch_sub(&nfinalizers, 1);
            s->gcmarkBits[i / 64] |= bit;   /* and keep the block for it */
            wake = fingParked;
        }
    }
    atomic_store_explicit(&s->hasFinalizer, left, memory_order_relaxed);
    if (wake)
        fingParked = false;
    finUnlock();
    if (wake)
        goready(fing);
}
