/*
 * runtime.h — the runtime's internal data structures (Go: runtime2.go).
 *
 * Three nouns carry the scheduler, exactly as in Go:
 *
 *   G  a goroutine: its stack, saved stack pointer, status, and what it waits on.
 *   M  a machine: an OS thread. Each M has a g0 (the thread's own stack) on which
 *      the scheduler runs; it runs goroutines by switching from g0 to them.
 *   P  a processor: the right to run goroutines. An M must hold a P to run Go
 *      code; there are exactly GOMAXPROCS Ps. A P owns a run queue, a free-G
 *      list, an mcache, and a timer heap, so most scheduling touches no lock.
 *
 *        sched (global: idle Ps, idle Ms, global run queue, free Gs)
 *           |
 *     P0 [runnext|runq 256] --- M3 (running G7)     P1 [...] --- M1 (spinning)
 *
 * Lock order (outer first): sched.lock, then any P-local lock, then a chan /
 * sema / timer lock. Nothing blocks while holding a runtime mutex except on
 * another runtime mutex in that order. (A timer channel's sendLock comes
 * before all of them: the send it guards can wake a goroutine; time.c.)
 *
 * Thread-local state is reached only through getg(), which the compiler may
 * not optimise like an ordinary TLS read: a goroutine can migrate between
 * threads at any switch, and a cached thread pointer would then name the old
 * thread. On amd64 and arm64 getg is one volatile asm sequence, re-executed
 * at every use; elsewhere it is a function the compiler may not inline.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gort.h"

/* ---- Compiler helpers -------------------------------------------------- */

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE    __attribute__((noinline, noipa))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NORETURN    __attribute__((noreturn))
#define CACHELINE   64
#define ALIGNED_CL  __attribute__((aligned(CACHELINE)))
#define nelem(a)    (sizeof(a) / sizeof((a)[0]))

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif

/* Debug-only invariant checks (SQLite style), compiled in for tests. */
#ifdef GORT_DEBUG_BUILD
#define GORT_ASSERT(c) do { if (unlikely(!(c))) throw_assert(#c, __FILE__, __LINE__); } while (0)
#else
#define GORT_ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

typedef struct g g;
typedef struct m m;
typedef struct p p;
typedef struct sudog sudog;
typedef struct mcache mcache;

/* ---- Low-level locks (lock_futex.c) ----------------------------------- */

/* A runtime mutex: futex-based, spins briefly, never parks a goroutine (it
 * blocks the whole M), so hold it only for short critical sections. */
/* Go's active_spin (rounds a lock spins before yielding) and active_spin_cnt
 * (spin-wait hints per round). */
enum { ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30 };

/* Spins n rounds of the CPU's spin-wait hint (Go's procyield). */
static inline void procyield(int n)
{
    while (n-- > 0) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
}

/* Asserting builds also record which thread holds a runtime mutex, so that
 * functions that need a lock held can check it: assertLockHeld (Go's). The
 * owner is 32 bits: a mutex must fit the 8 bytes gort_cond keeps for one. */
#ifdef GORT_DEBUG_BUILD
typedef struct mutex { _Atomic uint32_t key; _Atomic uint32_t owner; } mutex;
/* The calling thread's number (from 1), for mutex.owner: a call the
 * compiler may not cache across a switch point (a goroutine may have moved
 * thread since). */
NOINLINE uint32_t lockowner(void);
#define assertLockHeld(l) \
    GORT_ASSERT(atomic_load_explicit(&(l)->owner, memory_order_relaxed) == lockowner())
#define lockowner_set(l, o) atomic_store_explicit(&(l)->owner, (o), memory_order_relaxed)
#else
typedef struct mutex { _Atomic uint32_t key; } mutex;
#define assertLockHeld(l) ((void)(l))
#define lockowner_set(l, o) ((void)(l))
#endif
void lock_slow(mutex *l, uint32_t v);
void unlock_slow(mutex *l, uint32_t v);

/* The uncontended paths are inline: channel operations take one or two
 * runtime locks each, and a call per lock is measurable. key: 0 unlocked,
 * 1 locked, 2 locked with possible sleepers (lock_futex.c). */
static inline void lock(mutex *l)
{
    uint32_t v = atomic_exchange_explicit(&l->key, 1, memory_order_acquire);
    if (unlikely(v != 0))
        lock_slow(l, v);
    lockowner_set(l, lockowner());
}

/* Takes the lock only if nobody holds it. */
static inline bool trylock(mutex *l)
{
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->key, &z, 1, memory_order_acquire, memory_order_relaxed))
        return false;
    lockowner_set(l, lockowner());
    return true;
}

static inline void unlock(mutex *l)
{
    lockowner_set(l, 0);
    uint32_t v = atomic_exchange_explicit(&l->key, 0, memory_order_release);
    if (unlikely(v != 1))
        unlock_slow(l, v);
}

/* A one-shot wakeup: one sleeper, one waker (Go's note). */
typedef struct note { _Atomic uint32_t key; } note;
void noteclear(note *n);
void notewakeup(note *n);
void notesleep(note *n);
bool notetsleep(note *n, int64_t ns);     /* ns < 0: forever; false on timeout */

/* ---- G ---------------------------------------------------------------- */

enum {                       /* G status, as Go's _G* constants */
    Gidle, Grunnable, Grunning, Gsyscall, Gwaiting, Gdead,
};

