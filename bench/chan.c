/*
 * bench/chan.c — channels, select, mutex and timers; Go twin: bench/go/chan.go.
 *
 * What it measures (one `BENCH <workload> <ns-per-op>` line each; 2 Ps):
 *
 *   pingpong  two goroutines bouncing an int64 over two unbuffered channels;
 *             ns per round trip (two handoffs, two park/ready pairs).
 *   select2   one goroutine selecting over two receive cases, fed by two
 *             sender goroutines on unbuffered channels; ns per select.
 *   ring      10 000 goroutines in a ring of unbuffered channels passing one
 *             token around; ns per hop (a wakeup of a cold-ish goroutine).
 *   mpmc      4 producers and 4 consumers on one channel of capacity 128;
 *             ns per message (buffered path, lock contention, wakeups).
 *   mutex     4 goroutines contending on one gort_mutex around a counter;
 *             ns per lock/unlock pair (spinning, starvation mode, semaphores).
 *   timers    100 000 goroutines each sleeping 1 ms ten times; total wall ns
 *             divided by the number of sleeps (timer heaps, idle Ms waiting).
 *
 * Why it is a fair comparison: the Go twin does the same work with the same
 * counts, element type (int64), capacities, goroutine structure and GOMAXPROCS,
 * with chan/select/sync.Mutex/time.Sleep where this file calls gort_chan_*,
 * gort_select, gort_mutex_* and gort_sleep. Its goroutines are named functions
 * taking pointers (no closure allocation), as here. Setup and teardown
 * (spawning the ring, joining it) are outside the timed region on both sides.
 * BENCH_SCALE (a factor, default 1) scales every count on both sides alike.
 * Arguments name the workloads to run (all by default; see bench.h).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gort.h"
#include "bench.h"

#define PINGPONG_TRIPS 1000000
#define SELECT2_PER_CH 1000000  /* messages per sender; 2 senders */
#define RING_SIZE      10000
#define RING_LAPS      200
#define MPMC_SIDES     4        /* producers, and as many consumers */
#define MPMC_CAP       128
#define MPMC_MESSAGES  4000000
#define MUTEX_WORKERS  4
#define MUTEX_OPS      8000000
#define TIMER_GS       100000
#define TIMER_SLEEPS   10

/* Keeps every result observable so nothing is optimised away. */
static _Atomic int64_t sink;

static gort_chan *make_int_chan(size_t cap)
{
    return gort_chan_make(sizeof(int64_t), cap);
}

/* ---- pingpong ---------------------------------------------------------- */

struct pingpong { gort_chan *ping, *pong; gort_waitgroup wg; };

/* Answers every value on ping with value+1 on pong until ping is closed. */
static void ponger(void *arg)
{
    struct pingpong *pp = arg;
    int64_t v;
    while (gort_chan_recv(pp->ping, &v)) {
        v++;
        gort_chan_send(pp->pong, &v);
    }
    gort_waitgroup_done(&pp->wg);
}

static void bench_pingpong(void)
{
    int64_t trips = scaled(PINGPONG_TRIPS);
    struct pingpong pp = { make_int_chan(0), make_int_chan(0), GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&pp.wg, 1);
    int64_t start = gort_nanotime();
    gort_go(ponger, &pp);
    int64_t v = 0;
    for (int64_t i = 0; i < trips; i++) {
        gort_chan_send(pp.ping, &v);
        gort_chan_recv(pp.pong, &v);
    }
    report("pingpong", gort_nanotime() - start, trips);
    gort_chan_close(pp.ping);
    gort_waitgroup_wait(&pp.wg);   /* pp lives in this frame: outlive the ponger */
    atomic_fetch_add(&sink, v);
}

/* ---- select2 ----------------------------------------------------------- */

struct sender { gort_chan *c; int64_t n; gort_waitgroup *wg; };

static void sender(void *arg)
{
    struct sender *s = arg;
    for (int64_t i = 0; i < s->n; i++)
        gort_chan_send(s->c, &i);
    gort_waitgroup_done(s->wg);
}

static void bench_select2(void)
{
    int64_t per_ch = scaled(SELECT2_PER_CH);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct sender a = { make_int_chan(0), per_ch, &wg }, b = { make_int_chan(0), per_ch, &wg };
    gort_waitgroup_add(&wg, 2);
    int64_t v, sum = 0;
    gort_select_case cases[2] = {
        { .chan = a.c, .dir = GORT_RECV, .elem = &v },
        { .chan = b.c, .dir = GORT_RECV, .elem = &v },
    };
    int64_t start = gort_nanotime();
    gort_go(sender, &a);
    gort_go(sender, &b);
    for (int64_t i = 0; i < 2 * per_ch; i++) {
        gort_select(cases, 2, true);
        sum += v;
    }
    report("select2", gort_nanotime() - start, 2 * per_ch);
    gort_waitgroup_wait(&wg);      /* a and b live in this frame: outlive the senders */
    atomic_fetch_add(&sink, sum);
}

/* ---- ring -------------------------------------------------------------- */

struct ring {
    gort_chan **chans;   /* node i reads chans[i], writes chans[(i+1) % RING_SIZE] */
    gort_chan *done;     /* the node that sees the last hop reports here */
    int64_t hops;
    gort_waitgroup wg;
};

struct ring_node { struct ring *ring; int index; };

