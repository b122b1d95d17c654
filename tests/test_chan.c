/*
 * test_chan.c — channels: Go's test/chan and test/ken programs re-expressed
 * (fifo, goroutines, sieve1, closedchan, chancap, zerosize, ken/chan,
 * ken/chan1), plus close/nil semantics, element copying and channels used
 * from threads that are not goroutines; and the regression test of "large
 * channel buffers are committed up front" (with makechan's size limits).
 * Each body runs with 1 P and 2 Ps.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- test/chan/fifo.go ------------------------------------------------------ */

enum { FIFO_N = 10 };

/* A buffered channel is a FIFO. */
static void asynch_fifo(size_t cap)
{
    gort_chan *ch = gort_chan_make(sizeof(int), cap);
    for (int round = 0; round < 3; round++) {   /* wrap the ring around */
        for (size_t i = 0; i < cap; i++)
            send_int(ch, (int)i);
        assert_int_equal(gort_chan_len(ch), cap);
        for (size_t i = 0; i < cap; i++)
            assert_int_equal(recv_int(ch), (int)i);
        assert_int_equal(gort_chan_len(ch), 0);
    }
}

struct link { gort_chan *ch, *in, *out; int val; };

static void chain(void *arg)
{
    struct link *l = arg;
    recv_int(l->in);
    assert_int_equal(recv_int(l->ch), l->val);
    send_int(l->out, 1);
}

/* Goroutines daisy-chained so each reads the unbuffered channel in turn:
 * the values must come out in the order they were sent. */
static void synch_fifo(void)
{
    gort_chan *ch = gort_chan_make(sizeof(int), 0);
    gort_chan *in = gort_chan_make(sizeof(int), 0), *start = in;
    struct link links[FIFO_N];
    for (int i = 0; i < FIFO_N; i++) {
        gort_chan *out = gort_chan_make(sizeof(int), 0);
        links[i] = (struct link){ ch, in, out, i };
        gort_go(chain, &links[i]);
        in = out;
    }
    send_int(start, 0);
    for (int i = 0; i < FIFO_N; i++)
        send_int(ch, i);
    recv_int(in);
}

static void fifo_body(void *arg)
{
    asynch_fifo(1);
    asynch_fifo(FIFO_N);
    asynch_fifo(100);
    synch_fifo();
}
BOTH(fifo)

/* ---- test/chan/goroutines.go: a chain of goroutines ----------------------------- */

struct relay { gort_chan *left, *right; };

static void relay_fn(void *arg)
{
    struct relay *r = arg;
    send_int(r->left, recv_int(r->right));
}

static void send_one(void *c) { send_int(c, 1); }

static void goroutines_body(void *arg)
{
    int n = scaled(10000);
    struct relay *rs = gort_alloc((size_t)n * sizeof *rs);   /* holds channels: GC memory */
    gort_chan *leftmost = gort_chan_make(sizeof(int), 0), *left = leftmost, *right = leftmost;
    for (int i = 0; i < n; i++) {
        right = gort_chan_make(sizeof(int), 0);
        rs[i] = (struct relay){ left, right };
        gort_go(relay_fn, &rs[i]);
        left = right;
    }
    gort_go(send_one, right);
    assert_int_equal(recv_int(leftmost), 1);
}
BOTH(goroutines)

/* ---- test/chan/sieve1.go: the concurrent prime sieve ------------------------------ */

struct filter { gort_chan *in, *out; int prime; };

static void generate(void *ch)
{
    for (int i = 2;; i++)
        send_int(ch, i);
}

static void filter_fn(void *arg)
{
    struct filter *f = arg;
    for (;;) {
        int i = recv_int(f->in);
        if (i % f->prime != 0)
            send_int(f->out, i);
    }
}

static void sieve(void *primes)
{
    gort_chan *ch = gort_chan_make(sizeof(int), 0);
    gort_go(generate, ch);
    for (;;) {
        int prime = recv_int(ch);
        send_int(primes, prime);
        struct filter *f = gort_alloc(sizeof *f);   /* holds channels: GC memory */
        *f = (struct filter){ ch, gort_chan_make(sizeof(int), 0), prime };
        gort_go(filter_fn, f);
        ch = f->out;
    }
}

