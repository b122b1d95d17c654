/*
 * roots.c — where the collector looks for pointers, and how it stops the
 * world to look (Go: mgcmark.go's markroot, scanstack; stopping threads is
 * Boehm GC's pthread_stop_world.c, since Go stops goroutines at safe points
 * that C code does not have).
 *
 * Stopping the world. A goroutine spinning in a C loop never calls into the
 * runtime, so the collector cannot wait for it to stop itself. Instead every
 * thread that may hold GC pointers (each M, and each foreign thread that
 * allocated, blocked or collected) is registered here, and the collector
 * sends each one SIGPWR:
 *
 *   collector                         every other registered thread
 *   stopGen++, stopping = 1
 *   pthread_kill(t, SIGPWR)  ───────> handler: spill registers into its frame,
 *                                     record sp, nacked++, sleep on resumeGen
 *   wait until nacked == n
 *   ...mark, with everyone frozen...
 *   stopping = 0, resumeGen++ ──────> wakes, returns from the handler
 *
 * The handler runs on the interrupted stack (no SA_ONSTACK), so the range
 * [handler's sp, top of that stack) holds every frame of the interrupted
 * code, the signal frame with the saved registers, and the callee-saved
 * registers spilled by the handler itself: scanning it conservatively covers
 * "pointer only in a register". A thread inside a suspension-free region
 * (malloc.h: the allocator, the sweeper, these lists) only notes the request
 * and stops itself when it leaves the region.
 *
 * Roots, all scanned conservatively (any word that points into an allocated
 * object keeps it, interior pointers included):
 *   - every G that is not dead: its struct (param, the sudogs it waits on,
 *     its arguments) and its stack from the saved sp to the top, or from a
 *     stopped thread's sp when that thread runs on it, including the stack
 *     segments of gort_call_on_stack;
 *   - every registered thread's own stack from its sp (an M's g0 stack from
 *     where g0 switched to a goroutine), and a foreign thread's stand-in g;
 *   - every P: its struct and its timer heap (a pending timer keeps what it
 *     will send to or run alive, as Go's do);
 *   - the M structs;
 *   - writable data and bss of every loaded object (dl_iterate_phdr), minus
 *     the RELRO part and the heap's metadata (mheap_), read again at every cycle so a dlopen'ed library's
 *     globals count; sanitizer runtimes are skipped (their tables hold no
 *     GC pointers and are huge);
 *   - ranges registered with gort_add_roots.
 * The goroutine-leak pass (mgcleak.c) leaves some Gs out of the roots and
 * scans them one by one later (gcMarkRootsExcept, gcScanG).
 * Memory from malloc is not a root: a GC pointer kept only there is lost
 * (docs/gc.md lists the rules).
 */
#include "malloc.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SIG_SUSPEND SIGPWR

__thread gcLocal gclocal_tls __attribute__((tls_model("initial-exec")));
#if !defined(__x86_64__) && !defined(__aarch64__)
NOINLINE gcLocal *gclocal_get(void) { return &gclocal_tls; }
#endif

typedef struct gcthread {
    struct gcthread *next;
    pthread_t   pt;
    m          *mp;               /* the M this thread is, or NULL */
    g          *standin;          /* a foreign thread's stand-in g, or NULL */
    uintptr_t   stacklo, stackhi; /* the thread's own stack */
    uintptr_t   altlo, althi;     /* its signal stack, if any */
    _Atomic uint32_t ackedStop;   /* the stop this thread last answered */
    uintptr_t   sp;               /* its sp while stopped in suspendHere */
    _Atomic uintptr_t blockedSP;  /* its sp while asleep in a futex, else 0 */
    uintptr_t   scanSP;           /* the collector's copy: where its scan starts */
    bool        signalled;        /* this stop waits for its answer */
    bool        self;             /* the collector's own thread, this stop */
    g          *ong;              /* the G whose stack sp is on, found by the scan */
    gcWork     *gcw;              /* its grey objects (in its gclocal) */
} gcthread;

static mutex threadsLock;         /* allthreads; held by the collector while stopped */
static gcthread *allthreads;
static pthread_key_t threadKey;
static pthread_once_t threadKeyOnce = PTHREAD_ONCE_INIT;

