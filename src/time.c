/*
 * time.c — timers, sleep, and the time API (Go: runtime/time.go, time/sleep.go,
 * time/tick.go).
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
 * A timer's function runs on g0 with the P held and no runtime lock (but
 * a timer channel's sendLock): it must not block. For sleep it readies the
 * sleeping G; for timer channels it does a non-blocking send of the current
 * time.
 *
 * Serialising a timer's operations (Go 1.23's per-timer lock). A timer's
 * fields are guarded by its own mutex t->mu (its slot index by the heap's
 * lock), and a timer is in at most one heap, named by t->ts. Lock order: a
 * timer channel's sendLock, the heap's timersLock, t->mu, then a channel's
 * lock (the heap code holds the heap and must look at timers). An operation
 * that only has the timer must therefore guess the heap first: read t->ts,
 * lock that heap (or, if there is none, the heap it would add the timer
 * to), lock t, and start over if t->ts changed meanwhile (lockTimer). t->ts
 * changes only with both locks held, so once both are held everything is
 * stable: reset, stop, firing and moving a timer to another P each happen
 * in one critical section, and none can see another half done. (A sleeping
 * goroutine's timer is private and skips t->mu: see lockmu.)
 *
 * Go keeps the heap lazily instead: stop and modify take only t->mu and
 * mark the timer (zombie, modified) for the heap's owner to fix later, so
 * they never contend on a P's heap. Here stop and reset fix the heap at
 * once under its lock, which keeps each P's timer0When exact (the idle M
 * and the stealing Ms read only that) at the cost of taking the P's lock.
 */
#include "timer.h"

#include "chan.h"
#include "malloc.h"

#include <stdlib.h>
#include <string.h>

int64_t gort_nanotime(void) { return nanotime(); }

/* ---- The 4-ary heap (pp->timersLock held) -------------------------------- */

/* Each heap slot keeps a copy of its timer's `when`, so a sift compares
 * keys within the array (a node's four children share one cache line)
 * instead of loading each timer, which may sit on a sleeping goroutine's
 * stack, far from everything else. Go 1.23 made the same change. The copy
 * is updated with the timer's when, both locks held. */

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
}

static void heap_push(p *pp, timer *t)
{
    assertLockHeld(&pp->timersLock);
    if (pp->ntimers == pp->timerscap) {
        /* The GC scans the heap with the world stopped: it must find the
         * old array or the new one, whole, never a freed one. It scans
         * every slot up to timerscap (roots.c says why), so slots past
         * ntimers are kept zero: calloc here, cleared by heap_remove. */
        int32_t cap = pp->timerscap ? pp->timerscap * 2 : 64;
        timerWhen *nt = calloc((size_t)cap, sizeof *nt), *old = pp->timers;
        if (!nt)
            throw("runtime: out of memory growing the timer heap");
        if (old)
            memcpy(nt, old, (size_t)pp->ntimers * sizeof *nt);
        nosuspend_enter();
        pp->timers = nt;
        pp->timerscap = cap;
        nosuspend_exit();
        free(old);
    }
    heap_set(pp, pp->ntimers++, (timerWhen){ t, t->when });
    siftupTimer(pp, t->idx);
    atomic_store(&t->ts, pp);
    update_timer0(pp);
}

void (*timerTestRemoveGap)(p *pp, int32_t last);

static void heap_remove(p *pp, timer *t)
{
    assertLockHeld(&pp->timersLock);
    int32_t i = t->idx, last = --pp->ntimers;
    void (*gap)(p *, int32_t) = __atomic_load_n(&timerTestRemoveGap, __ATOMIC_RELAXED);
    if (unlikely(gap != NULL))
        gap(pp, last);
    if (i != last) {
        timerWhen moved = pp->timers[last];
        heap_set(pp, i, moved);
        siftdownTimer(pp, i);
        siftupTimer(pp, moved.timer->idx);
    }
    pp->timers[last] = (timerWhen){ NULL, 0 };    /* the GC scans every slot */
    atomic_store(&t->ts, NULL);
    update_timer0(pp);
}