static void sieve_body(void *arg)
{
    static const int want[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47,
                                53, 59, 61, 67, 71, 73, 79, 83, 89, 97 };
    gort_chan *primes = gort_chan_make(sizeof(int), 0);
    gort_go(sieve, primes);
    for (size_t i = 0; i < nelem(want); i++)
        assert_int_equal(recv_int(primes), want[i]);
}
BOTH(sieve)

/* ---- test/closedchan.go ------------------------------------------------------------- */

/* The three ways closedchan.go reaches a channel: the operators, a
 * one-case select, and a select with an extra never-ready case. */
enum impl { DIRECT, SELECT1, SELECT2 };
static gort_chan *dummy;

static int do_recv(enum impl k, gort_chan *c, bool *ok, bool block)
{
    int x = 77;
    bool okv = true;
    if (k == DIRECT) {
        if (block) {
            okv = gort_chan_recv(c, &x);
        } else if (!gort_chan_try_recv(c, &x, &okv)) {
            return -1;
        }
    } else {
        gort_select_case cs[2] = {
            { c, GORT_RECV, &x, &okv },
            { dummy, GORT_RECV, NULL, NULL },
        };
        int n = k == SELECT1 ? 1 : 2;
        int i = gort_select(cs, (size_t)n, block);
        if (i < 0)
            return -1;
        assert_int_equal(i, 0);
    }
    if (ok)
        *ok = okv;
    return x;
}

/* Receives on a closed, drained channel: zero value, ok = false, never blocks. */
static void closed_test1(enum impl k, gort_chan *c)
{
    for (int i = 0; i < 3; i++) {
        bool ok = true;
        assert_int_equal(do_recv(k, c, NULL, true), 0);
        assert_int_equal(do_recv(k, c, &ok, true), 0);
        assert_false(ok);
        assert_int_equal(do_recv(k, c, NULL, false), 0);   /* selected, not -1 */
        ok = true;
        assert_int_equal(do_recv(k, c, &ok, false), 0);
        assert_false(ok);
    }
}

static gort_chan *closedsync(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_close(c);
    return c;
}

static gort_chan *closedasync(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 2);
    send_int(c, 1);
    gort_chan_close(c);
    return c;
}

static void closedchan_body(void *arg)
{
    dummy = gort_chan_make(sizeof(int), 0);
    for (enum impl k = DIRECT; k <= SELECT2; k++)
        closed_test1(k, closedsync());
    /* A closed buffered channel first yields what is left, with ok = true:
     * by blocking or non-blocking receive, with or without ok. */
    for (int how = 0; how < 4; how++) {
        for (enum impl k = DIRECT; k <= SELECT2; k++) {
            gort_chan *c = closedasync();
            bool ok = false;
            assert_int_equal(do_recv(k, c, (how & 1) ? &ok : NULL, how < 2), 1);
            assert_true((how & 1) ? ok : true);
            assert_int_equal(gort_chan_len(c), 0);
            closed_test1(k, c);
        }
    }
}
BOTH(closedchan)

/* ---- test/chancap.go, test/chan/zerosize.go ----------------------------------------- */

static void chancap_body(void *arg)
{
    gort_chan *c = gort_chan_make(sizeof(int), 10);
    assert_int_equal(gort_chan_len(c), 0);
    assert_int_equal(gort_chan_cap(c), 10);
    for (int i = 0; i < 3; i++)
        send_int(c, i);
    assert_int_equal(gort_chan_len(c), 3);
    assert_int_equal(gort_chan_cap(c), 10);
    c = gort_chan_make(sizeof(int), 0);
    assert_int_equal(gort_chan_len(c), 0);
    assert_int_equal(gort_chan_cap(c), 0);
    assert_int_equal(gort_chan_len(NULL), 0);
    assert_int_equal(gort_chan_cap(NULL), 0);
}
BOTH(chancap)

