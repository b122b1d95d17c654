/*
 * deadlock.c — deadlock detection (Go: proc.go's checkdead), and the
 * threads that are not goroutines but block in gort anyway.
 *
 * Go's rule: when the last running M goes idle, and no goroutine is
 * runnable and no timer is pending, nothing can ever happen again, so the
 * program is dead: "fatal error: all goroutines are asleep - deadlock!".
 *
 * A C program that links gort breaks one premise of that rule: in Go only
 * goroutines (and timers, and the network) wake goroutines, but here any
 * thread of the C program may call gort_chan_send or gort_mutex_unlock at
 * any moment. gort therefore reports a deadlock only when all of this holds:
 *
 *   1. some thread waits in gort_main for its main goroutine: a "Go
 *      program" is running, and it is the thing that is stuck;
 *   2. every other thread that ever called into gort has exited or waits in
 *      gort_main too (a thread blocked in a channel operation counts as
 *      able to proceed: another thread might wake it);
 *   3. no M runs: each is idle or parked for a locked goroutine
 *      (mcount - nmidle - nmidlelocked == 0), so no goroutine runs, and an
 *      M in a syscall or asleep until a timer counts as running, as does
 *      sysmon while it holds Gs it took from the network (netpollStale);
 *   4. no timer is pending on any P, and no goroutine waits on the network
 *      (a peer may still send; Go's netpollAnyWaiters);
 *   5. no thread exists that gort does not know: every thread listed in
 *      /proc/self/task is an M, a registered thread (alive or exiting), or
 *      was already there when gort first met a foreign thread (sanitizer
 *      or emulator helpers, say). A thread started later that has not
 *      called into gort yet may still do so: a goroutine often starts a
 *      pthread and then waits for what it will send;
 *   6. some goroutine exists. If none does, the main goroutine ended with
 *      gort_goexit and nothing is left to run: Go's "no goroutines (main
 *      called runtime.Goexit) - deadlock!".
 * Rule 5 cannot tell a helper from a thread of the program that existed
 * before gort's first use and calls into it only later (docs/channels.md).
 *
 * checkdead runs whenever one of these can have become true: an M goes
 * idle (stopm) or parks for its locked goroutine (stoplockedm), a thread
 * starts waiting in gort_main, a registered thread exits. All with
 * sched.lock held, which also guards the thread lists below.
 *
 * Foreign threads. A thread that is not an M has no g, so it cannot park.
 * When it must wait (a channel operation, a semaphore) it uses a stand-in g
 * made at its first call into gort: the sudogs point at the stand-in as
 * they would at a goroutine, the stand-in's `threadpark` note is where the
 * thread sleeps, and waitready wakes it with notewakeup instead of goready
 * (park.h). A pthread key destructor notices the thread's exit; the stand-in stays
 * listed until the thread has left /proc/self/task, then it is freed.
 */
#include "netpoll.h"

#include <pthread.h>
#include <stdlib.h>

struct threadg {
    g        g;
    note     park;
    int      tid;
    bool     exited;           /* its destructor ran; it may still be in /proc */
    bool     seen;             /* found by the last scan of /proc/self/task */
    struct threadg *alllink;
};

static _Atomic int32_t nforeign;     /* registered threads not waiting in gort_main */
static _Atomic int32_t nmainwait;    /* threads waiting in gort_main */
static struct threadg *allthreadg;   /* every registered thread (sched.lock) */
static int *helpers;                 /* tids alive at the first foreign call (sched.lock) */
static int nhelpers;
static int nexited;                  /* stand-ins of exited threads still listed (sched.lock) */
static __thread struct threadg *mythreadg;
static pthread_key_t threadkey;
static pthread_once_t threadkey_once = PTHREAD_ONCE_INIT;

static void checkdead1(void);

/* ---- The threads of the process ----------------------------------------------- */

static bool ism(int tid)
{
    for (m *mp = allm; mp; mp = mp->alllink)
        if (mp->procid == tid)
            return true;
    return false;
}

static void addhelper(int tid, void *me)
{
    if (tid == *(int *)me || ism(tid))
        return;
    int *h = realloc(helpers, (size_t)(nhelpers + 1) * sizeof *h);
    if (!h)
        throw("runtime: out of memory listing threads");
    helpers = h;
    helpers[nhelpers++] = tid;
}

static bool ishelper(int tid)
{
    for (int i = 0; i < nhelpers; i++)
        if (helpers[i] == tid)
            return true;
    return false;
}

static struct threadg *findthreadg(int tid)
{
    for (struct threadg *tg = allthreadg; tg; tg = tg->alllink)
        if (tg->tid == tid)
            return tg;
    return NULL;
}

static void classify(int tid, void *strangers)
{
    struct threadg *tg = findthreadg(tid);
    if (tg)
        tg->seen = true;
    else if (!ism(tid) && !ishelper(tid))
        ++*(int *)strangers;
}

