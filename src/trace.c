/*
 * trace.c — the execution trace (Go: trace.go, traceevent.go, tracebuf.go).
 *
 * Go's `go tool trace` shows, for each P, which goroutine ran when, and why
 * each stopped. gort writes the same story as Chrome trace-event JSON,
 * which Perfetto (ui.perfetto.dev) and chrome://tracing open:
 *
 *   {"traceEvents":[
 *    {"ph":"M","name":"thread_name","pid":1,"tid":0,"args":{"name":"P0"}},
 *    {"ph":"X","name":"G7","pid":1,"tid":0,"ts":12.5,"dur":40.1,
 *     "args":{"goid":7,"end":"chan receive"}},           G7 ran on P0
 *    {"ph":"i","name":"GoBlock","pid":1,"tid":0,"ts":52.6,"s":"t",
 *     "args":{"goid":7,"reason":"chan receive"}},
 *    {"ph":"i","name":"GoUnblock",...,"args":{"goid":7}},   someone readied it
 *    {"ph":"B","name":"GC mark","pid":1,"tid":1000,...}, {"ph":"E",...}
 *   ]}
 *
 * One lane (tid) per P, as Go's trace viewer draws them; each stint of a
 * goroutine on a P is one complete ("X") event whose "end" says why it
 * stopped: a wait reason (chan receive, sync.Mutex.Lock, ...), "preempted"
 * "runnable" (it yielded or was preempted), "syscall", "exit". Instant events mark
 * creation (GoCreate, with the parent), blocking (GoBlock, with the wait
 * reason) and readying (GoUnblock), and syscalls (GoSysCall, GoSysExit).
 * The collector's phases (sweep termination, mark, mark termination,
 * sweep) are B/E slices on a lane of their own, "GC".
 *
 * Cost. Every hook is one predictable branch on traceEnabled when tracing
 * is off. When on, an event is formatted into its P's buffer without a
 * lock (only the P's owner writes it, as Go's per-P traceBufs); a full
 * buffer is written to the file under trace.lock. Threads without a P
 * (foreign threads, a goroutine back from a syscall before it has one)
 * share one buffer under the lock. Writing is a suspension-free region
 * (malloc.h), so the collector never stops a thread holding the lock, and
 * allocates nothing. gort_trace_stop stops the world so that no P is
 * writing while the buffers are flushed.
 */
#include "malloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TRACEBUF = 64 << 10, GC_LANE = 1000, MAXP_LANES = 1024 };

typedef struct traceBuf {
    size_t n;
    char   data[TRACEBUF];
} traceBuf;

_Atomic bool traceEnabled;

static struct {
    mutex     lock;              /* the file, the global buffer, start/stop */
    mutex     startstop;         /* start and stop take turns (not held while writing) */
    int       fd;
    int64_t   start;             /* nanotime at the start */
    traceBuf *global;            /* threads without a P */
    traceBuf *perP[MAXP_LANES];  /* by P id: made at the start, or by the P's owner */
    int       err;               /* first write error, -errno */
} trace = { .fd = -1 };

/* ---- Buffers --------------------------------------------------------------------- */