enum waitreason {            /* what a parked G waits for (Go's waitReason; waitreason_string) */
    waitReasonZero, waitReasonChanSend, waitReasonChanReceive, waitReasonSelect,
    waitReasonSelectNoCases, waitReasonChanSendNilChan, waitReasonChanReceiveNilChan,
    waitReasonSleep, waitReasonSyncMutexLock, waitReasonSyncRWMutexLock,
    waitReasonSyncRWMutexRLock, waitReasonSemacquire, waitReasonSyncCondWait,
    waitReasonSyncWaitGroupWait, waitReasonIOWait, waitReasonPreempted,
    waitReasonFinalizerWait, waitReasonTest,
};
const char *waitreason_string(enum waitreason r);
/* The finalizer goroutine is parked: a system goroutine then (mfinal.c). */
bool fingHidden(void);

typedef struct stack { uintptr_t lo, hi; } stack; /* [lo, hi); lo includes the guard page */

/* A G waiting on a channel or semaphore (Go's sudog). */
struct sudog {
    g          *g;
    sudog      *next, *prev;    /* wait queue links */
    void       *elem;           /* data element (may point into a stack) */
    uint32_t    ticket;
    bool        isSelect;
    bool        success;        /* woken by a value, not by close */
    sudog      *waitlink;       /* g->waiting list */
    sudog      *parent, *left, *right; /* sema.c treap */
    sudog      *waittail;
    struct hchan *c;
    int64_t     acquiretime;    /* sema.c: when a mutex waiter queued, for the mutex profile (0: not profiled) */
};
struct g {
    void       *sched_sp;       /* saved stack pointer while not running (the asm's slot) */
    stack       stack;
    uintptr_t   stack_low_water;/* deepest sp seen at a switch: did this stack run deep? */
    m          *m;              /* M running this G, or NULL */
    g          *schedlink;      /* next in a run queue or free list */
    g          *gfreebatch;     /* dead, heading a batch of sched.gFree: the next batch */
    int32_t     gfreebatchn;    /* ... and the length of the batch it heads */
    uint32_t    allgidx;        /* its index in allgs (roots.c) */
    _Atomic uint32_t atomicstatus;
    uint64_t    goid;
    void      (*fn)(void *);    /* entry point and argument */
    void       *arg;
    int         saved_errno;    /* errno belongs to the goroutine, not the thread */
    bool        stack_canary;   /* no guard page could be installed: check a canary */
    bool        stack_trimmed;  /* dead, and its stack holds only the top page */
    enum waitreason waitreason;
    /* When the G was first seen waiting (Gwaiting or Gsyscall), 0 if not yet:
     * zeroed as it starts to wait, filled lazily by whoever looks (the GC's
     * stack scan, a goroutine dump), as Go's g.waitsince; the dump prints
     * "N minutes" from it. Atomic: the looker is another thread. */
    _Atomic int64_t waitsince;
    /* Barrier-mode marking: the cycle generation in which this G's stack was
     * scanned, with stackScanBusy while a thread scans it (mgcmark.c). */
    _Atomic uint32_t gcscangen;
    uintptr_t   gopc;           /* return address of the gort_go that made it (0: the main goroutine) */
    uint64_t    parentGoid;     /* goid of the goroutine that made it (0: a thread) */
    m          *lockedm;        /* gort_lock_os_thread */
    uint32_t    lockedcount;
    int64_t     tracestart;     /* trace.c: when it last started running on a P */

    /* Channel/select/sema waits (chan.c, select.c, sema.c). */
    void       *param;          /* set by whoever readies a parked G */
    sudog      *waiting;        /* sudogs this G is queued on (select: many) */
    _Atomic uint32_t selectdone;/* select: first waker wins */
    sudog       chansudog;      /* the one sudog of a plain send or receive */
    note       *threadpark;     /* set only in a foreign thread's stand-in g: it sleeps here (park.c) */

    /* Stack segments pushed by gort_call_on_stack, innermost first. */
    struct stackseg *segs;

#if GORT_ASAN
    void       *asan_fake_stack;
#endif
#if GORT_TSAN
    void       *tsan_fiber;
#endif
};

/* A G is about to wait: its waitsince restarts (see struct g). */
static inline void waitsince_reset(g *gp)
{
    atomic_store_explicit(&gp->waitsince, 0, memory_order_relaxed);
}

/* Someone looks at gp at time now: if it waits and nobody noted since when,
 * it has waited since about now (Go's markroot sets it to the GC's start). */
static inline void waitsince_observe(g *gp, uint32_t status, int64_t now)
{
    int64_t zero = 0;
    if ((status == Gwaiting || status == Gsyscall) &&
        atomic_load_explicit(&gp->waitsince, memory_order_relaxed) == 0)
        atomic_compare_exchange_strong_explicit(&gp->waitsince, &zero, now,
                                                memory_order_relaxed, memory_order_relaxed);
}

/* The sudog cache (proc.c). gp: the G that will wait (waitg()); its P's
 * cache is used, if it has one. */
sudog *acquireSudog(g *gp);
void   releaseSudog(g *gp, sudog *s);

/* ---- M ---------------------------------------------------------------- */

