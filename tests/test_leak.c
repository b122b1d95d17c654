/*
 * test_leak.c — goroutine leak detection (mgcleak.c): goroutines blocked on
 * a channel nobody can reach (receive, send, select), on a nil channel, on a
 * mutex, wait group or condition variable inside an unreachable heap object
 * are reported, with
 * their wait reason and creator; goroutines blocked on a channel reachable
 * from a global, or from a live goroutine's stack (directly, or through a
 * chain of blocked goroutines the pass must revive one after another), are
 * not; GORT_DEBUG=leakcheck=1 prints the report when main returns. Each
 * scenario runs with 1 and 2 Ps.
 *
 * Leaked goroutines stay for the rest of the process, so every check looks
 * for the goids its own scenario made. A scenario makes its channels and
 * goroutines in a NOINLINE function that returns only goids: no word of the
 * test's own live frames points at what must look unreachable.
 */
#include "testutil.h"

#include <stdatomic.h>

#define NOINLINE __attribute__((noinline, noipa))

enum { NLEAK = 8, MAXFOUND = 4096 };

/* ---- Collecting what the pass reports --------------------------------------- */

static struct { uint64_t goid; const char *reason; uint64_t creator; uintptr_t pc; } found[MAXFOUND];
static int nfound;

static void collect(const gort_goroutine_leak *l, void *arg)
{
    if (nfound < MAXFOUND) {
        found[nfound].goid = l->goid;
        found[nfound].reason = l->wait_reason;
        found[nfound].creator = l->creator_goid;
        found[nfound].pc = l->created_pc;
        nfound++;
    }
}

static int find(uint64_t goid)
{
    for (int i = 0; i < nfound; i++)
        if (found[i].goid == goid)
            return i;
    return -1;
}

static int count_reported(const uint64_t *goids, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += find(goids[i]) >= 0;
    return k;
}

/* Runs the pass until all n goids are reported (they may not have blocked
 * yet) or 2 s passed; returns how many were. */
static int await_reported(const uint64_t *goids, int n)
{
    int k = 0;
    for (int tries = 0; tries < 400 && k < n; tries++) {
        if (tries)
            gort_sleep(5 * GORT_MILLISECOND);
        nfound = 0;
        int total = gort_goroutine_leaks(collect, NULL);
        assert_int_equal(total, nfound < MAXFOUND ? nfound : total);
        k = count_reported(goids, n);
    }
    return k;
}

/* Asserts every goid is reported, with this wait reason and the test's
 * goroutine as creator. */
static void assert_leaked(const uint64_t *goids, int n, const char *reason)
{
    assert_int_equal(await_reported(goids, n), n);
    for (int i = 0; i < n; i++) {
        int j = find(goids[i]);
        assert_string_equal(found[j].reason, reason);
        assert_int_equal(found[j].creator, gort_goid());
        assert_true(found[j].pc != 0);
    }
}

/* Lets the goroutines block, then asserts none of them is reported. */
static void assert_quiet(const uint64_t *goids, int n)
{
    for (int i = 0; i < 20; i++)
        gort_sleep(GORT_MILLISECOND);
    nfound = 0;
    gort_goroutine_leaks(collect, NULL);
    assert_int_equal(count_reported(goids, n), 0);
}

/* ---- Goroutines that block -------------------------------------------------- */

static void recv_forever(void *c) { gort_chan_recv(c, NULL); }

static void send_forever(void *c)
{
    int64_t v = 1;
    gort_chan_send(c, &v);
}

static void select_forever(void *arg)
{
    gort_chan **cs = arg;
    int64_t v;
    gort_select_case cases[2] = {
        { .chan = cs[0], .dir = GORT_RECV, .elem = &v },
        { .chan = cs[1], .dir = GORT_SEND, .elem = &v },
    };
    gort_select(cases, 2, true);
}

struct locked { gort_mutex mu; gort_waitgroup wg; gort_cond cond; int64_t pad[4]; };

/* Blocks for good on a leaked object; on a reachable one, returns once the
 * test unlocks. */
static void lock_unlock(void *o)
{
    gort_mutex_lock(&((struct locked *)o)->mu);
    gort_mutex_unlock(&((struct locked *)o)->mu);
}
static void wait_forever(void *o) { gort_waitgroup_wait(&((struct locked *)o)->wg); }