/* Frees the stand-ins of exited threads that the last scan did not see. */
static void prunethreadg(void)
{
    nexited = 0;
    for (struct threadg **pp = &allthreadg, *tg; (tg = *pp);) {
        if (tg->exited && !tg->seen) {
            *pp = tg->alllink;
            free(tg);
            continue;
        }
        nexited += tg->exited;
        tg->seen = false;
        pp = &tg->alllink;
    }
}

/* Is there a thread gort does not know (rule 5)? sched.lock held. Only
 * meaningful when every M has its procid set (none is starting). */
static bool strangers(void)
{
    assertLockHeld(&sched.lock);
    int n = 0;
    bool listed = eachtid(classify, &n);
    if (listed)
        prunethreadg();
    return listed && n > 0;
}

/* ---- Registering foreign threads ------------------------------------------------ */

/* A registered thread exits: one possible waker fewer, so look again.
 * Now and then, free the stand-ins of threads that are gone. */
static void threadexit(void *arg)
{
    struct threadg *tg = arg;
    lock(&sched.lock);
    tg->exited = true;
    atomic_fetch_sub(&nforeign, 1);
    if (++nexited > 64)
        strangers();
    checkdead1();
    unlock(&sched.lock);
}

#if GORT_TSAN
static void *nothing(void *arg) { return arg; }
#endif

/* First foreign call: every thread alive now, but this one and the Ms, is
 * a helper of the environment that we must not wait for. (TSan starts its
 * helper at the first pthread_create: make that happen now.) */
static void firstforeign(void)
{
    if (pthread_key_create(&threadkey, threadexit) != 0)
        throw("runtime: pthread_key_create failed");
#if GORT_TSAN
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0)
        pthread_join(t, NULL);
#endif
    int me = gettid_();
    lock(&sched.lock);
    eachtid(addhelper, &me);
    unlock(&sched.lock);
}

g *foreign_register(void)
{
    if (mythreadg)
        return &mythreadg->g;
    struct threadg *tg = calloc(1, sizeof *tg);
    if (!tg)
        throw("runtime: out of memory registering a thread");
    tg->g.threadpark = &tg->park;
    atomic_store(&tg->g.atomicstatus, Gwaiting);
    tg->tid = gettid_();
    pthread_once(&threadkey_once, firstforeign);
    pthread_setspecific(threadkey, tg);
    mythreadg = tg;
    lock(&sched.lock);
    tg->alllink = allthreadg;
    allthreadg = tg;
    atomic_fetch_add(&nforeign, 1);
    unlock(&sched.lock);
    gcRegisterThread(&tg->g);     /* the GC scans the thread's stack and stand-in */
    return &tg->g;
}

/* The main goroutine may be stuck (or gone) already, with every M idle and
 * no one left to call checkdead: so look once more. */
void foreign_main_wait(void)
{
    foreign_register();
    lock(&sched.lock);
    atomic_fetch_add(&nmainwait, 1);
    atomic_fetch_sub(&nforeign, 1);
    checkdead1();
    unlock(&sched.lock);
}

/* Runs on the main goroutine, before it wakes its gort_main caller: the
 * thread counts as a possible waker again before it can run any C code. */
void foreign_main_done(void)
{
    atomic_fetch_add(&nforeign, 1);
    atomic_fetch_sub(&nmainwait, 1);
}

/* ---- checkdead -------------------------------------------------------------------- */

/* sched.lock held. Dies if nothing can ever run again (rules above). */
static void checkdead1(void)
{
    assertLockHeld(&sched.lock);
    if (atomic_load(&nmainwait) == 0 || atomic_load(&nforeign) > 0 ||
        atomic_load(&sched.nwaiting_threads) > 0)
        return;
    int32_t run = sched.mcount - sched.nmidle - sched.nmidlelocked;
    if (run > 0)
        return;
    if (run < 0)
        throw("checkdead: inconsistent counts: mcount=%d nmidle=%d nmidlelocked=%d",
                   sched.mcount, sched.nmidle, sched.nmidlelocked);
    /* A G on the global queue with every M idle: a thread that is not an M
     * (the resolver thread in net.c, a timer run by a foreign thread) queued
     * it and has not yet called wakep, which will start an M for it. */
    if (atomic_load(&sched.runqsize) > 0)
        return;
    if (nobarrierWakeTime() != 0 || strangers())
        return;
    if (netpollinited() && netpollAnyWaiters())
        return;                       /* the network may still wake someone */
    bool none = gort_num_goroutine() == 0;
    unlock(&sched.lock);
    if (none)
        throw("no goroutines (main called runtime.Goexit) - deadlock!");
    throw("all goroutines are asleep - deadlock!");
}

void checkdead(void) { checkdead1(); }
