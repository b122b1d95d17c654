/*
 * test_sched.c — the scheduler: spawning, joining, parking, run queue order,
 * work stealing, errno across switches, foreign threads, GOMAXPROCS changes,
 * locked threads, Goexit, and the straight G-to-G switches of park, exit and
 * yield (refused parks, fairness to timers and the global queue). Each test
 * body runs with 1 P and with 2 Ps.
 */
#include "testutil.h"
#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static atomic_int counter;

/* Waits, yielding, until counter reaches n. */
static void join(int n)
{
    while (atomic_load(&counter) < n)
        gort_yield();
}

/* ---- spawn and join ------------------------------------------------------ */

static void incr(void *arg) { atomic_fetch_add(&counter, 1); }

static void spawn_join_body(void *arg)
{
    int n = scaled(100000);
    atomic_store(&counter, 0);
    for (int i = 0; i < n; i++)
        assert_true(gort_go(incr, NULL) > 0);
    join(n);
    assert_int_equal(atomic_load(&counter), n);
}

static void test_spawn_join_100k_1p(void **st) { run_in_gort(spawn_join_body, NULL, 1); }
static void test_spawn_join_100k_2p(void **st) { run_in_gort(spawn_join_body, NULL, 2); }

/* ---- 100 000 goroutines parked at once ----------------------------------- */

static mutex parklock;
static g *parked_list;
static atomic_int nparked;

static bool park_push(g *gp, void *l)
{
    gp->schedlink = parked_list;
    parked_list = gp;
    atomic_fetch_add(&nparked, 1);
    unlock(l);
    return true;
}

/* Goroutines that call the scheduler's internals (gopark, goready) enter
 * gort as public functions do (RUNTIME_ENTRY; see test_sync.c's
 * sem_acquire for why). */
static void parker(void *arg)
{
    RUNTIME_ENTRY();
    lock(&parklock);
    gopark(park_push, &parklock, waitReasonTest);
    atomic_fetch_add(&counter, 1);
}

static int ready_all(g *list)
{
    RUNTIME_ENTRY();
    int woken = 0;
    for (g *gp = list, *next; gp; gp = next, woken++) {
        next = gp->schedlink;
        goready(gp);
    }
    return woken;
}

static void park_body(void *arg)
{
    int n = scaled(100000);
    atomic_store(&counter, 0);
    atomic_store(&nparked, 0);
    for (int i = 0; i < n; i++)
        gort_go(parker, NULL);
    while (atomic_load(&nparked) < n)
        gort_yield();
    assert_int_equal(atomic_load(&counter), 0);
    assert_true(gort_num_goroutine() >= n + 1);     /* the parked ones and us */
    lock(&parklock);
    g *list = parked_list;
    parked_list = NULL;
    unlock(&parklock);
    assert_int_equal(ready_all(list), n);
    join(n);
}

static void test_park_100k_1p(void **st) { run_in_gort(park_body, NULL, 1); }
static void test_park_100k_2p(void **st) { run_in_gort(park_body, NULL, 2); }

/* ---- run queue order on one P -------------------------------------------- */

enum { ORDER_N = 10 };
static int order[ORDER_N];
static atomic_int norder;

static void record(void *arg) { order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)arg; }

/* A new goroutine goes to runnext, pushing the previous one to the tail of
 * the queue: so the last spawned runs first, then the others in order. */
static void order_body(void *arg)
{
    atomic_store(&norder, 0);
    for (int i = 0; i < ORDER_N; i++)
        gort_go(record, (void *)(intptr_t)i);
    while (atomic_load(&norder) < ORDER_N)
        gort_yield();
    assert_int_equal(order[0], ORDER_N - 1);
    for (int i = 1; i < ORDER_N; i++)
        assert_int_equal(order[i], i - 1);
}

static void test_runq_order_1p(void **st) { run_in_gort(order_body, NULL, 1); }

/* More than 256 runnable Gs overflow the local queue into the global one;
 * every G still runs exactly once. */
static atomic_uchar ran_once[4096];

static void mark_ran(void *arg) { atomic_fetch_add(&ran_once[(intptr_t)arg], 1); atomic_fetch_add(&counter, 1); }

static void overflow_body(void *arg)
{
    atomic_store(&counter, 0);
    for (int i = 0; i < 4096; i++)
        atomic_store(&ran_once[i], 0);
    for (int i = 0; i < 4096; i++)
        gort_go(mark_ran, (void *)(intptr_t)i);
    assert_true(atomic_load(&sched.runqsize) > 0 || atomic_load(&counter) > 0);
    join(4096);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(atomic_load(&ran_once[i]), 1);
}

static void test_runq_overflow_1p(void **st) { run_in_gort(overflow_body, NULL, 1); }
static void test_runq_overflow_2p(void **st) { run_in_gort(overflow_body, NULL, 2); }

/* ---- work stealing -------------------------------------------------------- */

static atomic_int seen_p[2];

/* Busy without yielding until both Ps have run one of us (bounded): the
 * spawning P stays occupied, so the second P can only take part by stealing,
 * however long its M takes to start (sanitizers make that slow). */
static void spin_and_note_p(void *arg)
{
    atomic_fetch_add(&seen_p[getg()->m->p->id], 1);
    int64_t until = gort_nanotime() + 10 * GORT_SECOND;
    while ((!atomic_load(&seen_p[0]) || !atomic_load(&seen_p[1])) && gort_nanotime() < until)
        ;
    atomic_fetch_add(&counter, 1);
}