/* Forwards the token, counting hops, until its input is closed. */
static void ring_node(void *arg)
{
    struct ring_node *node = arg;
    struct ring *r = node->ring;
    gort_chan *in = r->chans[node->index], *out = r->chans[(node->index + 1) % RING_SIZE];
    int64_t t;
    while (gort_chan_recv(in, &t)) {
        if (t >= r->hops) {
            gort_chan_send(r->done, &t);
            continue;
        }
        t++;
        gort_chan_send(out, &t);
    }
    gort_waitgroup_done(&r->wg);
}

static void bench_ring(void)
{
    struct ring r = { .done = make_int_chan(0), .hops = scaled(RING_LAPS) * RING_SIZE,
                      .wg = GORT_WAITGROUP_INIT };
    r.chans = gort_alloc(RING_SIZE * sizeof *r.chans);   /* holds channels: GC memory */
    struct ring_node *nodes = malloc(RING_SIZE * sizeof *nodes);
    for (int i = 0; i < RING_SIZE; i++)
        r.chans[i] = make_int_chan(0);
    gort_waitgroup_add(&r.wg, RING_SIZE);
    for (int i = 0; i < RING_SIZE; i++) {
        nodes[i] = (struct ring_node){ &r, i };
        gort_go(ring_node, &nodes[i]);
    }

    int64_t start = gort_nanotime(), t = 0;
    gort_chan_send(r.chans[0], &t);
    gort_chan_recv(r.done, &t);
    report("ring", gort_nanotime() - start, r.hops);

    for (int i = 0; i < RING_SIZE; i++)
        gort_chan_close(r.chans[i]);
    gort_waitgroup_wait(&r.wg);
    atomic_fetch_add(&sink, t);
    free(nodes);
}

/* ---- mpmc -------------------------------------------------------------- */

struct mpmc {
    gort_chan *c;
    int64_t per_producer;
    gort_waitgroup producers, consumers;
};

static void producer(void *arg)
{
    struct mpmc *q = arg;
    for (int64_t i = 0; i < q->per_producer; i++)
        gort_chan_send(q->c, &i);
    gort_waitgroup_done(&q->producers);
}

static void consumer(void *arg)
{
    struct mpmc *q = arg;
    int64_t v, sum = 0;
    while (gort_chan_recv(q->c, &v))
        sum += v;
    atomic_fetch_add(&sink, sum);
    gort_waitgroup_done(&q->consumers);
}

static void bench_mpmc(void)
{
    struct mpmc q = { make_int_chan(MPMC_CAP), scaled(MPMC_MESSAGES) / MPMC_SIDES,
                      GORT_WAITGROUP_INIT, GORT_WAITGROUP_INIT };
    int64_t start = gort_nanotime();
    gort_waitgroup_add(&q.producers, MPMC_SIDES);
    gort_waitgroup_add(&q.consumers, MPMC_SIDES);
    for (int i = 0; i < MPMC_SIDES; i++) {
        gort_go(producer, &q);
        gort_go(consumer, &q);
    }
    gort_waitgroup_wait(&q.producers);
    gort_chan_close(q.c);
    gort_waitgroup_wait(&q.consumers);
    report("mpmc", gort_nanotime() - start, q.per_producer * MPMC_SIDES);
}

/* ---- mutex ------------------------------------------------------------- */

struct locked_counter {
    gort_mutex mu;
    int64_t n;              /* guarded by mu */
    int64_t per_worker;
    gort_waitgroup wg;
};

static void incrementer(void *arg)
{
    struct locked_counter *lc = arg;
    for (int64_t i = 0; i < lc->per_worker; i++) {
        gort_mutex_lock(&lc->mu);
        lc->n++;
        gort_mutex_unlock(&lc->mu);
    }
    gort_waitgroup_done(&lc->wg);
}

static void bench_mutex(void)
{
    struct locked_counter lc = { GORT_MUTEX_INIT, 0, scaled(MUTEX_OPS) / MUTEX_WORKERS,
                                 GORT_WAITGROUP_INIT };
    int64_t start = gort_nanotime();
    gort_waitgroup_add(&lc.wg, MUTEX_WORKERS);
    for (int i = 0; i < MUTEX_WORKERS; i++)
        gort_go(incrementer, &lc);
    gort_waitgroup_wait(&lc.wg);
    report("mutex", gort_nanotime() - start, lc.per_worker * MUTEX_WORKERS);
    atomic_fetch_add(&sink, lc.n);
}

/* ---- timers ------------------------------------------------------------ */

static void sleeper(void *arg)
{
    gort_waitgroup *wg = arg;
    for (int i = 0; i < TIMER_SLEEPS; i++)
        gort_sleep(GORT_MILLISECOND);
    gort_waitgroup_done(wg);
}

static void bench_timers(void)
{
    int64_t gs = scaled(TIMER_GS);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    int64_t start = gort_nanotime();
    gort_waitgroup_add(&wg, (int)gs);
    for (int64_t i = 0; i < gs; i++)
        gort_go(sleeper, &wg);
    gort_waitgroup_wait(&wg);
    report("timers", gort_nanotime() - start, gs * TIMER_SLEEPS);
}

/* ---- main -------------------------------------------------------------- */

static const struct { const char *name; void (*run)(void); } workloads[] = {
    { "pingpong", bench_pingpong }, { "select2", bench_select2 }, { "ring", bench_ring },
    { "mpmc", bench_mpmc }, { "mutex", bench_mutex }, { "timers", bench_timers },
};

static void bench_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (wanted(workloads[i].name))
            workloads[i].run();
    if (atomic_load(&sink) == 0)
        printf("sink 0\n");
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    return gort_main(bench_main, NULL);
}