struct m {
    g          *g0;             /* scheduling stack (the thread's own) */
    g          *curg;           /* current running goroutine */
    p          *p;              /* attached P, NULL if none */
    p          *nextp;          /* P handed to us by startm */
    p          *oldp;           /* P held before entering a syscall */
    int64_t     id;
    bool        spinning;       /* looking for work, holding a P */
    note        park;
    m          *schedlink;      /* idle M list */
    m          *alllink;
    g          *lockedg;
    uint32_t    fastrand[2];
    g        *(*mcall_fn)(g *); /* what g0 must do for curg after it switched away */
    g          *directg;        /* G that switched straight to curg (finish_direct) */
    bool      (*waitunlockf)(g *, void *);  /* gopark: release this after parking */
    void       *waitlock;
    uintptr_t   tls_thread;     /* pthread_t */
    int         procid;         /* kernel tid (deadlock.c looks for it in /proc/self/task) */
    void       *gsignal_stack;  /* alternate signal stack */
    int        *errnop;         /* this thread's errno: saved and restored per goroutine */
    _Atomic uint32_t preemptsig;/* sysmon sent SIGURG; the handler has not run yet */
    _Atomic int statfd;         /* fd of /proc/self/task/<procid>/stat, +1 (0: none); preemptM */
    _Atomic uint32_t inruntime; /* 0 only while curg runs the program's code (RUNTIME_ENTRY) */
    _Atomic bool ptaken;        /* sysmon took p while curg was blocked outside gort (takep_blocked) */
    int32_t     profilehz;      /* rate this M's CPU timer runs at (cpuprof.c) */
    void       *proftimer;      /* its timer_t (0 is a valid one), made at first use */
    bool        proftimerok;    /* proftimer exists */
};

/* ---- P ---------------------------------------------------------------- */

enum { Pidle, Prunning, Psyscall, Pgcstop, Pdead };

#define RUNQ_SIZE 256

/* A timer heap slot: the timer and a copy of its deadline (time.c). */
typedef struct timerWhen { struct timer *timer; int64_t when; } timerWhen;

struct p {
    int32_t     id;
    _Atomic uint32_t status;
    p          *link;           /* idle P list */
    _Atomic uint32_t schedtick; /* time slices started (Go's schedtick; owner only) */
    _Atomic uint32_t switchtick;/* goroutine switches, slices or not (owner only) */
    _Atomic uint32_t syscalltick;/* syscalls entered (gort_syscall_enter) */
    _Atomic bool preempt;       /* slice over or STW: reschedule at the next runtime entry */
    m          *m;              /* back-link to the M (NULL if idle) */
    mcache     *mcache;

    /* Local run queue: lock-free for the owner, stealable by others. */
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(g *) runq[RUNQ_SIZE];
    _Atomic(g *) runnext;       /* runs next, inheriting the time slice */
    _Atomic uint32_t runnextwait; /* us a thief waits before taking runnext (proc.c) */

    /* Free Gs (each keeps its default-size stack). */
    g          *gFree;
    int32_t     gFreeCount;
    int64_t     lasttrim;       /* last stack_trim_list of gFree */

    /* Timers (time.c): a 4-ary min-heap ordered by `when`. */
    mutex       timersLock;
    timerWhen  *timers;
    int32_t     ntimers, timerscap;
    _Atomic int64_t timer0When; /* when of the heap's top, 0 if empty */

    uint64_t    goidcache, goidcacheend; /* goids handed out in batches */
    _Atomic int64_t gcount;     /* goroutines created minus exited here (one writer) */
    struct sysmontick {         /* sysmon's last look at this P (sysmon only): */
        struct tickseen {       /* a tick's value, and when sysmon saw it move */
            uint32_t tick;
            int64_t  when;
        } sched, syscall, switches;
    } sysmontick;
    sudog      *sudogcache[128];
    int32_t     nsudog;
} ALIGNED_CL;

/* ---- The global scheduler --------------------------------------------- */

typedef struct schedt {
    mutex       lock;
    _Atomic uint64_t goidgen;
    m          *midle;          /* idle Ms */
    int32_t     nmidle;
    int64_t     mnext;          /* next M id */
    _Atomic int32_t nmspinning;
    p          *pidle;          /* idle Ps */
    _Atomic int32_t npidle;
    g         **runq;           /* global run queue: a ring (proc.c) */
    uint32_t    runqcap, runqhead;/* capacity (a power of two), first slot */
    _Atomic int32_t runqsize;
    mutex       gFreeLock;
    g          *gFree;          /* global free Gs: a stack of batches (proc.c) */
    _Atomic int32_t ngFree;     /* read unlocked as a hint */
    int32_t     gFreeTaken;     /* Gs taken from gFree since the last release (proc.c) */
    g          *gFreeSized;     /* dead Gs of other stack sizes waiting for no cycle (proc.c) */
    _Atomic int32_t ngoroutines;/* goroutines made without a P, plus destroyed Ps' gcount */
    _Atomic bool gcwaiting;     /* stop the world in progress */
    int32_t     stopwait;
    note        stopnote;
    _Atomic int32_t nmsys;      /* Ms in syscalls without a P */
    int32_t     nmidlelocked;
    int32_t     mcount;
    _Atomic int32_t nwaiting_threads; /* foreign threads blocked in chan/sema ops */
    _Atomic int64_t lastpoll;   /* when the network was last polled; 0: an M blocks in netpoll */
    _Atomic int64_t pollUntil;  /* ... until this time (0: no timer bounds it) */
} schedt;

