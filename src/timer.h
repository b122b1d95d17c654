/*
 * timer.h — the runtime's timers (time.c), for the runtime's own users:
 * sleep, the public timer API, and deadlines (Go: runtime/time.go's timer,
 * with its f/arg, modify and stop).
 *
 * A timer calls f(arg, now) on the scheduler's stack once `when` (a
 * nanotime) has passed, and again every `period` ns if period > 0. f must
 * not block; it runs with no runtime lock held (time.c's timer channels
 * hold their own sendLock across the send). Every operation on one
 * timer is serialised through the timer's own mutex, so modtimer and
 * deltimer are safe from any goroutine or thread, concurrently with each
 * other and with the timer firing (a `private` timer, gort_sleep's, is
 * only ever added once and fired, and skips the mutex).
 *
 * The struct is in the header so that callers can embed a timer (a
 * sleeping goroutine's lives on its stack); only time.c touches its fields
 * after inittimer (and sets private and isChan for its own timers). A timer must not be freed while it is pending or its f
 * may be running.
 */
#ifndef GORT_TIMER_H
#define GORT_TIMER_H

#include "runtime.h"

/* 64 bytes, the fields a firing touches first: a sleeping goroutine's
 * timer is cold in the cache by the time it fires. */
typedef struct timer {
    _Atomic(p *) ts;           /* P whose heap holds the timer, NULL if none */
    int64_t   when;            /* next firing; 0: not pending */
    int64_t   period;          /* > 0: re-arms itself (tickers) */
    void    (*f)(void *arg, int64_t now);
    void     *arg;
    int32_t   idx;             /* its slot there (ts->timersLock held) */
    bool      private;         /* added once by its owner, never stopped or reset: mu unused */
    /* Timer channels only: f sends the time on the channel arg, and stop
     * and reset make sure no stale value is received (time.c, timerUpdate). */
    bool      isChan;
    bool      isSending;       /* the current arming fired; its send has not begun */
    mutex     mu;              /* guards the rest; taken after the heap's P timersLock */
    mutex     sendLock;        /* held across a send, and by stop/reset */
    uint64_t  seq;             /* arming number: bumped by stop/reset (both locks) */
} timer;

void inittimer(timer *t, void (*f)(void *arg, int64_t now), void *arg);
/* Arms t to fire at `when` (> 0, a nanotime; the past fires at once), then
 * every `period` ns if period > 0. Returns whether it was pending before. */
bool modtimer(timer *t, int64_t when, int64_t period);
/* Disarms t. Returns whether it was pending: false if it already fired
 * (its f may be running right now on another thread) or was stopped. */
bool deltimer(timer *t);
/* The nanotime ns from now, saturated at INT64_MAX (Go's when()). */
int64_t timerwhen(int64_t ns);

/* Tests: called by the heap removal when pp's count has dropped and its
 * last timer, in slot last, is not yet moved into the hole. */
extern void (*timerTestRemoveGap)(p *pp, int32_t last);

#endif /* GORT_TIMER_H */