static void cond_wait_forever(void *arg)
{
    struct locked *o = arg;
    gort_mutex_lock(&o->mu);
    gort_cond_wait(&o->cond);         /* nobody will signal */
}

/* ---- Leaks -------------------------------------------------------------------- */

/* A leak scenario: goroutines running fn(make()), where make builds a fresh
 * wait object nothing else will point at. */
struct leaky { void (*fn)(void *); void *(*make)(void); const char *reason; };

static void *fresh_chan(void) { return gort_chan_make(sizeof(int64_t), 0); }
static void *no_chan(void) { return NULL; }

static void *fresh_chan_pair(void)
{
    gort_chan **cs = gort_alloc(2 * sizeof *cs);
    cs[0] = fresh_chan();
    cs[1] = fresh_chan();
    return cs;
}

/* An object whose mutex is held by the creator, which then forgets it. */
static void *locked_object(void)
{
    struct locked *o = gort_alloc(sizeof *o);
    gort_mutex_lock(&o->mu);
    return o;
}

static void *pending_waitgroup(void)
{
    struct locked *o = gort_alloc(sizeof *o);
    gort_waitgroup_add(&o->wg, 1);
    return o;
}

static void *fresh_cond(void)
{
    struct locked *o = gort_alloc(sizeof *o);
    o->cond = (gort_cond)GORT_COND_INIT(&o->mu);
    return o;
}

static NOINLINE void spawn_leaky(const struct leaky *k, uint64_t *goids, int n)
{
    for (int i = 0; i < n; i++)
        goids[i] = gort_go(k->fn, k->make());
}

/* Zeroes the stack below the caller's frame. spawn_leaky's callees (the
 * make functions, gort_chan_make, gort_go) leave the wait objects in their
 * frames; the pass's own frames later reuse that memory but need not write
 * every slot, and a stale word there is in the live goroutine's scanned
 * stack. Under TSan's frame layout a select goroutine's second channel
 * stayed in an unwritten slot and looked reachable (test_select_1p). */
static NOINLINE void clear_dead_stack(void)
{
    char junk[16384];
    memset(junk, 0, sizeof junk);
    __asm__ volatile("" : : "r"(junk) : "memory");
}

static void leak_body(void *arg)
{
    const struct leaky *k = arg;
    uint64_t goids[NLEAK];
    int n = k->make == no_chan ? 1 : NLEAK;
    spawn_leaky(k, goids, n);
    clear_dead_stack();
    assert_leaked(goids, n, k->reason);
}

#define LEAK(name, fn, make, reason)                                                    \
    static const struct leaky name##_leaky = { fn, make, reason };                     \
    static void test_##name##_1p(void **st) { run_in_gort(leak_body, (void *)&name##_leaky, 1); } \
    static void test_##name##_2p(void **st) { run_in_gort(leak_body, (void *)&name##_leaky, 2); }

LEAK(chan_recv, recv_forever, fresh_chan, "chan receive")
LEAK(chan_send, send_forever, fresh_chan, "chan send")
LEAK(select, select_forever, fresh_chan_pair, "select")
LEAK(nil_chan, recv_forever, no_chan, "chan receive (nil chan)")
LEAK(mutex, lock_unlock, locked_object, "sync.Mutex.Lock")
LEAK(waitgroup, wait_forever, pending_waitgroup, "sync.WaitGroup.Wait")
LEAK(cond, cond_wait_forever, fresh_cond, "sync.Cond.Wait")

/* ---- Not leaks ---------------------------------------------------------------- */

static gort_chan *global_chan;

static void global_chan_body(void *arg)
{
    global_chan = gort_chan_make(sizeof(int64_t), 0);
    uint64_t goids[NLEAK];
    for (int i = 0; i < NLEAK; i++)
        goids[i] = gort_go(recv_forever, global_chan);
    assert_quiet(goids, NLEAK);
    gort_chan_close(global_chan);       /* they all return */
    global_chan = NULL;
}
BOTH(global_chan)

static struct locked global_locked;

static void global_mutex_body(void *arg)
{
    gort_mutex_lock(&global_locked.mu);
    uint64_t goid = gort_go(lock_unlock, &global_locked);
    assert_quiet(&goid, 1);
    gort_mutex_unlock(&global_locked.mu);
    gort_mutex_lock(&global_locked.mu);  /* after the waiter's turn */
    gort_mutex_unlock(&global_locked.mu);
}
BOTH(global_mutex)