static void steal_body(void *arg)
{
    atomic_store(&counter, 0);
    atomic_store(&seen_p[0], 0);
    atomic_store(&seen_p[1], 0);
    for (int i = 0; i < 64; i++)
        gort_go(spin_and_note_p, NULL);
    join(64);
    assert_true(atomic_load(&seen_p[0]) > 0);
    assert_true(atomic_load(&seen_p[1]) > 0);
}

static void test_steal_2p(void **st) { run_in_gort(steal_body, NULL, 2); }


/* ---- errno belongs to the goroutine --------------------------------------- */

static atomic_int errno_bad, migrated, want_migration;

/* GCC may keep the address of errno (a const function of the thread) across
 * a call that migrates the goroutine; these re-derive it after the switch,
 * as any fresh access in another function does (see docs/scheduler.md). */
static NOINLINE int read_errno(void) { return errno; }
static NOINLINE void write_errno(int e) { errno = e; }

static void errno_keeper(void *arg)
{
    int mine = (int)(intptr_t)arg;
    write_errno(mine);
    int tid = gettid_();
    /* Until some goroutine has changed threads (bounded), so that the check
     * covers migration even on a loaded machine. */
    int64_t deadline = gort_nanotime() + 5 * GORT_SECOND;
    for (int i = 0; i < 200 || (atomic_load(&want_migration) && !atomic_load(&migrated) &&
                                 gort_nanotime() < deadline); i++) {
        gort_yield();
        if (read_errno() != mine)
            atomic_fetch_add(&errno_bad, 1);
        if (gettid_() != tid)
            atomic_store(&migrated, 1);
        write_errno(mine + 1);
        write_errno(mine);
    }
    atomic_fetch_add(&counter, 1);
}

static void errno_body(void *arg)
{
    int n = 64;
    atomic_store(&counter, 0);
    atomic_store(&errno_bad, 0);
    for (int i = 0; i < n; i++)
        gort_go(errno_keeper, (void *)(intptr_t)(1000 + i));
    /* Busy Ps never steal, so make goroutines change threads: removing a P
     * sends its Gs to the global queue, where another M picks them up. */
    while (atomic_load(&want_migration) && !atomic_load(&migrated) &&
           atomic_load(&counter) < n) {
        gort_gomaxprocs(1);
        gort_yield();
        gort_gomaxprocs(2);
        gort_yield();
    }
    join(n);
    assert_int_equal(atomic_load(&errno_bad), 0);
}

static void test_errno_1p(void **st)
{
    atomic_store(&want_migration, 0);
    run_in_gort(errno_body, NULL, 1);
}

static void test_errno_2p(void **st)
{
    atomic_store(&migrated, 0);
    atomic_store(&want_migration, 1);
    run_in_gort(errno_body, NULL, 2);
    /* The test only means something if goroutines did change threads. */
    assert_int_equal(atomic_load(&migrated), 1);
}

/* ---- goroutines spawned from a thread that is not a goroutine -------------- */

static void *foreign_spawner(void *arg)
{
    int n = (int)(intptr_t)arg;
    assert_int_equal(gort_goid(), 0);
    for (int i = 0; i < n; i++)
        gort_go(incr, NULL);
    return NULL;
}

static void foreign_body(void *arg)
{
    int n = scaled(10000);
    atomic_store(&counter, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, foreign_spawner, (void *)(intptr_t)n), 0);
    join(2 * n);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&counter), 2 * n);
}

static void test_foreign_thread_spawn_1p(void **st) { run_in_gort(foreign_body, NULL, 1); }
static void test_foreign_thread_spawn_2p(void **st) { run_in_gort(foreign_body, NULL, 2); }

/* gort_go from a thread while no goroutine runs at all. */
static void test_foreign_spawn_idle_runtime(void **st)
{
    int n = 1000;
    atomic_store(&counter, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, foreign_spawner, (void *)(intptr_t)n), 0);
    pthread_join(t, NULL);
    while (atomic_load(&counter) < n)
        usleep(100);
    assert_int_equal(atomic_load(&counter), n);
}

/* ---- GOMAXPROCS at run time -------------------------------------------------- */

static atomic_int stop_yielders;

static void yielder(void *arg)
{
    while (!atomic_load(&stop_yielders))
        gort_yield();
    atomic_fetch_add(&counter, 1);
}

static void maxprocs_body(void *arg)
{
    atomic_store(&counter, 0);
    atomic_store(&stop_yielders, 0);
    for (int i = 0; i < 8; i++)
        gort_go(yielder, NULL);
    assert_int_equal(gort_gomaxprocs(1), 2);
    assert_int_equal(gort_gomaxprocs(0), 1);
    gort_yield();
    assert_int_equal(gort_gomaxprocs(3), 1);
    assert_int_equal(gort_gomaxprocs(0), 3);
    assert_int_equal(gort_gomaxprocs(2), 3);
    atomic_store(&stop_yielders, 1);
    join(8);
}

static void test_gomaxprocs_change(void **st) { run_in_gort(maxprocs_body, NULL, 2); }

/* Bug "Concurrent stop-the-world deadlocks": two goroutines stopping the
 * world at once each waited for the other's P forever. Many changers now
 * queue on worldsema while other goroutines keep running. */
static gort_waitgroup changers_wg;
static atomic_int changes_done;

