/*
 * test_sync.c — semaphores and the sync primitives: Go's sync package
 * tests re-expressed (TestSemaphore, TestMutex, TestMutexFairness,
 * TestParallelReaders, TestRWMutex, TestWaitGroup, TestOnce, TestCondSignal,
 * TestCondSignalGenerations, TestCondBroadcast), the semaphore table's
 * queue order and address collisions, the mutex starvation bound, and the
 * primitives shared between goroutines and plain threads. 1 P and 2 Ps.
 */
#include "testutil.h"
#include "sema.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- Semaphores (sema.c) ------------------------------------------------------- */

/* These tests call the runtime's semaphores directly, so they enter gort as
 * a public function does (RUNTIME_ENTRY): sysmon takes the P of a goroutine
 * whose thread sleeps in the kernel (state S or D) outside gort, and only a
 * runtime entry gets the goroutine a P again before it uses one. Without
 * it, test_mutex_1p died in 2 of 8 runs with "pp && pp->m == mp". */
static void sem_acquire(uint32_t *s, bool lifo)
{
    RUNTIME_ENTRY();
    semacquire1(s, lifo, waitReasonSemacquire);
}

static void sem_release(uint32_t *s)
{
    RUNTIME_ENTRY();
    semrelease1(s, false);
}

struct hammer { uint32_t *s; int loops; gort_chan *done; };

static void hammer_sema(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->loops; i++) {
        sem_acquire(h->s, false);
        sem_release(h->s);
    }
    send_int(h->done, 1);
}

static void semaphore_body(void *arg)
{
    uint32_t s = 1;
    struct hammer h = { &s, scaled(1000), gort_chan_make(sizeof(int), 0) };
    for (int i = 0; i < 10; i++)
        gort_go(hammer_sema, &h);
    for (int i = 0; i < 10; i++)
        recv_int(h.done);
    assert_int_equal(s, 1);
}
BOTH(semaphore)

/* Waits until the goroutine that stored itself in *slot is parked: then
 * it is queued on whatever it blocks on (sema.c queues before parking). */
static void await_parked(g *_Atomic *slot)
{
    g *gp;
    while (!(gp = atomic_load(slot)) || atomic_load(&gp->atomicstatus) != Gwaiting)
        gort_yield();
}

/* Waiters on one address wake in FIFO order, except that a lifo waiter
 * goes to the front. */
struct orderwaiter { uint32_t *s; bool lifo; int id; gort_chan *woke; g *_Atomic self; };

static void order_waiter(void *arg)
{
    struct orderwaiter *w = arg;
    atomic_store(&w->self, getg());
    sem_acquire(w->s, w->lifo);
    send_int(w->woke, w->id);
}

static void sema_order_body(void *arg)
{
    enum { N = 6 };
    uint32_t s = 0;
    gort_chan *woke = gort_chan_make(sizeof(int), N);
    struct orderwaiter ws[N];
    for (int i = 0; i < N; i++) {
        ws[i] = (struct orderwaiter){ &s, i == 4, i, woke, NULL };
        gort_go(order_waiter, &ws[i]);
        await_parked(&ws[i].self);               /* queued before the next one */
    }
    static const int want[N] = { 4, 0, 1, 2, 3, 5 };
    for (int i = 0; i < N; i++) {
        sem_release(&s);
        assert_int_equal(recv_int(woke), want[i]);
    }
}
BOTH(sema_order)

/* Many distinct addresses in one semaRoot (they collide in the table):
 * the treap must find each one, whatever the release order. */
static void collide_waiter(void *arg)
{
    struct orderwaiter *w = arg;
    atomic_store(&w->self, getg());
    sem_acquire(w->s, false);
    send_int(w->woke, w->id);
}

