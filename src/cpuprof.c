/*
 * cpuprof.c — the CPU profile (Go: cpuprof.go, profbuf.go, signal_unix.go's
 * sigprof, os_linux.go's setThreadCPUProfiler).
 *
 * Every M that runs goroutines owns a POSIX timer on its own thread's CPU
 * clock (timer_create(CLOCK_THREAD_CPUTIME_ID) with SIGEV_THREAD_ID), as
 * Go's per-thread profiling timers: every 10 ms of CPU the thread itself
 * uses (100 Hz), the kernel sends that thread SIGPROF. So an idle thread
 * costs nothing, and a busy thread is sampled in proportion to its CPU
 * time, not to wall time. An M (re)arms its timer when it notices that
 * the wanted rate, cpuprof_hz, differs from its own: as it starts running
 * a goroutine (execute), one predictable branch.
 *
 *   M1 ──SIGPROF──> sigprof: unwind from the signal context (libunwind)
 *                            push the PCs into the ring ──┐
 *   M2 ──SIGPROF──> sigprof: ...                          │ lock-free
 *                                                          v
 *                         reader thread, every 20 ms: drain the ring,
 *                         count each distinct stack (a bucket table)
 *   gort_pprof_cpu_stop:  stop the timers and the reader, drain, write
 *                         profile.proto (pprof.c)
 *
 * The handler may interrupt anything, malloc and the runtime's locks
 * included, so it takes no lock and allocates nothing (Go's profBuf has the
 * same constraint): it unwinds into its own frame (it runs on the M's
 * alternate signal stack) and claims a ring slot with one compare-and-swap.
 * The ring is a bounded multi-producer queue (Vyukov's): slot i carries a
 * sequence number; a producer may fill slot pos&mask when its sequence is
 * pos, and publishes it with pos+1; the reader takes it at pos+1 and frees
 * it for the next lap with pos+size. When the ring is full the sample is
 * counted as lost, and the profile says how many in a comment.
 *
 * Under TSan, which delivers signals late, the sample is the stack where
 * TSan delivered it. libunwind's local unwinding is async-signal-safe: its caches take their
 * locks with every signal blocked, so a handler never finds one held by the
 * code it interrupted.
 *
 * SIGPROF coexists with the runtime's other signals: its handler runs with
 * every signal blocked (so SIGURG's preemption and the collector's SIGPWR
 * wait until it returns) and SA_RESTART; the runtime's blocking calls
 * treat an interruption as a spurious wakeup (futexes, epoll) or retry
 * (nanosleep_, the network calls). A program's own SIGPROF handler, if it
 * had one, gets the signals that are not the profiler's timer.
 */
#define UNW_LOCAL_ONLY
#include "pprof.h"
#include "malloc.h"

#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROF_HZ = 100, RINGSIZE = 1024, READ_EVERY_NS = 20 * 1000 * 1000 };

typedef struct profRecord {
    _Atomic uint64_t seq;
    int32_t   n;
    uintptr_t pcs[MAXSTACK];
} profRecord;

_Atomic int32_t cpuprof_hz;

static struct {
    mutex      lock;               /* start and stop take turns */
    profRecord *ring;              /* RINGSIZE records, made at the first start */
    _Atomic uint64_t head;         /* the next slot producers claim */
    uint64_t   tail;               /* the next slot the reader takes */
    _Atomic uint64_t lost;         /* samples the full ring refused */
    _Atomic bool on;               /* the handler records */
    _Atomic bool stopReader;
    pthread_t  reader;
    bucketTable stacks;            /* v[0]: samples of that stack */
    char      *path;
    int64_t    start;              /* walltime and nanotime at the start */
    int64_t    startMono;
    bool       handler;            /* SIGPROF handler installed */
    struct sigaction old;          /* the program's own SIGPROF handler */
} prof;

/* ---- The signal side --------------------------------------------------------- */