static void maxprocs_changer(void *arg)
{
    int id = (int)(intptr_t)arg, n = scaled(200);
    for (int i = 0; i < n; i++) {
        gort_gomaxprocs(1 + (id + i) % 2);
        atomic_fetch_add(&changes_done, 1);
        if (i % 4 == 0)
            gort_yield();
    }
    gort_waitgroup_done(&changers_wg);
}

static void concurrent_stw_body(void *arg)
{
    enum { CHANGERS = 16, YIELDERS = 4 };
    int procs = (int)(intptr_t)arg;
    atomic_store(&counter, 0);
    atomic_store(&stop_yielders, 0);
    atomic_store(&changes_done, 0);
    for (int i = 0; i < YIELDERS; i++)
        gort_go(yielder, NULL);
    gort_waitgroup_add(&changers_wg, CHANGERS);
    for (int i = 0; i < CHANGERS; i++)
        gort_go(maxprocs_changer, (void *)(intptr_t)i);
    gort_waitgroup_wait(&changers_wg);
    assert_int_equal(atomic_load(&changes_done), CHANGERS * scaled(200));
    atomic_store(&stop_yielders, 1);
    join(YIELDERS);
    gort_gomaxprocs(procs);
    assert_int_equal(gort_gomaxprocs(0), procs);
}

static void test_concurrent_stop_the_world_1p(void **st)
{
    run_in_gort(concurrent_stw_body, (void *)1, 1);
}
static void test_concurrent_stop_the_world_2p(void **st)
{
    run_in_gort(concurrent_stw_body, (void *)2, 2);
}

/* ---- locked threads ------------------------------------------------------------ */

static void locked_body(void *arg)
{
    atomic_store(&counter, 0);
    atomic_store(&stop_yielders, 0);
    for (int i = 0; i < 4; i++)
        gort_go(yielder, NULL);
    gort_lock_os_thread();
    int tid = gettid_();
    /* Until some goroutine has changed threads (bounded), so that the check
     * covers migration even on a loaded machine. */
    int64_t deadline = gort_nanotime() + 5 * GORT_SECOND;
    for (int i = 0; i < 200 || (atomic_load(&want_migration) && !atomic_load(&migrated) &&
                                 gort_nanotime() < deadline); i++) {
        gort_yield();
        assert_int_equal(gettid_(), tid);
    }
    gort_unlock_os_thread();
    atomic_store(&stop_yielders, 1);
    join(4);
}

static void test_lock_os_thread_1p(void **st) { run_in_gort(locked_body, NULL, 1); }
static void test_lock_os_thread_2p(void **st) { run_in_gort(locked_body, NULL, 2); }

/* ---- Goexit, goid ------------------------------------------------------------------ */

static atomic_int after_goexit;

static void exiter(void *arg)
{
    atomic_fetch_add(&counter, 1);
    gort_goexit();
    atomic_store(&after_goexit, 1);
}

static void goexit_body(void *arg)
{
    atomic_store(&counter, 0);
    for (int i = 0; i < 100; i++)
        gort_go(exiter, NULL);
    join(100);
    gort_yield();
    assert_int_equal(atomic_load(&after_goexit), 0);
    uint64_t a = gort_go(incr, NULL), b = gort_go(incr, NULL);
    assert_true(a != b && a > 0 && b > 0);
    assert_true(gort_goid() > 0);
}

static void test_goexit(void **st) { run_in_gort(goexit_body, NULL, 2); }

/* ---- Direct switches: park, exit and yield skip g0 when they can ------------------- */

/* An unlock function that refuses (returns false) makes gopark return at
 * once, whether the G switched straight to another G or went through g0. */
static _Atomic int refusals;

static bool refuse_park(g *gp, void *l)
{
    atomic_fetch_add(&refusals, 1);
    unlock(l);
    return false;
}

static void refuser(void *arg)
{
    RUNTIME_ENTRY();
    static mutex l;
    for (int i = 0; i < 100; i++) {
        lock(&l);
        gopark(refuse_park, &l, waitReasonTest);   /* no goready: must come back */
        if (i % 10 == 0)
            gort_yield();
    }
    atomic_fetch_add(&counter, 1);
}

static void refuse_body(void *arg)
{
    atomic_store(&counter, 0);
    atomic_store(&refusals, 0);
    refuser(NULL);                         /* alone: through g0 */
    for (int i = 0; i < 8; i++)            /* among others: straight switches */
        gort_go(refuser, NULL);
    join(9);
    assert_int_equal(atomic_load(&refusals), 900);
}

static void test_park_refused_1p(void **st) { run_in_gort(refuse_body, NULL, 1); }
static void test_park_refused_2p(void **st) { run_in_gort(refuse_body, NULL, 2); }

/* Two goroutines bouncing a value keep their P busy with straight
 * switches forever. A timer and a G in the global queue must still get
 * their turn: the pair stops when both have run, or fails after a bound
 * far beyond what fair scheduling needs. */
struct busy {
    gort_chan *ping, *pong;
    atomic_bool timer_fired, global_ran;
    gort_waitgroup exited;      /* all three helpers are done: b lives on our stack */
};

static bool busy_done(struct busy *b)
{
    return atomic_load(&b->timer_fired) && atomic_load(&b->global_ran);
}

static void bouncer(void *arg)
{
    struct busy *b = arg;
    int64_t v;
    while (gort_chan_recv(b->ping, &v))
        gort_chan_send(b->pong, &v);
    gort_waitgroup_done(&b->exited);
}

static void mark_global_ran(void *arg)
{
    struct busy *b = arg;
    atomic_store(&b->global_ran, true);
    gort_waitgroup_done(&b->exited);
}

