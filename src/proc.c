/*
 * proc.c — the goroutine scheduler (Go: proc.go).
 *
 * The G/M/P model (see runtime.h for the structs):
 *
 *   - A G (goroutine) is a function with a stack. It is Grunnable on some run
 *     queue, Grunning on exactly one M, Gwaiting on something (a channel, a
 *     semaphore, a timer), or Gdead in a free list waiting to be reused.
 *   - An M (machine) is an OS thread. Its g0 runs the scheduler loop on the
 *     thread's own stack: find a runnable G, switch to it, and when the G
 *     switches back (it parked, yielded or exited), finish the G's request
 *     and loop. That request is Go's mcall: the G names a function, and g0
 *     runs it once the G is off its own stack, so the G can be handed to
 *     another M without two threads ever running on one stack.
 *   - A P (processor) is a licence to run Gs; there are GOMAXPROCS of them.
 *     An M holds a P while it runs Go code. Each P has a 256-slot run queue
 *     that only its owner pushes to and anyone may steal from, plus a
 *     `runnext` slot for the G just readied or spawned (it inherits the rest
 *     of the time slice, which makes ping-pong between two Gs cheap).
 *
 * Finding work (findRunnable): the local runnext and run queue; the global
 * run queue (first, one time in 61, so it never starves); then stealing half
 * of another P's queue, visiting Ps in random order, four rounds, taking a
 * victim's runnext only in the last round; before stealing, a non-blocking
 * look at the network (netpollcheck). An M that finds nothing gives its P
 * back and sleeps on its note, except one: while goroutines wait on the
 * network or timers are pending, the first M to go idle blocks in netpoll
 * until the next timer (netpollblocking), and sched.lastpoll is 0 while it
 * does, so a new earlier timer breaks its poll (netpollBreakFor).
 *
 * Spinning threads. An M looking for work while holding a P is "spinning".
 * Waking an M is expensive, so when a G becomes runnable we wake an M only
 * if there is an idle P and *no* M is spinning already (wakep); a spinning M
 * that finds work wakes a replacement spinner before running it
 * (resetspinning). Then there is always at most a little spinning, and never
 * a runnable G with an idle P and nobody looking. At most half the busy Ps'
 * worth of Ms spin at once. An M that stops spinning re-checks every run
 * queue after giving up its P, closing the window where a G was queued just
 * as it gave up.
 *
 * Stopping the world (for GOMAXPROCS changes now, and later the GC): take
 * worldsema, so that stoppers take turns; mark sched.gcwaiting, take idle
 * Ps and Ps in syscalls, and let running Ms hand their Ps in at their next
 * scheduling point or runtime entry (gopreempt_check).
 *
 * Time slices and syscalls (docs/sysmon.md): a G taken from runnext
 * inherits the running slice; sysmon (sysmon.c) ends a slice that lasted
 * 10 ms by setting the P's preempt flag. A G in a blocking C call
 * (gort_syscall_enter) leaves its P in Psyscall; sysmon hands such a P to
 * another M, and the G, back from the call, takes its P back with one CAS
 * if it is still there (exitsyscall).
 */
#include "malloc.h"       /* gclocal */
#include "netpoll.h"
#include "sema.h"         /* worldsema */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if GORT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if GORT_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void  __tsan_destroy_fiber(void *fiber);
void  __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

enum { GOID_CACHE_BATCH = 16, GFREE_LOCAL_MAX = 64, STEAL_TRIES = 4, TIMER_CHECK_TICKS = 16 };
/* Bounds of a thief's wait before it takes a busy P's runnext, in us (runnext_stuck). */
enum { RUNNEXT_WAIT_MIN = 3, RUNNEXT_WAIT_MAX = 1024 };

schedt sched;
p **allp;
_Atomic int32_t gomaxprocs;
m *allm;
int32_t ncpu;

/* Initial-exec: getg's asm reads it at a fixed offset from the thread pointer. */
__thread g *g_tls __attribute__((tls_model("initial-exec"), visibility("hidden")));
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- TLS and errno, out of the compiler's sight -------------------------- */

#if !defined(__x86_64__) && !defined(__aarch64__)
NOINLINE g *getg(void) { return g_tls; }
#endif
static NOINLINE void setg(g *gp) { g_tls = gp; }
static NOINLINE void errno_set(int e) { errno = e; }

/* Every status transition is made by the G's current owner alone (its M,
 * the M about to run it, or the one waker that dequeued it while it waited):
 * a plain release store, checked in debug builds. Go needs a CAS here
 * because its GC scans stacks concurrently; ours does not. */
#ifdef GORT_DEBUG_BUILD
static NORETURN void badgstatus(g *gp, uint32_t old, uint32_t from, uint32_t to)
{
    throw("setgstatus: goroutine %llu has status %u, want %u -> %u",
               (unsigned long long)gp->goid, old, from, to);
}
#endif

static void setgstatus(g *gp, uint32_t from, uint32_t to)
{
#ifdef GORT_DEBUG_BUILD
    uint32_t old = atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed);
    if (old != from)
        badgstatus(gp, old, from, to);
#else
    (void)from;
#endif
    atomic_store_explicit(&gp->atomicstatus, to, memory_order_release);
}

uint32_t fastrand(void)
{
    m *mp = getm();
    static _Atomic uint32_t shared = 0x9e3779b9;
    if (!mp)
        return atomic_fetch_add(&shared, 0x9e3779b9) * 0x85ebca6bu;
    /* xorshift64+ (Go's fastrand on 64-bit before wyrand) */
    uint32_t s1 = mp->fastrand[0], s0 = mp->fastrand[1];
    s1 ^= s1 << 17;
    s1 = s1 ^ s0 ^ s1 >> 7 ^ s0 >> 16;
    mp->fastrand[0] = s0;
    mp->fastrand[1] = s1;
    return s0 + s1;
}

/* ---- The switch, with the sanitizers told about it ---------------------- */

/* Switches from the current context `from` to `to`. Returns when something
 * switches back to `from`, possibly on another thread. exiting: `from` will
 * never run again, so ASan may drop its fake stack. */
static g *park_m(g *gp);

/* The status a G switching away will have: a switch to g0 (mcall) changes
 * it only there, so say what park_m and the others will make it. */
static uint32_t statusAfterSwitch(m *mp, g *from)
{
    uint32_t s = atomic_load_explicit(&from->atomicstatus, memory_order_relaxed);
    if (s != Grunning)
        return s;
    return mp->mcall_fn == park_m ? Gwaiting : Grunnable;
}

static void gogo(g *from, g *to, bool exiting)
{
#if GORT_ASAN
    __sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake_stack,
                                   (const void *)to->stack.lo,
                                   to->stack.hi - to->stack.lo);
#else
    (void)exiting;
#endif
#if GORT_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    if (traceOn()) {
        m *mp = from->m ? from->m : to->m;   /* a direct switch has dropped from->m */
        traceGoSwitch(mp, from, to, exiting, statusAfterSwitch(mp, from));
    }
    setg(to);
    gswitch(&from->sched_sp, to->sched_sp);
#if GORT_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

static void finish_direct(m *mp);

/* Runs fn(gp) on g0 after switching away from the current goroutine gp
 * (Go's mcall). fn returns a G to run at once, or NULL to schedule. */
static void mcall_g(g *gp, g *(*fn)(g *))
{
    m *mp = gp->m;
    /* A region (nosuspend_enter) belongs to the thread: a G that switched
     * out inside one would leave it open here and close one elsewhere. */
    GORT_ASSERT(gclocal.nosuspend == 0);
    gp->saved_errno = *mp->errnop;
    mp->mcall_fn = fn;
    gogo(gp, mp->g0, false);
    finish_direct(gp->m);                 /* gp->m: we may be on another M now */
    *gp->m->errnop = gp->saved_errno;
}

/* ---- Run queues ----------------------------------------------------------- */

/* Two clocks per P, written by its owner only. switchtick counts every
 * goroutine switch: thieves read it (runqgrab) and the direct switches pace
 * their checks of the global queue and timers by it. schedtick counts time
 * slices, as Go's: a G taken from runnext inherits the running slice, so a
 * ping-pong pair shares one, and sysmon, seeing schedtick stand still for
 * forcePreemptNS, ends the slice (sysmon.c). */
static uint32_t switchtick(p *pp) { return atomic_load_explicit(&pp->switchtick, memory_order_relaxed); }

