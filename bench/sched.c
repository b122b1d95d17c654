/*
 * bench/sched.c — scheduler microbenchmarks; Go twin: bench/go/sched.go.
 *
 * What it measures (one `BENCH <workload> <ns-per-op>` line each):
 *
 *   yield          GORT_MAXPROCS=1, 2 goroutines calling gort_yield in a loop:
 *                  the cost of one goroutine switch through the run queue
 *                  (Go: runtime.Gosched with GOMAXPROCS=1).
 *   yield_2p       2 Ps, 4 goroutines yielding: the same with two Ps, so run
 *                  queue traffic, wakeups and stealing show up.
 *   spawn_join     2 Ps, batches of 1000 goroutines doing one atomic add,
 *                  joined with a gort_waitgroup: the cost of one gort_go plus
 *                  its exit and its share of the join, per goroutine.
 *   spawn_join_1p  the same with 1 P (no wakeups, no stealing).
 *   spawn_burst    2 Ps, 1 000 000 goroutines spawned with no batching, all
 *                  alive at once: each blocks receiving from one channel
 *                  that is closed once all are spawned, then marks a
 *                  gort_waitgroup; one wait joins them all. Per goroutine:
 *                  the spawn of a goroutine that needs a fresh stack (no
 *                  dead one to reuse), its park, wakeup and exit.
 *
 * Why it is a fair comparison: the Go twin does the same work with the same
 * counts, structure and GOMAXPROCS, gort_go/gort_yield/gort_waitgroup_* standing
 * for go/runtime.Gosched/sync.WaitGroup. Its workers are named functions taking
 * pointers (no closure allocation), as here; both sides time with the monotonic
 * clock and run everything inside the runtime (gort_main here, main there).
 * BENCH_SCALE (a factor, default 1) scales every count on both sides alike.
 * Arguments name the workloads to run (all by default; see bench.h).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gort.h"
#include "bench.h"

#define YIELDS_PER_G 4000000 /* yield: per goroutine, 2 goroutines */
#define YIELDS_2P    500000  /* yield_2p: per goroutine, 4 goroutines */
#define SPAWN_BATCH  1000    /* spawn_join: goroutines per waitgroup round */
#define SPAWN_RUNS   1500    /* spawn_join: number of rounds */
#define BURST        1000000 /* spawn_burst: goroutines alive at once */

/* Keeps every result observable so nothing is optimised away. */
static _Atomic int64_t sink;

/* Runs body(arg) with procs Ps and reports elapsed/ops as ns per op. */
static void bench(const char *name, int procs, int64_t ops, void (*body)(void *), void *arg)
{
    gort_gomaxprocs(procs);
    int64_t start = gort_nanotime();
    body(arg);
    report(name, gort_nanotime() - start, ops);
}

/* ---- yield ------------------------------------------------------------- */

struct yield_run {
    int goroutines;      /* how many yielders */
    int64_t n;           /* yields each */
    gort_waitgroup wg;
};

static void yielder(void *arg)
{
    struct yield_run *run = arg;
    for (int64_t i = 0; i < run->n; i++)
        gort_yield();
    atomic_fetch_add(&sink, run->n);
    gort_waitgroup_done(&run->wg);
}

/* Starts run->goroutines yielders and waits for them. */
static void yield_body(void *arg)
{
    struct yield_run *run = arg;
    gort_waitgroup_add(&run->wg, run->goroutines);
    for (int i = 0; i < run->goroutines; i++)
        gort_go(yielder, run);
    gort_waitgroup_wait(&run->wg);
}

static void bench_yield(const char *name, int procs, int goroutines, int64_t per_g)
{
    if (!wanted(name))
        return;
    struct yield_run run = { .goroutines = goroutines, .n = scaled(per_g),
                             .wg = GORT_WAITGROUP_INIT };
    bench(name, procs, goroutines * run.n, yield_body, &run);
}

/* ---- spawn_join -------------------------------------------------------- */

struct spawn_run {
    int64_t runs;               /* batches */
    _Atomic int64_t counter;    /* the workers' trivial work */
    gort_waitgroup wg;
};

static void spawn_worker(void *arg)
{
    struct spawn_run *run = arg;
    atomic_fetch_add(&run->counter, 1);
    gort_waitgroup_done(&run->wg);
}

/* Spawns run->runs batches of SPAWN_BATCH goroutines, joining each batch. */
static void spawn_join_body(void *arg)
{
    struct spawn_run *run = arg;
    for (int64_t r = 0; r < run->runs; r++) {
        gort_waitgroup_add(&run->wg, SPAWN_BATCH);
        for (int i = 0; i < SPAWN_BATCH; i++)
            gort_go(spawn_worker, run);
        gort_waitgroup_wait(&run->wg);
    }
    atomic_fetch_add(&sink, atomic_load(&run->counter));
}

static void bench_spawn_join(const char *name, int procs)
{
    if (!wanted(name))
        return;
    struct spawn_run run = { .runs = scaled(SPAWN_RUNS), .wg = GORT_WAITGROUP_INIT };
    bench(name, procs, run.runs * SPAWN_BATCH, spawn_join_body, &run);
}

/* ---- spawn_burst ------------------------------------------------------- */

struct burst_run {
    int64_t n;                  /* goroutines */
    gort_chan *gate;            /* closed once all are spawned */
    gort_waitgroup wg;
};

static void burst_worker(void *arg)
{
    struct burst_run *run = arg;
    gort_chan_recv(run->gate, NULL);
    gort_waitgroup_done(&run->wg);
}

static void spawn_burst_body(void *arg)
{
    struct burst_run *run = arg;
    gort_waitgroup_add(&run->wg, (int)run->n);
    for (int64_t i = 0; i < run->n; i++)
        gort_go(burst_worker, run);
    gort_chan_close(run->gate);
    gort_waitgroup_wait(&run->wg);
    atomic_fetch_add(&sink, run->n);
}

static void bench_spawn_burst(const char *name, int procs)
{
    if (!wanted(name))
        return;
    struct burst_run run = { .n = scaled(BURST), .gate = gort_chan_make(0, 0),
                             .wg = GORT_WAITGROUP_INIT };
    bench(name, procs, run.n, spawn_burst_body, &run);
}

/* ---- main -------------------------------------------------------------- */

static void bench_main(void *arg)
{
    (void)arg;
    bench_yield("yield", 1, 2, YIELDS_PER_G);
    bench_yield("yield_2p", 2, 4, YIELDS_2P);
    bench_spawn_join("spawn_join", 2);
    bench_spawn_join("spawn_join_1p", 1);
    bench_spawn_burst("spawn_burst", 2);
    if (atomic_load(&sink) == 0)
        printf("sink 0\n");
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    return gort_main(bench_main, NULL);
}