static void *spawn_from_thread(void *arg)
{
    gort_go(mark_global_ran, arg);         /* not a goroutine: the global queue */
    return NULL;
}

static void sleeper(void *arg)
{
    struct busy *b = arg;
    gort_sleep(GORT_MILLISECOND);
    atomic_store(&b->timer_fired, true);
    gort_waitgroup_done(&b->exited);
}

/* Starts the bouncer; helpers: how many goroutines will mark b->exited. */
static void busy_start(struct busy *b, int helpers)
{
    b->ping = gort_chan_make(sizeof(int64_t), 0);
    b->pong = gort_chan_make(sizeof(int64_t), 0);
    b->exited = (gort_waitgroup)GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&b->exited, helpers);
    gort_go(bouncer, b);
}

/* One round trip with the bouncer. */
static void bounce(struct busy *b)
{
    int64_t v = 0;
    gort_chan_send(b->ping, &v);
    gort_chan_recv(b->pong, &v);
}

static void fairness_body(void *arg)
{
    struct busy b = { 0 };
    busy_start(&b, 3);
    gort_go(sleeper, &b);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spawn_from_thread, &b), 0);
    for (int64_t trips = 0; !busy_done(&b) && trips < 20 * 1000 * 1000; trips++)
        bounce(&b);
    pthread_join(t, NULL);
    gort_chan_close(b.ping);
    gort_waitgroup_wait(&b.exited);
    assert_true(atomic_load(&b.timer_fired));
    assert_true(atomic_load(&b.global_ran));
}

static void test_direct_switch_fairness_1p(void **st) { run_in_gort(fairness_body, NULL, 1); }
static void test_direct_switch_fairness_2p(void **st) { run_in_gort(fairness_body, NULL, 2); }

/* A G left in runnext by a G that then runs on without yielding must still
 * be taken by the other P, even after a ping-pong made thieves back off
 * (runnext_stuck doubles their wait while the P keeps scheduling). */
static atomic_bool stolen_ran;

static void note_stolen(void *arg) { atomic_store(&stolen_ran, true); }

static void runnext_steal_body(void *arg)
{
    struct busy b = { 0 };
    busy_start(&b, 1);
    for (int i = 0; i < scaled(200000); i++)      /* thieves see fresh handoffs */
        bounce(&b);
    gort_chan_close(b.ping);
    gort_waitgroup_wait(&b.exited);
    atomic_store(&stolen_ran, false);
    gort_go(note_stolen, NULL);                   /* into our runnext */
    int64_t until = gort_nanotime() + 20 * GORT_SECOND;
    while (!atomic_load(&stolen_ran) && gort_nanotime() < until)
        ;                                         /* never yield */
    assert_true(atomic_load(&stolen_ran));
}

static void test_runnext_stolen_2p(void **st) { run_in_gort(runnext_steal_body, NULL, 2); }

/* ---- unwind info of the switch -------------------------------------------- */

/* Bug "Unwind info in gswitch's epilogue": after the pops the CFA was still
 * described as before them, so a profiler's signal landing there unwound
 * into garbage. A thread here sends SIGPROF to every thread of the process
 * every few microseconds (a profiler's per-thread timer, at a higher rate
 * than a CPU-time timer's tick allows) during a channel ping-pong; the
 * handler walks the interrupted stack with libunwind. Every walk must end
 * cleanly within a bounded depth, and a walk that starts on a goroutine's
 * own stack must end in gostart, the bottom frame of every goroutine.
 *
 * TSan delays a signal's handler to a point of its choosing and hands it a
 * saved context whose stack has moved on since, so there the walk starts
 * from the handler itself instead. */
#define UNW_LOCAL_ONLY
#include <dirent.h>
#include <libunwind.h>

enum { UNWIND_MAX_DEPTH = 256 };
static atomic_long unwind_walks, unwind_failed, unwind_in_gswitch, unwind_not_gostart,
                   unwind_unknown;
/* Where walks may end: gostart, or the bottoms of the main thread (_start)
 * and of other threads (clone3 or clone), found by walking from there.
 * Atomic: the next test writes them while a handler of the previous one
 * may still read them on a thread that outlives it (sysmon). */
static _Atomic unw_word_t bottom_main, bottom_thread;
static atomic_int unwind_stop;

/* Is sp on the stack of the current goroutine? (During a switch the
 * current g is already the next one, its m not yet set.) */
static bool on_goroutine_stack(uintptr_t sp)
{
    g *gp = getg();
    if (!gp || sp < gp->stack.lo || sp >= gp->stack.hi)
        return false;
    m *mp = gp->m;
    return !mp || gp != mp->g0;
}

/* Walks to the end; returns the start of the last frame's procedure, or 0
 * if the walk failed or did not end within UNWIND_MAX_DEPTH frames. */
static unw_word_t unwind_walk(unw_cursor_t *c, bool *in_gswitch)
{
    unw_proc_info_t pi;
    for (int depth = 0; depth < UNWIND_MAX_DEPTH; depth++) {
        if (unw_get_proc_info(c, &pi) < 0)
            return 0;
        if (pi.start_ip == (unw_word_t)gswitch)
            *in_gswitch = true;
        int r = unw_step(c);
        if (r < 0)
            return 0;
        if (r == 0)
            return pi.start_ip;
    }
    return 0;
}