static void tick_inc(_Atomic uint32_t *t)
{
    atomic_store_explicit(t, atomic_load_explicit(t, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* The P switches to a G; a new time slice unless it inherits this one. A
 * new slice also ends any preemption request (a stop of the world asks
 * again through sched.gcwaiting, which every scheduling point reads). */
static void switch_tick(p *pp, bool inheritTime)
{
    tick_inc(&pp->switchtick);
    if (!inheritTime) {
        tick_inc(&pp->schedtick);
        atomic_store_explicit(&pp->preempt, false, memory_order_relaxed);
    }
}

static bool runqempty(p *pp)
{
    /* head, tail, runnext, then tail again: a G moving from runnext into the
     * queue must not make the queue look empty in between. */
    for (;;) {
        uint32_t head = atomic_load(&pp->runqhead);
        uint32_t tail = atomic_load(&pp->runqtail);
        g *next = atomic_load(&pp->runnext);
        if (tail == atomic_load(&pp->runqtail))
            return head == tail && next == NULL;
    }
}

/* The global run queue is a ring of G pointers, doubled when full. Go
 * links Gs through g.schedlink instead; gort's Gs each live at the top of
 * their own stack, pages apart, so walking a linked queue would cost a
 * cache and TLB miss per G. The ring moves pointers and touches no G.
 * sched.lock must be held for all of these. */
static void globrunqgrow(uint32_t need)
{
    assertLockHeld(&sched.lock);
    uint32_t size = (uint32_t)atomic_load_explicit(&sched.runqsize, memory_order_relaxed);
    uint32_t cap = sched.runqcap ? sched.runqcap : RUNQ_SIZE;
    while (cap < size + need)
        cap *= 2;
    g **ring = malloc(cap * sizeof *ring);
    if (!ring)
        throw("runtime: out of memory growing the global run queue");
    for (uint32_t i = 0; i < size; i++)
        ring[i] = sched.runq[(sched.runqhead + i) & (sched.runqcap - 1)];
    free(sched.runq);
    sched.runq = ring;
    sched.runqcap = cap;
    sched.runqhead = 0;
}

static void globrunqputbatch(g **batch, uint32_t n)
{
    assertLockHeld(&sched.lock);
    uint32_t size = (uint32_t)atomic_load_explicit(&sched.runqsize, memory_order_relaxed);
    if (size + n > sched.runqcap)
        globrunqgrow(n);
    for (uint32_t i = 0; i < n; i++)
        sched.runq[(sched.runqhead + size + i) & (sched.runqcap - 1)] = batch[i];
    atomic_fetch_add(&sched.runqsize, (int32_t)n);
}

static void globrunqput(g *gp) { globrunqputbatch(&gp, 1); }

static g *globrunqpop(void)
{
    assertLockHeld(&sched.lock);
    g *gp = sched.runq[sched.runqhead];
    sched.runqhead = (sched.runqhead + 1) & (sched.runqcap - 1);
    return gp;
}

/* Moves half the local queue plus gp to the global queue, when the local one
 * is full. False if a thief changed the head meanwhile (then just retry). */
static bool runqputslow(p *pp, g *gp, uint32_t h, uint32_t t)
{
    g *batch[RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    GORT_ASSERT(n == RUNQ_SIZE / 2);
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
            memory_order_release, memory_order_relaxed))
        return false;
    batch[n] = gp;
    lock(&sched.lock);
    globrunqputbatch(batch, n + 1);
    unlock(&sched.lock);
    return true;
}

/* Puts gp on pp's local queue; next: into runnext, kicking its old occupant
 * to the tail. Only pp's owner may call this. */
static void runqput(p *pp, g *gp, bool next)
{
    if (next) {
        g *old = atomic_exchange_explicit(&pp->runnext, gp, memory_order_acq_rel);
        if (!old)
            return;
        gp = old;
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], gp, memory_order_relaxed);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
    }
}

/* Takes a G from pp's local queue. *inheritTime: it came from runnext and
 * should share the current time slice. Only the owner may call this. */
static g *runqget(p *pp, bool *inheritTime)
{
    g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (next && atomic_compare_exchange_strong(&pp->runnext, &next, NULL)) {
        *inheritTime = true;
        return next;
    }
    *inheritTime = false;
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        g *gp = atomic_load_explicit(&pp->runq[h % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1,
                memory_order_release, memory_order_relaxed)) {
            /* Each G sits on its own stack page: start the cache and TLB
             * misses of the G that runs after this one now (a hint; the
             * slot may be stale, and a prefetch never faults). */
            if (h + 1 != t)
                __builtin_prefetch(atomic_load_explicit(&pp->runq[(h + 1) % RUNQ_SIZE],
                                                        memory_order_relaxed));
            return gp;
        }
    }
}

/* Waits pp->runnextwait, then says whether pp's runnext is stuck: pp has
 * not scheduled meanwhile. A P that keeps handing Gs over through runnext
 * (a ping-pong) doubles its wait, up to RUNNEXT_WAIT_MAX: thieves then
 * look less often, and the pair's thread runs undisturbed (each look costs
 * it cache misses, and often a futex wakeup of the thief). Taking a stuck
 * runnext resets the wait. Go always waits 3 us. */
static bool runnext_stuck(p *pp)
{
    uint32_t wait = atomic_load_explicit(&pp->runnextwait, memory_order_relaxed);
    if (wait < RUNNEXT_WAIT_MIN)
        wait = RUNNEXT_WAIT_MIN;
    uint32_t tick = switchtick(pp);
    usleep_(wait);
    if (switchtick(pp) == tick)
        return true;
    if (wait < RUNNEXT_WAIT_MAX)
        atomic_store_explicit(&pp->runnextwait, 2 * wait, memory_order_relaxed);
    return false;
}

/* Grabs half of pp's queue into batch[batchHead...] (a ring of RUNQ_SIZE).
 * Returns how many. Any thread may call this. */
static uint32_t runqgrab(p *pp, _Atomic(g *) *batch, uint32_t batchHead, bool stealRunNextG)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!stealRunNextG)
                return 0;
            g *next = atomic_load(&pp->runnext);
            if (!next)
                return 0;
            /* pp is probably about to run its runnext itself (it was just
             * readied by a G running there): give it a moment first, or
             * every ping-pong would bounce between threads. If pp
             * scheduled meanwhile, its G is not stuck: the runnext we see
             * now is a fresh handoff (Go would take it if it happened to
             * be the same G again, splitting the pair across threads). */
            if (atomic_load(&pp->status) == Prunning && !runnext_stuck(pp))
                return 0;
            if (!atomic_compare_exchange_strong(&pp->runnext, &next, NULL))
                continue;
            atomic_store_explicit(&pp->runnextwait, RUNNEXT_WAIT_MIN, memory_order_relaxed);
            atomic_store_explicit(&batch[batchHead % RUNQ_SIZE], next, memory_order_relaxed);
            return 1;
        }
        if (n > RUNQ_SIZE / 2)
            continue;             /* read h and t inconsistently: retry */
        for (uint32_t i = 0; i < n; i++) {
            g *gp = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
            atomic_store_explicit(&batch[(batchHead + i) % RUNQ_SIZE], gp, memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                memory_order_release, memory_order_relaxed))
            return n;
    }
}

/* Steals half of p2's Gs into pp's queue and returns one of them. */
static g *runqsteal(p *pp, p *p2, bool stealRunNextG)
{
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t n = runqgrab(p2, pp->runq, t, stealRunNextG);
    if (n == 0)
        return NULL;
    n--;
    g *gp = atomic_load_explicit(&pp->runq[(t + n) % RUNQ_SIZE], memory_order_relaxed);
    if (n > 0)
        atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}

/* Takes a fair share of the global queue: one to run now, more into pp's
 * local queue. sched.lock must be held. max 0: no limit. */
static g *globrunqget(p *pp, int32_t max)
{
    assertLockHeld(&sched.lock);
    int32_t size = atomic_load(&sched.runqsize);
    if (size == 0)
        return NULL;
    int32_t n = size / atomic_load(&gomaxprocs) + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    atomic_fetch_sub(&sched.runqsize, n);
    g *gp = globrunqpop();
    while (--n > 0)
        runqput(pp, globrunqpop(), false);
    return gp;
}

/* ---- Idle P and M lists (sched.lock held) ------------------------------- */

static void pidleput(p *pp)
{
    assertLockHeld(&sched.lock);
    GORT_ASSERT(runqempty(pp));
    atomic_store(&pp->status, Pidle);
    pp->link = sched.pidle;
    sched.pidle = pp;
    atomic_fetch_add(&sched.npidle, 1);
}

static p *pidleget(void)
{
    assertLockHeld(&sched.lock);
    p *pp = sched.pidle;
    if (pp) {
        sched.pidle = pp->link;
        atomic_fetch_sub(&sched.npidle, 1);
    }
    return pp;
}

static void mput(m *mp)
{
    assertLockHeld(&sched.lock);
    mp->schedlink = sched.midle;
    sched.midle = mp;
    sched.nmidle++;
}

static m *mget(void)
{
    assertLockHeld(&sched.lock);
    m *mp = sched.midle;
    if (mp) {
        sched.midle = mp->schedlink;
        sched.nmidle--;
    }
    return mp;
}

/* ---- P ownership ---------------------------------------------------------- */

static void acquirep(m *mp, p *pp)
{
    GORT_ASSERT(mp->p == NULL && pp->m == NULL);
    mp->p = pp;
    pp->m = mp;
    atomic_store(&pp->status, Prunning);
}

static p *releasep(m *mp)
{
    p *pp = mp->p;
    GORT_ASSERT(pp && pp->m == mp);
    pp->m = NULL;
    mp->p = NULL;
    atomic_store(&pp->status, Pidle);
    return pp;
}

/* ---- Starting and stopping Ms -------------------------------------------- */

static void *mstart(void *arg);
static NORETURN void schedule(void);

static void mcommoninit(m *mp)
{
    lock(&sched.lock);
    mp->id = sched.mnext++;
    sched.mcount++;
    mp->alllink = allm;
    allm = mp;
    unlock(&sched.lock);
    uint64_t seed = (uint64_t)nanotime() ^ ((uint64_t)mp->id * 0x9e3779b97f4a7c15ull);
    mp->fastrand[0] = (uint32_t)seed | 1;
    mp->fastrand[1] = (uint32_t)(seed >> 32) | 1;
}

/* Creates an M (a thread) that starts by running pp. */
static void newm(p *pp, bool spinning)
{
    m *mp = calloc(1, sizeof *mp);
    g *g0 = aligned_alloc(CACHELINE, (sizeof(g) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1));
    if (!mp || !g0)
        throw("runtime: cannot allocate an M");
    memset(g0, 0, sizeof *g0);
    mp->g0 = g0;
    g0->m = mp;
    g0->goid = 0;
    atomic_store(&g0->atomicstatus, Grunning);
    mp->nextp = pp;
    mp->spinning = spinning;
    atomic_store_explicit(&mp->inruntime, 1, memory_order_relaxed);
    mcommoninit(mp);
    newosproc(mstart, mp);
}

