/*
 * select_timeout.c — waiting for a reply, but not forever.
 *
 * gort_select blocks on several channel operations at once and completes
 * whichever is ready first, as Go's select. gort_after(d) returns a channel
 * that receives once, d from now: a timer on the P's timer heap
 * (docs/scheduler.md), no thread sleeps for it. Selecting on the reply and
 * on gort_after gives a timeout; a buffered reply channel lets the late
 * worker finish its send even when nobody listens any more.
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

struct request { int64_t delay; gort_chan *reply; };

static void worker(void *arg)
{
    struct request *r = arg;
    gort_sleep(r->delay);                        /* the "work" */
    int answer = 42;
    gort_chan_send(r->reply, &answer);           /* buffered: never blocks */
}

/* Asks a worker that takes `delay`; waits at most `timeout`. */
static void ask(struct request *r, int64_t timeout)
{
    int answer;
    int64_t fired;
    r->reply = gort_chan_make(sizeof(int), 1);
    gort_go(worker, r);
    gort_select_case cases[2] = {
        { r->reply, GORT_RECV, &answer, NULL },
        { gort_after(timeout), GORT_RECV, &fired, NULL },
    };
    if (gort_select(cases, 2, true) == 0)
        printf("reply %d within %lld ms\n", answer, (long long)(timeout / GORT_MILLISECOND));
    else
        printf("timed out after %lld ms\n", (long long)(timeout / GORT_MILLISECOND));
}

static void main_goroutine(void *arg)
{
    static struct request slow = { 2000 * GORT_MILLISECOND, NULL }, fast = { GORT_MILLISECOND, NULL };
    ask(&slow, 50 * GORT_MILLISECOND);           /* the worker needs 2 s: times out */
    ask(&fast, 5000 * GORT_MILLISECOND);         /* answers in 1 ms */
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