static struct {
    _Atomic uint32_t stopGen;     /* stops begun */
    _Atomic uint32_t nacked;      /* bumped by each answer (a futex word to wait on) */
    _Atomic uint32_t resumeGen;   /* stops ended */
    _Atomic(gcthread *) collector;/* the thread that stopped the world */
} world;
_Atomic uint32_t gcStopping;      /* a stop is under way */

/* The sleeps of this file bypass futexsleep's hooks, which call back here. */
static void rawFutexWait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    futexsleepNoGC(addr, val, ns);
}

/* ---- Thread registry ---------------------------------------------------------- */

static void threadExit(void *v)
{
    gcthread *t = v;
    nosuspend_enter();
    gcw_dispose(&gclocal.gcw);        /* its grey objects to the global list */
    nosuspend_exit();
    lock(&threadsLock);
    for (gcthread **pp = &allthreads; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    gclocal.thread = NULL;
    unlock(&threadsLock);
    free(t);
}

/* A forked child has only the thread that forked: forget the others. */
static void atforkChild(void)
{
    gcthread *me = gclocal.thread;
    allthreads = me;
    if (me)
        me->next = NULL;
    atomic_store(&threadsLock.key, 0);
    atomic_store(&gcStopping, 0);
}

static void makeThreadKey(void)
{
    if (pthread_key_create(&threadKey, threadExit) != 0)
        throw("runtime: pthread_key_create failed");
    gcSignalInit();
    pthread_atfork(NULL, NULL, atforkChild);
}

void gcRegisterThread(g *standin)
{
    gcthread *t = gclocal.thread;
    if (t) {
        if (standin)
            t->standin = standin;
        return;
    }
    pthread_once(&threadKeyOnce, makeThreadKey);
    t = calloc(1, sizeof *t);
    if (!t)
        throw("runtime: out of memory registering a thread with the GC");
    t->pt = pthread_self();
    g *gp = getg();
    t->mp = gp ? gp->m : NULL;
    t->standin = standin;
    t->gcw = &gclocal.gcw;
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(t->pt, &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        t->stacklo = (uintptr_t)addr;
        t->stackhi = (uintptr_t)addr + size;
        pthread_attr_destroy(&attr);
    }
    getsignalstack(&t->altlo, &t->althi);
    pthread_setspecific(threadKey, t);
    /* Outside any region: a collector holding threadsLock stops us here. */
    lock(&threadsLock);
    t->next = allthreads;
    allthreads = t;
    gclocal.thread = t;
    unlock(&threadsLock);
}

/* ---- Stopping and starting the world -------------------------------------------- */

/* Stops here until the world is started again. The signal frame, with the
 * interrupted registers, lies above this frame on the same stack. */
void (*gcTestSuspendGap)(void);

static NOINLINE void suspendHere(void)
{
    gcthread *t = gclocal.thread;
    if (!t || !atomic_load(&gcStopping) || t == atomic_load(&world.collector))
        return;                         /* the collector itself never stops */
    /* resumeGen first: a stop that ends before stopGen is read (one that
     * counted this thread as asleep in a futex does not wait for it) then
     * shows as sg == rg, or moves resumeGen past rg for the wait below.
     * Read the other way round, such a stop left this thread waiting for
     * the next stop to end, and the next stop waiting for this thread. */
    uint32_t rg = atomic_load_explicit(&world.resumeGen, memory_order_acquire);
    void (*gap)(void) = __atomic_load_n(&gcTestSuspendGap, __ATOMIC_RELAXED);
    if (unlikely(gap != NULL))
        gap();
    uint32_t sg = atomic_load_explicit(&world.stopGen, memory_order_acquire);
    if (sg == rg || atomic_load_explicit(&t->ackedStop, memory_order_relaxed) == sg)
        return;                         /* no stop now, or already answered this one */
    __builtin_unwind_init();            /* callee-saved registers into this frame */
    uintptr_t sp = getsp();            /* below the spilled registers */
    t->sp = sp & ~(uintptr_t)7;
    atomic_store_explicit(&t->ackedStop, sg, memory_order_release);
    atomic_fetch_add_explicit(&world.nacked, 1, memory_order_release);
    futexwakeup(&world.nacked, 1);
    while (atomic_load_explicit(&world.resumeGen, memory_order_acquire) == rg)
        rawFutexWait(&world.resumeGen, rg, -1);
}

/* futexsleep's hooks (os_linux.c). A thread asleep in a futex outside any
 * region counts as stopped without a signal, scanned from the sleeping
 * frame (which spilled its registers): idle Ms cost a stop nothing, and
 * under TSan, which delays signals to a thread until it calls into libc,
 * sleepers need no signal at all. Waking during a stop, it stops itself
 * before returning to its caller. */
void gcBlockingEnter(uintptr_t sp)
{
    gcthread *t = gclocal.thread;
    if (t && !gclocal.nosuspend)
        atomic_store(&t->blockedSP, sp & ~(uintptr_t)7);
}

void gcBlockingExit(void)
{
    gcthread *t = gclocal.thread;
    if (!t || !atomic_load_explicit(&t->blockedSP, memory_order_relaxed))
        return;
    atomic_store(&t->blockedSP, 0);
    if (atomic_load(&gcStopping))
        suspendHere();
}

bool (*gcTestLoseSuspendSignal)(void);

static void suspendHandler(int sig, siginfo_t *si, void *uc)
{
    bool (*lose)(void) = __atomic_load_n(&gcTestLoseSuspendSignal, __ATOMIC_RELAXED);
    if (unlikely(lose != NULL) && lose())
        return;
    int saved = errno;
    if (gclocal.nosuspend)
        gclocal.pending.suspend = 1;    /* stop when the region ends */
    else
        suspendHere();
    errno = saved;
}

void nosuspend_slow(void)
{
    if (gclocal.pending.suspend || atomic_load(&gcStopping)) {
        gclocal.pending.suspend = 0;
        suspendHere();
    }
    if (gclocal.pending.start) {
        gclocal.pending.start = 0;
        gcStart(false);
    }
}

void gcSignalInit(void)
{
    if (setsig(SIG_SUSPEND, suspendHandler, SA_RESTART, false, NULL) != 0)
        throw("runtime: cannot install the GC's stop signal handler");
}

/* Has t stopped for stop sg? A thread asleep in a futex has, too. */
static bool stopped(gcthread *t, uint32_t sg)
{
    if (atomic_load_explicit(&t->ackedStop, memory_order_acquire) == sg) {
        t->scanSP = t->sp;
        return true;
    }
    uintptr_t bsp = atomic_load(&t->blockedSP);
    if (bsp) {
        t->scanSP = bsp;
        return true;
    }
    return false;
}

/* selfsp: where the collecting thread's own scan starts, below a frame
 * that holds every callee-saved register of the code that called it.
 *
 * A thread that has not answered after resendNS gets the signal again.
 * Under TSan a signal can be stranded: TSan queues a signal that arrives
 * outside libc for the fiber (goroutine) then current, and runs it only
 * when that fiber next runs, so a thread that has meanwhile switched to a
 * goroutine spinning in C never answers (test_gc's register-only-root test
 * hung so). Natively the kernel never loses it, and a second one costs
 * nothing: the handler ignores a stop already answered, or one that ended. */
enum { resendNS = 10 * 1000 * 1000 };

void stopTheWorldGC(uintptr_t selfsp)
{
    gcthread *me = gclocal.thread;
    GORT_ASSERT(me && gclocal.nosuspend == 0);
    lock(&threadsLock);
    uint32_t sg = atomic_fetch_add(&world.stopGen, 1) + 1;
    atomic_store(&world.collector, me);
    atomic_store(&gcStopping, 1);
    for (gcthread *t = allthreads; t; t = t->next) {
        t->self = t == me;
        t->scanSP = 0;
        t->signalled = !t->self && !stopped(t, sg) && pthread_kill(t->pt, SIG_SUSPEND) == 0;
    }
    for (gcthread *t = allthreads; t; t = t->next) {
        int64_t resend = nanotime() + resendNS;
        while (t->signalled && !stopped(t, sg)) {
            uint32_t k = atomic_load(&world.nacked);
            if (!stopped(t, sg))
                rawFutexWait(&world.nacked, k, 1000 * 1000);
            if (!stopped(t, sg) && nanotime() >= resend) {
                pthread_kill(t->pt, SIG_SUSPEND);
                resend = nanotime() + resendNS;
            }
        }
    }
    me->scanSP = selfsp & ~(uintptr_t)7;
}

void gcFlushAllWork(void)
{
    for (gcthread *t = allthreads; t; t = t->next)
        gcw_dispose(t->gcw);
}

void startTheWorldGC(void)
{
    for (gcthread *t = allthreads; t; t = t->next)
        t->scanSP = 0;
    atomic_store(&gcStopping, 0);
    atomic_store(&world.collector, NULL);
    atomic_fetch_add_explicit(&world.resumeGen, 1, memory_order_release);
    futexwakeup(&world.resumeGen, INT32_MAX);
    unlock(&threadsLock);
}

/* ---- All Gs ------------------------------------------------------------------------ */

static mutex allglock;
static g **allgs;
static size_t allglen, allgcap;

/* Grows *arr (of *cap elements of size sz, *len used) to hold one more.
 * Never inside a region: malloc may wait for a lock held by a stopped
 * thread. The swap itself is a region, so the collector never sees it half
 * done; the old array is freed after it. */
static void growArray(void **arr, size_t *len, size_t *cap, size_t sz, mutex *l)
{
    size_t want = *cap ? *cap * 2 : 64;
    void *na = malloc(want * sz);
    if (!na)
        throw("runtime: out of memory growing a GC root list");
    nosuspend_enter();
    lock(l);
    void *old = na;
    if (*cap < want) {
        if (*len)
            memcpy(na, *arr, *len * sz);
        old = *arr;
        *arr = na;
        *cap = want;
    }
    unlock(l);
    nosuspend_exit();
    free(old);
}

void allgadd(g *gp)
{
    for (;;) {
        nosuspend_enter();
        lock(&allglock);
        bool room = allglen < allgcap;
        if (room) {
            gp->allgidx = (uint32_t)allglen;
            allgs[allglen++] = gp;
        }
        unlock(&allglock);
        nosuspend_exit();
        if (room)
            return;
        growArray((void **)&allgs, &allglen, &allgcap, sizeof *allgs, &allglock);
    }
}

void allgremove(g *gp)
{
    nosuspend_enter();
    lock(&allglock);
    size_t i = gp->allgidx;
    GORT_ASSERT(i < allglen && allgs[i] == gp);
    g *last = allgs[--allglen];
    allgs[i] = last;
    last->allgidx = (uint32_t)i;
    unlock(&allglock);
    nosuspend_exit();
}

void forEachG(void (*f)(g *gp, void *arg), void *arg)
{
    g **copy = NULL;
    size_t cap = 0, n;
    for (;;) {
        nosuspend_enter();
        lock(&allglock);
        n = allglen;
        bool fits = n <= cap;
        if (fits && n)
            memcpy(copy, allgs, n * sizeof *copy);
        unlock(&allglock);
        nosuspend_exit();
        if (fits)
            break;
        free(copy);
        cap = n + 64;
        if (!(copy = malloc(cap * sizeof *copy)))
            throw("runtime: out of memory listing goroutines");
    }
    for (size_t i = 0; i < n; i++)
        f(copy[i], arg);
    free(copy);
}

size_t allgcount(void)
{
    nosuspend_enter();
    lock(&allglock);
    size_t n = allglen;
    unlock(&allglock);
    nosuspend_exit();
    return n;
}

g *allgAt(size_t i)
{
    nosuspend_enter();
    lock(&allglock);
    g *gp = i < allglen ? allgs[i] : NULL;
    unlock(&allglock);
    nosuspend_exit();
    return gp;
}

void forEachGStopped(void (*fn)(g *gp, void *arg), void *arg)
{
    for (size_t i = 0; i < allglen; i++)
        fn(allgs[i], arg);
}

static bool gOwnsSP(g *gp, uintptr_t sp);

bool gStackInUse(g *gp)
{
    for (gcthread *t = allthreads; t; t = t->next)
        if (t->scanSP && gOwnsSP(gp, t->scanSP))
            return true;
    return false;
}

/* ---- Registered root ranges (gort_add_roots) -------------------------------------- */

typedef struct rootRange { uintptr_t lo, hi; } rootRange;
static mutex rootsLock;
static rootRange *userRoots;
static size_t nuserRoots, capuserRoots;

/* Appends [lo, hi); rootsLock held, in a region; false if there is no room. */
static bool userRootsAppend(uintptr_t lo, uintptr_t hi)
{
    if (nuserRoots == capuserRoots)
        return false;
    userRoots[nuserRoots++] = (rootRange){ lo, hi };
    return true;
}

void gort_add_roots(void *lo, void *hi)
{
    if ((uintptr_t)hi <= (uintptr_t)lo)
        return;
    for (;;) {
        nosuspend_enter();
        lock(&rootsLock);
        bool done = userRootsAppend((uintptr_t)lo, (uintptr_t)hi);
        unlock(&rootsLock);
        nosuspend_exit();
        if (done)
            return;
        growArray((void **)&userRoots, &nuserRoots, &capuserRoots, sizeof *userRoots, &rootsLock);
    }
}

/* Removing [l, h) from the middle of a range leaves two: room for those first. */
void gort_remove_roots(void *lo, void *hi)
{
    uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
    for (;;) {
        nosuspend_enter();
        lock(&rootsLock);
        size_t splits = 0;
        for (size_t i = 0; i < nuserRoots; i++)
            splits += userRoots[i].lo < l && userRoots[i].hi > h;
        bool room = capuserRoots - nuserRoots >= splits;
        for (size_t i = 0; room && i < nuserRoots;) {
            rootRange r = userRoots[i];
            if (r.hi <= l || r.lo >= h) {
                i++;
                continue;
            }
            userRoots[i] = userRoots[--nuserRoots];   /* keep what lies outside [l, h) */
            if (r.lo < l)
                userRootsAppend(r.lo, l);
            if (r.hi > h)
                userRootsAppend(h, r.hi);
        }
        unlock(&rootsLock);
        nosuspend_exit();
        if (room)
            return;
        growArray((void **)&userRoots, &nuserRoots, &capuserRoots, sizeof *userRoots, &rootsLock);
    }
}

/* ---- Data and bss of loaded objects -------------------------------------------- */

static rootRange *dataRoots;
static size_t ndataRoots, capdataRoots;

static bool skipObject(const char *name)
{
    return strstr(name, "libasan") || strstr(name, "libtsan") || strstr(name, "libubsan") ||
           strstr(name, "linux-vdso");
}

static void dataRootsAppendRange(uintptr_t lo, uintptr_t hi)
{
    if (hi <= lo)
        return;
    if (ndataRoots == capdataRoots) {
        size_t ncap = capdataRoots ? capdataRoots * 2 : 64;
        rootRange *na = realloc(dataRoots, ncap * sizeof *na);
        if (!na)
            throw("runtime: out of memory listing data segments");
        dataRoots = na;
        capdataRoots = ncap;
    }
    dataRoots[ndataRoots++] = (rootRange){ lo, hi };
}

/* Appends [lo, hi) without the heap's own metadata (mheap_): its words are
 * addresses in the arenas (their bounds, the current arena), never
 * references, and as roots they would keep the first object of an arena
 * alive for good (and a goroutine blocked on it from looking leaked). */
static void dataRootsAppend(uintptr_t lo, uintptr_t hi)
{
    uintptr_t mlo = (uintptr_t)&mheap_, mhi = (uintptr_t)(&mheap_ + 1);
    if (lo < mhi && mlo < hi) {
        dataRootsAppendRange(lo, mlo);
        dataRootsAppendRange(mhi, hi);
    } else {
        dataRootsAppendRange(lo, hi);
    }
}

static int phdrCallback(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (skipObject(info->dlpi_name ? info->dlpi_name : ""))
        return 0;
    uintptr_t relroLo = 0, relroHi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            relroLo = info->dlpi_addr + ph->p_vaddr;
            relroHi = relroLo + ph->p_memsz;
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (relroHi > lo && relroLo < hi) {     /* cut the read-only-after-relocation part */
            dataRootsAppend(lo, relroLo);
            dataRootsAppend(relroHi, hi);
        } else {
            dataRootsAppend(lo, hi);
        }
    }
    return 0;
}