struct zctx { gort_chan *c; int n; gort_chan *done; };

static void zsender(void *arg)
{
    struct zctx *z = arg;
    for (int i = 0; i < z->n; i++)
        gort_chan_send(z->c, NULL);
    gort_chan_close(z->c);
}

/* Zero-size elements: no buffer bytes, NULL element pointers are fine,
 * and the counting still works at every capacity. */
static void zerosize_body(void *arg)
{
    static const size_t caps[] = { 0, 1, 10, 100 };
    for (size_t k = 0; k < nelem(caps); k++) {
        struct zctx z = { gort_chan_make(0, caps[k]), scaled(2000), NULL };
        assert_int_equal(gort_chan_cap(z.c), caps[k]);
        gort_go(zsender, &z);
        int got = 0;
        while (gort_chan_recv(z.c, NULL))
            got++;
        assert_int_equal(got, z.n);
    }
    gort_chan *c = gort_chan_make(0, 1);
    assert_true(gort_chan_try_send(c, NULL));
    assert_false(gort_chan_try_send(c, NULL));
    assert_int_equal(gort_chan_len(c), 1);
    bool ok = false;
    assert_true(gort_chan_try_recv(c, NULL, &ok));
    assert_true(ok);
}
BOTH(zerosize)

/* ---- Values: large elements are copied whole, both ways ----------------------------- */

struct big { int64_t a[9]; char tag[16]; };

static void big_sender(void *c)
{
    for (int i = 0; i < 100; i++) {
        struct big b;
        memset(&b, 0, sizeof b);
        for (int j = 0; j < 9; j++)
            b.a[j] = i * 10 + j;
        snprintf(b.tag, sizeof b.tag, "msg-%d", i);
        gort_chan_send(c, &b);
        memset(&b, 0xff, sizeof b);     /* the channel holds its own copy */
    }
    gort_chan_close(c);
}

static void values_body(void *arg)
{
    static const size_t caps[] = { 0, 1, 7 };
    for (size_t k = 0; k < nelem(caps); k++) {
        gort_chan *c = gort_chan_make(sizeof(struct big), caps[k]);
        gort_go(big_sender, c);
        struct big b;
        int i = 0;
        while (gort_chan_recv(c, &b)) {
            char tag[16];
            snprintf(tag, sizeof tag, "msg-%d", i);
            for (int j = 0; j < 9; j++)
                assert_int_equal(b.a[j], i * 10 + j);
            assert_string_equal(b.tag, tag);
            i++;
        }
        assert_int_equal(i, 100);
        /* After close and drain: the zero value. */
        memset(&b, 0x55, sizeof b);
        assert_false(gort_chan_recv(c, &b));
        for (int j = 0; j < 9; j++)
            assert_int_equal(b.a[j], 0);
    }
}
BOTH(values)

/* ---- Close wakes every receiver, nil channels never proceed ------------------------- */

static atomic_int woke, woke_ok;

static void closed_waiter(void *c)
{
    int v = 99;
    bool ok = gort_chan_recv(c, &v);
    assert_int_equal(v, 0);
    atomic_fetch_add(&woke_ok, ok);
    atomic_fetch_add(&woke, 1);
}

static void close_wakes_all_body(void *arg)
{
    static const size_t caps[] = { 0, 4 };
    for (size_t k = 0; k < nelem(caps); k++) {
        int n = 50;
        atomic_store(&woke, 0);
        atomic_store(&woke_ok, 0);
        gort_chan *c = gort_chan_make(sizeof(int), caps[k]);
        for (int i = 0; i < n; i++)
            gort_go(closed_waiter, c);
        gort_sleep(5 * GORT_MILLISECOND);
        assert_int_equal(atomic_load(&woke), 0);
        gort_chan_close(c);
        while (atomic_load(&woke) < n)
            gort_sleep(GORT_MILLISECOND);
        assert_int_equal(atomic_load(&woke_ok), 0);
    }
}
BOTH(close_wakes_all)