static void writeAll(const char *p, size_t n)
{
    while (n > 0 && trace.err == 0) {
        ssize_t k = write(trace.fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            trace.err = k < 0 ? -errno : -EIO;
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* trace.lock held. */
static void flushLocked(traceBuf *b)
{
    writeAll(b->data, b->n);
    b->n = 0;
}

/* The P the calling thread holds, or NULL. */
static p *curp(void)
{
    g *gp = getg();
    m *mp = gp ? gp->m : NULL;
    return mp ? mp->p : NULL;
}

/* The buffer of P pp, or NULL (then the global one). */
static traceBuf *pbuf(p *pp)
{
    if (!pp || pp->id < 0 || pp->id >= MAXP_LANES)
        return NULL;
    return trace.perP[pp->id];
}

static int32_t lane(p *pp) { return pp ? pp->id : -1; }

/* Appends one event at time `when` (nanotime), formatted after its common
 * prefix. */
static void vemitAt(p *pp, int32_t tid, int64_t when, const char *fmt, va_list ap)
{
    /* Acquire: the buffers made by gort_trace_start are visible. */
    if (!atomic_load_explicit(&traceEnabled, memory_order_acquire))
        return;
    char ev[512];
    double ts = (double)(when - trace.start) / 1000.0;
    int k = snprintf(ev, sizeof ev, ",\n{\"pid\":1,\"tid\":%d,\"ts\":%.3f,", tid, ts);
    int m = vsnprintf(ev + k, sizeof ev - (size_t)k, fmt, ap);
    size_t n = (size_t)k + (size_t)(m < 0 ? 0 : m);
    if (n >= sizeof ev - 1)
        return;                        /* cannot happen with our formats */
    ev[n++] = '}';
    nosuspend_enter();
    traceBuf *b = pbuf(pp);
    bool locked = !b;
    if (locked) {
        lock(&trace.lock);
        b = trace.global;
    }
    if (b && atomic_load_explicit(&traceEnabled, memory_order_relaxed)) {
        if (b->n + n > TRACEBUF) {
            if (!locked)
                lock(&trace.lock);
            flushLocked(b);
            if (!locked)
                unlock(&trace.lock);
        }
        memcpy(b->data + b->n, ev, n);
        b->n += n;
    }
    if (locked)
        unlock(&trace.lock);
    nosuspend_exit();
}

static void emitAt(p *pp, int64_t when, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemitAt(pp, lane(pp), when, fmt, ap);
    va_end(ap);
}

/* An event that happens now, by the holder of pp, on lane tid. */
static void emit(p *pp, int32_t tid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemitAt(pp, tid, nanotime(), fmt, ap);
    va_end(ap);
}

/* ---- Hooks ------------------------------------------------------------------------- */

/* Why gp is leaving the CPU, in words; status: the one it leaves with. */
static const char *endReason(g *gp, bool exiting, uint32_t status)
{
    if (exiting)
        return "exit";
    switch (status) {
    case Gwaiting:  return waitreason_string(gp->waitreason);
    case Grunnable: return "runnable";       /* yielded, or preempted */
    default:        return "running";
    }
}

/* The stint of gp on P pp ends now: one complete event. */
static void stintEnd(p *pp, g *gp, const char *why)
{
    int64_t now = nanotime(), start = gp->tracestart;
    if (start < trace.start)
        start = trace.start;           /* it was running when tracing began */
    emitAt(pp, start, "\"ph\":\"X\",\"name\":\"G%llu\",\"dur\":%.3f,\"args\":{\"goid\":%llu,\"end\":\"%s\"}",
         (unsigned long long)gp->goid, (double)(now - start) / 1000.0,
         (unsigned long long)gp->goid, why);
}

void traceGoSwitch(m *mp, g *from, g *to, bool exiting, uint32_t status)
{
    p *pp = mp->p;
    g *g0 = mp->g0;
    /* A G in a syscall ended its stint at GoSysCall; this switch is its
     * slow way back (no P was free), not a new stint. */
    if (from != g0 && status != Gsyscall) {
        const char *why = endReason(from, exiting, status);
        stintEnd(pp, from, why);
        if (!exiting && status == Gwaiting)
            emit(pp, lane(pp), "\"ph\":\"i\",\"s\":\"t\",\"name\":\"GoBlock\",\"args\":{\"goid\":%llu,\"reason\":\"%s\"}",
                 (unsigned long long)from->goid, why);
    }
    if (to != g0)
        to->tracestart = nanotime();
}

void traceGoCreate(g *newg, g *parent)
{
    p *pp = curp();
    emit(pp, lane(pp), "\"ph\":\"i\",\"s\":\"t\",\"name\":\"GoCreate\",\"args\":{\"goid\":%llu,\"parent\":%llu}",
         (unsigned long long)newg->goid, (unsigned long long)(parent ? parent->goid : 0));
}

void traceGoUnblock(g *gp)
{
    p *pp = curp();
    emit(pp, lane(pp), "\"ph\":\"i\",\"s\":\"t\",\"name\":\"GoUnblock\",\"args\":{\"goid\":%llu}",
         (unsigned long long)gp->goid);
}

void traceGoSysCall(g *gp)
{
    p *pp = curp();
    stintEnd(pp, gp, "syscall");
    emit(pp, lane(pp), "\"ph\":\"i\",\"s\":\"t\",\"name\":\"GoSysCall\",\"args\":{\"goid\":%llu}",
         (unsigned long long)gp->goid);
}

void traceGoSysExit(g *gp)
{
    p *pp = curp();
    gp->tracestart = nanotime();
    emit(pp, lane(pp), "\"ph\":\"i\",\"s\":\"t\",\"name\":\"GoSysExit\",\"args\":{\"goid\":%llu}",
         (unsigned long long)gp->goid);
}

/* The GC lane: the previous phase ends where the next begins. */
static _Atomic(const char *) gcPhase;

void traceGCPhase(const char *phase)
{
    const char *prev = atomic_exchange(&gcPhase, phase);
    if (prev)
        emit(curp(), GC_LANE, "\"ph\":\"E\",\"name\":\"GC %s\"", prev);
    if (phase)
        emit(curp(), GC_LANE, "\"ph\":\"B\",\"name\":\"GC %s\"", phase);
}

/* ---- Start and stop ---------------------------------------------------------------- */

static void header(void)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
                     "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{\"name\":\"gort\"}},\n"
                     "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"GC\"}},\n"
                     "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":-1,\"args\":{\"name\":\"no P\"}}",
                     GC_LANE);
    writeAll(buf, (size_t)n);
    for (int i = 0; i < MAXP_LANES && trace.perP[i]; i++) {
        n = snprintf(buf, sizeof buf,
                     ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"P%d\"}}",
                     i, i);
        writeAll(buf, (size_t)n);
    }
}

int traceStart(const char *path)
{
    lock(&trace.startstop);
    int rc = -EBUSY;
    if (trace.fd >= 0)
        goto out;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* A buffer for every P there is, and for as many more as there are CPUs
     * (GOMAXPROCS may grow); a P beyond writes to the global buffer. */
    int32_t np = atomic_load(&gomaxprocs);
    if (np < ncpu)
        np = ncpu;
    rc = -ENOMEM;
    if (!(trace.global = calloc(1, sizeof(traceBuf)))) {
        close(fd);
        goto out;
    }
    for (int32_t i = 0; i < np && i < MAXP_LANES; i++)
        trace.perP[i] = calloc(1, sizeof(traceBuf));   /* NULL: that P uses the global one */
    trace.fd = fd;
    trace.err = 0;
    trace.start = nanotime();
    atomic_store(&gcPhase, NULL);
    header();
    atomic_store(&traceEnabled, true);
    rc = 0;
out:
    unlock(&trace.startstop);
    return rc;
}

int gort_trace_start(const char *path)
{
    if (!path)
        return -EINVAL;
    runtime_init();
    return traceStart(path);
}

static void stopBody(void *arg)
{
    stopTheWorld("trace stop");
    atomic_store(&traceEnabled, false);
    nosuspend_enter();
    lock(&trace.lock);
    for (int i = 0; i < MAXP_LANES; i++)
        if (trace.perP[i])
            flushLocked(trace.perP[i]);
    flushLocked(trace.global);
    writeAll("\n]}\n", 4);
    unlock(&trace.lock);
    nosuspend_exit();
    startTheWorld();
    *(int *)arg = trace.err;
}

int gort_trace_stop(void)
{
    RUNTIME_ENTRY();                 /* it stops the world */
    lock(&trace.startstop);
    int rc = -EINVAL;                  /* not tracing */
    if (trace.fd >= 0) {
        if (ingoroutine())
            stopBody(&rc);
        else
            run_on_goroutine(stopBody, &rc);
        if (close(trace.fd) != 0 && rc == 0)
            rc = -errno;
        trace.fd = -1;
        nosuspend_enter();
        lock(&trace.lock);             /* a thread without a P may be looking */
        traceBuf *global = trace.global;
        trace.global = NULL;
        unlock(&trace.lock);
        nosuspend_exit();
        free(global);
        for (int i = 0; i < MAXP_LANES; i++) {
            free(trace.perP[i]);
            trace.perP[i] = NULL;
        }
    }
    unlock(&trace.startstop);
    return rc;
}