/* Lists the writable segments again (before the world stops: the loader's
 * lock may be held by any thread, so it is not taken while they are stopped). */
static unsigned long dlCount(void)
{
    unsigned long n = 0;
    for (struct link_map *l = _r_debug.r_map; l; l = l->l_next)
        n++;
    return n;
}

static unsigned long dataRootsObjects;

void gcSnapshotDataRoots(void)
{
    ndataRoots = 0;
    dataRootsObjects = dlCount();
    dl_iterate_phdr(phdrCallback, NULL);
}

/* With the world stopped: did a dlopen or dlclose finish since the snapshot? */
bool gcDataRootsStale(void) { return dlCount() != dataRootsObjects; }

/* ---- Scanning the roots ----------------------------------------------------------- */

static bool inRange(uintptr_t p, uintptr_t lo, uintptr_t hi) { return p >= lo && p < hi; }

/* Scans a G's stacks from sp: the level (the main stack or one of its
 * gort_call_on_stack segments, innermost first) that holds sp from sp up,
 * and every level outside it from where its inner call left it. */
static void scanGStack(g *gp, uintptr_t sp)
{
    uintptr_t top = stack_top(gp), bottom = stack_guard_end(gp);
    struct stackseg *on = NULL;
    for (struct stackseg *s = gp->segs; s; s = s->next)
        if (inRange(sp, s->stk.lo, s->stk.hi)) {
            on = s;
            break;
        }
    if (!on) {
        if (sp < bottom || sp > top)
            sp = bottom;              /* unknown: the whole usable stack */
        scanblock(sp, top - sp);
        __atomic_fetch_add(&work.stackBytes, top - sp, __ATOMIC_RELAXED);
        return;
    }
    scanblock(sp, on->stk.hi - sp);
    for (struct stackseg *s = on; s; s = s->next) {
        uintptr_t from = s->sp_on_entry, hi = s->next ? s->next->stk.hi : top;
        uintptr_t lo = s->next ? s->next->stk.lo : bottom;
        if (from < lo || from > hi)
            from = lo;
        scanblock(from, hi - from);
        __atomic_fetch_add(&work.stackBytes, hi - from, __ATOMIC_RELAXED);
    }
}