/* t->when changed while t stays in pp's heap: move it to its new place. */
static void heap_fix(p *pp, timer *t)
{
    assertLockHeld(&pp->timersLock);
    int32_t i = t->idx;
    pp->timers[i].when = t->when;
    siftdownTimer(pp, i);
    siftupTimer(pp, t->idx);
    update_timer0(pp);
}

/* Debug builds check, after every change, that t sits where it claims. */
static void assertHeaped(p *pp, timer *t)
{
    GORT_ASSERT(t->idx >= 0 && t->idx < pp->ntimers);
    GORT_ASSERT(pp->timers[t->idx].timer == t && pp->timers[t->idx].when == t->when);
}

/* ---- Locking a timer --------------------------------------------------------- */

/* A private timer (gort_sleep's) is added once by its owner and then only
 * fired: no stop or reset can reach it, so the heap's lock alone orders
 * those two, and the timer's own lock, two atomic operations per sleep,
 * is skipped. */
static void lockmu(timer *t)
{
    if (!t->private)
        lock(&t->mu);
}

static void unlockmu(timer *t)
{
    if (!t->private)
        unlock(&t->mu);
}

static void assertmu(timer *t)
{
    if (!t->private)
        assertLockHeld(&t->mu);
}

/* The P whose heap takes a timer that is in none: the caller's, or any when
 * called off a P (a foreign thread, or before gort_main). Returned locked,
 * and not being destroyed (moveTimers marks a P dead under its lock). */
static p *lockHome(void)
{
    for (;;) {
        m *mp = getm();
        p *pp = mp ? mp->p : NULL;
        if (!pp) {
            runtime_init();
            pp = allp_get((int32_t)fastrandn((uint32_t)atomic_load(&gomaxprocs)));
        }
        lock(&pp->timersLock);
        if (atomic_load(&pp->status) != Pdead)
            return pp;
        unlock(&pp->timersLock);
    }
}

/* Locks t and the heap that holds it, or the heap it would be added to if
 * it is in none (see the top comment). Returns that heap's P. */
static p *lockTimer(timer *t)
{
    for (;;) {
        p *ts = atomic_load(&t->ts);
        p *pp = ts;
        if (ts)
            lock(&ts->timersLock);
        else
            pp = lockHome();
        lockmu(t);
        if (atomic_load(&t->ts) == ts)
            return pp;
        unlockmu(t);                    /* added, moved or removed meanwhile */
        unlock(&pp->timersLock);
    }
}

static void unlockTimer(p *pp, timer *t)
{
    unlockmu(t);
    unlock(&pp->timersLock);
}

/* ---- Operations -------------------------------------------------------------- */

void inittimer(timer *t, void (*f)(void *arg, int64_t now), void *arg)
{
    *t = (timer){ .f = f, .arg = arg, .idx = -1 };
}

/* With t and pp locked (lockTimer): sets when (0: stop; the period then
 * stays) and period, and puts t where they say. Returns whether t was
 * pending. */
static bool updateLocked(p *pp, timer *t, int64_t when, int64_t period)
{
    assertmu(t);
    bool pending = t->when > 0;
    t->when = when;
    if (when > 0)
        t->period = period;
    if (atomic_load_explicit(&t->ts, memory_order_relaxed)) {
        if (when > 0) {
            heap_fix(pp, t);
            assertHeaped(pp, t);
        } else {
            heap_remove(pp, t);
        }
    } else if (when > 0) {
        heap_push(pp, t);
        assertHeaped(pp, t);
    }
    return pending;
}

/* A timer channel holds at most one value. Returns whether there was one. */
static bool timerchandrain(hchan *c)
{
    bool received, drained = false;
    while (chantryrecv(c, NULL, &received))
        drained = true;
    return drained;
}

/* modtimer and deltimer (when = 0). For a timer channel this is Go 1.23's
 * synchronous channel: once stop or reset returns, no value of the old
 * arming can be received. One in the buffer is drained; one being sent
 * right now (the firing unlocked t and waits for sendLock, which we hold)
 * sees seq changed and is dropped. Either way nobody received the old
 * arming's value, so it counts as stopped while pending: each arming of a
 * one-shot timer ends either received or in exactly one stop/reset that
 * returns true. */
