/*
 * schedtrace.c — the scheduler's own account of itself
 * (GORT_DEBUG=schedtrace=100: a line every 100 ms, in Go's format).
 *
 *   SCHED 101ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0
 *                needspinning=0 idlethreads=1 runqueue=0 [3 2] ...
 *
 *   gomaxprocs   Ps: the licences to run goroutines
 *   idleprocs    Ps with nothing to run
 *   threads      Ms (OS threads) the runtime made so far
 *   runqueue     goroutines in the global run queue
 *   [3 2]        goroutines in each P's local run queue
 *
 * Here 8 goroutines compute for a while on 2 Ps: both Ps are busy, and
 * the runnable goroutines wait in the local queues, passed around by time
 * slices (sysmon ends a slice after 10 ms; docs/sysmon.md).
 */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>

static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void busy(void *arg)
{
    int64_t end = gort_nanotime() + 300 * GORT_MILLISECOND;
    while (gort_nanotime() < end)
        gort_yield();                             /* compute, offering the P each round */
    gort_waitgroup_done(&wg);
}

static void main_goroutine(void *arg)
{
    for (int i = 0; i < 8; i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(busy, NULL);
    }
    gort_waitgroup_wait(&wg);
    printf("8 goroutines computed for 300 ms on %d Ps\n", gort_gomaxprocs(0));
}

int main(void)
{
    setenv("GORT_DEBUG", "schedtrace=100", 0);
    gort_gomaxprocs(2);
    return gort_main(main_goroutine, NULL);
}