/* Counts one finished walk: bottom is where it ended (0: it failed). */
static void unwind_count(unw_word_t bottom, bool goroutine, bool in_gswitch)
{
    atomic_fetch_add(&unwind_walks, 1);
    if (bottom == 0)
        atomic_fetch_add(&unwind_failed, 1);
    else if (goroutine && bottom != (unw_word_t)gostart)
        atomic_fetch_add(&unwind_not_gostart, 1);
    else if (bottom != (unw_word_t)gostart && bottom != atomic_load(&bottom_main) &&
             bottom != atomic_load(&bottom_thread))
        atomic_fetch_add(&unwind_unknown, 1);
    if (in_gswitch)
        atomic_fetch_add(&unwind_in_gswitch, 1);
}

/* Walks from the interrupted context a signal handler was given. */
static void unwind_from_context(ucontext_t *uc)
{
    unw_cursor_t c;
    bool in_gswitch = false;
    uintptr_t pc, sp;
    ctx_pc_sp(uc, &pc, &sp);
    bool goroutine = on_goroutine_stack(sp);
    int rc = unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME);
    unw_word_t bottom = rc < 0 ? 0 : unwind_walk(&c, &in_gswitch);
    unwind_count(bottom, goroutine, in_gswitch);
}

static void unwind_on_sigprof(int sig, siginfo_t *si, void *ucv)
{
    int saved_errno = errno;
#if defined(__SANITIZE_THREAD__)
    unw_cursor_t c;
    unw_context_t ctx;
    bool in_gswitch = false;
    unw_getcontext(&ctx);
    int rc = unw_init_local(&c, &ctx);
    unw_word_t bottom = rc < 0 ? 0 : unwind_walk(&c, &in_gswitch);
    unwind_count(bottom, false, in_gswitch);
#else
    unwind_from_context(ucv);
#endif
    errno = saved_errno;
}

/* The profiler: SIGPROF to every other thread, every few microseconds
 * (2 ms under TSan, which runs each handler later, at a point it chooses). */
static void *unwind_profiler(void *arg)
{
    pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
#if defined(__SANITIZE_THREAD__)
    useconds_t period = 2000;
#else
    useconds_t period = 20;
#endif
    while (!atomic_load(&unwind_stop)) {
        DIR *d = opendir("/proc/self/task");
        if (!d)
            break;
        for (struct dirent *e; (e = readdir(d));) {
            pid_t tid = (pid_t)atoi(e->d_name);
            if (tid > 0 && tid != self)
                syscall(SYS_tgkill, pid, tid, SIGPROF);
        }
        closedir(d);
        usleep(period);
    }
    return NULL;
}

struct pingpong { gort_chan *ping, *pong; gort_waitgroup done; };

static void unwind_ponger(void *arg)
{
    struct pingpong *pp = arg;
    int64_t v;
    while (gort_chan_recv(pp->ping, &v))
        gort_chan_send(pp->pong, &v);
    gort_waitgroup_done(&pp->done);
}

static void unwind_body(void *arg)
{
    struct pingpong pp = { gort_chan_make(sizeof(int64_t), 0),
                           gort_chan_make(sizeof(int64_t), 0), GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&pp.done, 1);
    gort_go(unwind_ponger, &pp);
    pthread_t prof;
    atomic_store(&unwind_stop, 0);
    assert_int_equal(pthread_create(&prof, NULL, unwind_profiler, NULL), 0);
    /* Until enough samples have landed in the switch, or 2 s have passed
     * (a bound for slow machines and emulators, not a measurement). */
    int64_t trips = scaled(2000000), deadline = gort_nanotime() + 2 * GORT_SECOND;
    for (int64_t i = 0; i < trips && atomic_load(&unwind_in_gswitch) < 1000 &&
                        (i % 256 || gort_nanotime() < deadline); i++) {
        gort_chan_send(pp.ping, &i);
        gort_chan_recv(pp.pong, &i);
    }
    atomic_store(&unwind_stop, 1);
    pthread_join(prof, NULL);
    gort_chan_close(pp.ping);
    gort_waitgroup_wait(&pp.done);
}

static unw_word_t bottom_here(void)
{
    unw_context_t ctx;
    unw_cursor_t c;
    bool unused;
    unw_getcontext(&ctx);
    assert_int_equal(unw_init_local(&c, &ctx), 0);
    return unwind_walk(&c, &unused);
}

static void *bottom_of_thread(void *arg)
{
    atomic_store(&bottom_thread, bottom_here());
    return NULL;
}

/* Finds where walks may end and zeroes the counters. */
static void unwind_setup(void)
{
    pthread_t t;
    atomic_store(&bottom_main, bottom_here());
    assert_int_equal(pthread_create(&t, NULL, bottom_of_thread, NULL), 0);
    pthread_join(t, NULL);
    assert_true(atomic_load(&bottom_main) != 0 && atomic_load(&bottom_thread) != 0);
    atomic_store(&unwind_walks, 0);
    atomic_store(&unwind_failed, 0);
    atomic_store(&unwind_in_gswitch, 0);
    atomic_store(&unwind_not_gostart, 0);
    atomic_store(&unwind_unknown, 0);
}

static void unwind_check(void)
{
    print_message("%ld walks, %ld through gswitch; %ld failed, %ld from a goroutine stack "
                  "not ending in gostart, %ld ending elsewhere\n", atomic_load(&unwind_walks),
                  atomic_load(&unwind_in_gswitch), atomic_load(&unwind_failed),
                  atomic_load(&unwind_not_gostart), atomic_load(&unwind_unknown));
    assert_int_equal(atomic_load(&unwind_failed), 0);
    assert_int_equal(atomic_load(&unwind_not_gostart), 0);
    assert_int_equal(atomic_load(&unwind_unknown), 0);
    assert_true(atomic_load(&unwind_walks) > 0);
}

