/*
 * sysmon.c — the system monitor (Go: proc.go's sysmon, retake, preemptone,
 * schedtrace).
 *
 * sysmon is one thread that runs without a P: it never runs goroutines, it
 * watches the Ps of those that do. It wakes every 20 us while it finds
 * something to do; after 50 quiet rounds (1 ms) it doubles its sleep, up to
 * 10 ms. Each round:
 *
 *   1. Time slices (retake). For each P that runs a G it compares the P's
 *      schedtick (time slices started) with the value it saw last time. A
 *      tick that stood still for forcePreemptNS (10 ms) means one slice has
 *      lasted that long: one goroutine computing, or a chain of goroutines
 *      handing each other the P through runnext (each inherits the slice).
 *      sysmon sets the P's preempt flag (preemptone). The running G sees it
 *      at its next runtime entry (gopreempt_check: channel operations,
 *      locks, allocation, yield) and yields; the scheduler then puts the
 *      chain's runnext G behind the rest of the run queue, so the queue,
 *      the global queue and due timers get their turn.
 *   2. Syscalls (retake). A P in Psyscall (its G called gort_syscall_enter)
 *      whose syscalltick has not moved for a round (at least 20 us) is
 *      taken with a CAS Psyscall -> Pidle and handed to another M
 *      (handoffp), unless nothing else waits for it (its run queue is empty
 *      and an M spins or a P idles) and it has been there less than 10 ms.
 *      The M back from the syscall finds its P gone and takes an idle one,
 *      or queues its G and sleeps (proc.c's exitsyscall).
 *      Unannotated calls (beyond Go): a P whose goroutine has not switched
 *      for a round, whose M is outside gort (m.inruntime 0) and whose
 *      thread sleeps in the kernel is taken the same way, after a
 *      handshake with the M's next runtime entry (proc.c's takep_blocked,
 *      runtime.h's RUNTIME_ENTRY, docs/sysmon.md).
 *   3. The network: poll it without waiting when nobody has for 10 ms and
 *      no M blocks in it (netpollStale, proc.c), so goroutines waiting on
 *      sockets wake even while every P computes. And the forced GC: a
 *      collection when none has run for 2 minutes, see below.
 *      And the scavenger: free heap pages back to the OS while the heap
 *      keeps more than its goal plus 10% resident, or the runtime more
 *      than 95% of the memory limit (mheap.c), at most 1% of one CPU.
 *      And the GC CPU limiter's bucket (mgclimit.c).
 *   4. GORT_DEBUG=schedtrace=N prints a SCHED line every N ms, in Go's
 *      format; scheddetail=1 adds a line per P, M and visible G.
 *
 * sysmon is an M in allm (deadlock detection must know its thread) but is
 * not counted in sched.mcount: it never runs Go code, so it cannot end a
 * deadlock. schedtrace's threads= counts it, as Go's does.
 */
#include "malloc.h"          /* memstats, gcPercent */
#include "netpoll.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

enum {
    SYSMON_MIN_US = 20,           /* sleep while there is work */
    SYSMON_MAX_US = 10 * 1000,    /* sleep when everything is quiet */
    SYSMON_IDLE_ROUNDS = 50,      /* quiet rounds before the sleep doubles */
};
static const int64_t forcePreemptNS = 10 * 1000 * 1000;
static const int64_t syscallRetakeNS = 10 * 1000 * 1000; /* retake even when nobody waits */

static m sysmon_m;
static note sysmon_started;

/* The scheduling state of mp's thread ('R', 'S', 'D'...), from its stat
 * file, kept open; 0 if unknown. */
static char mstate(m *mp)
{
    int tid = mp->procid;
    if (tid == 0)
        return 0;                     /* still starting */
    int fd1 = atomic_load(&mp->statfd), zero = 0;
    if (!fd1) {                       /* sysmon or a stop of the world: first one wins */
        int fd = threadstat_open(tid);
        if (fd < 0)
            return 0;
        fd1 = fd + 1;
        if (!atomic_compare_exchange_strong(&mp->statfd, &zero, fd1)) {
            fdclose(fd);
            fd1 = zero;
        }
    }
    return threadstate(fd1 - 1);
}

/* Sends SIGURG to mp (async preemption, signal.c) if its thread is running:
 * a sleeping thread is in a blocking call, which the signal would only cut
 * short (EINTR). At most one of our signals is pending per M. Go's
 * preemptM. */
static void preemptM(m *mp)
{
    int tid = mp->procid;
    if (mstate(mp) != 'R' || atomic_exchange(&mp->preemptsig, 1))
        return;
    if (tgkill_(tid, SIGURG) != 0)
        atomic_store(&mp->preemptsig, 0);
}