/* A live goroutine (asleep, so a root) holds the channel on its stack. */
struct holder { _Atomic(gort_chan *) handoff; _Atomic int state; };

static void hold_and_release(void *arg)
{
    struct holder *h = arg;
    gort_chan *c = atomic_exchange(&h->handoff, NULL);   /* only this stack has it now */
    atomic_store(&h->state, 1);
    while (atomic_load(&h->state) == 1)
        gort_sleep(GORT_MILLISECOND);
    gort_chan_close(c);
    gort_keep_alive(c);
    atomic_store(&h->state, 3);
}

static NOINLINE void spawn_held(struct holder *h, uint64_t *goids, int n)
{
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < n; i++)
        goids[i] = gort_go(recv_forever, c);
    atomic_store(&h->handoff, c);
    gort_go(hold_and_release, h);
}

static void held_by_stack_body(void *arg)
{
    static struct holder h;              /* a global: the holder must not hold itself */
    atomic_store(&h.state, 0);
    uint64_t goids[NLEAK];
    spawn_held(&h, goids, NLEAK);
    while (atomic_load(&h.state) == 0)
        gort_sleep(GORT_MILLISECOND);
    assert_quiet(goids, NLEAK);
    atomic_store(&h.state, 2);
    while (atomic_load(&h.state) != 3)
        gort_sleep(GORT_MILLISECOND);
}
BOTH(held_by_stack)

/* A chain: a global channel g0 wakes relay 0, whose stack holds channel c1,
 * on which relay 1 waits, holding c2, ... Only the fixpoint revives the
 * whole chain, one link per round. */
enum { CHAIN = 6 };
static gort_chan *chain_head;

struct relay { gort_chan *in, *out; };

static void relay(void *arg)
{
    struct relay r = *(struct relay *)arg;
    free(arg);                           /* r lives on this stack only */
    int64_t v;
    if (gort_chan_recv(r.in, &v) && r.out)
        gort_chan_send(r.out, &v);
    else if (r.out)
        gort_chan_close(r.out);
}

static NOINLINE void spawn_chain(uint64_t *goids)
{
    gort_chan *in = chain_head = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < CHAIN; i++) {
        struct relay *r = malloc(sizeof *r);   /* not GC memory: not a root */
        r->in = in;
        r->out = i < CHAIN - 1 ? gort_chan_make(sizeof(int64_t), 0) : NULL;
        in = r->out;
        goids[i] = gort_go(relay, r);
    }
}

static void chain_body(void *arg)
{
    uint64_t goids[CHAIN];
    spawn_chain(goids);
    assert_quiet(goids, CHAIN);
    gort_chan_close(chain_head);          /* each relay closes the next: all return */
    chain_head = NULL;
}
BOTH(chain)

/* ---- The report at exit --------------------------------------------------- */

/* main: leaves one goroutine blocked on a channel nobody has, and returns. */
static void leak_one_and_return(void *arg)
{
    static const struct leaky one = { recv_forever, fresh_chan, "" };
    uint64_t goid;
    spawn_leaky(&one, &goid, 1);
    gort_sleep(20 * GORT_MILLISECOND);
}

static void report_child(void *arg)
{
    setenv("GORT_DEBUG", "leakcheck=1", 1);
    alarm(20);
    gort_main(leak_one_and_return, NULL);
    _exit(0);
}

static void test_leakcheck_report_at_exit(void **st)
{
    child_result r = run_child(report_child, NULL);
    if (r.exit_status != 0 || !strstr(r.err, "leakcheck: 1 leaked goroutine\n"))
        print_error("child status %d, stderr:\n%s\n", r.exit_status, r.err);
    assert_int_equal(r.exit_status, 0);
    assert_non_null(strstr(r.err, "leakcheck: 1 leaked goroutine\n"));
    assert_non_null(strstr(r.err, " [chan receive (leaked)]:\ncreated by "));
    assert_non_null(strstr(r.err, " in goroutine 1\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leakcheck_report_at_exit),
        BOTH_TESTS(chan_recv), BOTH_TESTS(chan_send), BOTH_TESTS(select),
        BOTH_TESTS(nil_chan), BOTH_TESTS(mutex), BOTH_TESTS(waitgroup), BOTH_TESTS(cond),
        BOTH_TESTS(global_chan), BOTH_TESTS(global_mutex), BOTH_TESTS(held_by_stack),
        BOTH_TESTS(chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