static bool timerUpdate(timer *t, int64_t when, int64_t period)
{
    /* Once t is unlocked it may fire, and a sleep's timer lives in the frame
     * of the goroutine it wakes: read nothing of t after unlockTimer. */
    bool isChan = t->isChan;
    if (isChan)
        lock(&t->sendLock);
    p *pp = lockTimer(t);
    int64_t old0 = atomic_load_explicit(&pp->timer0When, memory_order_relaxed);
    bool added = when > 0 && !atomic_load_explicit(&t->ts, memory_order_relaxed);
    bool pending = updateLocked(pp, t, when, period);
    if (t->isChan) {
        pending |= t->isSending;
        t->isSending = false;
        t->seq++;
    }
    unlockTimer(pp, t);
    if (isChan) {
        if (timerchandrain(t->arg))
            pending = true;
        unlock(&t->sendLock);
    }
    /* A new timer may need an M (wakep); one that moved earlier than the
     * heap's first must reach whoever sleeps until that one. */
    if (added || (when > 0 && when < old0))
        wakeNetPoller(when);
    return pending;
}

bool modtimer(timer *t, int64_t when, int64_t period)
{
    GORT_ASSERT(when > 0);
    return timerUpdate(t, when, period);
}

bool deltimer(timer *t) { return timerUpdate(t, 0, 0); }

int64_t timerwhen(int64_t ns)
{
    int64_t now = nanotime();
    if (ns <= 0)
        return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;   /* never overflows */
}

/* A ticker's next firing after now: the first when + k*period past now,
 * saturated (a huge period must not wrap around into the past). */
static int64_t nextPeriod(const timer *t, int64_t now)
{
    int64_t k = 1 + (now - t->when) / t->period, step, next;
    if (__builtin_mul_overflow(k, t->period, &step) ||
        __builtin_add_overflow(t->when, step, &next))
        return INT64_MAX;
    return next;
}

/* ---- Running timers ----------------------------------------------------------- */

/* A timer channel's firing, unlocked, is about to send the value of arming
 * seq. A stop or reset since then bumped seq (holding sendLock, which we
 * take here and hold across the send) and made it stale. Returns true
 * holding sendLock if the send should happen. */
static bool sendStillWanted(timer *t, uint64_t seq)
{
    lock(&t->sendLock);
    lock(&t->mu);
    bool current = t->seq == seq;
    if (current)
        t->isSending = false;       /* the send is now ours to finish */
    unlock(&t->mu);
    if (!current)
        unlock(&t->sendLock);
    return current;
}

/* The top timer t of pp is due: re-arm or remove it, then call its function
 * with no lock held. pp and t locked on entry; pp locked again on return. */
static void unlockAndRun(p *pp, timer *t, int64_t now)
{
    assertLockHeld(&pp->timersLock);
    assertmu(t);
    void (*f)(void *, int64_t) = t->f;
    void *arg = t->arg;
    bool isChan = t->isChan;
    uint64_t seq = isChan ? t->seq : 0;
    if (t->period > 0) {
        t->when = nextPeriod(t, now);
        heap_fix(pp, t);
    } else {
        t->when = 0;
        heap_remove(pp, t);
        t->isSending = t->isChan;   /* stop/reset: this arming's value is on its way */
    }
    unlockTimer(pp, t);
    if (!isChan) {
        f(arg, now);
    } else if (sendStillWanted(t, seq)) {
        f(arg, now);
        unlock(&t->sendLock);
    }
    lock(&pp->timersLock);
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
        timer *t = pp->timers[0].timer;
        lockmu(t);
        assertHeaped(pp, t);
        unlockAndRun(pp, t, now);
        *ran = true;
    }
    next = pp->ntimers ? pp->timers[0].when : 0;
    unlock(&pp->timersLock);
    return next;
}

/* pp is going away: its timers move to dst, and it is marked dead under
 * its lock, so that a foreign thread's lockHome cannot strand a timer on
 * it afterwards. World stopped; the two heap locks are taken in this order
 * only here. */