/* Asks pp's G to yield: at its next runtime entry (the flag), or at once
 * if it runs code that may be interrupted (the signal). Go's preemptone.
 * Ms are never freed, so pp->m, read racily, names a valid M. Any thread
 * (sysmon, stopTheWorld). */
void preemptone(p *pp)
{
    atomic_store_explicit(&pp->preempt, true, memory_order_relaxed);
    if (!asyncpreempt_enabled())
        return;
    m *mp = __atomic_load_n(&pp->m, __ATOMIC_RELAXED);
    if (mp && mp != getm())        /* a stopper does not signal itself */
        preemptM(mp);
}

static bool blockdetect;          /* membarrier works: unannotated blocking calls are taken */

/* pp's M, read without synchronisation (its owner writes it plainly): only
 * a candidate, which takep_blocked checks once the M cannot move. Ms are
 * never freed, so any value read is a valid M. */
__attribute__((no_sanitize_thread)) static m *pm_hint(p *pp) { return *(m *volatile *)&pp->m; }

/* A P whose goroutine has not switched for a whole round (at least 20 us):
 * if its M sleeps in the kernel outside gort, an unannotated blocking
 * call, take the P as gort_syscall_enter would have let it go (the
 * handshake and the handoff are proc.c's takep_blocked). The cheap tests
 * first: the M's inruntime flag, then one pread of its thread's state. */
static bool retake_blocked(p *pp)
{
    m *mp = blockdetect ? pm_hint(pp) : NULL;
    if (!mp || atomic_load_explicit(&mp->inruntime, memory_order_relaxed) ||
        atomic_load(&gcStopping))
        return false;                 /* (a thread the collector stopped sleeps too) */
    char st = mstate(mp);
    return (st == 'S' || st == 'D') && takep_blocked(pp, mp);
}

/* Has the P's tick moved since sysmon last saw it? If so, notes its value
 * and the time (seen->when: since when it has stood still). */
static bool tickmoved(struct tickseen *seen, _Atomic uint32_t *tick, int64_t now)
{
    uint32_t t = atomic_load_explicit(tick, memory_order_relaxed);
    if (seen->tick == t)
        return false;
    seen->tick = t;
    seen->when = now;
    return true;
}

/* A running P: end its slice if it has lasted forcePreemptNS; take it if
 * its goroutine is asleep in a C call. True if it was handed off. */
static bool retake_running(p *pp, int64_t now)
{
    struct sysmontick *pd = &pp->sysmontick;
    if (!tickmoved(&pd->sched, &pp->schedtick, now) && pd->sched.when + forcePreemptNS <= now)
        preemptone(pp);           /* and again each round until the slice ends */
    if (tickmoved(&pd->switches, &pp->switchtick, now))
        return false;
    return retake_blocked(pp);
}

/* A P in a syscall: take it if it has been there a round and someone could
 * use it. True if it was handed off. */
static bool retake_syscall(p *pp, int64_t now)
{
    struct sysmontick *pd = &pp->sysmontick;
    if (tickmoved(&pd->syscall, &pp->syscalltick, now))
        return false;
    bool nobodywaits = atomic_load(&pp->runqtail) == atomic_load(&pp->runqhead) &&
                       atomic_load(&pp->runnext) == NULL &&
                       atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) > 0;
    if (nobodywaits && pd->syscall.when + syscallRetakeNS > now)
        return false;
    uint32_t s = Psyscall;
    if (!atomic_compare_exchange_strong(&pp->status, &s, Pidle))
        return false;
    handoffp(pp);
    return true;
}

/* Returns how many Ps were handed off. Go's retake. */
static uint32_t retake(int64_t now)
{
    uint32_t n = 0;
    int32_t np = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < np; i++) {
        p *pp = allp_get(i);
        switch (atomic_load(&pp->status)) {
        case Prunning:
            n += retake_running(pp, now);
            break;
        case Psyscall:
            n += retake_syscall(pp, now);
            break;
        default:
            break;
        }
    }
    return n;
}

/* ---- The forced GC ----------------------------------------------------------- */

/* A program that allocates too little to reach its trigger still collects
 * (and so frees what it dropped) at least every forcegcperiod, Go's 2
 * minutes; GORT_DEBUG=forcegcperiod=MS shortens it for tests only
 * (docs/HACKING.md), as Go's export_test.go ForceGCPeriod. As in Go, the
 * clock starts at the first collection: a program that never collected is
 * left alone, and so is one that turned the collector off (GC percent
 * < 0). The cycle runs on a thread of its own (Go: the forcegc goroutine),
 * started at the first forced cycle, so that sysmon never waits for a
 * collection. That thread is in allm, like sysmon: deadlock detection
 * knows it, and it cannot wake a goroutine. */