static void unwind_test(int procs)
{
    const char *q = getenv("GORT_TEST_QEMU");
    if (q && *q == '1') {
        /* qemu-user delivers a signal only between translated blocks, so
         * samples never land inside gswitch there, and libunwind walks from
         * its signal contexts were seen to hang (qemu 7.2). The
         * every-instruction test below covers qemu. */
        print_message("not under qemu-user: no sample lands inside gswitch there\n");
        skip();
    }
    unwind_setup();
    struct sigaction sa = { .sa_sigaction = unwind_on_sigprof, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGPROF, &sa, NULL), 0);
    run_in_gort(unwind_body, NULL, procs);
    /* SIG_IGN, not the default (which kills), also drops signals still pending. */
    signal(SIGPROF, SIG_IGN);
    unwind_check();
}

static void test_unwind_info_in_gswitch_1p(void **st) { unwind_test(1); }
static void test_unwind_info_in_gswitch_2p(void **st) { unwind_test(2); }

/* The same bug, checked at every instruction of gswitch: a breakpoint stops
 * a switch there and the SIGTRAP handler walks from the stopped context.
 * A trap is synchronous, so unlike the samples above this also runs under
 * qemu-user. arm64's instructions are 4 bytes: a brk replaces
 * instruction k for one switch, and the handler puts the original back, so
 * it executes when the handler returns. x86-64's vary in length: an int3
 * replaces gswitch's first byte, and the trap flag then stops the switch
 * after each of its instructions until it leaves gswitch. */
enum { GSWITCH_MAX = 512 };
static uintptr_t gswitch_lo, gswitch_hi;
static uintptr_t trap_addr;                 /* the patched instruction */
static atomic_bool trap_armed;              /* the patch is in place */
static atomic_uchar insn_walked[GSWITCH_MAX]; /* offsets a walk started from */
#if defined(__x86_64__)
static uint8_t trap_saved;
#else
static uint32_t trap_saved;
#endif

static void trap_restore(void)
{
    memcpy((void *)trap_addr, &trap_saved, sizeof trap_saved);
    __builtin___clear_cache((char *)trap_addr, (char *)trap_addr + sizeof trap_saved);
    atomic_store(&trap_armed, false);
}

static void trap_place(uintptr_t at)
{
#if defined(__x86_64__)
    const uint8_t brk = 0xcc;                               /* int3 */
#else
    const uint32_t brk = 0xd4200000u | (0x4747u << 5);      /* brk #0x4747 */
#endif
    trap_addr = at;
    memcpy(&trap_saved, (void *)at, sizeof trap_saved);
    atomic_store(&trap_armed, true);
    memcpy((void *)at, &brk, sizeof brk);
    __builtin___clear_cache((char *)at, (char *)at + sizeof brk);
}

static void walk_at_insn(ucontext_t *uc, uintptr_t pc)
{
    atomic_store(&insn_walked[pc - gswitch_lo], 1);
    unwind_from_context(uc);
}

static void gswitch_on_sigtrap(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    uintptr_t pc, sp;
    ctx_pc_sp(uc, &pc, &sp);
#if defined(__x86_64__)
    if (si->si_code == SI_KERNEL && pc == trap_addr + 1) {
        /* Our int3: undo it and rerun the instruction it replaced. */
        trap_restore();
        pc = trap_addr;
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
    }
    if (pc >= gswitch_lo && pc < gswitch_hi) {
        uc->uc_mcontext.gregs[REG_EFL] |= 0x100;           /* TF */
        walk_at_insn(uc, pc);
    } else
        uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)0x100;
#else
    if (pc != trap_addr)
        abort();                                            /* not our brk */
    trap_restore();
    walk_at_insn(uc, pc);
#endif
}

static void every_insn_body(void *arg)
{
    struct pingpong pp = { gort_chan_make(sizeof(int64_t), 0),
                           gort_chan_make(sizeof(int64_t), 0), GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&pp.done, 1);
    gort_go(unwind_ponger, &pp);
#if defined(__x86_64__)
    uintptr_t step = gswitch_hi - gswitch_lo;               /* one int3, then the trap flag */
#else
    uintptr_t step = 4;
#endif
    for (uintptr_t at = gswitch_lo; at < gswitch_hi; at += step) {
        trap_place(at);
        /* A conditional instruction (the control-register loads) may never
         * run: give up on it after a while. */
        for (int64_t i = 0; i < 100 && atomic_load(&trap_armed); i++) {
            gort_chan_send(pp.ping, &i);
            gort_chan_recv(pp.pong, &i);
        }
        if (atomic_load(&trap_armed))
            trap_restore();
    }
    gort_chan_close(pp.ping);
    gort_waitgroup_wait(&pp.done);
}