void moveTimers(p *pp, p *dst)
{
    if (pp == dst)
        return;
    lock(&pp->timersLock);
    atomic_store(&pp->status, Pdead);
    lock(&dst->timersLock);
    for (int32_t i = 0; i < pp->ntimers; i++) {
        timer *t = pp->timers[i].timer;
        lockmu(t);
        heap_push(dst, t);
        unlockmu(t);
    }
    if (pp->ntimers)
        memset(pp->timers, 0, (size_t)pp->ntimers * sizeof *pp->timers);
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

struct sleeper { timer t; int64_t when; };

/* gopark's unlock function: the timer is armed only once the G is marked
 * waiting, so its firing can never find the G still running. */
static bool resetForSleep(g *gp, void *arg)
{
    struct sleeper *s = arg;
    modtimer(&s->t, s->when, 0);
    return true;
}

void gort_sleep(int64_t ns)
{
    RUNTIME_ENTRY();
    if (ns <= 0)
        return;
    if (!ingoroutine()) {
        nanosleep_(ns);
        return;
    }
    /* when saturates: gort_sleep(INT64_MAX) sleeps for ever, and its timer
     * stays pending, so the goroutine counts as waiting on a timer. */
    _Alignas(CACHELINE) struct sleeper s = { .when = timerwhen(ns) };
    inittimer(&s.t, goroutineReady, getg());
    s.t.private = true;
    gopark(resetForSleep, &s, waitReasonSleep);
}

/* ---- Timers and tickers with channels (time.NewTimer, NewTicker, AfterFunc) ---- */

/* A timer channel (arg of its timer) has a buffer of one and is sent to
 * without blocking: a tick that finds the buffer full is dropped, as Go
 * does for tickers. */
struct gort_timer {
    timer t;
    void (*fn)(void *);         /* AfterFunc */
    void *fnarg;
};
struct gort_ticker { struct gort_timer tm; };

static void sendTime(void *c, int64_t now) { chantrysend(c, &now); }

static void goFunc(void *arg, int64_t now)
{
    struct gort_timer *tm = arg;
    newproc(tm->fn, tm->fnarg, 0);
}

/* Timers are GC objects: a pending one is kept alive by its P's heap (the
 * GC scans it, and through it the channel it sends to), a stopped or fired
 * one only by the program's pointers. */
static struct gort_timer *newtimer(void) { return mallocgc(sizeof(struct gort_timer), NULL, 0); }

static struct gort_timer *newchantimer(int64_t ns, int64_t period)
{
    struct gort_timer *tm = newtimer();
    inittimer(&tm->t, sendTime, gort_chan_make_noscan(sizeof(int64_t), 1));
    tm->t.isChan = true;
    modtimer(&tm->t, timerwhen(ns), period);
    return tm;
}

gort_timer *gort_timer_new(int64_t ns) { RUNTIME_ENTRY(); return newchantimer(ns, 0); }

gort_timer *gort_timer_after_func(int64_t ns, void (*fn)(void *), void *arg)
{
    RUNTIME_ENTRY();
    struct gort_timer *tm = newtimer();
    tm->fn = fn;
    tm->fnarg = arg;
    inittimer(&tm->t, goFunc, tm);
    modtimer(&tm->t, timerwhen(ns), 0);
    return tm;
}

gort_chan *gort_after(int64_t ns) { return gort_timer_chan(gort_timer_new(ns)); }
gort_chan *gort_timer_chan(gort_timer *t) { return t->t.isChan ? t->t.arg : NULL; }
bool gort_timer_stop(gort_timer *t) { RUNTIME_ENTRY(); return deltimer(&t->t); }
bool gort_timer_reset(gort_timer *t, int64_t ns) { RUNTIME_ENTRY(); return modtimer(&t->t, timerwhen(ns), 0); }

gort_ticker *gort_ticker_new(int64_t period_ns)
{
    RUNTIME_ENTRY();
    if (period_ns <= 0)
        gopanic("non-positive interval for NewTicker");
    return (struct gort_ticker *)newchantimer(period_ns, period_ns);
}

gort_chan *gort_ticker_chan(gort_ticker *t) { return gort_timer_chan(&t->tm); }
void gort_ticker_stop(gort_ticker *t) { RUNTIME_ENTRY(); deltimer(&t->tm.t); }

void gort_ticker_reset(gort_ticker *t, int64_t period_ns)
{
    RUNTIME_ENTRY();
    if (period_ns <= 0)
        gopanic("non-positive interval for Ticker.Reset");
    modtimer(&t->tm.t, timerwhen(period_ns), period_ns);
}
