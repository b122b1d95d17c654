/*
 * time.c — timers, sleep, and the time API (Go: time.go, runtime/time.go).
 *
 * Every P keeps its own timers in a 4-ary min-heap ordered by `when`, guarded
 * by the P's timersLock. A 4-ary heap is shallower than a binary one, so a
 * sift touches fewer cache lines; Go uses the same shape.
 *
 *                         [t0]              parent of i: (i-1)/4
 *            [t1]     [t2]     [t3]    [t4] children:  4i+1 .. 4i+4
 *
 * Timers run on the scheduler, never on a thread of their own:
 *   - findRunnable calls checkTimers(pp) for its own P and, while stealing,
 *     for other Ps whose first timer is due;
 *   - an M with nothing to do sleeps until the earliest timer of all Ps
 *     (proc.c's timersleep) instead of forever. Only one M sleeps that way;
 *     adding an earlier timer wakes it (wakeNetPoller). Once the netpoller
 *     is in use, the M blocked in netpoll sleeps for the timers instead, as
 *     in Go, and wakeNetPoller breaks its poll.
 * A timer's function runs on g0 with the P held and no heap lock: it must
 * not block. For sleep it readies the sleeping G; for timer channels it does
 * a non-blocking send of the current time (a full buffer drops the tick, as
 * Go does for tickers).
 *
 * A timer records the P whose heap holds it and its index there, so stop
 * and reset are O(log n): lock that P, check the timer did not move
 * meanwhile, and delete it.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t gort_nanotime(void) { return nanotime(); }

/* ---- The 4-ary heap (pp->timersLock held) -------------------------------- */

/* Each heap slot keeps a copy of its timer's `when`, so a sift compares
 * keys within the array (a node's four children share one cache line)
 * instead of loading each timer, which may sit on a sleeping goroutine's
 * stack, far from everything else. Go 1.23 made the same change. */

static void heap_set(p *pp, int32_t i, timerWhen tw)
{
    pp->timers[i] = tw;
    tw.timer->idx = i;
}

static void siftupTimer(p *pp, int32_t i)
{
    timerWhen tw = pp->timers[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (tw.when >= pp->timers[parent].when)
            break;
        heap_set(pp, i, pp->timers[parent]);
        i = parent;
    }
    heap_set(pp, i, tw);
}

static void siftdownTimer(p *pp, int32_t i)
{
    int32_t n = pp->ntimers;
    timerWhen tw = pp->timers[i];
    for (;;) {
        int32_t c = 4 * i + 1, best = -1;
        int64_t bestWhen = tw.when;
        for (int32_t k = c; k < c + 4 && k < n; k++) {
            if (pp->timers[k].when < bestWhen) {
                best = k;
                bestWhen = pp->timers[k].when;
            }
        }
        if (best < 0)
            break;
        heap_set(pp, i, pp->timers[best]);
        i = best;
    }
    heap_set(pp, i, tw);
}

static void update_timer0(p *pp)
{
    atomic_store(&pp->timer0When, pp->ntimers ? pp->timers[0].when : 0);
    atomic_store(&pp->numTimers, pp->ntimers);
}

static void heap_push(p *pp, struct timer *t)
{
    if (pp->ntimers == pp->timerscap) {
        int32_t cap = pp->timerscap ? pp->timerscap * 2 : 64;
        timerWhen *nt = realloc(pp->timers, (size_t)cap * sizeof *nt);
        if (!nt)
            throw("runtime: out of memory growing the timer heap");
        pp->timers = nt;
        pp->timerscap = cap;
    }
    heap_set(pp, pp->ntimers++, (timerWhen){ t, t->when });
    siftupTimer(pp, t->idx);
    atomic_store(&t->pp, pp);
    update_timer0(pp);
}

static void heap_remove(p *pp, struct timer *t)
{
    int32_t i = t->idx, last = --pp->ntimers;
    if (i != last) {
        timerWhen moved = pp->timers[last];
        heap_set(pp, i, moved);
        siftdownTimer(pp, i);
        siftupTimer(pp, moved.timer->idx);
    }
    atomic_store(&t->pp, NULL);
    update_timer0(pp);
}

/* ---- Adding and deleting ---------------------------------------------------- */

/* The P to hold a new timer: the caller's, or any when called off a P. */
static p *timer_home(void)
{
    m *mp = getm();
    if (mp && mp->p)
        return mp->p;
    return allp_get((int32_t)fastrandn((uint32_t)atomic_load(&gomaxprocs)));
}

void addtimer(struct timer *t)
{
    p *pp;
    for (;;) {
        pp = timer_home();
        lock(&pp->timersLock);
        if (atomic_load(&pp->status) != Pdead)
            break;
        unlock(&pp->timersLock);   /* a foreign thread picked a P being destroyed */
    }
    heap_push(pp, t);
    int64_t when = t->when;         /* once unlocked, a ticker may re-arm t */
    unlock(&pp->timersLock);
    wakeNetPoller(when);
}

/* Removes t from whichever heap holds it. True if it was pending. */
bool deltimer(struct timer *t)
{
    for (;;) {
        p *pp = atomic_load(&t->pp);
        if (!pp)
            return false;
        lock(&pp->timersLock);
        if (atomic_load(&t->pp) == pp) {
            heap_remove(pp, t);
            unlock(&pp->timersLock);
            return true;
        }
        unlock(&pp->timersLock);   /* moved to another P meanwhile: retry */
    }
}

/* Runs every due timer of pp. Returns when the next one is due (0: none);
 * *ran is set if any ran. Called on g0 with a P held (not necessarily pp). */