extern schedt sched;
extern p **allp;
extern int32_t ncpu;                 /* CPUs we may run on (set by runtime_init) */
/* P i, for readers outside a stopped world: procresize publishes the array
 * and each slot with release stores (slots are set once, never reused). */
static inline p *allp_get(int32_t i)
{
    return __atomic_load_n(&__atomic_load_n(&allp, __ATOMIC_ACQUIRE)[i], __ATOMIC_ACQUIRE);
}
extern _Atomic int32_t gomaxprocs;
extern m *allm;

/* ---- Scheduler entry points (proc.c) ---------------------------------- */

/* The current G: a goroutine, or an M's g0; NULL on foreign threads. */
extern __thread g *g_tls;
#if defined(__x86_64__)
static inline g *getg(void)
{
    g *gp;
    /* Initial-exec TLS: the slot's offset from %fs comes from the GOT (the
     * linker turns it into a constant in executables). */
    __asm__ volatile("movq g_tls@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0" : "=r"(gp));
    return gp;
}
#elif defined(__aarch64__)
static inline g *getg(void)
{
    g *gp;
    uintptr_t tp;
    __asm__ volatile("mrs %1, tpidr_el0\n\t"
                     "adrp %0, :gottprel:g_tls\n\t"
                     "ldr %0, [%0, #:gottprel_lo12:g_tls]\n\t"
                     "ldr %0, [%1, %0]" : "=&r"(gp), "=&r"(tp));
    return gp;
}
#else
NOINLINE g *getg(void);
#endif
static inline m *getm(void) { g *gp = getg(); return gp ? gp->m : NULL; }

void gopreempt_m(g *gp);             /* gopreempt_check's slow path (proc.c) */
/* Yields if this P was asked to: its time slice is over (sysmon) or the world
 * is stopping. Called at the runtime's entries (channel operations, locks,
 * allocation, yield): preemption is cooperative there. Inline, because it
 * sits on fast paths: one TLS read and two loads. Call it holding no runtime
 * lock, before touching the P (the G may resume on another one). */
static inline void gopreempt_check(void)
{
    g *gp = getg();
    p *pp;
    if (gp && (pp = gp->m->p) && unlikely(atomic_load_explicit(&pp->preempt, memory_order_relaxed)))
        gopreempt_m(gp);
}

/* gopreempt_check for a caller that already holds its waitg() (a
 * goroutine, or a foreign thread's stand-in, which has no M): one TLS read
 * fewer on the channel fast paths. */
static inline void gopreempt_check_g(g *gp)
{
    p *pp;
    if (gp->m && (pp = gp->m->p) && unlikely(atomic_load_explicit(&pp->preempt, memory_order_relaxed)))
        gopreempt_m(gp);
}
/* Entering gort from the program's code. sysmon may take the P of an M
 * whose goroutine sleeps in a C call of its own (unannotated blocking
 * calls, docs/sysmon.md), but only while m.inruntime is 0: the M is then
 * outside gort and will see m.ptaken at its next entry, before it touches
 * the P. The two sides form an asymmetric Dekker handshake: here a plain
 * store of inruntime, a compiler barrier and a plain load of ptaken;
 * sysmon sets ptaken, runs membarrier (a full barrier on every running
 * thread of the process) and then reads inruntime. So the fast path pays
 * no fence. Every public entry that may touch the P says RUNTIME_ENTRY();
 * the value it returns is restored when the function returns, on whatever
 * M the goroutine then runs (a foreign thread has no M: nothing to do). */