static const int64_t forcegcperiodNS = 2 * 60 * 1000000000LL;
static m forcegc_m;
static note forcegc_started, forcegc_wake;
static _Atomic bool forcegc_idle = true;

static void *forcegchelper(void *arg)
{
    forcegc_m.procid = gettid_();
    notewakeup(&forcegc_started);
    for (;;) {
        notesleep(&forcegc_wake);
        noteclear(&forcegc_wake);
        if (debug.gctrace)
            gprint("GC forced\n");
        gort_gc();                     /* counted in num_forced_gc */
        atomic_store(&forcegc_idle, true);
    }
    return NULL;
}

/* Starts the forcegc thread, and waits until deadlock detection can tell
 * it from a stranger (as sysmon_start). */
static void forcegc_start(void)
{
    lock(&sched.lock);
    forcegc_m.id = sched.mnext++;
    forcegc_m.alllink = allm;
    allm = &forcegc_m;
    unlock(&sched.lock);
    newosproc(forcegchelper, NULL);
    notesleep(&forcegc_started);
}

/* The number of collections so far. The collector writes it with every
 * other registered thread stopped, and sysmon is not one of them: a
 * snapshot (a 32-bit load, never torn) is all this needs, hence no TSan
 * instrumentation. */
__attribute__((no_sanitize_thread)) static uint32_t numgc_snapshot(void)
{
    return *(volatile uint32_t *)&memstats.numgc;
}

/* Wakes the forcegc thread when no collection has ended for forcegcperiod
 * (measured from when sysmon saw the count move, at most 10 ms late). Go's
 * gcTrigger{kind: gcTriggerTime}.test in sysmon. */
static void sysmon_forcegc(int64_t now)
{
    static uint32_t numgc;
    static int64_t lastgc;
    static bool started;
    uint32_t n = numgc_snapshot();
    if (n != numgc) {
        numgc = n;
        lastgc = now;
        return;
    }
    int64_t period = debug.forcegcperiod > 0 ? debug.forcegcperiod * 1000000LL : forcegcperiodNS;
    if (n == 0 || now - lastgc <= period ||
        __atomic_load_n(&gcPercent, __ATOMIC_RELAXED) < 0 ||   /* GOGC=off: none, as in Go */
        !atomic_exchange(&forcegc_idle, false))
        return;
    if (!started) {
        forcegc_start();
        started = true;
    }
    notewakeup(&forcegc_wake);
}

/* The background scavenger (Go's bgscavenge, here a step of sysmon): while
 * mheap_scavengeGoalExcess says too much is resident, it returns runs of
 * free pages to the OS, spending 1% of the time that passes (credit, capped
 * at 1 ms so an idle stretch does not buy a long burst). */
static void sysmon_scavenge(int64_t now)
{
    static int64_t last, credit;
    enum { maxCreditNS = 1000000 };
    credit += (now - last) / 100;
    if (credit > maxCreditNS)
        credit = maxCreditNS;
    last = now;
    while (credit > 0 && mheap_scavengeGoalExcess() > 0) {
        int64_t t0 = nanotime();
        if (mheap_scavenge(1) == 0)
            break;
        credit -= nanotime() - t0;
    }
}

/* ---- schedtrace ------------------------------------------------------------ */

static int64_t starttime;

/* One line per P, M and visible G (GORT_DEBUG=scheddetail=1). gort keeps
 * no list of all Gs, so the G lines cover the Gs the Ms are running. The
 * fields gort does not have (mallocing, throwing, preemptoff, locks,
 * dying, blocked) print as constants, so that Go's parsers read the lines. Like
 * Go's, these reads race with the owners' writes by design: a snapshot,
 * possibly torn, is all a trace needs (hence no TSan instrumentation). */