/* Starts a detached thread running fn(arg) (Go's newosproc); running out
 * of threads is fatal, as in Go. */
void newosproc(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err)
        throw("newosproc: pthread_create failed (errno %d)", err);
}

/* Records the thread's own stack as g0's: ASan is told the bounds of every
 * stack we switch to (gogo). */
static void g0_stack_bounds(g *g0)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        g0->stack.lo = (uintptr_t)addr;
        g0->stack.hi = (uintptr_t)addr + size;
        pthread_attr_destroy(&attr);
    }
}

static void *mstart(void *arg)
{
    m *mp = arg;
    setg(mp->g0);
    mp->errnop = &errno;
    g0_stack_bounds(mp->g0);
    mp->procid = gettid_();
    mp->tls_thread = (uintptr_t)pthread_self();
#if GORT_TSAN
    mp->g0->tsan_fiber = __tsan_get_current_fiber();
#endif
    minitSignals(mp);
    gcRegisterThread(NULL);
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
    schedule();
}

/* Sleeps until another M hands this one a P (in mp->nextp), and takes it. */
static void mPark(m *mp)
{
    notesleep(&mp->park);
    noteclear(&mp->park);
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
}

/* Parks the current M until startm hands it a P. */
static void stopm(m *mp)
{
    GORT_ASSERT(mp->p == NULL && !mp->spinning);
    lock(&sched.lock);
    mput(mp);
    checkdead();
    unlock(&sched.lock);
    mPark(mp);
}

/* Runs pp (or any idle P when NULL) on an idle or new M. spinning: the
 * caller already counted the new M in sched.nmspinning. */
static void startm(p *pp, bool spinning)
{
    lock(&sched.lock);
    if (!pp) {
        pp = pidleget();
        if (!pp) {
            unlock(&sched.lock);
            if (spinning)
                atomic_fetch_sub(&sched.nmspinning, 1);
            return;
        }
    }
    m *nmp = mget();
    unlock(&sched.lock);
    if (!nmp) {
        newm(pp, spinning);
        return;
    }
    nmp->spinning = spinning;
    nmp->nextp = pp;
    notewakeup(&nmp->park);
}

/* Hands off a P its M can no longer use (locked M parking, STW, a P
 * retaken from a syscall by sysmon, ...). */
void handoffp(p *pp)
{
    if (!runqempty(pp) || atomic_load(&sched.runqsize) > 0) {
        startm(pp, false);
        return;
    }
    int32_t zero = 0;
    if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1)) {
        startm(pp, true);
        return;
    }
    lock(&sched.lock);
    if (atomic_load(&sched.gcwaiting)) {
        atomic_store(&pp->status, Pgcstop);
        if (--sched.stopwait == 0)
            notewakeup(&sched.stopnote);
        unlock(&sched.lock);
        return;
    }
    if (atomic_load(&sched.runqsize) > 0) {
        unlock(&sched.lock);
        startm(pp, false);
        return;
    }
    pidleput(pp);
    unlock(&sched.lock);
}