static void sema_collide_body(void *arg)
{
    enum { N = 200, STRIDE = 251 * 8 / sizeof(uint32_t) };
    uint32_t *words = calloc(N * STRIDE, sizeof *words);
    gort_chan *woke = gort_chan_make(sizeof(int), N);
    struct orderwaiter *ws = gort_alloc(N * sizeof *ws);   /* holds a channel: GC memory */
    for (int i = 0; i < N; i++) {
        ws[i] = (struct orderwaiter){ &words[i * STRIDE], false, i, woke, NULL };
        gort_go(collide_waiter, &ws[i]);
    }
    for (int i = 0; i < N; i++)
        await_parked(&ws[i].self);              /* all in the treap at once */
    /* Release in a scrambled order; each release wakes exactly its waiter. */
    for (int k = 0; k < N; k++) {
        int i = (k * 7919) % N;
        sem_release(&words[i * STRIDE]);
        assert_int_equal(recv_int(woke), i);
    }
    free(words);
}
BOTH(sema_collide)

/* ---- Mutex ------------------------------------------------------------------------- */

static gort_mutex gmu = GORT_MUTEX_INIT;
static long shared_counter;          /* guarded by gmu */
static atomic_long increments;       /* what the hammers claim they added */

struct mhammer { gort_mutex *m; int loops; gort_chan *done; };

static void hammer_mutex(void *arg)
{
    struct mhammer *h = arg;
    long mine = 0;
    for (int i = 0; i < h->loops; i++) {
        if (i % 3 == 0) {
            if (gort_mutex_trylock(h->m)) {
                shared_counter++;
                mine++;
                gort_mutex_unlock(h->m);
            }
            continue;
        }
        gort_mutex_lock(h->m);
        long before = shared_counter;   /* plain accesses: the lock must exclude */
        if (i % 50 == 0)
            gort_yield();               /* let others queue up behind us */
        shared_counter = before + 2;
        mine += 2;
        gort_mutex_unlock(h->m);
    }
    atomic_fetch_add(&increments, mine);
    send_int(h->done, 1);
}

static void mutex_body(void *arg)
{
    struct mhammer h = { &gmu, scaled(3000), gort_chan_make(sizeof(int), 0) };
    shared_counter = 0;
    atomic_store(&increments, 0);
    for (int i = 0; i < 10; i++)
        gort_go(hammer_mutex, &h);
    for (int i = 0; i < 10; i++)
        recv_int(h.done);
    gort_mutex_lock(&gmu);
    long c = shared_counter;
    gort_mutex_unlock(&gmu);
    assert_int_equal(c, atomic_load(&increments));
    assert_true(c >= 10L * 2 * (h.loops - (h.loops + 2) / 3));
    assert_int_equal(gmu.state, 0);     /* unlocked, no waiters left */
}
BOTH(mutex)