static void every_insn_test(int procs)
{
#if defined(__SANITIZE_THREAD__)
    /* The handler rewinds the PC over the int3 and sets the trap flag in
     * its context; a program under TSan resumed mid-instruction instead. */
    print_message("not under TSan: its handler's context changes are not resumed\n");
    skip();
#endif
    unw_proc_info_t pi;
    assert_int_equal(unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)gswitch, &pi, NULL), 0);
    gswitch_lo = pi.start_ip;
    gswitch_hi = pi.end_ip;
    assert_true(gswitch_lo == (uintptr_t)gswitch && gswitch_hi - gswitch_lo <= GSWITCH_MAX);
    for (int i = 0; i < GSWITCH_MAX; i++)
        atomic_store(&insn_walked[i], 0);

    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t text_lo = gswitch_lo & ~(page - 1), text_hi = (gswitch_hi + page - 1) & ~(page - 1);
    assert_int_equal(mprotect((void *)text_lo, text_hi - text_lo,
                              PROT_READ | PROT_WRITE | PROT_EXEC), 0);
    unwind_setup();
    struct sigaction sa = { .sa_sigaction = gswitch_on_sigtrap, .sa_flags = SA_SIGINFO }, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGTRAP, &sa, &old), 0);
    run_in_gort(every_insn_body, NULL, procs);
    sigaction(SIGTRAP, &old, NULL);
    assert_int_equal(mprotect((void *)text_lo, text_hi - text_lo, PROT_READ | PROT_EXEC), 0);

    int walked = 0, insns = 0;
    for (uintptr_t off = 0; off < gswitch_hi - gswitch_lo; off++)
        walked += atomic_load(&insn_walked[off]);
#if defined(__x86_64__)
    insns = walked;                     /* the steps found the boundaries */
    assert_true(walked >= 20);          /* the fast path: pushes, loads, pops, ret */
#else
    insns = (int)((gswitch_hi - gswitch_lo) / 4);
    assert_true(walked >= insns - 1);   /* all but the FPCR write, which runs rarely */
#endif
    print_message("walked from %d of gswitch's %d instructions\n", walked, insns);
    unwind_check();
    assert_true(atomic_load(&unwind_in_gswitch) >= walked);
}

static void test_unwind_info_at_every_gswitch_insn_1p(void **st) { every_insn_test(1); }
static void test_unwind_info_at_every_gswitch_insn_2p(void **st) { every_insn_test(2); }

/* Bug "Unwind from async preemption's entry": ctx_redirect gave
 * asyncPreempt a zero return address, so a profiler's signal landing on
 * its first instruction (pending behind the SIGURG that preempted) unwound
 * to pc 0 and the walk failed; test_unwind_info_in_gswitch saw a few such
 * walks in a third of its runs. Now asyncPreempt is called from
 * asyncPreemptReturn, a signal frame over the copy of the interrupted
 * context. Here a trap in preempt_victim gives a real signal context;
 * its handler makes the copy and the redirected context as doSigPreempt
 * does (on a copy of the context: the victim goes on undisturbed) and
 * walks from asyncPreempt's entry and from asyncPreemptReturn's first
 * instruction: both must go through preempt_victim and its goroutine's
 * function down to gostart. */
enum { VICTIM_MAX_FRAMES = 32 };
struct victim_walk { int n; int rc; unw_word_t start[VICTIM_MAX_FRAMES]; };
static struct victim_walk victim_walks[2];
static atomic_int victim_trapped;

static __attribute__((noipa)) void preempt_victim(void)
{
#if defined(__x86_64__)
    __asm__ volatile("int3");           /* SIGTRAP, pc after it */
#else
    __asm__ volatile("brk #0x4748");    /* SIGTRAP, pc at it: the handler steps over */
#endif
    atomic_fetch_add(&victim_trapped, 1);
}

/* Records the start of each frame's function, from uc to the walk's end:
 * rc is unw_step's last result (0: the walk ended cleanly). */
static void victim_walk_from(struct victim_walk *w, ucontext_t *uc)
{
    unw_cursor_t c;
    unw_proc_info_t pi;
    w->n = 0;
    w->rc = unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME);
    while (w->rc >= 0 && w->n < VICTIM_MAX_FRAMES) {
        w->start[w->n++] = unw_get_proc_info(&c, &pi) == 0 ? pi.start_ip : 0;
        if ((w->rc = unw_step(&c)) <= 0)
            break;
    }
}

static void victim_on_sigtrap(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv, redirected = *uc;
    g *gp = getg();
    void *saved = ctx_save(uc, si, stack_guard_end(gp));
    if (saved) {
        ctx_redirect(&redirected, saved, asyncPreempt);
        victim_walk_from(&victim_walks[0], &redirected);
        /* The same stack once asyncPreempt has returned. */
#if defined(__x86_64__)
        redirected.uc_mcontext.gregs[REG_RSP] += 8;
        redirected.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)asyncPreemptReturn;
#else
        redirected.uc_mcontext.pc = (uintptr_t)asyncPreemptReturn;
#endif
        victim_walk_from(&victim_walks[1], &redirected);
    }
#if defined(__aarch64__)
    uc->uc_mcontext.pc += 4;
#endif
}

static void victim_g(void *arg)
{
    preempt_victim();
    gort_waitgroup_done(arg);
}

static void victim_body(void *arg)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 1);
    gort_go(victim_g, &wg);
    gort_waitgroup_wait(&wg);
}

/* The walk w: asyncPreempt's frame (if from_entry), asyncPreemptReturn's,
 * preempt_victim's, victim_g's, ... gostart's, and a clean end. */