static bool gOwnsSP(g *gp, uintptr_t sp)
{
    if (inRange(sp, gp->stack.lo, gp->stack.hi))
        return true;
    for (struct stackseg *s = gp->segs; s; s = s->next)
        if (inRange(sp, s->stk.lo, s->stk.hi))
            return true;
    return false;
}

/* The stopped thread running on gp's stack, if any. */
static gcthread *threadOn(g *gp)
{
    for (gcthread *t = allthreads; t; t = t->next)
        if (t->ong == gp)
            return t;
    return NULL;
}

static void scanThread(gcthread *t)
{
    if (!t->scanSP)
        return;                       /* not stopped: it has exited */
    if (t->standin)
        scanblock((uintptr_t)t->standin, sizeof(g));
    if (t->mp)
        scanblock((uintptr_t)t->mp, sizeof(m));
    uintptr_t sp = t->scanSP;
    if (t->ong) {
        /* On a goroutine: the thread's own stack is g0's, left at g0's sp. */
        if (t->mp && t->mp->g0->sched_sp)
            sp = (uintptr_t)t->mp->g0->sched_sp;
        else
            return;
    }
    if (inRange(sp, t->stacklo, t->stackhi)) {
        scanblock(sp, t->stackhi - sp);
        return;
    }
    /* Stopped inside another handler on its signal stack: that stack from
     * sp, and what it interrupted from where it last switched, the current
     * goroutine's stack whole. */
    if (inRange(sp, t->altlo, t->althi))
        scanblock(sp, t->althi - sp);
    if (!t->mp)
        return;
    uintptr_t g0sp = (uintptr_t)t->mp->g0->sched_sp;
    if (inRange(g0sp, t->stacklo, t->stackhi))
        scanblock(g0sp, t->stackhi - g0sp);
    g *cur = t->mp->curg;
    if (cur && cur != t->mp->g0)
        scanGStack(cur, 0);
}

