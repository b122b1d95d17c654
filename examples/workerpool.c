/*
 * workerpool.c — a fixed pool of worker goroutines draining a job channel.
 *
 * The jobs channel is buffered: main queues work without waiting for a
 * worker, and a worker that finds it empty parks until more arrives. When
 * main closes it, each worker's receive returns false once the queue is
 * drained, and the worker exits. Workers run on any of GOMAXPROCS Ps; idle
 * Ps steal runnable goroutines from busy ones (docs/scheduler.md).
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

enum { WORKERS = 4, JOBS = 100 };

static gort_chan *jobs, *results;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void worker(void *arg)
{
    int n;
    while (gort_chan_recv(jobs, &n)) {
        int64_t sq = (int64_t)n * n;
        gort_chan_send(results, &sq);
    }
    gort_waitgroup_done(&wg);
}

static void closer(void *arg)
{
    gort_waitgroup_wait(&wg);                    /* every worker has finished */
    gort_chan_close(results);
}

static void main_goroutine(void *arg)
{
    jobs = gort_chan_make(sizeof(int), JOBS);    /* room for every job */
    results = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < WORKERS; i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(worker, NULL);
    }
    gort_go(closer, NULL);
    for (int n = 1; n <= JOBS; n++)
        gort_chan_send(jobs, &n);
    gort_chan_close(jobs);                       /* no more jobs: workers leave when it drains */

    int64_t sq, sum = 0;
    int count = 0;
    while (gort_chan_recv(results, &sq)) {
        sum += sq;
        count++;
    }
    printf("worker pool: %d workers did %d jobs, sum of squares %lld\n", WORKERS, count,
           (long long)sum);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