int64_t checkTimers(p *pp, int64_t now, bool *ran)
{
    int64_t next = atomic_load(&pp->timer0When);
    if (next == 0)
        return 0;
    if (now == 0)
        now = nanotime();
    if (next > now)
        return next;
    lock(&pp->timersLock);
    while (pp->ntimers > 0 && pp->timers[0].when <= now) {
        struct timer *t = pp->timers[0].timer;
        void (*f)(void *, int64_t) = t->f;
        void *arg = t->arg;
        if (t->period > 0) {
            t->when += t->period * (1 + (now - t->when) / t->period);
            pp->timers[0].when = t->when;
            siftdownTimer(pp, 0);
            update_timer0(pp);
        } else {
            heap_remove(pp, t);
        }
        unlock(&pp->timersLock);
        f(arg, now);
        *ran = true;
        lock(&pp->timersLock);
    }
    next = pp->ntimers ? pp->timers[0].when : 0;
    unlock(&pp->timersLock);
    return next;
}

/* pp is going away: its timers move to dst, and it is marked dead under
 * its lock, so that a foreign thread's addtimer cannot strand a timer on
 * it afterwards. World stopped. */
void moveTimers(p *pp, p *dst)
{
    if (pp == dst)
        return;
    lock(&pp->timersLock);
    atomic_store(&pp->status, Pdead);
    lock(&dst->timersLock);
    for (int32_t i = 0; i < pp->ntimers; i++)
        heap_push(dst, pp->timers[i].timer);
    pp->ntimers = 0;
    update_timer0(pp);
    unlock(&dst->timersLock);
    unlock(&pp->timersLock);
}

/* Earliest timer over all Ps, 0 if none. */
int64_t nobarrierWakeTime(void)
{
    int64_t next = 0;
    int32_t n = atomic_load(&gomaxprocs);
    for (int32_t i = 0; i < n; i++) {
        int64_t w = atomic_load(&allp_get(i)->timer0When);
        if (w != 0 && (next == 0 || w < next))
            next = w;
    }
    return next;
}

/* ---- Sleep -------------------------------------------------------------------- */

static void goroutineReady(void *arg, int64_t now) { goready(arg); }

/* gopark's unlock function: the timer is armed only once the G is marked
 * waiting, so its firing can never find the G still running. */
static bool resetForSleep(g *gp, void *t)
{
    addtimer(t);
    return true;
}

void gort_sleep(int64_t ns)
{
    if (ns <= 0)
        return;
    if (!ingoroutine()) {
        nanosleep_(ns);
        return;
    }
    struct timer t = { .when = nanotime() + ns, .f = goroutineReady, .arg = getg() };
    gopark(resetForSleep, &t, waitReasonSleep);
}

/* ---- Timers and tickers with channels (time.NewTimer, NewTicker, AfterFunc) ---- */

struct gort_timer {
    struct timer t;
    gort_chan *c;
    void (*fn)(void *);
    void *fnarg;
};
struct gort_ticker { struct gort_timer tm; };

/* Timer channels have a buffer of one and are sent to without blocking: a
 * tick that finds the buffer full is dropped. */
static void sendTime(void *arg, int64_t now)
{
    struct gort_timer *tm = arg;
    gort_chan_try_send(tm->c, &now);
}

static void goFunc(void *arg, int64_t now)
{
    struct gort_timer *tm = arg;
    gort_go(tm->fn, tm->fnarg);
}

static int64_t when(int64_t ns)
{
    int64_t now = nanotime();
    if (ns <= 0)
        return now;
    return now + ns < now ? INT64_MAX : now + ns;   /* saturate on overflow */
}

static struct gort_timer *newtimer(int64_t ns, int64_t period, void (*f)(void *, int64_t))
{
    struct gort_timer *tm = calloc(1, sizeof *tm);
    if (!tm)
        throw("runtime: out of memory allocating a timer");
    tm->t.when = when(ns);
    tm->t.period = period;
    tm->t.f = f;
    tm->t.arg = tm;
    return tm;
}

gort_timer *gort_timer_new(int64_t ns)
{
    struct gort_timer *tm = newtimer(ns, 0, sendTime);
    tm->c = gort_chan_make(sizeof(int64_t), 1);
    addtimer(&tm->t);
    return tm;
}

gort_timer *gort_timer_after_func(int64_t ns, void (*fn)(void *), void *arg)
{
    struct gort_timer *tm = newtimer(ns, 0, goFunc);
    tm->fn = fn;
    tm->fnarg = arg;
    addtimer(&tm->t);
    return tm;
}

gort_chan *gort_after(int64_t ns) { return gort_timer_chan(gort_timer_new(ns)); }
gort_chan *gort_timer_chan(gort_timer *t) { return t->c; }
bool gort_timer_stop(gort_timer *t) { return deltimer(&t->t); }

bool gort_timer_reset(gort_timer *t, int64_t ns)
{
    bool active = deltimer(&t->t);
    t->t.when = when(ns);
    addtimer(&t->t);
    return active;
}

gort_ticker *gort_ticker_new(int64_t period_ns)
{
    if (period_ns <= 0)
        gopanic("non-positive interval for NewTicker");
    struct gort_ticker *tk = (struct gort_ticker *)newtimer(period_ns, period_ns, sendTime);
    tk->tm.c = gort_chan_make(sizeof(int64_t), 1);
    addtimer(&tk->tm.t);
    return tk;
}

gort_chan *gort_ticker_chan(gort_ticker *t) { return t->tm.c; }
void gort_ticker_stop(gort_ticker *t) { deltimer(&t->tm.t); }

void gort_ticker_reset(gort_ticker *t, int64_t period_ns)
{
    if (period_ns <= 0)
        gopanic("non-positive interval for Ticker.Reset");
    deltimer(&t->tm.t);
    t->tm.t.period = period_ns;
    t->tm.t.when = when(period_ns);
    addtimer(&t->tm.t);
}