/* Wakes an M to look for work if a P is idle and nobody is looking. */
void wakep(void)
{
    if (atomic_load(&sched.npidle) == 0)
        return;
    int32_t zero = 0;
    if (atomic_load(&sched.nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

/* A spinning M found work: stop counting it, and keep one spinner around. */
static void resetspinning(m *mp)
{
    mp->spinning = false;
    if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
        throw("findrunnable: negative nmspinning");
    wakep();
}

/* The world is stopping: hand in our P and sleep. */
static void gcstopm(m *mp)
{
    if (mp->spinning) {
        mp->spinning = false;
        atomic_fetch_sub(&sched.nmspinning, 1);
    }
    p *pp = releasep(mp);
    lock(&sched.lock);
    atomic_store(&pp->status, Pgcstop);
    if (--sched.stopwait == 0)
        notewakeup(&sched.stopnote);
    unlock(&sched.lock);
    stopm(mp);
}

/* ---- Finding work -------------------------------------------------------- */

/* Ps visited in a random order: a random start and a stride coprime with
 * the P count, so every P is visited exactly once. */
static uint32_t coprime_stride(uint32_t n, uint32_t r)
{
    for (uint32_t s = r % n + 1;; s++) {
        uint32_t a = s, b = n;
        while (b) { uint32_t t = a % b; a = b; b = t; }
        if (a == 1)
            return s;
    }
}

/* Runs p2's due timers from our M: p2's own M may be busy or asleep. A timer
 * that readies a G puts it on our queue. */
static g *stealTimers(p *pp, p *p2, int64_t now)
{
    int64_t w = atomic_load(&p2->timer0When);
    bool ran = false, inh;
    if (w == 0 || w > now)
        return NULL;
    checkTimers(p2, now, &ran);
    return ran ? runqget(pp, &inh) : NULL;
}

static g *stealWork(p *pp)
{
    uint32_t n = (uint32_t)atomic_load(&gomaxprocs);
    int64_t now = nanotime();
    for (int i = 0; i < STEAL_TRIES; i++) {
        bool stealRunNextG = i == STEAL_TRIES - 1;
        uint32_t r = fastrand();
        uint32_t stride = coprime_stride(n, r >> 16);
        uint32_t pos = r % n;
        for (uint32_t k = 0; k < n; k++, pos = (pos + stride) % n) {
            if (atomic_load(&sched.gcwaiting))
                return NULL;
            p *p2 = allp_get(pos);
            if (p2 == pp)
                continue;
            g *gp;
            if (stealRunNextG && (gp = stealTimers(pp, p2, now)))
                return gp;
            if (atomic_load(&p2->status) == Pidle)
                continue;
            gp = runqsteal(pp, p2, stealRunNextG);
            if (gp)
                return gp;
        }
    }
    return NULL;
}

/* Some run queue has work while we held no P: take an idle P to run it.
 * The global queue counts too: a foreign thread's goready puts a G there,
 * and its wakep may have seen us still spinning. */
static p *checkRunqsNoP(void)
{
    bool work = atomic_load(&sched.runqsize) > 0;
    int32_t n = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < n && !work; i++)
        work = !runqempty(allp_get(i));
    if (!work)
        return NULL;
    lock(&sched.lock);
    p *pp = pidleget();
    unlock(&sched.lock);
    return pp;
}

/* ---- The M that sleeps until the next timer (Go: the netpoller's timeout) ---- */

/* Takes pp as a spinning M: it just woke for timers and must look everywhere. */
static void acquirep_spinning(m *mp, p *pp)
{
    acquirep(mp, pp);
    mp->spinning = true;
    atomic_fetch_add(&sched.nmspinning, 1);
}

static struct {
    _Atomic int32_t sleeping;       /* an M is in timersleep */
    _Atomic int64_t until;          /* ... until this time */
    _Atomic uint32_t wake;          /* futex word, bumped to wake it */
} timerSleeper;

void (*timersleepTestGap)(void);

/* Publishes in timerSleeper.until the time the sleeper will sleep to.
 * wakeNetPoller wakes the sleeper only for a timer due before `until`, so
 * `until` must be the very deadline slept to: publish, read the timers
 * again, and repeat until the two agree. A timer added before that last
 * read is in it; one added after sees the published `until`. */
static int64_t publishSleepUntil(int64_t next)
{
    for (;;) {
        atomic_store(&timerSleeper.until, next);
        void (*gap)(void) = __atomic_load_n(&timersleepTestGap, __ATOMIC_RELAXED);
        if (gap)
            gap();
        int64_t again = nobarrierWakeTime();
        if (again == next)
            return next;
        next = again;
    }
}

/* An M about to stop found no work. If timers are pending and no other M
 * sleeps on them, sleep until the earliest, then take an idle P to run it.
 * Returns true holding a P (the caller looks for work again). */
static bool timersleep(m *mp)
{
    int64_t next = nobarrierWakeTime();
    if (next == 0)
        return false;
    int32_t zero = 0;
    if (!atomic_compare_exchange_strong(&timerSleeper.sleeping, &zero, 1))
        return false;
    uint32_t w = atomic_load(&timerSleeper.wake);
    next = publishSleepUntil(next);
    int64_t now = nanotime();
    if (next != 0 && next > now)
        futexsleep(&timerSleeper.wake, w, next - now);
    atomic_store(&timerSleeper.sleeping, 0);
    lock(&sched.lock);
    p *pp = pidleget();
    unlock(&sched.lock);
    if (!pp)
        return false;
    acquirep_spinning(mp, pp);
    return true;
}

/* A timer due at `when` was added: make sure some M notices it in time. */
void wakeNetPoller(int64_t when)
{
    if (netpollBreakFor(when))
        return;
    if (atomic_load(&timerSleeper.sleeping)) {
        if (when < atomic_load(&timerSleeper.until)) {
            atomic_fetch_add(&timerSleeper.wake, 1);
            futexwakeup(&timerSleeper.wake, 1);
        }
        return;
    }
    wakep();
}

/* ---- The network (netpoll.c) ---------------------------------------------- */

/* Makes the Gs netpoll readied runnable: as many as there are idle Ps go to
 * the global queue, each with an M started for it; the rest to our P (all
 * to the global queue when we hold none). Go's injectglist. */
void injectglist(g *list)
{
    int32_t n = 0;
    for (g *gp = list; gp; gp = gp->schedlink, n++)
        setgstatus(gp, Gwaiting, Grunnable);
    if (!n)
        return;
    m *mp = getm();
    p *pp = mp ? mp->p : NULL;
    int32_t npidle = atomic_load(&sched.npidle), nglobal = pp && npidle < n ? npidle : n;
    if (nglobal) {
        lock(&sched.lock);
        for (int32_t i = 0; i < nglobal; i++, list = list->schedlink)
            globrunqput(list);
        unlock(&sched.lock);
        for (int32_t i = 0; i < nglobal && atomic_load(&sched.npidle) > 0; i++)
            startm(NULL, false);
    }
    for (g *gp; (gp = list);) {
        list = gp->schedlink;
        runqput(pp, gp, false);
    }
}

/* Out of local work: a non-blocking poll, if goroutines wait on the network
 * and no M blocks in netpoll already. Returns a G to run; the others readied
 * are queued. */
static g *netpollcheck(void)
{
    if (!netpollinited() || !netpollAnyWaiters() || atomic_load(&sched.lastpoll) == 0)
        return NULL;
    g *gp = netpoll(0);
    if (!gp)
        return NULL;
    injectglist(gp->schedlink);
    setgstatus(gp, Gwaiting, Grunnable);
    return gp;
}

/* Go's incidlelocked: v more Ms parked for locked goroutines. With v < 0
 * the caller, which is not an M, counts as one running; checkdead looks
 * again when the count grows back. */
static void incidlelocked(int32_t v)
{
    lock(&sched.lock);
    sched.nmidlelocked += v;
    if (v > 0)
        checkdead();
    unlock(&sched.lock);
}

void (*netpollStaleTestGap)(void);

/* Polls a network nobody polled for 10 ms (sysmon's job; findRunnable's
 * too, one round in 61). The Gs netpoll returns are no longer network
 * waiters and not yet queued: were the last running M to go idle in
 * between, checkdead would find nothing that can ever run and call a
 * deadlock. sysmon is not an M, so it counts as a running one meanwhile
 * (Go's sysmon brackets its injectglist the same way). With no waiter
 * there is nothing to poll: an idle program's sysmon takes no lock here
 * (a fork meanwhile would leave the child's sched.lock held). */
void netpollStale(int64_t now)
{
    int64_t last = atomic_load(&sched.lastpoll);
    if (!netpollinited() || !netpollAnyWaiters() || last == 0 || now - last < NETPOLL_STALE_NS ||
        !atomic_compare_exchange_strong(&sched.lastpoll, &last, now))
        return;
    incidlelocked(-1);
    g *list = netpoll(0);
    void (*gap)(void) = __atomic_load_n(&netpollStaleTestGap, __ATOMIC_RELAXED);
    if (list && gap)
        gap();
    injectglist(list);
    incidlelocked(1);
}

bool netpollBreakFor(int64_t when)
{
    if (!netpollinited() || atomic_load(&sched.lastpoll) != 0)
        return false;
    int64_t until = atomic_load(&sched.pollUntil);
    if (until == 0 || until > when)
        netpollBreak();
    return true;
}

/* The M found no work and gave up its P. If goroutines wait on the network
 * or timers are pending, and no other M blocks in netpoll, block there until
 * the next timer (Go's sched.lastpoll protocol: 0 while an M blocks). True
 * holding a P (the caller looks for work again). */
static bool netpollblocking(m *mp)
{
    int64_t until = nobarrierWakeTime();
    if (!netpollAnyWaiters() && until == 0)
        return false;
    if (atomic_exchange(&sched.lastpoll, 0) == 0) {
        if (until)
            netpollBreakFor(until);    /* the poller must wake for our timer */
        return false;
    }
    int64_t delay = -1;
    if (until) {
        delay = until - nanotime();
        if (delay < 0)
            delay = 0;
    }
    atomic_store(&sched.pollUntil, until);
    g *list = netpoll(delay);
    atomic_store(&sched.pollUntil, 0);
    atomic_store(&sched.lastpoll, nanotime());
    lock(&sched.lock);
    p *pp = pidleget();
    unlock(&sched.lock);
    if (!pp) {
        injectglist(list);
        return false;
    }
    if (list) {
        acquirep(mp, pp);
        injectglist(list);
    } else {
        acquirep_spinning(mp, pp);     /* woken for a timer: look everywhere */
    }
    return true;
}

/* Finds a runnable G, blocking the M until there is one. Returns holding a
 * P. Go's findRunnable. */
static g *findRunnable(m *mp, bool *inheritTime)
{
    g *gp;
top:;
    p *pp = mp->p;
    *inheritTime = false;
    if (atomic_load(&sched.gcwaiting)) {
        gcstopm(mp);
        goto top;
    }
    bool ran = false;
    int64_t pollUntil = atomic_load_explicit(&pp->timer0When, memory_order_relaxed) ?
                        checkTimers(pp, 0, &ran) : 0;
    /* The time slice is over (sysmon asked): the G that yielded is at the
     * tail already. A runnext G still runs next but inherits the expired
     * slice, flag and all, so it yields at its first runtime entry or
     * switch, and the head of the queue runs: that ends a runnext chain
     * (as in Go, where the preempted G goes behind the others). */
    bool sliceover = atomic_load_explicit(&pp->preempt, memory_order_relaxed);
    /* Once in a while the network, and the global queue (also after a
     * slice ran out), go first, so that they cannot starve. */
    if (switchtick(pp) % 61 == 0)
        netpollStale(nanotime());
    if ((sliceover || switchtick(pp) % 61 == 0) && atomic_load(&sched.runqsize) > 0) {
        lock(&sched.lock);
        gp = globrunqget(pp, 1);
        unlock(&sched.lock);
        if (gp)
            goto found;
    }
    if ((gp = runqget(pp, inheritTime)))
        goto found;
    if (atomic_load(&sched.runqsize) > 0) {
        lock(&sched.lock);
        gp = globrunqget(pp, 0);
        unlock(&sched.lock);
        if (gp)
            goto found;
    }
    if ((gp = netpollcheck()))
        goto found;
    /* Steal, if not too many Ms spin already: at most half the busy Ps. */
    int32_t procs = atomic_load(&gomaxprocs);
    if (mp->spinning ||
        2 * atomic_load(&sched.nmspinning) < procs - atomic_load(&sched.npidle)) {
        if (!mp->spinning) {
            mp->spinning = true;
            atomic_fetch_add(&sched.nmspinning, 1);
        }
        if ((gp = stealWork(pp)))
            goto found;
        if (checkTimers(pp, 0, &ran) != pollUntil || ran)
            goto top;      /* a timer fired and may have readied a G */
    }

    /* Nothing to do: tidy up in the spare time, then give up the P. */
    stack_trim_list(pp, nanotime());
    if (atomic_load_explicit(&stack_demand, memory_order_relaxed)) {
        /* Not spinning meanwhile, so that a spawner's wakep can still wake
         * an idle P. Whatever was queued meanwhile (or while we spun, by
         * spawners that left the wakeup to us) is found from the top. */
        bool spun = mp->spinning;
        if (spun) {
            mp->spinning = false;
            atomic_fetch_sub(&sched.nmspinning, 1);
        }
        if (stack_prepare() || spun)
            goto top;
    }
    lock(&sched.lock);
    if (atomic_load(&sched.gcwaiting)) {
        unlock(&sched.lock);
        goto top;
    }
    if (atomic_load(&sched.runqsize) > 0) {
        gp = globrunqget(pp, 0);
        unlock(&sched.lock);
        goto found;
    }
    releasep(mp);
    pidleput(pp);
    unlock(&sched.lock);

    if (mp->spinning) {
        mp->spinning = false;
        if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
            throw("findrunnable: negative nmspinning");
        p *p2 = checkRunqsNoP();
        if (p2) {
            acquirep_spinning(mp, p2);
            goto top;
        }
    }
    if (netpollinited() ? netpollblocking(mp) : timersleep(mp))
        goto top;
    stopm(mp);
    goto top;

found:
    if (mp->spinning)
        resetspinning(mp);
    return gp;
}

/* ---- Locked threads (gort_lock_os_thread) ---------------------------------- */

/* Our M is locked to a G that is not runnable: give the P away and sleep
 * until someone hands us the G (and a P) with startlockedm. */
static void stoplockedm(m *mp)
{
    if (mp->p)
        handoffp(releasep(mp));
    lock(&sched.lock);
    sched.nmidlelocked++;
    checkdead();
    unlock(&sched.lock);
    mPark(mp);
}

/* gp is runnable but locked to another M: pass it our P and stop. */
static void startlockedm(m *mp, g *gp)
{
    m *lm = gp->lockedm;
    GORT_ASSERT(lm != mp && lm->nextp == NULL);
    /* lm counts as running from now on, or checkdead could see no M at all. */
    lock(&sched.lock);
    sched.nmidlelocked--;
    unlock(&sched.lock);
    lm->nextp = releasep(mp);
    notewakeup(&lm->park);
    stopm(mp);
}

/* ---- The scheduler loop (on g0) ------------------------------------------- */

static void note_switched_out(g *gp);

/* Runs gp until a G switches back to g0: gp, or one it yielded to directly.
 * Returns that G. */
static g *execute(m *mp, g *gp, bool inheritTime)
{
    p *pp = mp->p;
    mp->curg = gp;
    gp->m = mp;
    setgstatus(gp, Grunnable, Grunning);
    gcScanBeforeRun(gp);
    switch_tick(pp, inheritTime);
    cpuprof_check(mp);
    gogo(mp->g0, gp, false);
    g *cur = mp->curg;              /* back on g0: cur switched to us with mcall */
    note_switched_out(cur);
    return cur;
}

/* A G just left the CPU: note how deep it ran, check its canary. */
static void note_switched_out(g *gp)
{
    uintptr_t sp = (uintptr_t)gp->sched_sp;
    if (sp >= gp->stack.lo && sp < gp->stack_low_water)
        gp->stack_low_water = sp;
    if (unlikely(gp->stack_canary))
        stack_check_canary(gp);
}

static NORETURN void schedule(void)
{
    m *mp = getm();
    /* g0 is gort: a goroutine that came here without RUNTIME_ENTRY (a
     * runtime-internal call from a test) must not leave its 0 behind. */
    atomic_store_explicit(&mp->inruntime, 1, memory_order_relaxed);
    GORT_ASSERT(!atomic_load_explicit(&mp->ptaken, memory_order_relaxed));
    for (;;) {
        g *gp;
        bool inheritTime = false;
        if (mp->lockedg) {
            stoplockedm(mp);
            gp = mp->lockedg;
        } else {
            gp = findRunnable(mp, &inheritTime);
            if (gp->lockedm && gp->lockedm != mp) {
                startlockedm(mp, gp);
                continue;
            }
        }
        /* Each mcall request may name the next G to run directly. */
        while (gp) {
            gp = execute(mp, gp, inheritTime);
            /* g0 again: a G that parked through a runtime-internal call
             * (no RUNTIME_ENTRY) left its 0 behind. */
            atomic_store_explicit(&mp->inruntime, 1, memory_order_relaxed);
            inheritTime = false;
            gp = mp->mcall_fn(gp);
        }
    }
}

/* ---- Goroutine life cycle ------------------------------------------------- */

/* Breaks the M-G association of a G leaving the CPU (Go's dropg). */
static void dropg(m *mp, g *gp)
{
    mp->curg = NULL;
    gp->m = NULL;
}

/* sched.gFree is a stack of batches, so that a P hands over or takes a
 * whole local list at once: walking a list of dead Gs one by one costs a
 * cache miss per G (each sits at the top of its own stack). A batch is a
 * schedlink chain; its head links the next batch (gfreebatch) and knows
 * the chain's length (gfreebatchn). gFreeLock held for both. */
static void gfree_pushbatch(g *head, int32_t n)
{
    head->gfreebatch = sched.gFree;
    head->gfreebatchn = n;
    sched.gFree = head;
    atomic_fetch_add_explicit(&sched.ngFree, n, memory_order_relaxed);
}

static g *gfree_popbatch(int32_t *n)
{
    g *head = sched.gFree;
    if (head) {
        sched.gFree = head->gfreebatch;
        *n = head->gfreebatchn;
        atomic_fetch_sub_explicit(&sched.ngFree, *n, memory_order_relaxed);
        sched.gFreeTaken += *n;
    }
    return head;
}

static void freeSizedGs(void *arg)
{
    (void)arg;
    lock(&sched.gFreeLock);
    g *list = sched.gFreeSized;
    sched.gFreeSized = NULL;
    unlock(&sched.gFreeLock);
    for (g *gp = list, *next; gp; gp = next) {
        next = gp->schedlink;
        stackfree_g(gp);
    }
}

/* A dead G whose stack has another size than the default is not pooled:
 * its slot, the G included, goes back to the OS. Not while a cycle marks:
 * a stack job may hold the G (allgAt) and is about to read it. It then
 * waits for the cycle's end, where the background sweeper frees it, or for
 * the next such exit between cycles (Go's stackfree keeps stacks in its
 * stackLarge cache while the GC runs, for a like reason). */
static void gfreeSized(g *gp)
{
    lock(&sched.gFreeLock);
    gp->schedlink = sched.gFreeSized;
    sched.gFreeSized = gp;
    unlock(&sched.gFreeLock);
    gcTryBetweenCycles(freeSizedGs, NULL);
}

static void gfput(p *pp, g *gp)
{
#if GORT_TSAN
    /* TSan counts fibers as threads (8128 at most): only live Gs keep one. */
    __tsan_destroy_fiber(gp->tsan_fiber);
    gp->tsan_fiber = NULL;
#endif
    if (stack_size_of(gp) != stack_default_size) {
        gfreeSized(gp);
        return;
    }
    stack_release(gp);
    gp->schedlink = pp->gFree;
    pp->gFree = gp;
    if (++pp->gFreeCount >= GFREE_LOCAL_MAX) {
        lock(&sched.gFreeLock);
        gfree_pushbatch(pp->gFree, pp->gFreeCount);
        unlock(&sched.gFreeLock);
        pp->gFree = NULL;
        pp->gFreeCount = 0;
    }
}

/* Detaches from sched.gFree the batches below the first `keep` Gs: the
 * oldest, since batches are pushed and popped at the top. gFreeLock held. */
static g *gfree_splitbelow(int32_t keep, int32_t *n)
{
    g **link = &sched.gFree;
    while (*link && keep > 0) {
        keep -= (*link)->gfreebatchn;
        link = &(*link)->gfreebatch;
    }
    g *old = *link;
    *link = NULL;
    for (g *b = old; b; b = b->gfreebatch)
        *n += b->gfreebatchn;
    atomic_fetch_sub_explicit(&sched.ngFree, *n, memory_order_relaxed);
    return old;
}

enum { RELEASE_CHUNK = 1024 };  /* Gs released per hold of the GC's start lock */

struct releasing { g **gs; int n, done; };

static void releaseChunk(void *arg)
{
    struct releasing *r = arg;
    int n = r->n - r->done < RELEASE_CHUNK ? r->n - r->done : RELEASE_CHUNK;
    stack_release_slots(r->gs + r->done, n);
    r->done += n;
}

static int cmp_gaddr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(g *const *)a, y = (uintptr_t)*(g *const *)b;
    return x < y ? -1 : x > y;
}

/* Once a cycle's sweep is done (the background sweeper): dead Gs of other
 * sizes that waited for the cycle's end are freed, and the global pool
 * keeps as many dead Gs as spawning took from it since the last time, and
 * the rest give their slots back whole. Go frees every dead G's stack at
 * each cycle (markrootFreeGStacks); keeping what was just in demand spares
 * a program that spawns at a steady rate a page fault per spawn. The P
 * pools, at most GFREE_LOCAL_MAX each, stay. In address order, so that
 * neighbouring slots go back in one call. */
void gfreeReleaseStacks(void)
{
    lock(&sched.gFreeLock);
    bool sized = sched.gFreeSized != NULL;
    unlock(&sched.gFreeLock);
    if (sized)
        gcRunBetweenCycles(freeSizedGs, NULL);
    lock(&sched.gFreeLock);
    int32_t keep = sched.gFreeTaken, n = 0;
    sched.gFreeTaken = 0;
    g *old = atomic_load_explicit(&sched.ngFree, memory_order_relaxed) > keep ?
             gfree_splitbelow(keep, &n) : NULL;
    unlock(&sched.gFreeLock);
    if (!old)
        return;
    struct releasing r = { malloc((size_t)n * sizeof(g *)), n, 0 };
    if (!r.gs) {                        /* no room to sort: keep them pooled */
        lock(&sched.gFreeLock);
        for (g *b = old, *nb; b; b = nb) {
            nb = b->gfreebatch;
            gfree_pushbatch(b, b->gfreebatchn);
        }
        unlock(&sched.gFreeLock);
        return;
    }
    int k = 0;
    for (g *b = old; b; b = b->gfreebatch)
        for (g *gp = b; gp; gp = gp->schedlink)
            r.gs[k++] = gp;
    GORT_ASSERT(k == n);
    qsort(r.gs, (size_t)n, sizeof *r.gs, cmp_gaddr);
    while (r.done < r.n)
        gcRunBetweenCycles(releaseChunk, &r);
    free(r.gs);
}

/* A dead G with a default-size stack, from pp's list or, when that is
 * empty, from a batch of the global one. */
static g *gfget(p *pp)
{
    if (!pp->gFree && atomic_load_explicit(&sched.ngFree, memory_order_relaxed) > 0) {
        int32_t n = 0;
        lock(&sched.gFreeLock);
        g *batch = gfree_popbatch(&n);
        unlock(&sched.gFreeLock);
        pp->gFree = batch;
        pp->gFreeCount = n;
    }
    g *gp = pp->gFree;
    if (gp) {
        pp->gFree = gp->schedlink;
        pp->gFreeCount--;
    }
    return gp;
}

static g *gfget_global(void)
{
    int32_t n = 0;
    lock(&sched.gFreeLock);
    g *gp = gfree_popbatch(&n);
    if (gp && gp->schedlink) {
        gfree_pushbatch(gp->schedlink, n - 1);
        sched.gFreeTaken -= n - 1;
    }
    unlock(&sched.gFreeLock);
    return gp;
}

static uint64_t newgoid(p *pp)
{
    if (!pp)
        return atomic_fetch_add(&sched.goidgen, 1) + 1;
    if (pp->goidcache == pp->goidcacheend) {
        pp->goidcache = atomic_fetch_add(&sched.goidgen, GOID_CACHE_BATCH) + 1;
        pp->goidcacheend = pp->goidcache + GOID_CACHE_BATCH;
    }
    return pp->goidcache++;
}

/* Gets a G for a new goroutine: a pooled one when the size is the default. */
static g *newg_alloc(p *pp, size_t stacksize)
{
    g *gp = NULL;
    if (stacksize == 0)
        stacksize = stack_default_size;
    if (stacksize == stack_default_size)
        gp = pp ? gfget(pp) : gfget_global();
    if (gp) {
        stack_reset_for_reuse(gp);
    } else {
        gp = stackalloc_g(stacksize);
        atomic_store(&gp->atomicstatus, Gdead);
    }
#if GORT_TSAN
    gp->tsan_fiber = __tsan_create_fiber(0);
#endif
    return gp;
}

/* Only pp's owner writes pp->gcount, so no read-modify-write is needed. */
static void gcount_add(p *pp, int64_t d)
{
    atomic_store_explicit(&pp->gcount, atomic_load_explicit(&pp->gcount,
                          memory_order_relaxed) + d, memory_order_relaxed);
}

/* The return address of the function it is used in: where that function
 * was called from (the creation site of a goroutine, Go's getcallerpc). */
#define callerpc() ((uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0)))

/* gopc: the creation site, the address after the call that asked for the
 * goroutine, as Go's g.gopc; the dump prints it under "created by". */
static uint64_t newproc1(void (*fn)(void *), void *arg, size_t stacksize, uintptr_t gopc)
{
    if (!fn)
        throw("go of nil func value");
    runtime_init();
    g *cur = getg();
    p *pp = cur && cur->m ? cur->m->p : NULL;
    if (!cur)
        foreign_register();
    g *gp = newg_alloc(pp, stacksize);
    gp->fn = fn;
    gp->arg = arg;
    gp->sched_sp = gostartcall((void *)stack_top(gp));
    gp->goid = newgoid(pp);
    gp->saved_errno = 0;
    gp->lockedm = NULL;
    gp->lockedcount = 0;
    gp->waitreason = waitReasonZero;
    gp->gopc = gopc;
    gp->parentGoid = cur && cur->m && cur != cur->m->g0 ? cur->goid : 0;
    gp->param = NULL;
    gp->waiting = NULL;
    gp->segs = NULL;
    uint64_t goid = gp->goid;       /* gp may run and die once queued */
    if (traceOn())
        traceGoCreate(gp, cur);
    setgstatus(gp, Gdead, Grunnable);
    if (pp) {
        gcount_add(pp, 1);
        runqput(pp, gp, true);
    } else {
        atomic_fetch_add(&sched.ngoroutines, 1);
        lock(&sched.lock);
        globrunqput(gp);
        unlock(&sched.lock);
    }
    wakep();
    return goid;
}

NOINLINE uint64_t newproc(void (*fn)(void *), void *arg, size_t stacksize)
{
    return newproc1(fn, arg, stacksize, callerpc());
}

/* Frees a G that has finished; it is off its stack and marked dead. */
static void gdestroy(m *mp, g *gp)
{
    gcount_add(mp->p, -1);
    if (gp->lockedm) {          /* Go would end the thread; we just unlock it */
        gp->lockedm = NULL;
        mp->lockedg = NULL;
    }
    gfput(mp->p, gp);
}

static g *goexit0(g *gp)
{
    m *mp = gp->m;
    setgstatus(gp, Grunning, Gdead);
    dropg(mp, gp);
    gdestroy(mp, gp);
    return NULL;
}

static g *direct_next(m *mp, p *pp);
static void switch_direct(g *gp, m *mp, g *next, bool exiting);

/* A finished G switches straight to the next local G when it can; that G
 * frees it (finish_direct). Otherwise g0 frees it (goexit0). */
NORETURN static void goexit1(void)
{
    g *gp = getg();
    m *mp = gp->m;
    g *next = direct_next(mp, mp->p);
    if (next) {
        setgstatus(gp, Grunning, Gdead);
        switch_direct(gp, mp, next, true);
    } else {
        mp->mcall_fn = goexit0;
        gogo(gp, mp->g0, true);
    }
    __builtin_unreachable();
}

/* First C function of every goroutine (called by gostart). */
void goentry(void)
{
    g *gp = getg();
#if GORT_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    finish_direct(gp->m);
    errno_set(0);
    atomic_store_explicit(&gp->m->inruntime, 0, memory_order_release);
    gp->fn(gp->arg);
    runtime_enter();                /* back in gort: the P may be gone */
    goexit1();
}

/* ---- Park, ready, yield ----------------------------------------------------- */

/* gp is off the CPU and marked waiting: release what it parked with. False
 * if the unlock function changed its mind; gp is runnable again then. */
static bool park_commit(m *mp, g *gp)
{
    bool (*fn)(g *, void *) = mp->waitunlockf;
    void *lck = mp->waitlock;
    if (!fn)
        return true;
    mp->waitunlockf = NULL;
    mp->waitlock = NULL;      /* often inside a channel: the M must not keep it reachable */
    if (fn(gp, lck))
        return true;
    setgstatus(gp, Gwaiting, Grunnable);
    return false;
}

static g *park_m(g *gp)
{
    m *mp = gp->m;
    setgstatus(gp, Grunning, Gwaiting);
    dropg(mp, gp);
    return park_commit(mp, gp) ? NULL : gp;   /* changed its mind: run it again */
}

/* Parks the current G. Status changes need no CAS: until unlockf runs, the
 * lock it releases keeps every waker away, so only the owner writes. When a
 * local G is ready the parking G switches straight to it, and that G runs
 * unlockf (finish_direct); otherwise g0 does (park_m). */
void gopark(bool (*unlockf)(g *, void *), void *lck, enum waitreason reason)
{
    g *gp = getg();
    m *mp = gp->m;
    mp->waitunlockf = unlockf;
    mp->waitlock = lck;
    gp->waitreason = reason;
    waitsince_reset(gp);
    g *next = direct_next(mp, mp->p);
    if (!next) {
        mcall_g(gp, park_m);
        return;
    }
    setgstatus(gp, Grunning, Gwaiting);
    switch_direct(gp, mp, next, false);
}

bool parkunlock(g *gp, void *l)
{
    unlock(l);
    return true;
}

void goparkunlock(mutex *l, enum waitreason reason) { gopark(parkunlock, l, reason); }

void goready(g *gp)
{
    setgstatus(gp, Gwaiting, Grunnable);   /* the one waker that dequeued gp */
    if (traceOn())
        traceGoUnblock(gp);
    g *cur = getg();
    p *pp = cur && cur->m ? cur->m->p : NULL;
    if (pp) {
        runqput(pp, gp, true);
    } else {
        lock(&sched.lock);
        globrunqput(gp);
        unlock(&sched.lock);
    }
    wakep();
}

static g *gosched_m(g *gp)
{
    m *mp = gp->m;
    setgstatus(gp, Grunning, Grunnable);
    dropg(mp, gp);
    runqput(mp->p, gp, false);
    return NULL;
}

/* The G that switched straight to us (switch_direct) is off its stack now:
 * finish what it asked for, by its status. Runs first thing wherever a G
 * resumes. */
static void finish_direct(m *mp)
{
    g *prev = mp->directg;
    if (!prev)
        return;
    mp->directg = NULL;
    note_switched_out(prev);
    switch (atomic_load_explicit(&prev->atomicstatus, memory_order_relaxed)) {
    case Grunnable:                     /* yielded */
        runqput(mp->p, prev, false);
        break;
    case Gwaiting:                      /* parked */
        if (!park_commit(mp, prev))
            runqput(mp->p, prev, true);
        break;
    default:                            /* exited */
        gdestroy(mp, prev);
    }
}

/* The next local G to switch to straight from the current one, skipping
 * g0, or NULL when the scheduler must decide: a locked thread, a stop of
 * the world, a time slice that is over, the global queue's turn (one switch
 * in 61, as findRunnable), a timer that is due. Reading the clock costs
 * more than a switch, so timers are checked one switch in
 * TIMER_CHECK_TICKS: a due timer waits at most that many switches. The
 * caller switches to the G returned, so its tick is counted here. */
static g *direct_next(m *mp, p *pp)
{
    if (mp->lockedg || atomic_load_explicit(&sched.gcwaiting, memory_order_relaxed) ||
        atomic_load_explicit(&pp->preempt, memory_order_relaxed) ||
        (switchtick(pp) % 61 == 0 && atomic_load_explicit(&sched.runqsize, memory_order_relaxed)))
        return NULL;
    int64_t when = atomic_load_explicit(&pp->timer0When, memory_order_relaxed);
    if (when && switchtick(pp) % TIMER_CHECK_TICKS == 0 && when <= nanotime())
        return NULL;
    bool inh;
    g *next = runqget(pp, &inh);
    if (next && next->lockedm) {
        runqput(pp, next, true);     /* back where it was; let schedule hand it over */
        return NULL;
    }
    if (next)
        switch_tick(pp, inh);
    return next;
}

/* Switches from gp, whose new status is set, straight to next on the same
 * M and P. gp cannot be queued, woken or freed before we are off its stack
 * (another P could run it), so next does that (finish_direct). Go always
 * goes through g0; one switch instead of two makes yield, park and exit
 * about a third cheaper. */
static void switch_direct(g *gp, m *mp, g *next, bool exiting)
{
    dropg(mp, gp);
    mp->directg = gp;
    mp->curg = next;
    next->m = mp;
    setgstatus(next, Grunnable, Grunning);
    gcScanBeforeRun(next);
    gp->saved_errno = *mp->errnop;
    gogo(gp, next, exiting);
    finish_direct(gp->m);
    *gp->m->errnop = gp->saved_errno;
}

/* gort_yield's fast path: false when g0 must decide. */
static bool gosched_direct(g *gp, m *mp, p *pp)
{
    g *next = direct_next(mp, pp);
    if (!next)
        return false;
    setgstatus(gp, Grunning, Grunnable);
    switch_direct(gp, mp, next, false);
    return true;
}

/* Yields: straight to the next local G, or through g0 when the scheduler
 * must decide (then, if the slice is over, findRunnable ends the runnext
 * chain as well). */
static void gosched_g(g *gp)
{
    m *mp = gp->m;
    if (!gosched_direct(gp, mp, mp->p))
        mcall_g(gp, gosched_m);
}

void gosched(void) { gosched_g(getg()); }

/* sync.Mutex spins only a few times, on a multicore machine, while another
 * P is running (whoever holds the lock may release it soon) and nothing
 * waits in our run queue. */
bool canSpin(int iter)
{
    if (iter >= ACTIVE_SPIN || __atomic_load_n(&ncpu, __ATOMIC_RELAXED) <= 1 || atomic_load(&gomaxprocs) <=
            atomic_load(&sched.npidle) + atomic_load(&sched.nmspinning) + 1)
        return false;
    m *mp = getm();
    return mp && mp->p && runqempty(mp->p);
}

/* gopreempt_check found the P's preempt flag set: the slice is over or the
 * world is stopping. The scheduler's own stack (g0) never yields. */
void gopreempt_m(g *gp)
{
    if (gp == gp->m->g0)
        return;
    gosched_g(gp);
}

/* Asks every running P to reschedule: at its next runtime entry, or at
 * once by signal where that is safe (preemptone). The request is on the P,
 * not the G, so no one reads another M's current G. */
static void preemptall(void)
{
    int32_t n = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < n; i++)
        if (atomic_load(&allp_get(i)->status) == Prunning)
            preemptone(allp_get(i));
}