static atomic_int nil_passed;

static void nil_sender(void *arg) { int v = 1; gort_chan_send(NULL, &v); atomic_store(&nil_passed, 1); }
static void nil_receiver(void *arg) { gort_chan_recv(NULL, NULL); atomic_store(&nil_passed, 1); }

static void nil_chan_body(void *arg)
{
    int v = 5;
    bool ok = true;
    assert_false(gort_chan_try_send(NULL, &v));
    assert_false(gort_chan_try_recv(NULL, &v, &ok));
    assert_int_equal(v, 5);
    atomic_store(&nil_passed, 0);
    gort_go(nil_sender, NULL);
    gort_go(nil_receiver, NULL);
    gort_sleep(20 * GORT_MILLISECOND);
    assert_int_equal(atomic_load(&nil_passed), 0);   /* they block forever */
}
BOTH(nil_chan)

/* ---- test/ken/chan1.go: one sender, M select-receivers, buffer 2 --------------------- */

enum { K1_N = 1000, K1_M = 10, K1_W = 2 };
static atomic_int k1_h[K1_N];

struct k1recv { gort_chan *c; gort_waitgroup *wg; };

static void k1_r(void *arg)
{
    struct k1recv *r = arg;
    for (;;) {
        int v;
        bool ok;
        gort_select_case cs[] = { { r->c, GORT_RECV, &v, &ok } };
        assert_int_equal(gort_select(cs, 1, true), 0);
        if (!ok)
            break;
        assert_int_equal(atomic_load(&k1_h[v]), 1);
        atomic_store(&k1_h[v], 2);
    }
    gort_waitgroup_done(r->wg);
}

static void ken_chan1_body(void *arg)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct k1recv r = { gort_chan_make(sizeof(int), K1_W), &wg };
    for (int i = 0; i < K1_N; i++)
        atomic_store(&k1_h[i], 0);
    gort_waitgroup_add(&wg, K1_M);
    for (int m = 0; m < K1_M; m++) {
        gort_go(k1_r, &r);
        gort_yield();
    }
    for (int n = 0; n < K1_N; n++) {
        assert_int_equal(atomic_load(&k1_h[n]), 0);
        atomic_store(&k1_h[n], 1);
        send_int(r.c, n);
    }
    gort_chan_close(r.c);
    gort_waitgroup_wait(&wg);
    for (int n = 0; n < K1_N; n++)
        assert_int_equal(atomic_load(&k1_h[n]), 2);
}
BOTH(ken_chan1)

/* ---- test/ken/chan.go: sends, receives and selects over buffer sizes 0/1/10/100 ---- */

/* Each Chan carries the sequence cval+0 ... cval+75 from one sending party
 * (a sender or a select) to one receiving party; both check the sequence. */
typedef struct kchan {
    gort_chan *sc, *rc;     /* NULL once that side is done */
    int sv, rv;
} kchan;

enum { KEN_END = 10000 };
static atomic_int ken_randx, ken_nproc, ken_tots, ken_totr;
static int ken_cval;
static kchan ken_nc;        /* no channels: a select case that never fires */

static int nrand(int n)
{
    int x = atomic_fetch_add(&ken_randx, 10007) + 10007;
    return (x % 1000000) % n;
}

static void yield_some(int n)
{
    for (int r = nrand(n); r >= 0; r--)
        gort_yield();
}

static int expect(int v, int v0)
{
    assert_int_equal(v, v0);
    return v % 100 == 75 ? KEN_END : v + 1;
}

static bool kchan_sent(kchan *c)
{
    atomic_fetch_add(&ken_tots, 1);
    c->sv = expect(c->sv, c->sv);
    if (c->sv != KEN_END)
        return false;
    c->sc = NULL;
    return true;
}

static bool kchan_recvd(kchan *c, int v)
{
    atomic_fetch_add(&ken_totr, 1);
    c->rv = expect(c->rv, v);
    if (c->rv != KEN_END)
        return false;
    c->rc = NULL;
    return true;
}

