/*
 * bench/parked.c — memory per parked goroutine; Go twin: bench/go/parked.go.
 *
 *   parked_bytes   1 000 000 goroutines blocked at once on one channel
 *                  receive: the growth of the resident set (RSS, from
 *                  /proc/self/statm) divided by their number. The unit is
 *                  bytes per goroutine, not ns, so the table's ratio reads
 *                  "gort's memory per goroutine over Go's".
 *
 * Fair comparison: both sides start the same number of goroutines that each
 * block receiving from the same unbuffered channel, measure RSS once they are
 * all parked, then close the channel and join them. Go's 2 KiB initial stacks
 * are copied and grown; gort's are fixed reservations of which a goroutine
 * that stays shallow touches one page, holding its G as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gort.h"
#include "bench.h"

#define PARKED 1000000

static gort_chan *gate;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void waiter(void *arg)
{
    gort_chan_recv(gate, NULL);
    gort_waitgroup_done(&wg);
}

static void run(void *arg)
{
    long n = (long)scaled(PARKED);
    gate = gort_chan_make(0, 0);
    long before = rss_bytes();
    gort_waitgroup_add(&wg, (int)n);
    for (long i = 0; i < n; i++)
        gort_go(waiter, NULL);
    while (gort_num_goroutine() < n + 1)
        gort_yield();
    long after = rss_bytes();
    printf("BENCH parked_bytes %.1f\n", (double)(after - before) / (double)n);
    fflush(stdout);
    gort_chan_close(gate);
    gort_waitgroup_wait(&wg);
}

int main(void) { return gort_main(run, NULL); }