void ptaken_slow(g *gp, m *mp);       /* proc.c: back as from gort_syscall_exit */
static inline uint32_t runtime_enter_m(g *gp, m *mp)
{
    if (!mp)
        return 1;
    uint32_t old = atomic_load_explicit(&mp->inruntime, memory_order_relaxed);
    atomic_store_explicit(&mp->inruntime, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    if (unlikely(atomic_load_explicit(&mp->ptaken, memory_order_relaxed)))
        ptaken_slow(gp, mp);
    return old;
}
static inline uint32_t runtime_enter(void)
{
    g *gp = getg();
    return runtime_enter_m(gp, gp ? gp->m : NULL);
}

/* Release: sysmon, reading 0 with acquire, sees every use of the P before. */
static inline void runtime_leave_m(m *mp, uint32_t old)
{
    if (mp)
        atomic_store_explicit(&mp->inruntime, old, memory_order_release);
}
static inline void runtime_leave(uint32_t *old)
{
    g *gp = getg();
    runtime_leave_m(gp ? gp->m : NULL, *old);
}

#define RUNTIME_ENTRY() \
    __attribute__((cleanup(runtime_leave))) uint32_t runtime_entry_saved_ = runtime_enter()

/* RUNTIME_ENTRY for a caller that holds its g already (the channel
 * operations and select, from waitg() or foreignenter()): the same
 * handshake without finding the G again. The G stays
 * the same across a park; the restore goes to gp->m, the M it runs on when
 * the function returns (a foreign thread's stand-in has none). */
typedef struct runtimeEntry { g *gp; uint32_t old; } runtimeEntry;
static inline runtimeEntry runtime_enter_g(g *gp)
{
    return (runtimeEntry){ gp, runtime_enter_m(gp, gp->m) };
}
static inline void runtime_leave_g(runtimeEntry *e) { runtime_leave_m(e->gp->m, e->old); }
#define RUNTIME_ENTRY_G(gp) \
    __attribute__((cleanup(runtime_leave_g))) runtimeEntry runtime_entry_saved_ = runtime_enter_g(gp)

/* True when the caller runs as a goroutine (not on g0, not a foreign thread). */
static inline bool ingoroutine(void) { g *gp = getg(); return gp && gp->m && gp != gp->m->g0; }

/* Parks the current goroutine. If unlockf is not NULL it runs on g0 after the
 * G is marked waiting: the G can be readied from that moment on, so wakers
 * never miss it. Returns when someone calls goready(gp). */
void gopark(bool (*unlockf)(g *gp, void *lock), void *lock, enum waitreason reason);
/* As gopark, unlocking a runtime mutex: the common case. */
void goparkunlock(mutex *l, enum waitreason reason);
/* The unlock function of goparkunlock: releases the runtime mutex l. */
bool parkunlock(g *gp, void *l);
/* Makes a parked G runnable: on this P's runnext, or on the global queue
 * from a thread without a P. Any thread. */
void goready(g *gp);
void gosched(void);                  /* yield: to the back of this P's local queue */
/* stacksize: 0 for the default, else a size from stack_size_check. The new
 * G's creation site (gopc) is newproc's return address. */
uint64_t newproc(void (*fn)(void *), void *arg, size_t stacksize);
void wakep(void);
uint32_t fastrand(void);
bool canSpin(int iter);              /* may sync.Mutex spin on its iter'th try? (Go's runtime_canSpin) */
static inline uint32_t fastrandn(uint32_t n) { return (uint32_t)(((uint64_t)fastrand() * n) >> 32); }
/* stopTheWorld stops every P but the caller's, which it keeps, and returns
 * when no other goroutine runs; startTheWorld restarts them (with the P
 * count a GOMAXPROCS change asked for). Call both from the same goroutine
 * (not g0, not a foreign thread), holding no runtime lock. Stoppers take
 * turns: another caller parks until the world has been started again.
 * The stop waits for each running goroutine's next runtime entry or
 * scheduling point (docs/sysmon.md). reason names the stopper in throws. */
void stopTheWorld(const char *reason);
void startTheWorld(void);
void runtime_init(void);             /* idempotent */

/* Called by time.c: wake an M sleeping until a timer, because an earlier
 * timer was added. */
void wakeNetPoller(int64_t when);
/* Tests: called by the M going to sleep until the next timer, between
 * publishing that deadline and reading the timers again (proc.c). */
extern void (*timersleepTestGap)(void);
/* Tests: called by netpollStale between taking Gs from the network and
 * queueing them, when it took some (proc.c). */
extern void (*netpollStaleTestGap)(void);
/* An M blocks in netpoll: if it would sleep past `when`, break its poll.
 * False if no M blocks in netpoll (proc.c). */
bool netpollBreakFor(int64_t when);
/* If nobody polled the network for NETPOLL_STALE_NS (every P kept busy),
 * polls without blocking and queues what it readied. findRunnable calls it
 * one tick in 61; in Go it is sysmon's job. */
enum { NETPOLL_STALE_NS = 10 * 1000 * 1000 };
void netpollStale(int64_t now);
/* Makes a list of Gs readied by netpoll (linked by schedlink) runnable. */
void injectglist(g *list);
/* Runs fn(arg) on a new goroutine and waits for it: for callers that are
 * not goroutines (a foreign thread) but need one (stopTheWorld). */
void run_on_goroutine(void (*fn)(void *), void *arg);
void handoffp(p *pp);                /* a P its M cannot use: to another M, or idle */
bool takep_blocked(p *pp, m *mp);    /* sysmon: take pp from mp, asleep outside gort */
void newosproc(void *(*fn)(void *), void *arg); /* a detached thread; fatal if none */

/* ---- sysmon (sysmon.c) --------------------------------------------------- */

void sysmon_start(void);             /* once, from runtime_init */
void preemptone(p *pp);              /* ask pp's G to yield: the flag, and SIGURG */
void destroyp(p *pp);

/* ---- Timers, as the scheduler sees them (time.c) ----------------------- */

/* The timer type and its operations are in timer.h. Returns when the next timer of pp is due (0: none), running any that are
 * due now. */
int64_t checkTimers(p *pp, int64_t now, bool *ran);
void moveTimers(p *pp, p *dst);      /* pp is being destroyed */
int64_t nobarrierWakeTime(void);     /* earliest timer over all Ps, 0 if none */

/* ---- Deadlock detection and foreign threads (deadlock.c) ---------------- */

void checkdead(void);                /* sched.lock held: an M went idle; dies if nothing can run */
/* A thread that is not an M called into gort: registers it (once) and
 * returns its stand-in g (park.h). */
g   *foreign_register(void);
void foreign_main_wait(void);        /* the caller is about to wait in gort_main */
void foreign_main_done(void);        /* the main goroutine is about to wake that caller */

/* ---- Stacks (stack.c) -------------------------------------------------- */

extern size_t stack_default_size;       /* default reservation (GORT_STACKSIZE) */
/* Bounds of a stack size: GORT_STACKSIZE and gort_go_stack's argument. The
 * top is Go's maximum stack size on 64-bit machines. */
enum { STACK_MIN = 16 << 10, STACK_MAX = 1 << 30 };
/* The size to reserve for a request of n bytes (0: the default), page-rounded
 * and at least STACK_MIN; a size above STACK_MAX panics, naming who asked. */
size_t stack_size_check(size_t n, const char *who);
void stackinit(size_t stacksize);    /* stacksize 0: keep the default */
/* Allocates a G together with its stack reservation (the G sits at the top);
 * stacksize from stack_size_check. */
g   *stackalloc_g(size_t stacksize);
void stackfree_g(g *gp);             /* returns a non-default-size G/stack to the OS */
void stack_release_slots(g **gs, int n); /* pooled Gs give their whole slots back, for reuse */
void gfreeReleaseStacks(void);       /* the GC's turn to free idle pooled Gs' slots (proc.c) */
void allgadd(g *gp);                 /* the GC's list of every G (roots.c) */
void allgremove(g *gp);
/* Calls f(gp, arg) for each G in the list of all Gs when called (Go's
 * forEachG), outside the list's lock: f may allocate. The caller keeps the
 * Gs from being freed meanwhile (a stopped world). */
void forEachG(void (*f)(g *gp, void *arg), void *arg);
size_t allgcount(void);              /* how many Gs allgs holds now (soon stale) */
/* fn on every G (dead ones too). Only with the world stopped by
 * stopTheWorldGC: nothing changes allgs then, so no lock is taken (Go's
 * forEachGRace). */
void forEachGStopped(void (*fn)(g *gp, void *arg), void *arg);
g *allgAt(size_t i);                 /* allgs[i], or NULL past the end (soon stale) */
/* Barrier-mode marking scans each goroutine stack once per cycle, beside
 * the program; a G whose stack nobody scanned yet must not run before it is
 * (mgcmark.c). gcScanGen: the cycle's generation while that is under way,
 * else 0. The scheduler calls this after making gp Grunning, before
 * switching to it. */
extern _Atomic uint32_t gcScanGen;
void gcScanBeforeRunSlow(g *gp);
static inline void gcScanBeforeRun(g *gp)
{
    uint32_t gen = atomic_load_explicit(&gcScanGen, memory_order_relaxed);
    if (unlikely(gen != 0) && atomic_load_explicit(&gp->gcscangen, memory_order_relaxed) != gen)
        gcScanBeforeRunSlow(gp);
}
/* With the world stopped by stopTheWorldGC: does a stopped thread (or the
 * stopper) run on gp's stack? Then gp is running, or switching in or out,
 * and its saved sched_sp is not to be trusted. */
bool gStackInUse(g *gp);
void stack_trim(g *gp);              /* MADV_DONTNEED what a deep run committed */
void stack_release(g *gp);           /* a dead G goes to a pool */
void stack_trim_list(p *pp, int64_t now); /* idle P: trim its pool's untrimmed Gs */
bool stack_prepare(void);             /* idle P: commit stacks ahead of a spawning burst */
void stack_reset_for_reuse(g *gp);
bool stack_is_guard(uintptr_t addr, g *gp);
void stack_check_canary(g *gp);
uintptr_t stack_top(g *gp);          /* highest usable address (the G sits above) */
uintptr_t stack_guard_end(g *gp);    /* lowest usable address */
size_t stack_size_of(g *gp);
const char *stack_guard_kind(void);  /* "madvise", "mprotect" or "canary": how new stacks are guarded now */
extern _Atomic uint64_t stack_sys_bytes, stack_inuse_bytes, stack_resident_bytes;
extern _Atomic bool stack_demand;       /* stack_prepare has work ahead of a spawner */
struct stackseg { struct stackseg *next; stack stk; uintptr_t sp_on_entry; };

/* ---- Context switch (arch/<arch>/switch.S) ----------------------------- */

/* Saves callee-saved state on the current stack, stores the stack pointer in
 * *save_sp, then resumes the context whose stack pointer is load_sp. */
void gswitch(void **save_sp, void *load_sp);
/* First instruction a new goroutine runs: calls goentry() and never returns. */
void gostart(void);
/* The caller's stack pointer at the call: below its whole frame, the
 * callee-saved registers it spilled included (where a local's address is
 * not, on arm64). */
uintptr_t getsp(void);
/* Marks the end of the frame a getsp() value describes: a call just before
 * it is then not a tail call. A tail call restores the callee-saved
 * registers and pops the frame first, so the callee would run below that
 * sp with the spilled copies gone, and spill the registers again where a
 * scan from sp does not look. */
#define KEEP_FRAME_UNTIL_HERE(sp) __asm__ volatile("" : : "r"(sp) : "memory")
/* Calls fn(arg) with the stack pointer set to sp (16-byte aligned). */
void call_with_sp(void *sp, void (*fn)(void *), void *arg);
/* Lays out a new goroutine's first frame below top so gswitch enters gostart. */
void *gostartcall(void *top);
NORETURN void goentry(void);
/* Fills the registers of the ucontext-shaped unwind context uc (zeroed, or
 * from unw_getcontext) with those a switched-out goroutine saved at
 * sched_sp, so that libunwind walks its stack (arch/<arch>/gobuf.c). */
void gobuf_context(const void *sched_sp, void *uc);

/* ---- Panics and fatal errors (panic.c, traceback.c) -------------------- */

/* "panic: <msg>" + goroutine traceback, exit 2. */
NORETURN void gopanic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "fatal error: <msg>" + traceback, exit 2: the runtime itself cannot go on. */
NORETURN void throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void throw_assert(const char *cond, const char *file, int line);
/* Writes the goroutine traceback of the caller (skipping `skip` frames). */
void traceback_current(int skip);
void traceback_context(void *ucontext);
void gprint(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* to stderr, unbuffered */

/* ---- Signals (signal.c) ------------------------------------------------ */

void signal_init(void);
/* Installs fn as sig's handler (SA_SIGINFO | flags), running with every
 * signal blocked if blockall, else with none; the previous action goes to
 * *old unless old is NULL. 0 or -errno. */
int  setsig(int sig, void (*fn)(int, siginfo_t *, void *), int flags, bool blockall,
            struct sigaction *old);
/* Passes a signal gort does not want on to the handler the program had
 * installed before (old); false if it had none (default or ignored). */
bool sigfwd(const struct sigaction *old, int sig, siginfo_t *si, void *uc);
void dump_init(void);                /* SIGQUIT's goroutine dump (dump.c) */
bool asyncpreempt_enabled(void);     /* SIGURG preempts (not TSan, not asyncpreemptoff) */

/* Async preemption's per-arch context surgery (arch/<arch>/sigctx.c,
 * preempt.S; see signal.c). They run in a signal handler and write below
 * the interrupted stack pointer, where the sanitizers' shadow may be stale:
 * hence SIGNAL_NOSANITIZE and copy_frame, which calls no libc. */
#define SIGNAL_NOSANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
SIGNAL_NOSANITIZE void copy_frame(void *dst, const void *src, size_t n);
void  ctx_pc_sp(void *uc, uintptr_t *pc, uintptr_t *sp);
/* Copies the signal frame (uc, si) below the interrupted stack pointer, not
 * below lo; returns the copy to give ctx_redirect, or NULL. */
void *ctx_save(void *uc, void *si, uintptr_t lo);
void *ctx_ucontext(void *saved);     /* the ucontext inside a copy */
/* Makes the interrupted thread continue in fn(saved), on the stack below
 * the copy, as if called from asyncPreemptReturn (preempt.S): when fn
 * returns, rt_sigreturn resumes the copy. */
void  ctx_redirect(void *uc, void *saved, void (*fn)(void *));
void  asyncPreempt(void *saved);     /* the fn ctx_redirect is given (signal.c) */
extern char asyncPreemptReturn[];    /* asyncPreempt's return address (preempt.S) */
void minitSignals(m *mp);            /* per-thread: alternate signal stack */
void unminitSignals(m *mp);

/* ---- Profiling (cpuprof.c, mprof.c, pprof.c) ----------------------------- */

/* The CPU profiling rate every M should run its timer at (0: off); an M
 * whose rate differs resets its timer as it next runs a goroutine. */
extern _Atomic int32_t cpuprof_hz;
void setThreadCPUProfiler(m *mp);
static inline void cpuprof_check(m *mp)
{
    if (unlikely(mp->profilehz != atomic_load_explicit(&cpuprof_hz, memory_order_relaxed)))
        setThreadCPUProfiler(mp);
}
/* The execution trace (trace.c): each hook costs one predictable branch
 * while tracing is off. */
extern _Atomic bool traceEnabled;
static inline bool traceOn(void)
{
    return unlikely(atomic_load_explicit(&traceEnabled, memory_order_relaxed));
}
/* gogo, on this M; status: the one `from` leaves the CPU with. */
void traceGoSwitch(m *mp, g *from, g *to, bool exiting, uint32_t status);
void traceGoCreate(g *newg, g *parent);
void traceGoUnblock(g *gp);
void traceGoSysCall(g *gp);
void traceGoSysExit(g *gp);
void traceGCPhase(const char *phase);                /* NULL: the cycle is over */
int  traceStart(const char *path);                   /* gort_trace_start, runtime started */
void pprof_init(void);               /* GORT_CPUPROFILE, GORT_MEMPROFILE (schedinit) */
void pprof_exit(void);               /* stop and write what the environment asked for */
/* Block and mutex profiles (mprof.c): blockevent for a goroutine that
 * waited `ns`, with its own stack; mutexevent by the unlocker that ended a
 * contention that lasted `ns`, with the unlocker's stack. */
extern _Atomic int64_t blockprofilerate, mutexprofilerate;
void blockevent(int64_t ns);
void mutexevent(int64_t ns);
/* Start of a wait that the block profile may record: nanotime(), or 0 when
 * block profiling is off (then the wait costs one load more). */
int64_t nanotime(void);
static inline int64_t blockprof_start(void)
{
    return unlikely(atomic_load_explicit(&blockprofilerate, memory_order_relaxed) > 0) ? nanotime() : 0;
}
static inline void blockprof_end(int64_t t0)
{
    if (unlikely(t0))
        blockevent(nanotime() - t0);
}

/* ---- Environment and debug knobs (debug.c) ------------------------------ */

typedef struct debugvars {
    int32_t schedtrace;     /* ms between SCHED lines, 0: off */
    int32_t scheddetail;
    int32_t gctrace;
    int32_t gcwpoff;        /* test only: kernel write tracking unavailable (mgcwp.c) */
    int32_t gccheckmark;    /* re-mark with the world stopped after each cycle, report misses */
    int32_t gcpoison;       /* fill freed objects with 0xdeadbeef */
    int32_t asyncpreemptoff;
    int32_t forcegcperiod;  /* ms between forced collections; test-only (docs/HACKING.md) */
    int32_t leakcheck;      /* report leaked goroutines when the main goroutine returns */
    int32_t madvguardoff;   /* test only: stack guards by mprotect, as where MADV_GUARD_INSTALL fails (stack.c) */
} debugvars;
extern debugvars debug;
void parsedebugvars(void);
void leakcheckAtExit(void);  /* GORT_DEBUG=leakcheck=1's report (mgcleak.c) */

/* ---- Allocator hooks (malloc.c) ----------------------------------------- */

void mallocinit(void);
mcache *allocmcache(void);
void freemcache(mcache *c);
/* The mcache the current thread may use lock-free, or NULL (then malloc.c
 * falls back to a locked path): the P's cache while holding a P. */
static inline mcache *getmcache(void) {
    g *gp = getg();
    return (gp && gp->m && gp->m->p) ? gp->m->p->mcache : NULL;
}

/* ---- Collector hooks (roots.c) -------------------------------------------- */

/* futexsleep brackets its sleep with these: a thread asleep in a futex
 * counts as stopped for the GC, scanned from sp (the sleeping frame). */
void gcBlockingEnter(uintptr_t sp);
void gcBlockingExit(void);
void gcRegisterThread(g *standin);   /* see malloc.h */

/* ---- OS (os_linux.c) ---------------------------------------------------- */

int32_t getproccount(void);
int     gettid_(void);
void    osyield(void);
void    usleep_(uint32_t us);
int64_t nanotime(void);
int64_t walltime(void);
int64_t threadcputime(void);
int     futexsleep(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
void    futexwakeup(_Atomic uint32_t *addr, uint32_t cnt);
void    nanosleep_(int64_t ns);       /* the thread sleeps ns */
bool    eachtid(void (*f)(int tid, void *arg), void *arg); /* f on every thread; false: cannot list */
void   *sysReserve(size_t n);        /* RW, MAP_NORESERVE: costs nothing until touched */
void   *sysAlloc(size_t n, uint64_t *stat); /* zeroed RW memory from the OS, or NULL */
void    sysFree(void *v, size_t n, uint64_t *stat);
void    sysUnused(void *v, size_t n); /* MADV_DONTNEED */
int     sysFault(void *v, size_t n);  /* PROT_NONE; 0 or -errno */
int     sysGuard(void *v, size_t n);  /* guard pages without a VMA split; 0 or -errno */
bool    sysGuardWorks(size_t pagesize); /* does sysGuard fault here? */
/* n ranges of len bytes, stride apart from v, in a call or few. */
int     sysGuardStrided(void *v, size_t len, size_t stride, int n);   /* 0 or -errno */
void    sysPopulateStrided(void *v, size_t len, size_t stride, int n); /* best effort */
int64_t sysMaxMappings(void);        /* vm.max_map_count */
/* Kernel write tracking (Linux 6.7+; mgcwp.c). pageRegion is the kernel's
 * struct page_region: [start, end) and the categories that matched. */
typedef struct pageRegion { uint64_t start, end, categories; } pageRegion;
int     uffdOpenWPAsync(void);        /* userfaultfd with async WP, user mode only; fd or -errno */
int     uffdRegisterWP(int fd, uintptr_t base, size_t len);          /* 0 or -errno */
int     uffdWriteProtect(int fd, uintptr_t base, size_t len, bool on); /* 0 or -errno */
int     pagemapOpen(void);            /* /proc/self/pagemap; fd or -errno */
long    pagemapScanWritten(int fd, uintptr_t start, uintptr_t end, pageRegion *vec, size_t n,
                           bool reprotect, uintptr_t *walkEnd); /* written pages; count or -errno */
int     sigaction_(int sig, const struct sigaction *sa, struct sigaction *old); /* 0 or -errno */
int     signalstack(void *sp, size_t n); /* alternate signal stack; n 0: none. 0 or -errno */
bool    getsignalstack(uintptr_t *lo, uintptr_t *hi); /* the calling thread's, if any */
int     futexsleepNoGC(_Atomic uint32_t *addr, uint32_t val, int64_t ns); /* futexsleep without the GC's hooks */
int     threadCPUTimerCreate(int sig, void **timer); /* CPU-time timer signalling this thread */
int     threadCPUTimerSet(void *timer, int64_t first, int64_t interval); /* first 0: off */
int     tgkill_(int tid, int sig);    /* signal one thread of this process. 0 or -errno */
int     threadstat_open(int tid);     /* fd of /proc/self/task/<tid>/stat, or -errno */
char    threadstate(int fd);          /* 'R', 'S', 'D', ... from that fd; 0 if unreadable */
bool    membarrier_init(void);        /* register for membarrier_; false if unsupported */
void    membarrier_(void);            /* a full barrier on every running thread of the process */
void    fdclose(int fd);

#endif /* GORT_RUNTIME_H */