static void ken_send(void *arg)
{
    kchan *c = arg;
    do {
        yield_some(10);
        gort_chan_send(c->sc, &c->sv);
    } while (!kchan_sent(c));
    atomic_fetch_sub(&ken_nproc, 1);
}

static void ken_recv(void *arg)
{
    kchan *c = arg;
    int v;
    do {
        yield_some(10);
        v = recv_int(c->rc);
    } while (!kchan_recvd(c, v));
    atomic_fetch_sub(&ken_nproc, 1);
}

/* sel(r0..r3, s0..s3): one select over four receives and four sends. */
static void ken_sel(void *arg)
{
    kchan **k = arg;        /* k[0..3] receive, k[4..7] send */
    int a = 0, v;
    for (int i = 0; i < 4; i++)
        a += (k[i]->rc != NULL) + (k[4 + i]->sc != NULL);
    while (a > 0) {
        yield_some(5);
        gort_select_case cs[8];
        for (int i = 0; i < 4; i++) {
            cs[i] = (gort_select_case){ k[i]->rc, GORT_RECV, &v, NULL };
            cs[4 + i] = (gort_select_case){ k[4 + i]->sc, GORT_SEND, &k[4 + i]->sv, NULL };
        }
        int i = gort_select(cs, 8, true);
        assert_true(i >= 0 && i < 8);
        if (i < 4 ? kchan_recvd(k[i], v) : kchan_sent(k[i]))
            a--;
    }
    atomic_fetch_sub(&ken_nproc, 1);
}

static kchan *mkchan(int cap, int n)
{
    kchan *ca = gort_alloc((size_t)n * sizeof *ca);   /* holds channels: GC memory */
    for (int i = 0; i < n; i++) {
        ken_cval += 100;
        ca[i].sc = ca[i].rc = gort_chan_make(sizeof(int), (size_t)cap);
        ca[i].sv = ca[i].rv = ken_cval;
    }
    return ca;
}

static void go_sel(kchan *r0, kchan *r1, kchan *r2, kchan *r3,
                   kchan *s0, kchan *s1, kchan *s2, kchan *s3)
{
    kchan **k = gort_alloc(8 * sizeof *k);
    kchan *all[8] = { r0, r1, r2, r3, s0, s1, s2, s3 };
    memcpy(k, all, sizeof all);
    atomic_fetch_add(&ken_nproc, 1);
    gort_go(ken_sel, k);
}

static void go_send(kchan *c) { atomic_fetch_add(&ken_nproc, 1); gort_go(ken_send, c); }
static void go_recv(kchan *c) { atomic_fetch_add(&ken_nproc, 1); gort_go(ken_recv, c); }

static void ken_wait(void)
{
    gort_yield();
    while (atomic_load(&ken_nproc) != 0)
        gort_yield();
}

static void ken_tests(int c)
{
    kchan *n = &ken_nc;
    kchan *ca = mkchan(c, 4);                    /* test1: direct send to direct recv */
    for (int i = 0; i < 4; i++) {
        go_send(&ca[i]);
        go_recv(&ca[i]);
    }
    ken_wait();
    kchan *t2 = mkchan(c, 4);                    /* test2: direct send to select recv */
    for (int i = 0; i < 4; i++)
        go_send(&t2[i]);
    go_sel(&t2[0], &t2[1], &t2[2], &t2[3], n, n, n, n);
    ken_wait();
    kchan *t3 = mkchan(c, 4);                    /* test3: select send to direct recv */
    for (int i = 0; i < 4; i++)
        go_recv(&t3[i]);
    go_sel(n, n, n, n, &t3[0], &t3[1], &t3[2], &t3[3]);
    ken_wait();
    kchan *t4 = mkchan(c, 4);                    /* test4: select send to select recv */
    go_sel(n, n, n, n, &t4[0], &t4[1], &t4[2], &t4[3]);
    go_sel(&t4[0], &t4[1], &t4[2], &t4[3], n, n, n, n);
    ken_wait();
    kchan *t5 = mkchan(c, 8);                    /* test5: two selects, both ways */
    go_sel(&t5[4], &t5[5], &t5[6], &t5[7], &t5[0], &t5[1], &t5[2], &t5[3]);
    go_sel(&t5[0], &t5[1], &t5[2], &t5[3], &t5[4], &t5[5], &t5[6], &t5[7]);
    ken_wait();
    kchan *t6 = mkchan(c, 12);                   /* test6: everything at once */
    for (int i = 4; i < 8; i++)
        go_send(&t6[i]);
    for (int i = 8; i < 12; i++)
        go_recv(&t6[i]);
    go_sel(&t6[4], &t6[5], &t6[6], &t6[7], &t6[0], &t6[1], &t6[2], &t6[3]);
    go_sel(&t6[0], &t6[1], &t6[2], &t6[3], &t6[8], &t6[9], &t6[10], &t6[11]);
    ken_wait();
    gort_keep_alive(ca);
    gort_keep_alive(t2);
    gort_keep_alive(t3);
    gort_keep_alive(t4);
    gort_keep_alive(t5);
    gort_keep_alive(t6);
}