/* A P whose M is in a syscall stops at once: the M finds it gone when it
 * returns (exitsyscall). sched.lock held. True if it was stopped. */
static bool stopsyscallp(p *pp)
{
    uint32_t s = Psyscall;
    if (!atomic_compare_exchange_strong(&pp->status, &s, Pgcstop))
        return false;
    sched.stopwait--;
    return true;
}

/* Stops every P but the caller's, which it keeps; worldsema held. Go's
 * stopTheWorldWithSema. */
static void stopTheWorldWithSema(m *mp)
{
    lock(&sched.lock);
    sched.stopwait = atomic_load(&gomaxprocs);
    atomic_store(&sched.gcwaiting, true);
    preemptall();
    atomic_store(&mp->p->status, Pgcstop);
    sched.stopwait--;
    for (int32_t i = 0; i < atomic_load(&gomaxprocs); i++)
        stopsyscallp(allp[i]);
    p *pp;
    while ((pp = pidleget())) {
        atomic_store(&pp->status, Pgcstop);
        sched.stopwait--;
    }
    bool wait = sched.stopwait > 0;
    unlock(&sched.lock);
    while (wait) {
        if (notetsleep(&sched.stopnote, 100 * 1000)) {
            noteclear(&sched.stopnote);
            break;
        }
        preemptall();
    }
    GORT_ASSERT(sched.stopwait == 0);
}