void gcScanG(g *gp)
{
    scanblock((uintptr_t)gp, sizeof(g));
    gcthread *t = threadOn(gp);
    scanGStack(gp, t ? t->scanSP : (uintptr_t)gp->sched_sp);
}

void gcScanParkedG(g *gp)
{
    scanblock((uintptr_t)gp, sizeof(g));
    scanGStack(gp, (uintptr_t)gp->sched_sp);
}

/* The G whose stack t's scan starts on, if any: none when t stopped on its
 * own stack or its signal stack; most often its M's current G; else a
 * search of allgs. */
static g *findOnG(gcthread *t)
{
    uintptr_t sp = t->scanSP;
    if (!sp || inRange(sp, t->stacklo, t->stackhi) || inRange(sp, t->altlo, t->althi))
        return NULL;
    if (t->mp && t->mp->curg && gOwnsSP(t->mp->curg, sp))
        return t->mp->curg;
    for (size_t i = 0; i < allglen; i++)
        if (gOwnsSP(allgs[i], sp))
            return allgs[i];
    return NULL;
}

static void findThreadsGs(void)
{
    for (gcthread *t = allthreads; t; t = t->next)
        t->ong = findOnG(t);
}

static void scanGs(bool (*skip)(g *))
{
    int64_t now = nanotime();
    for (size_t i = 0; i < allglen; i++) {
        g *gp = allgs[i];
        uint32_t status = atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed);
        if (status == Gdead)
            continue;
        waitsince_observe(gp, status, now);
        if (skip && skip(gp))
            continue;
        gcScanG(gp);
        if (!work.checkmark)
            work.stacksInPause++;
    }
}