static void ken_chan_body(void *arg)
{
    atomic_store(&ken_tots, 0);
    atomic_store(&ken_totr, 0);
    ken_tests(0);
    ken_tests(1);
    ken_tests(10);
    ken_tests(100);
    int t = 4 * (4 * 4 + 8 + 12) * 76;
    assert_int_equal(atomic_load(&ken_tots), t);
    assert_int_equal(atomic_load(&ken_totr), t);
}
BOTH(ken_chan)

/* ---- Threads that are not goroutines ------------------------------------------------ */

struct pingpong { gort_chan *ping, *pong, *done; int n; };

static void *thread_pinger(void *arg)
{
    struct pingpong *pp = arg;
    assert_int_equal(gort_goid(), 0);
    for (int i = 0; i < pp->n; i++) {
        send_int(pp->ping, i);          /* blocks the thread until taken */
        assert_int_equal(recv_int(pp->pong), i + 1);
    }
    gort_chan_close(pp->ping);
    send_int(pp->done, 1);
    return NULL;
}

static void ponger(void *arg)
{
    struct pingpong *pp = arg;
    int v;
    while (gort_chan_recv(pp->ping, &v))
        send_int(pp->pong, v + 1);
    send_int(pp->done, 2);
}

/* A thread and a goroutine talk over unbuffered channels: each side
 * blocks in turn (the thread on a futex, the goroutine parked). The main
 * goroutine waits on a channel: pthread_join would block its P. */
static void thread_pingpong_body(void *arg)
{
    struct pingpong pp = { gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0),
                           gort_chan_make(sizeof(int), 0), scaled(2000) };
    gort_go(ponger, &pp);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_pinger, &pp), 0);
    assert_int_equal(recv_int(pp.done) + recv_int(pp.done), 3);
    pthread_join(t, NULL);
}
BOTH(thread_pingpong)

struct tclose { gort_chan *c; atomic_int *woken; };

static void *thread_recv_closed(void *arg)
{
    struct tclose *tc = arg;
    int v = 5;
    assert_false(gort_chan_recv(tc->c, &v));
    assert_int_equal(v, 0);
    atomic_fetch_add(tc->woken, 1);
    return NULL;
}

/* Threads blocked in a receive are woken by close like goroutines are;
 * many threads and goroutines exchange values through one buffered channel. */
static void *thread_producer(void *c)
{
    for (int i = 0; i < 1000; i++)
        send_int(c, 1);
    return NULL;
}

static void thread_mixed_body(void *arg)
{
    atomic_int woken = 0;
    struct tclose tc = { gort_chan_make(sizeof(int), 0), &woken };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_recv_closed, &tc), 0);
    gort_sleep(10 * GORT_MILLISECOND);
    assert_int_equal(atomic_load(&woken), 0);
    gort_chan_close(tc.c);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&woken), 3);

    gort_chan *c = gort_chan_make(sizeof(int), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_producer, c), 0);
    int sum = 0;
    for (int i = 0; i < 3000; i++)
        sum += recv_int(c);
    assert_int_equal(sum, 3000);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
}
BOTH(thread_mixed)