/* Adds or removes Ps to make nprocs of them. World stopped, sched.lock held.
 * Returns the Ps that have local work (not on the idle list). */
static p *procresize(int32_t nprocs)
{
    assertLockHeld(&sched.lock);
    int32_t old = atomic_load(&gomaxprocs);
    static int32_t allpcap;
    if (nprocs > allpcap) {
        p **na = calloc((size_t)nprocs, sizeof *na);
        for (int32_t i = 0; i < allpcap; i++)
            na[i] = allp[i];
        /* The old array is leaked: Ms outside the stopped world (an idle M
         * computing its next timer) may still be reading it. */
        __atomic_store_n(&allp, na, __ATOMIC_RELEASE);
        allpcap = nprocs;
    }
    for (int32_t i = 0; i < nprocs; i++) {
        p *pp = allp[i];
        if (!pp) {
            pp = aligned_alloc(CACHELINE, sizeof(p));
            memset(pp, 0, sizeof *pp);
            pp->id = i;
            atomic_store(&pp->status, Pdead);
            __atomic_store_n(&allp[i], pp, __ATOMIC_RELEASE);   /* a slot is set once */
        }
        if (!pp->mcache) {          /* new, or destroyed by an earlier shrink */
            pp->mcache = allocmcache();
            atomic_store(&pp->status, Pgcstop);
        }
    }
    m *mp = getm();
    if (mp && mp->p && mp->p->id >= nprocs) {
        releasep(mp);
        acquirep(mp, allp[0]);
    }
    for (int32_t i = nprocs; i < old; i++)
        destroyp(allp[i]);
    atomic_store(&gomaxprocs, nprocs);

    p *runnable = NULL;
    for (int32_t i = nprocs - 1; i >= 0; i--) {
        p *pp = allp[i];
        if (mp && mp->p == pp) {
            atomic_store(&pp->status, Prunning);
            continue;
        }
        if (runqempty(pp)) {
            pidleput(pp);
        } else {
            pp->link = runnable;
            runnable = pp;
        }
    }
    return runnable;
}