static void trylock_body(void *arg)
{
    gort_mutex m = GORT_MUTEX_INIT;
    assert_true(gort_mutex_trylock(&m));
    assert_false(gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
    gort_mutex_lock(&m);
    assert_false(gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
    assert_int_equal(m.state, 0);
}
BOTH(trylock)

/* TestMutexFairness: one goroutine keeps the lock nearly all the time,
 * releasing it for an instant; another must still get it 10 times. In
 * normal mode newcomers win; starvation mode (after 1 ms) hands the lock
 * to the waiter, so each of its acquisitions waits about a millisecond
 * plus one hog period, not forever. */
struct hog { gort_mutex *m; atomic_int stop; gort_chan *exited; };

static void hogger(void *arg)
{
    struct hog *h = arg;
    while (!atomic_load(&h->stop)) {
        gort_mutex_lock(h->m);
        gort_sleep(100 * GORT_MICROSECOND);
        gort_mutex_unlock(h->m);
    }
    send_int(h->exited, 1);
}

struct starver { gort_mutex *m; int64_t worst; gort_chan *done; };

static void starver(void *arg)
{
    struct starver *s = arg;
    for (int i = 0; i < 10; i++) {
        gort_sleep(100 * GORT_MICROSECOND);
        int64_t t0 = gort_nanotime();
        gort_mutex_lock(s->m);
        int64_t waited = gort_nanotime() - t0;
        gort_mutex_unlock(s->m);
        if (waited > s->worst)
            s->worst = waited;
    }
    send_int(s->done, 1);
}

static void starvation_body(void *arg)
{
    gort_mutex m = GORT_MUTEX_INIT;
    struct hog h = { &m, 0, gort_chan_make(sizeof(int), 0) };
    struct starver s = { &m, 0, gort_chan_make(sizeof(int), 1) };
    /* Go's test allows 10 s in all; the algorithm bounds each wait near
     * 1 ms plus a hog period. Leave room for slow (emulated, sanitized) runs. */
    int64_t bound = (getenv("GORT_TEST_QEMU") ? 500 : 100) * GORT_MILLISECOND;
    gort_go(hogger, &h);
    gort_go(starver, &s);
    gort_select_case cs[] = { { s.done, GORT_RECV, NULL, NULL },
                              { gort_after(10 * bound), GORT_RECV, NULL, NULL } };
    if (gort_select(cs, 2, true) != 0)
        fail_msg("mutex starvation: 10 acquisitions took over %lld ms", (long long)(10 * bound / GORT_MILLISECOND));
    atomic_store(&h.stop, 1);
    recv_int(h.exited);
    if (s.worst > bound)
        fail_msg("mutex starvation: worst wait %lld ns", (long long)s.worst);
}
BOTH(starvation)

/* ---- RWMutex ---------------------------------------------------------------------- */

struct preader { gort_rwmutex *m; gort_chan *locked, *unlock, *done; };

static void parallel_reader(void *arg)
{
    struct preader *p = arg;
    gort_rwmutex_rlock(p->m);
    send_int(p->locked, 1);
    recv_int(p->unlock);
    gort_rwmutex_runlock(p->m);
    send_int(p->done, 1);
}

/* All readers hold the lock at the same time. */
static void parallel_readers_body(void *arg)
{
    static gort_rwmutex m = GORT_RWMUTEX_INIT;
    enum { N = 4 };
    struct preader p = { &m, gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0),
                         gort_chan_make(sizeof(int), 0) };
    for (int i = 0; i < N; i++)
        gort_go(parallel_reader, &p);
    for (int i = 0; i < N; i++)
        recv_int(p.locked);
    assert_false(gort_rwmutex_trylock(&m));      /* readers hold it */
    assert_true(gort_rwmutex_tryrlock(&m));
    gort_rwmutex_runlock(&m);
    for (int i = 0; i < N; i++)
        send_int(p.unlock, 1);
    for (int i = 0; i < N; i++)
        recv_int(p.done);
    assert_true(gort_rwmutex_trylock(&m));
    assert_false(gort_rwmutex_tryrlock(&m));
    gort_rwmutex_unlock(&m);
}
BOTH(parallel_readers)

struct rwhammer { gort_rwmutex m; atomic_int activity; int iters; gort_chan *done; };

static void rw_reader(void *arg)
{
    struct rwhammer *h = arg;
    for (int i = 0; i < h->iters; i++) {
        gort_rwmutex_rlock(&h->m);
        int n = atomic_fetch_add(&h->activity, 1) + 1;
        assert_true(n >= 1 && n < 10000);
        if (i % 16 == 0)
            gort_yield();
        atomic_fetch_sub(&h->activity, 1);
        gort_rwmutex_runlock(&h->m);
    }
    send_int(h->done, 1);
}

static void rw_writer(void *arg)
{
    struct rwhammer *h = arg;
    for (int i = 0; i < h->iters; i++) {
        gort_rwmutex_lock(&h->m);
        assert_int_equal(atomic_fetch_add(&h->activity, 10000) + 10000, 10000);
        if (i % 16 == 0)
            gort_yield();
        atomic_fetch_sub(&h->activity, 10000);
        gort_rwmutex_unlock(&h->m);
    }
    send_int(h->done, 1);
}

/* HammerRWMutex: readers and two writers, counting who is inside. */
static void rwmutex_body(void *arg)
{
    static const int readers[] = { 1, 3, 10 };
    for (size_t k = 0; k < sizeof readers / sizeof readers[0]; k++) {
        struct rwhammer h = { GORT_RWMUTEX_INIT, 0, scaled(1000), gort_chan_make(sizeof(int), 0) };
        int n = readers[k], i;
        gort_go(rw_writer, &h);
        for (i = 0; i < n / 2; i++)
            gort_go(rw_reader, &h);
        gort_go(rw_writer, &h);
        for (; i < n; i++)
            gort_go(rw_reader, &h);
        for (i = 0; i < 2 + n; i++)
            recv_int(h.done);
        assert_int_equal(h.m.reader_count, 0);
        assert_int_equal(h.m.w.state, 0);
    }
}
BOTH(rwmutex)

/* A pending writer keeps new readers out (no writer starvation). */
struct wpref { gort_rwmutex m; atomic_int stage; gort_chan *done; g *_Atomic writer, *_Atomic reader; };

static void pending_writer(void *arg)
{
    struct wpref *w = arg;
    atomic_store(&w->writer, getg());
    atomic_store(&w->stage, 1);
    gort_rwmutex_lock(&w->m);
    atomic_store(&w->stage, 2);
    gort_rwmutex_unlock(&w->m);
    send_int(w->done, 1);
}

static void late_reader(void *arg)
{
    struct wpref *w = arg;
    atomic_store(&w->reader, getg());
    gort_rwmutex_rlock(&w->m);
    assert_int_equal(atomic_load(&w->stage), 2);   /* the writer went first */
    gort_rwmutex_runlock(&w->m);
    send_int(w->done, 1);
}

static void writer_preference_body(void *arg)
{
    struct wpref w = { GORT_RWMUTEX_INIT, 0, gort_chan_make(sizeof(int), 0), NULL, NULL };
    gort_rwmutex_rlock(&w.m);
    gort_go(pending_writer, &w);
    await_parked(&w.writer);                   /* it waits for our read lock */
    assert_false(gort_rwmutex_tryrlock(&w.m));
    gort_go(late_reader, &w);
    await_parked(&w.reader);                   /* it queues behind the writer */
    assert_int_equal(atomic_load(&w.stage), 1);
    gort_rwmutex_runlock(&w.m);
    recv_int(w.done);
    recv_int(w.done);
}
BOTH(writer_preference)

/* ---- WaitGroup ---------------------------------------------------------------------- */

struct wgpair { gort_waitgroup *wg1, *wg2; gort_chan *exited; };

static void wg_member(void *arg)
{
    struct wgpair *p = arg;
    gort_waitgroup_done(p->wg1);
    gort_waitgroup_wait(p->wg2);
    send_int(p->exited, 1);
}

/* testWaitGroup, run repeatedly on the same two groups (reuse is fine once
 * every Wait has returned). */
static void waitgroup_body(void *arg)
{
    static gort_waitgroup wg1 = GORT_WAITGROUP_INIT, wg2 = GORT_WAITGROUP_INIT;
    enum { N = 16 };
    for (int round = 0; round < 8; round++) {
        struct wgpair p = { &wg1, &wg2, gort_chan_make(sizeof(int), N) };
        gort_waitgroup_add(&wg1, N);
        gort_waitgroup_add(&wg2, N);
        for (int i = 0; i < N; i++)
            gort_go(wg_member, &p);
        gort_waitgroup_wait(&wg1);
        for (int i = 0; i < N; i++) {
            bool ok;
            assert_false(gort_chan_try_recv(p.exited, NULL, &ok));  /* released too soon? */
            gort_waitgroup_done(&wg2);
        }
        for (int i = 0; i < N; i++)
            recv_int(p.exited);
    }
    assert_int_equal(wg1.state, 0);
    assert_int_equal(wg2.state, 0);
}
BOTH(waitgroup)

/* ---- Once ---------------------------------------------------------------------------- */

static gort_once once = GORT_ONCE_INIT;
static atomic_int once_calls;

static void once_fn(void *arg)
{
    gort_sleep(5 * GORT_MILLISECOND);    /* others must wait, not return */
    atomic_fetch_add(&once_calls, 1);
}

static void once_caller(void *done)
{
    gort_once_do(&once, once_fn, NULL);
    assert_int_equal(atomic_load(&once_calls), 1);
    send_int(done, 1);
}

static void once_body(void *arg)
{
    once = (gort_once)GORT_ONCE_INIT;
    atomic_store(&once_calls, 0);
    gort_chan *done = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < 10; i++)
        gort_go(once_caller, done);
    for (int i = 0; i < 10; i++)
        recv_int(done);
    gort_once_do(&once, once_fn, NULL);
    assert_int_equal(atomic_load(&once_calls), 1);
}
BOTH(once)