/* ---- Bug: large channel buffers are committed up front --------------------------------
 * gort_chan_make(8, 1 << 27) memset its whole 1 GiB buffer (~700 ms, +1 GiB
 * of RSS) where Go takes fresh, already-zero pages. The buffer must cost
 * only the pages actually used. Element types Go's compiler rejects
 * (>= 64 KiB) and buffers beyond the allocation limit panic as in Go. */

/* Neither making a big pointer-free channel nor a collection while it holds
 * a few values commits its buffer: the allocator leaves fresh pages alone
 * and the collector does not read a noscan object (on the kernel here a
 * read of an untouched page commits it, so scanning would). Each channel
 * is kept reachable for good, so the next one gets fresh pages too: pages
 * freed by the collector are cleared when reused, as in Go, which would
 * commit them. */
static gort_chan *volatile keptBigChans[4];   /* volatile: stored, never read */

static void big_noscan_buffer(bool collect)
{
    static int nkept;
    /* The sanitizers shadow every mapping: 128 MiB there, still twice the bound. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    size_t cap = (size_t)1 << 24;
#else
    size_t cap = (size_t)1 << 27;
#endif
    long before = resident_bytes();
    gort_chan *c = gort_chan_make_noscan(8, cap);
    assert_int_equal(gort_chan_cap(c), cap);
    keptBigChans[nkept++ % 4] = c;
    for (int64_t i = 0; i < 1000; i++)
        gort_chan_send(c, &i);
    if (collect)
        gort_gc();
    for (int64_t i = 0; i < 1000; i++) {
        int64_t v = -1;
        assert_true(gort_chan_recv(c, &v));
        assert_int_equal(v, i);
    }
    long grown = resident_bytes() - before;
    if (grown >= 64L << 20)
        fail_msg("a %zu MiB channel buffer made RSS grow by %ld MiB", cap * 8 >> 20, grown >> 20);
}

static void large_channel_buffers_are_committed_up_front_body(void *arg) { big_noscan_buffer(false); }
BOTH(large_channel_buffers_are_committed_up_front)

static void collection_commits_noscan_channel_buffer_body(void *arg) { big_noscan_buffer(true); }
BOTH(collection_commits_noscan_channel_buffer)

static void makechan_big_elem(void *arg) { gort_chan_make(64 << 10, 1); }
static void makechan_overflow(void *arg) { gort_chan_make(1 << 15, SIZE_MAX / (1 << 14)); }
static void makechan_too_big(void *arg) { gort_chan_make(8, (size_t)1 << 46); }

static void test_large_channel_limits(void **st)
{
    child_result r = run_child(makechan_big_elem, NULL);
    assert_child_died_with(r, "panic: makechan: invalid channel element type\n");
    r = run_child(makechan_overflow, NULL);
    assert_child_died_with(r, "panic: makechan: size out of range\n");
    r = run_child(makechan_too_big, NULL);
    assert_child_died_with(r, "panic: makechan: size out of range\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_channel_limits),   /* forks: before the runtime starts */
        BOTH_TESTS(fifo),
        BOTH_TESTS(goroutines),
        BOTH_TESTS(sieve),
        BOTH_TESTS(closedchan),
        BOTH_TESTS(chancap),
        BOTH_TESTS(zerosize),
        BOTH_TESTS(values),
        BOTH_TESTS(close_wakes_all),
        BOTH_TESTS(nil_chan),
        BOTH_TESTS(ken_chan1),
        BOTH_TESTS(ken_chan),
        BOTH_TESTS(thread_pingpong),
        BOTH_TESTS(thread_mixed),
        BOTH_TESTS(large_channel_buffers_are_committed_up_front),
        BOTH_TESTS(collection_commits_noscan_channel_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