static bool ringPush(const uintptr_t *pcs, int n)
{
    uint64_t pos = atomic_load_explicit(&prof.head, memory_order_relaxed);
    for (;;) {
        profRecord *r = &prof.ring[pos & (RINGSIZE - 1)];
        uint64_t seq = atomic_load_explicit(&r->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&prof.head, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                r->n = n;
                memcpy(r->pcs, pcs, (size_t)n * sizeof *pcs);
                atomic_store_explicit(&r->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false;             /* full: the reader is a lap behind */
        } else {
            pos = atomic_load_explicit(&prof.head, memory_order_relaxed);
        }
    }
}

/* One sample: the interrupted stack, leaf (the exact PC) first. */
static void sigprofRecord(void *uc)
{
    uintptr_t pcs[MAXSTACK];
    int n = 0;
    unw_cursor_t c;
#if GORT_TSAN
    /* TSan runs handlers late, at the thread's next interceptor, with a
     * copy of a context whose stack has moved on since: unwind the stack
     * as it is now (the sample lands where TSan delivered it). */
    unw_context_t now;
    int rc = unw_getcontext(&now) == 0 ? unw_init_local(&c, &now) : -1;
#else
    int rc = unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME);
#endif
    if (rc == 0)
        n = cursorPCs(&c, pcs, MAXSTACK);
    if (n == 0) {
        uintptr_t sp;
        ctx_pc_sp(uc, &pcs[0], &sp);
        n = 1;
    }
    if (!ringPush(pcs, n))
        atomic_fetch_add_explicit(&prof.lost, 1, memory_order_relaxed);
}

static void sigprof(int sig, siginfo_t *si, void *uc)
{
    int e = errno;
    if (si->si_code == SI_TIMER && atomic_load_explicit(&prof.on, memory_order_acquire))
        sigprofRecord(uc);
    else
        sigfwd(&prof.old, sig, si, uc);
    errno = e;
}

/* Runs on mp's own thread (its timer measures and signals the caller). */
void setThreadCPUProfiler(m *mp)
{
    int32_t hz = atomic_load_explicit(&cpuprof_hz, memory_order_relaxed);
    mp->profilehz = hz;
    if (hz > 0 && !mp->proftimerok)  /* failing, this thread goes unsampled */
        mp->proftimerok = threadCPUTimerCreate(SIGPROF, &mp->proftimer) == 0;
    if (!mp->proftimerok)
        return;
    int64_t period = hz > 0 ? 1000000000 / hz : 0;
    /* A random first expiry, so that threads started together do not
     * sample in step (Go's setThreadCPUProfiler does the same). */
    int64_t first = hz > 0 ? 1 + (int64_t)fastrandn((uint32_t)period) : 0;
    threadCPUTimerSet(mp->proftimer, first, period);
}

/* ---- The reader ------------------------------------------------------------------ */

/* Moves every published record into the stack table. Reader only. */
static void drain(void)
{
    uintptr_t pcs[MAXSTACK];
    for (;;) {
        profRecord *r = &prof.ring[prof.tail & (RINGSIZE - 1)];
        if (atomic_load_explicit(&r->seq, memory_order_acquire) != prof.tail + 1)
            return;
        int n = r->n;
        memcpy(pcs, r->pcs, (size_t)n * sizeof *pcs);
        atomic_store_explicit(&r->seq, prof.tail + RINGSIZE, memory_order_release);
        prof.tail++;
        bucket *b = bucketLock(&prof.stacks, pcs, n);
        if (b) {
            b->v[0] += 1;
            bucketUnlock(&prof.stacks);
        }
    }
}

static void *reader(void *arg)
{
    while (!atomic_load(&prof.stopReader)) {
        drain();
        nanosleep_(READ_EVERY_NS);
    }
    return NULL;
}

/* ---- Start and stop -------------------------------------------------------------- */

/* libunwind sets itself up on its first unwind (a signal mask and caches,
 * behind a lock and a flag TSan cannot see): done here, before prof.on is
 * released, rather than in the first handlers, where it took a lock inside
 * a signal handler and TSan saw its setup race with other threads' samples. */