/* ---- Cond ------------------------------------------------------------------------------ */

struct condctx {
    gort_mutex m;
    gort_cond c;
    gort_chan *running, *awake;
    bool exit;
};

static void cond_waiter(void *arg)
{
    struct condctx *x = arg;
    gort_mutex_lock(&x->m);
    send_int(x->running, 1);
    gort_cond_wait(&x->c);
    send_int(x->awake, 1);
    gort_mutex_unlock(&x->m);
}

/* TestCondSignal: each Signal wakes exactly one waiter. */
static void cond_signal_body(void *arg)
{
    struct condctx x = { GORT_MUTEX_INIT, GORT_COND_INIT(NULL), gort_chan_make(sizeof(int), 2),
                         gort_chan_make(sizeof(int), 2), false };
    x.c.L = &x.m;
    int n = 2;
    for (int i = 0; i < n; i++)
        gort_go(cond_waiter, &x);
    for (int i = 0; i < n; i++)
        recv_int(x.running);
    bool ok;
    for (; n > 0; n--) {
        assert_false(gort_chan_try_recv(x.awake, NULL, &ok));
        gort_mutex_lock(&x.m);
        gort_cond_signal(&x.c);
        gort_mutex_unlock(&x.m);
        recv_int(x.awake);
        gort_sleep(GORT_MILLISECOND);
        assert_false(gort_chan_try_recv(x.awake, NULL, &ok));
    }
    gort_cond_signal(&x.c);     /* nobody waits: a no-op */
}
BOTH(cond_signal)