__attribute__((no_sanitize_thread)) static void schedtrace_detail(void)
{
    int32_t np = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < np; i++) {
        p *pp = allp_get(i);
        m *mp = pp->m;
        char mid[24] = "nil";
        if (mp)
            snprintf(mid, sizeof mid, "%lld", (long long)mp->id);
        gprint("  P%d: status=%u schedtick=%u syscalltick=%u m=%s runqsize=%u gfreecnt=%d timerslen=%d\n",
               i, atomic_load(&pp->status), atomic_load(&pp->schedtick),
               atomic_load(&pp->syscalltick), mid,
               atomic_load(&pp->runqtail) - atomic_load(&pp->runqhead), pp->gFreeCount,
               pp->ntimers);
    }
    for (m *mp = allm; mp; mp = mp->alllink) {
        p *pp = mp->p;
        g *cg = mp->curg, *lg = mp->lockedg;
        char pid[16] = "nil", cid[24] = "nil", lid[24] = "nil";
        if (pp)
            snprintf(pid, sizeof pid, "%d", pp->id);
        if (cg)
            snprintf(cid, sizeof cid, "%llu", (unsigned long long)cg->goid);
        if (lg)
            snprintf(lid, sizeof lid, "%llu", (unsigned long long)lg->goid);
        gprint("  M%lld: p=%s curg=%s mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=%s blocked=false lockedg=%s\n",
               (long long)mp->id, pid, cid, mp->spinning ? "true" : "false", lid);
    }
    for (m *mp = allm; mp; mp = mp->alllink) {
        g *cg = mp->curg;
        if (!cg)
            continue;
        uint32_t st = atomic_load(&cg->atomicstatus);
        char lid[24] = "nil";
        if (cg->lockedm)
            snprintf(lid, sizeof lid, "%lld", (long long)cg->lockedm->id);
        gprint("  G%llu: status=%u(%s) m=%lld lockedm=%s\n", (unsigned long long)cg->goid, st,
               st == Gwaiting ? waitreason_string(cg->waitreason) : "", (long long)mp->id, lid);
    }
}

/* Prints Go's SCHED line (and, detailed, the P/M/G lines). gort has no
 * needspinning: it prints 0 there, so Go's parsers read the line. */
static void schedtrace(bool detailed, int64_t now)
{
    char line[1024];
    int32_t np = atomic_load(&gomaxprocs);
    lock(&sched.lock);
    int n = snprintf(line, sizeof line,
                     "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                     "needspinning=0 idlethreads=%d runqueue=%d",
                     (long long)((now - starttime) / 1000000), np, atomic_load(&sched.npidle),
                     sched.mcount + 1, atomic_load(&sched.nmspinning), sched.nmidle,
                     atomic_load(&sched.runqsize));
    if (detailed) {
        gprint("%s gcwaiting=%s nmidlelocked=%d stopwait=%d sysmonwait=false\n", line,
               atomic_load(&sched.gcwaiting) ? "true" : "false", sched.nmidlelocked,
               sched.stopwait);
        schedtrace_detail();
        unlock(&sched.lock);
        return;
    }
    for (int32_t i = 0; i < np && n < (int)sizeof line - 64; i++) {
        p *pp = allp_get(i);
        n += snprintf(line + n, sizeof line - n, "%s%u%s", i == 0 ? " [ " : " ",
                      atomic_load(&pp->runqtail) - atomic_load(&pp->runqhead),
                      i == np - 1 ? " ]" : "");
    }
    n += snprintf(line + n, sizeof line - n, " schedticks=[ ");
    for (int32_t i = 0; i < np && n < (int)sizeof line - 16; i++)
        n += snprintf(line + n, sizeof line - n, "%u ", atomic_load(&allp_get(i)->schedtick));
    unlock(&sched.lock);
    gprint("%s]\n", line);
}

/* ---- The thread ---------------------------------------------------------- */

static void *sysmon(void *arg)
{
    sysmon_m.procid = gettid_();
    notewakeup(&sysmon_started);
    uint32_t delay = 0;
    int idle = 0;
    int64_t lasttrace = 0;
    for (;;) {
        if (idle == 0)
            delay = SYSMON_MIN_US;
        else if (idle > SYSMON_IDLE_ROUNDS)
            delay *= 2;
        if (delay > SYSMON_MAX_US)
            delay = SYSMON_MAX_US;
        usleep_(delay);
        int64_t now = nanotime();
        netpollStale(now);        /* the network, if nobody polled it for 10 ms */
        idle = retake(now) ? 0 : idle + 1;
        sysmon_forcegc(now);
        sysmon_scavenge(now);
        gcCPULimiterUpdate(now);
        if (debug.schedtrace > 0 && lasttrace + debug.schedtrace * 1000000LL <= now) {
            lasttrace = now;
            schedtrace(debug.scheddetail > 0, now);
        }
    }
    return NULL;
}

/* Starts sysmon (once, from runtime_init) and waits until its thread is
 * known, so deadlock detection never takes it for a stranger. */
void sysmon_start(void)
{
    starttime = nanotime();
    blockdetect = membarrier_init();
    lock(&sched.lock);
    sysmon_m.id = sched.mnext++;
    sysmon_m.alllink = allm;
    allm = &sysmon_m;
    unlock(&sched.lock);
    newosproc(sysmon, NULL);
    notesleep(&sysmon_started);
}