static void victim_check(const struct victim_walk *w, bool from_entry)
{
    unw_proc_info_t pi;
    assert_int_equal(unw_get_proc_info_by_ip(unw_local_addr_space,
                                             (unw_word_t)asyncPreemptReturn, &pi, NULL), 0);
    unw_word_t ret_start = pi.start_ip;  /* the FDE's start: the nop before the label */
    int i = 0;
    if (from_entry)
        assert_int_equal(w->start[i++], (unw_word_t)asyncPreempt);
    assert_int_equal(w->start[i++], ret_start);
    assert_int_equal(w->start[i++], (unw_word_t)preempt_victim);
    assert_int_equal(w->start[i++], (unw_word_t)victim_g);
    assert_true(w->n > i);
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->start[w->n - 1], (unw_word_t)gostart);
}

static void test_unwind_from_async_preempt_entry(void **st)
{
    memset(victim_walks, 0, sizeof victim_walks);
    atomic_store(&victim_trapped, 0);
    struct sigaction sa = { .sa_sigaction = victim_on_sigtrap,
                            .sa_flags = SA_SIGINFO | SA_ONSTACK }, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGTRAP, &sa, &old), 0);
    run_in_gort(victim_body, NULL, 1);
    sigaction(SIGTRAP, &old, NULL);
    assert_int_equal(atomic_load(&victim_trapped), 1);
    for (int k = 0; k < 2; k++) {
        print_message("walk from %s: %d frames, unw_step %d\n",
                      k ? "asyncPreemptReturn" : "asyncPreempt", victim_walks[k].n,
                      victim_walks[k].rc);
        victim_check(&victim_walks[k], k == 0);
    }
}

/* ---- Dead Gs recycled through the global stack of batches -----------------
 * Gs freed on one P are reused on another (a P's list goes to the global
 * one as a batch when it fills), a destroyed P's list goes there too
 * (GOMAXPROCS 2 -> 1 -> 2), and a thread without a P takes single Gs from
 * it. No G may be handed out twice: every round's goroutines, all alive at
 * once, must run on distinct Gs. */
enum { RECYCLE_ROUNDS = 40, RECYCLE_N = 300 };

struct recycle {
    gort_chan *gate;
    gort_waitgroup wg;
    atomic_int next, stored;       /* slots taken; slots written (published) */
    void *gs[RECYCLE_N + 1];
};

static void recycle_worker(void *arg)
{
    struct recycle *r = arg;
    r->gs[atomic_fetch_add(&r->next, 1)] = getg();
    atomic_fetch_add(&r->stored, 1);
    gort_chan_recv(r->gate, NULL);
    gort_waitgroup_done(&r->wg);
}

static void *recycle_foreign(void *arg)
{
    gort_go(recycle_worker, arg);
    return NULL;
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void gfree_recycled_once_body(void *arg)
{
    for (int round = 0; round < scaled(RECYCLE_ROUNDS); round++) {
        struct recycle r = { .gate = gort_chan_make(0, 0), .wg = GORT_WAITGROUP_INIT };
        gort_waitgroup_add(&r.wg, RECYCLE_N + 1);
        for (int i = 0; i < RECYCLE_N; i++)
            gort_go(recycle_worker, &r);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, recycle_foreign, &r), 0);
        pthread_join(t, NULL);
        while (atomic_load(&r.stored) < RECYCLE_N + 1)
            gort_yield();
        qsort(r.gs, RECYCLE_N + 1, sizeof r.gs[0], ptr_cmp);
        for (int i = 1; i <= RECYCLE_N; i++)
            assert_ptr_not_equal(r.gs[i], r.gs[i - 1]);
        gort_chan_close(r.gate);
        gort_waitgroup_wait(&r.wg);
        if (round % 4 == 3) {
            gort_gomaxprocs(1);
            gort_gomaxprocs(2);
        }
    }
}

static void test_gfree_recycled_once(void **st) { run_in_gort(gfree_recycled_once_body, NULL, 2); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join_100k_1p),
        cmocka_unit_test(test_spawn_join_100k_2p),
        cmocka_unit_test(test_park_100k_1p),
        cmocka_unit_test(test_park_100k_2p),
        cmocka_unit_test(test_runq_order_1p),
        cmocka_unit_test(test_runq_overflow_1p),
        cmocka_unit_test(test_runq_overflow_2p),
        cmocka_unit_test(test_steal_2p),
        cmocka_unit_test(test_runnext_stolen_2p),
        cmocka_unit_test(test_errno_1p),
        cmocka_unit_test(test_errno_2p),
        cmocka_unit_test(test_foreign_thread_spawn_1p),
        cmocka_unit_test(test_foreign_thread_spawn_2p),
        cmocka_unit_test(test_foreign_spawn_idle_runtime),
        cmocka_unit_test(test_gomaxprocs_change),
        cmocka_unit_test(test_concurrent_stop_the_world_1p),
        cmocka_unit_test(test_concurrent_stop_the_world_2p),
        cmocka_unit_test(test_lock_os_thread_1p),
        cmocka_unit_test(test_lock_os_thread_2p),
        cmocka_unit_test(test_goexit),
        cmocka_unit_test(test_park_refused_1p),
        cmocka_unit_test(test_park_refused_2p),
        cmocka_unit_test(test_direct_switch_fairness_1p),
        cmocka_unit_test(test_direct_switch_fairness_2p),
        cmocka_unit_test(test_unwind_info_in_gswitch_1p),
        cmocka_unit_test(test_unwind_info_in_gswitch_2p),
        cmocka_unit_test(test_unwind_info_at_every_gswitch_insn_1p),
        cmocka_unit_test(test_unwind_info_at_every_gswitch_insn_2p),
        cmocka_unit_test(test_unwind_from_async_preempt_entry),
        cmocka_unit_test(test_gfree_recycled_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