/* Moves everything a P owns elsewhere before it goes away. World stopped,
 * sched.lock held (procresize). */
void destroyp(p *pp)
{
    assertLockHeld(&sched.lock);
    bool inh;
    g *gp;
    while ((gp = runqget(pp, &inh)))
        globrunqput(gp);
    if (pp->gFree) {
        lock(&sched.gFreeLock);
        gfree_pushbatch(pp->gFree, pp->gFreeCount);
        unlock(&sched.gFreeLock);
        pp->gFree = NULL;
        pp->gFreeCount = 0;
    }
    atomic_fetch_add(&sched.ngoroutines, atomic_exchange(&pp->gcount, 0));
    moveTimers(pp, allp[0]);
    /* Drop the cached sudogs, as Go's destroyp does: only the Ps below
     * GOMAXPROCS are GC roots, so a collection would free sudogs left here
     * and the P, made again by a later procresize, would hand them out. */
    pp->nsudog = 0;
    freemcache(pp->mcache);
    pp->mcache = NULL;
    atomic_store(&pp->status, Pdead);
}

static int32_t newprocs;

static void startTheWorldWithSema(void)
{
    lock(&sched.lock);
    int32_t n = newprocs ? newprocs : atomic_load(&gomaxprocs);
    newprocs = 0;
    p *runnable = procresize(n);
    atomic_store(&sched.gcwaiting, false);
    unlock(&sched.lock);
    while (runnable) {
        p *pp = runnable;
        runnable = pp->link;
        startm(pp, false);
    }
    wakep();
}

/* One stopper at a time (Go's worldsema), held from stopTheWorld to
 * startTheWorld. A second stopper parks on it, and parking hands its P in
 * to the stop in progress; two stoppers that did not take turns would each
 * wait for the other's P forever. */
static uint32_t worldsema = 1;

void stopTheWorld(const char *reason)
{
    g *gp = getg();
    if (!gp || gp == gp->m->g0 || !gp->m->p)
        throw("stopTheWorld(%s): not called from a goroutine", reason);
    semacquire1(&worldsema, false, waitReasonSemacquire);
    stopTheWorldWithSema(gp->m);    /* our M again: semacquire may have moved us */
}

void startTheWorld(void)
{
    startTheWorldWithSema();
    semrelease1(&worldsema, false);
}

/* Runs fn(arg) on a goroutine, waiting for it from this foreign thread. */
struct oncall { void (*fn)(void *); void *arg; note done; };

static void oncall_run(void *v)
{
    struct oncall *c = v;
    runtime_enter();                /* fn is gort's own code (setmaxprocs...) */
    c->fn(c->arg);
    notewakeup(&c->done);
}

void run_on_goroutine(void (*fn)(void *), void *arg)
{
    struct oncall c = { fn, arg, { 0 } };
    newproc(oncall_run, &c, 0);
    notesleep(&c.done);
}

static void setmaxprocs(void *arg)
{
    int32_t n = *(int32_t *)arg;
    stopTheWorld("GOMAXPROCS");
    newprocs = n;
    startTheWorld();
}

int gort_gomaxprocs(int n)
{
    RUNTIME_ENTRY();
    runtime_init();
    int old = atomic_load(&gomaxprocs);
    if (n <= 0 || n == old)
        return old;
    int32_t arg = n;
    if (ingoroutine())
        setmaxprocs(&arg);
    else
        run_on_goroutine(setmaxprocs, &arg);
    return old;
}

/* ---- sudog cache (Go: acquireSudog/releaseSudog) ------------------------------ */

/* Each P caches up to 128 free sudogs; batches of half move to and from a
 * central list. Threads without a P use the central list directly. */
static struct { mutex lock; sudog *list; } sudogcentral;

static sudog *central_get(void)
{
    sudog *s = sudogcentral.list;
    if (s) {
        sudogcentral.list = s->next;
        s->next = NULL;
    }
    return s;
}

static void central_put(sudog *s)
{
    s->next = sudogcentral.list;
    sudogcentral.list = s;
}

/* Sudogs are GC objects, reachable from the Ps' caches, the central list,
 * the wait queues and their waiting G's list. */
static sudog *newsudog(void) { return gort_alloc(sizeof(sudog)); }

static p *cachep(g *gp) { return gp->m ? gp->m->p : NULL; }

sudog *acquireSudog(g *gp)
{
    p *pp = cachep(gp);
    sudog *s = NULL;
    if (!pp || pp->nsudog == 0) {
        lock(&sudogcentral.lock);
        if (!pp) {
            s = central_get();
        } else {
            sudog *t;
            while (pp->nsudog < (int32_t)nelem(pp->sudogcache) / 2 && (t = central_get()))
                pp->sudogcache[pp->nsudog++] = t;
        }
        unlock(&sudogcentral.lock);
        if (!pp)
            return s ? s : newsudog();
        if (pp->nsudog == 0)
            return newsudog();
    }
    s = pp->sudogcache[--pp->nsudog];
    GORT_ASSERT(s->elem == NULL);
    return s;
}

void releaseSudog(g *gp, sudog *s)
{
    GORT_ASSERT(s->elem == NULL && !s->isSelect && s->next == NULL && s->prev == NULL);
    GORT_ASSERT(s->waitlink == NULL && s->c == NULL);
    p *pp = cachep(gp);
    if (!pp) {
        lock(&sudogcentral.lock);
        central_put(s);
        unlock(&sudogcentral.lock);
        return;
    }
    if (pp->nsudog == (int32_t)nelem(pp->sudogcache)) {
        lock(&sudogcentral.lock);
        while (pp->nsudog > (int32_t)nelem(pp->sudogcache) / 2)
            central_put(pp->sudogcache[--pp->nsudog]);
        unlock(&sudogcentral.lock);
    }
    pp->sudogcache[pp->nsudog++] = s;
}