struct gen { struct condctx *x; int i; };

static void gen_waiter(void *arg)
{
    struct gen *g = arg;
    gort_mutex_lock(&g->x->m);
    send_int(g->x->running, 1);
    gort_cond_wait(&g->x->c);
    send_int(g->x->awake, g->i);
    gort_mutex_unlock(&g->x->m);
}

/* TestCondSignalGenerations: Signal wakes the longest waiter. */
static void cond_generations_body(void *arg)
{
    enum { N = 100 };
    struct condctx x = { GORT_MUTEX_INIT, GORT_COND_INIT(NULL), gort_chan_make(sizeof(int), N),
                         gort_chan_make(sizeof(int), N), false };
    x.c.L = &x.m;
    struct gen gs[N];
    for (int i = 0; i < N; i++) {
        gs[i] = (struct gen){ &x, i };
        gort_go(gen_waiter, &gs[i]);
        if (i > 0)
            assert_int_equal(recv_int(x.awake), i - 1);
        recv_int(x.running);
        gort_mutex_lock(&x.m);
        gort_cond_signal(&x.c);
        gort_mutex_unlock(&x.m);
    }
    assert_int_equal(recv_int(x.awake), N - 1);
}
BOTH(cond_generations)

struct bcast { struct condctx *x; int g; };

static void bcast_waiter(void *arg)
{
    struct bcast *b = arg;
    struct condctx *x = b->x;
    gort_mutex_lock(&x->m);
    while (!x->exit) {
        send_int(x->running, b->g);
        gort_cond_wait(&x->c);
        send_int(x->awake, b->g);
    }
    gort_mutex_unlock(&x->m);
}