static void unwinderInit(void)
{
    unw_context_t ctx;
    unw_cursor_t c;
    if (unw_getcontext(&ctx) == 0)
        (void)unw_init_local(&c, &ctx);
}

static int installHandler(void)
{
    if (prof.handler)
        return 0;
    unwinderInit();
    prof.ring = calloc(RINGSIZE, sizeof *prof.ring);
    if (!prof.ring)
        return -ENOMEM;
    for (uint64_t i = 0; i < RINGSIZE; i++)
        atomic_store(&prof.ring[i].seq, i);
    int rc = setsig(SIGPROF, sigprof, SA_ONSTACK | SA_RESTART, true, &prof.old);
    if (rc == 0)
        prof.handler = true;
    return rc;
}

static void freeStacks(void)
{
    for (bucket *b = prof.stacks.all, *next; b; b = next) {
        next = b->allnext;
        free(b);
    }
    memset(prof.stacks.hash, 0, sizeof prof.stacks.hash);
    prof.stacks.all = NULL;
}

int cpuprof_start(const char *path)
{
    lock(&prof.lock);
    int rc = -EBUSY;                 /* Go: "cpu profiling already in use" */
    if (atomic_load(&cpuprof_hz) != 0 || prof.path)
        goto out;
    FILE *f = fopen(path, "w");      /* say now if it cannot be written */
    if (!f) {
        rc = -errno;
        goto out;
    }
    fclose(f);
    if ((rc = installHandler()) != 0)
        goto out;
    if (!(prof.path = strdup(path))) {
        rc = -ENOMEM;
        goto out;
    }
    drain();                         /* a late sample of the last profile */
    freeStacks();
    atomic_store(&prof.lost, 0);
    atomic_store(&prof.stopReader, false);
    if ((rc = -pthread_create(&prof.reader, NULL, reader, NULL)) != 0) {
        free(prof.path);
        prof.path = NULL;
        goto out;
    }
    prof.start = walltime();
    prof.startMono = nanotime();
    atomic_store_explicit(&prof.on, true, memory_order_release);
    atomic_store(&cpuprof_hz, PROF_HZ);
    m *mp = getm();
    if (mp)
        setThreadCPUProfiler(mp);
out:
    unlock(&prof.lock);
    return rc;
}

static int writeCPUProfile(void)
{
    static const char *const types[] = { "samples", "cpu" };
    static const char *const units[] = { "count", "nanoseconds" };
    int64_t period = 1000000000 / PROF_HZ;
    profBuilder *pb = profNew(2, types, units, "cpu", "nanoseconds", period);
    profSetTimes(pb, prof.start, nanotime() - prof.startMono);
    for (bucket *b = prof.stacks.all; b; b = b->allnext) {
        int64_t v[2] = { (int64_t)b->v[0], (int64_t)b->v[0] * period };
        profSample(pb, b->stk, b->nstk, true, v);
    }
    uint64_t lost = atomic_load(&prof.lost);
    if (lost) {
        char note[64];
        snprintf(note, sizeof note, "%llu samples lost (profile buffer full)", (unsigned long long)lost);
        profComment(pb, note);
    }
    return profWrite(pb, prof.path);
}

int cpuprof_stop(void)
{
    lock(&prof.lock);
    int rc = -EINVAL;                /* not profiling */
    if (!prof.path)
        goto out;
    atomic_store(&cpuprof_hz, 0);
    atomic_store_explicit(&prof.on, false, memory_order_release);
    m *mp = getm();
    if (mp)
        setThreadCPUProfiler(mp);
    atomic_store(&prof.stopReader, true);
    pthread_join(prof.reader, NULL);
    drain();
    rc = writeCPUProfile();
    free(prof.path);
    prof.path = NULL;
out:
    unlock(&prof.lock);
    return rc;
}