/* ---- System calls: gort_syscall_enter / gort_syscall_exit ------------------- */

/* The G is about to block in a C call. Its M keeps it, but the P is let go:
 * status Psyscall, remembered in m.oldp. Nothing else is done, so a short
 * call costs a few stores; sysmon takes a P that stays in Psyscall for a
 * tick or more (20 us to 10 ms, sysmon.c) and hands it to another M.
 * Go's entersyscall. A stop of the world already under way takes the P at
 * once (Go's entersyscall_gcwait). */
static void entersyscall(g *gp, m *mp)
{
    p *pp = mp->p;
    waitsince_reset(gp);
    setgstatus(gp, Grunning, Gsyscall);
    tick_inc(&pp->syscalltick);
    pp->m = NULL;
    mp->p = NULL;
    mp->oldp = pp;
    atomic_store(&pp->status, Psyscall);
    if (unlikely(atomic_load(&sched.gcwaiting))) {
        lock(&sched.lock);
        if (stopsyscallp(pp) && sched.stopwait == 0)
            notewakeup(&sched.stopnote);
        unlock(&sched.lock);
    }
}

/* On g0: no P was free for gp back from its syscall. It goes to the global
 * queue and the M sleeps until handed a P; a locked M sleeps until handed
 * its G (schedule's lockedg path). Go's exitsyscall0. */
static g *exitsyscall0(g *gp)
{
    m *mp = gp->m;
    setgstatus(gp, Gsyscall, Grunnable);
    dropg(mp, gp);
    lock(&sched.lock);
    p *pp = pidleget();
    if (!pp)
        globrunqput(gp);
    unlock(&sched.lock);
    if (pp) {
        acquirep(mp, pp);
        return gp;
    }
    if (!mp->lockedg)
        stopm(mp);
    return NULL;
}

/* Back from the C call: take the old P back if sysmon left it (one CAS),
 * else any idle P, else queue the G and park the M. Go's exitsyscall. */
static void exitsyscall(g *gp, m *mp)
{
    p *pp = mp->oldp;
    uint32_t s = Psyscall;
    mp->oldp = NULL;
    if (likely(atomic_compare_exchange_strong(&pp->status, &s, Prunning))) {
        mp->p = pp;
        pp->m = mp;
        setgstatus(gp, Gsyscall, Grunning);
        return;
    }
    lock(&sched.lock);
    pp = pidleget();
    unlock(&sched.lock);
    if (pp) {
        acquirep(mp, pp);
        setgstatus(gp, Gsyscall, Grunning);
        return;
    }
    mcall_g(gp, exitsyscall0);
}

/* ---- Unannotated blocking calls (docs/sysmon.md) ------------------------------ */

/* sysmon found mp's goroutine asleep in the kernel, outside gort, with its
 * P standing still (sysmon.c's retake_blocked): take the P as if the
 * goroutine had called gort_syscall_enter, unless the handshake of
 * RUNTIME_ENTRY (runtime.h) says the M is back in gort. sched.lock keeps
 * the decision atomic for the M's slow path (ptaken_slow). mp came from a
 * racy read of pp->m: only once the handshake has frozen mp outside gort
 * is mp->p stable (and ordered before us by its release of inruntime), and
 * mp->p == pp proves that pp is mp's. An M whose P was taken already is
 * left alone: its m.p still names that P. True if the P was taken.
 * sysmon only. */
bool takep_blocked(p *pp, m *mp)
{
    lock(&sched.lock);
    if (atomic_load(&pp->status) != Prunning || atomic_load(&mp->ptaken)) {
        unlock(&sched.lock);
        return false;
    }
    atomic_store(&mp->ptaken, true);
    membarrier_();
    if (atomic_load_explicit(&mp->inruntime, memory_order_acquire) || mp->p != pp) {
        atomic_store(&mp->ptaken, false);    /* back in gort (its slow path waits for us), or not pp's */
        unlock(&sched.lock);
        return false;
    }
    /* From here the M touches the P only after ptaken_slow, which waits
     * for sched.lock: the P is ours to give away, exactly like a P that
     * gort_syscall_enter left in Psyscall. */
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    uint32_t s = Prunning;
    bool ok = atomic_compare_exchange_strong(&pp->status, &s, Psyscall);
    GORT_ASSERT(ok);
    bool stopped = atomic_load(&sched.gcwaiting) && stopsyscallp(pp);
    if (stopped && sched.stopwait == 0)
        notewakeup(&sched.stopnote);
    unlock(&sched.lock);
    s = Psyscall;
    if (!stopped && atomic_compare_exchange_strong(&pp->status, &s, Pidle))
        handoffp(pp);
    return ok;
}

/* runtime_enter saw m.ptaken: if sysmon did take the P (it decides with
 * sched.lock held), the goroutine returns from its C call as from
 * gort_syscall_exit: its old P if still free, else any idle P, else the
 * global queue. */
void ptaken_slow(g *gp, m *mp)
{
    lock(&sched.lock);
    bool taken = atomic_load(&mp->ptaken);
    atomic_store(&mp->ptaken, false);
    unlock(&sched.lock);
    if (!taken)
        return;
    GORT_ASSERT(gp == mp->curg);
    mp->oldp = mp->p;
    mp->p = NULL;
    setgstatus(gp, Grunning, Gsyscall);
    exitsyscall(gp, mp);
}

void gort_syscall_enter(void)
{
    RUNTIME_ENTRY();
    if (!ingoroutine())
        return;                     /* a foreign thread holds no P */
    g *gp = getg();
    if (unlikely(atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) != Grunning))
        throw("gort_syscall_enter: already in a syscall");
    if (traceOn())
        traceGoSysCall(gp);
    entersyscall(gp, gp->m);
}

void gort_syscall_exit(void)
{
    RUNTIME_ENTRY();
    if (!ingoroutine())
        return;
    g *gp = getg();
    if (unlikely(atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) != Gsyscall))
        throw("gort_syscall_exit without gort_syscall_enter");
    exitsyscall(gp, gp->m);
    if (traceOn())
        traceGoSysExit(gp);
}

void gort_blocking_call(void (*fn)(void *), void *arg)
{
    gort_syscall_enter();
    fn(arg);
    gort_syscall_exit();
}

/* ---- Initialisation and the public API -------------------------------------- */

/* A positive decimal integer from the environment, at most max; anything
 * else there (garbage, 0, negative, too big) is ignored, as Go ignores a bad
 * GOMAXPROCS. */
static int32_t env_int(const char *name, int32_t def, int32_t max)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (*end || errno || v <= 0 || v > max) ? def : (int32_t)v;
}

static void schedinit(void)
{
    __atomic_store_n(&ncpu, getproccount(), __ATOMIC_RELAXED);   /* lock_slow may read it already */
    parsedebugvars();
    stackinit((size_t)env_int("GORT_STACKSIZE", 0, STACK_MAX));
    signal_init();
    dump_init();
    mallocinit();
    int32_t procs = env_int("GORT_MAXPROCS", ncpu, 1 << 20);
    atomic_store(&sched.lastpoll, nanotime());
    lock(&sched.lock);
    procresize(procs);
    unlock(&sched.lock);
    sysmon_start();
    pprof_init();
}

void runtime_init(void) { pthread_once(&init_once, schedinit); }

struct mainctx { void (*fn)(void *); void *arg; note done; };

static void runmain(void *v)
{
    struct mainctx *c = v;
    c->fn(c->arg);
    leakcheckAtExit();
    foreign_main_done();
    notewakeup(&c->done);
}

int gort_main(void (*main_fn)(void *), void *arg)
{
    if (ingoroutine())
        throw("gort_main called from a goroutine");
    struct mainctx c = { main_fn, arg, { 0 } };
    newproc1(runmain, &c, 0, 0);    /* the main goroutine has no creator, as in Go */
    foreign_main_wait();
    notesleep(&c.done);
    pprof_exit();                   /* GORT_CPUPROFILE, GORT_MEMPROFILE */
    return 0;
}

NOINLINE uint64_t gort_go(void (*fn)(void *), void *arg)
{
    RUNTIME_ENTRY();
    return newproc1(fn, arg, 0, callerpc());
}
NOINLINE uint64_t gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size)
{
    RUNTIME_ENTRY();
    uintptr_t pc = callerpc();
    runtime_init();
    return newproc1(fn, arg, stack_size_check(stack_size, "gort_go_stack"), pc);
}

void gort_yield(void)
{
    RUNTIME_ENTRY();
    g *gp = getg();
    if (gp && gp != gp->m->g0)
        gosched_g(gp);
    else
        osyield();
}

void gort_goexit(void)
{
    if (!ingoroutine())
        throw("gort_goexit called outside a goroutine");
    runtime_enter();
    goexit1();
}

uint64_t gort_goid(void) { return ingoroutine() ? getg()->goid : 0; }

int gort_num_goroutine(void)
{
    int64_t n = atomic_load(&sched.ngoroutines);
    int32_t np = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < np; i++)
        n += atomic_load_explicit(&allp_get(i)->gcount, memory_order_relaxed);
    n -= fingHidden();                /* a system goroutine while it waits */
    return n < 0 ? 0 : (int)n;
}

void gort_lock_os_thread(void)
{
    RUNTIME_ENTRY();
    if (!ingoroutine())
        return;
    g *gp = getg();
    if (gp->lockedcount++ == 0) {
        gp->lockedm = gp->m;
        gp->m->lockedg = gp;
    }
}

void gort_unlock_os_thread(void)
{
    RUNTIME_ENTRY();
    if (!ingoroutine())
        return;
    g *gp = getg();
    if (gp->lockedcount == 0 || --gp->lockedcount > 0)
        return;
    gp->m->lockedg = NULL;
    gp->lockedm = NULL;
}