/* Globals, registered ranges and the Ps. */
static void markGlobalRoots(void)
{
    markFinalizerRoots();
    /* After a barrier-mode mark, the checkmark follows stale words in these
     * roots without reporting (mgcmark.c): every root but registered ranges. */
    work.checkmarkLenient = work.checkmark && work.concurrent && !work.pageTracking;
    for (size_t i = 0; i < ndataRoots; i++) {
        scanblock(dataRoots[i].lo, dataRoots[i].hi - dataRoots[i].lo);
        work.globalBytes += dataRoots[i].hi - dataRoots[i].lo;
    }
    bool lenient = work.checkmarkLenient;
    work.checkmarkLenient = false;
    for (size_t i = 0; i < nuserRoots; i++)
        scanblock(userRoots[i].lo, userRoots[i].hi - userRoots[i].lo);
    work.checkmarkLenient = lenient;
    int32_t np = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < np; i++) {
        p *pp = allp_get(i);
        scanblock((uintptr_t)pp, sizeof(p));
        /* Every slot up to the capacity, not just the first ntimers: the
         * world can stop inside heap_remove after ntimers dropped and
         * before the last timer moved into the hole, when that timer is in
         * the slot just past ntimers and in no register yet. Unscanned
         * there, it would move into the hole after the pause, unmarked, and
         * be freed while pending (test_timer_being_moved_when_the_world_stops). */
        if (pp->timers)
            scanblock((uintptr_t)pp->timers, (uintptr_t)pp->timerscap * sizeof(timerWhen));
    }
}