/* TestCondBroadcast: every waiter wakes, once per Broadcast. */
static void cond_broadcast_body(void *arg)
{
    enum { N = 50 };
    struct condctx x = { GORT_MUTEX_INIT, GORT_COND_INIT(NULL), gort_chan_make(sizeof(int), N),
                         gort_chan_make(sizeof(int), N), false };
    x.c.L = &x.m;
    struct bcast bs[N];
    for (int i = 0; i < N; i++) {
        bs[i] = (struct bcast){ &x, i };
        gort_go(bcast_waiter, &bs[i]);
    }
    bool ok;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            recv_int(x.running);
        if (i == N - 1) {
            gort_mutex_lock(&x.m);
            x.exit = true;
            gort_mutex_unlock(&x.m);
        }
        assert_false(gort_chan_try_recv(x.awake, NULL, &ok));
        gort_mutex_lock(&x.m);
        gort_cond_broadcast(&x.c);
        gort_mutex_unlock(&x.m);
        bool seen[N] = { false };
        for (int j = 0; j < N; j++) {
            int g = recv_int(x.awake);
            assert_false(seen[g]);
            seen[g] = true;
        }
    }
    gort_sleep(GORT_MILLISECOND);
    assert_false(gort_chan_try_recv(x.running, NULL, &ok));
}
BOTH(cond_broadcast)

/* ---- Threads that are not goroutines -------------------------------------------------- */

struct mixed {
    gort_mutex m;
    long counter;
    gort_waitgroup wg;
    int loops;
};

static void mixed_work(struct mixed *x)
{
    for (int i = 0; i < x->loops; i++) {
        gort_mutex_lock(&x->m);
        x->counter++;
        gort_mutex_unlock(&x->m);
    }
    gort_waitgroup_done(&x->wg);
}

static void mixed_goroutine(void *arg) { mixed_work(arg); }
static void *mixed_thread(void *arg) { mixed_work(arg); return NULL; }

/* Threads and goroutines contend for one mutex (threads sleep on futexes,
 * goroutines park) and finish through one WaitGroup. */
static void thread_mutex_body(void *arg)
{
    struct mixed x = { GORT_MUTEX_INIT, 0, GORT_WAITGROUP_INIT, scaled(20000) };
    pthread_t t[2];
    gort_waitgroup_add(&x.wg, 6);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, mixed_thread, &x), 0);
    for (int i = 0; i < 4; i++)
        gort_go(mixed_goroutine, &x);
    gort_waitgroup_wait(&x.wg);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(x.counter, 6L * x.loops);
}
BOTH(thread_mutex)

struct tcond { gort_mutex m; gort_cond c; int ready; int seen; gort_waitgroup done; };

static void *thread_cond_waiter(void *arg)
{
    struct tcond *t = arg;
    gort_mutex_lock(&t->m);
    while (!t->ready)
        gort_cond_wait(&t->c);
    t->seen++;
    gort_mutex_unlock(&t->m);
    gort_waitgroup_done(&t->done);
    return NULL;
}

static void thread_cond_body(void *arg)
{
    struct tcond t = { GORT_MUTEX_INIT, GORT_COND_INIT(NULL), 0, 0, GORT_WAITGROUP_INIT };
    t.c.L = &t.m;
    pthread_t th[3];
    gort_waitgroup_add(&t.done, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_cond_waiter, &t), 0);
    gort_sleep(5 * GORT_MILLISECOND);
    gort_mutex_lock(&t.m);
    t.ready = 1;
    gort_cond_broadcast(&t.c);
    gort_mutex_unlock(&t.m);
    gort_waitgroup_wait(&t.done);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(t.seen, 3);
}
BOTH(thread_cond)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_TESTS(semaphore),
        BOTH_TESTS(sema_order),
        BOTH_TESTS(sema_collide),
        BOTH_TESTS(mutex),
        BOTH_TESTS(trylock),
        BOTH_TESTS(starvation),
        BOTH_TESTS(parallel_readers),
        BOTH_TESTS(rwmutex),
        BOTH_TESTS(writer_preference),
        BOTH_TESTS(waitgroup),
        BOTH_TESTS(once),
        BOTH_TESTS(cond_signal),
        BOTH_TESTS(cond_generations),
        BOTH_TESTS(cond_broadcast),
        BOTH_TESTS(thread_mutex),
        BOTH_TESTS(thread_cond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