void gcMarkRootsExcept(bool (*skip)(g *))
{
    markGlobalRoots();
    findThreadsGs();
    scanGs(skip);
    for (gcthread *t = allthreads; t; t = t->next)
        scanThread(t);
    work.checkmarkLenient = false;
}

/* Scans gp in the pause, unless scanned in this generation already. */
static void scanRunningG(g *gp, uint32_t gen)
{
    uint32_t status = atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed);
    if (status == Gdead || atomic_load_explicit(&gp->gcscangen, memory_order_relaxed) == gen)
        return;
    atomic_store_explicit(&gp->gcscangen, gen, memory_order_relaxed);
    waitsince_observe(gp, status, nanotime());
    gcScanG(gp);
    work.stacksInPause++;
}

void gcMarkRootsRunning(uint32_t gen)
{
    markGlobalRoots();
    findThreadsGs();
    for (gcthread *t = allthreads; t; t = t->next) {
        if (t->ong)
            scanRunningG(t->ong, gen);
        /* On g0 between making its next G Grunning and switching to it. */
        if (t->scanSP && t->mp && t->mp->curg)
            scanRunningG(t->mp->curg, gen);
        scanThread(t);
    }
    work.checkmarkLenient = false;
}

void gcMarkRoots(void) { gcMarkRootsExcept(NULL); }
