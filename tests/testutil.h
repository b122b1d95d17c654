/*
 * testutil.h — helpers shared by gort's cmocka tests.
 *
 * run_in_gort(): runs a test body as a goroutine with a given GOMAXPROCS and
 *   returns when it is done (the runtime is process-wide and stays up).
 * run_child(): runs a scenario in a forked child and captures its exit status
 *   and stderr, for the tests that expect a panic or fatal error; a child
 *   that outlives RUN_CHILD_DEADLINE is killed and so reported. The parent
 *   must not have started the runtime: fork keeps only the calling thread, so
 *   a child of a running runtime would inherit Ps held by threads it lacks.
 *   (exec is no alternative: under qemu-user a guest cannot exec itself.)
 * scaled(): shrinks loop counts under emulation (GORT_TEST_QEMU=1) and the
 *   sanitizers, which run 10-50x slower.
 * BOTH(name) defines test_<name>_1p and test_<name>_2p, running
 *   <name>_body with 1 and 2 Ps; BOTH_TESTS(name) lists the pair for
 *   cmocka_run_group_tests.
 * run_main_child(): run_child of a whole program: body as the main
 *   goroutine, with procs Ps (0: the default) and a 20 s alarm (a hang
 *   fails the test, not the suite).
 * resident_bytes(): the process's RSS, from /proc/self/statm.
 * send_int()/recv_int(): one int over a channel (recv_int asserts the
 *   channel was not closed).
 * GORT_TEST_FILTER=pattern runs only the cmocka tests whose names match it
 *   (cmocka's wildcards), e.g. to loop one test under qemu.
 * GORT_TEST_WATCHDOG=seconds: a test binary still running then gets SIGQUIT
 *   (gort's goroutine dump and exit 2, if the world can still stop).
 */
#ifndef GORT_TESTUTIL_H
#define GORT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gort.h"

/* Before main: the test filter; stdout line-buffered, so that the log of
 * a test killed by ctest names the test that was running (cmocka prints
 * with printf, and a pipe's stdout is otherwise flushed only at fork);
 * and the watchdog: GORT_TEST_WATCHDOG seconds after the start (CMake sets
 * it below ctest's own timeout), SIGQUIT, so that a hung test binary
 * prints gort's goroutine dump and exits 2 instead of being killed
 * silently. The dump stops the world: a hang that keeps a thread from
 * stopping hangs the dump too, after its first line. Before the runtime
 * started, SIGQUIT's default action ends the binary. A POSIX timer, not
 * alarm(): tests' own alarms do not reset it, and forked children do not
 * inherit it. */
__attribute__((constructor)) static void test_start(void)
{
    const char *f = getenv("GORT_TEST_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *w = getenv("GORT_TEST_WATCHDOG");
    timer_t t;
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGQUIT };
    struct itimerspec at = { .it_value = { w ? atoi(w) : 0, 0 } };
    if (at.it_value.tv_sec > 0 && timer_create(CLOCK_MONOTONIC, &ev, &t) == 0)
        timer_settime(t, 0, &at, NULL);
}

#ifndef nelem
#define nelem(a)    (sizeof(a) / sizeof((a)[0]))
#endif

struct test_call { void (*fn)(void *); void *arg; };

static void test_trampoline(void *v)
{
    struct test_call *c = v;
    c->fn(c->arg);
}

/* Runs fn(arg) as the main goroutine with procs Ps (restoring nothing: each
 * caller sets what it needs). */
static inline void run_in_gort(void (*fn)(void *), void *arg, int procs)
{
    struct test_call c = { fn, arg };
    gort_gomaxprocs(procs);
    assert_int_equal(gort_main(test_trampoline, &c), 0);
}

#define BOTH(name)                                                              \
    static void test_##name##_1p(void **st) { run_in_gort(name##_body, NULL, 1); } \
    static void test_##name##_2p(void **st) { run_in_gort(name##_body, NULL, 2); }
#define BOTH_TESTS(name) cmocka_unit_test(test_##name##_1p), cmocka_unit_test(test_##name##_2p)

static inline void send_int(gort_chan *c, int v) { gort_chan_send(c, &v); }

static inline int recv_int(gort_chan *c)
{
    int v = -1;
    assert_true(gort_chan_recv(c, &v));
    return v;
}

static inline int scaled(int n)
{
    const char *q = getenv("GORT_TEST_QEMU");
    int div = (q && *q == '1') ? 10 : 1;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    div *= 4;
#endif
    n = n / div > 0 ? n / div : 1;
#if defined(__SANITIZE_THREAD__)
    if (n > 2000)
        n = 2000;     /* TSan counts each goroutine (fiber) as a thread: 8128 at most */
#endif
    return n;
}

/* The process's resident set (RSS) in bytes, from /proc/self/statm. */
static inline long resident_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

typedef struct child_result {
    int  exit_status;          /* -1 if killed by a signal */
    int  signal;
    char err[16384];           /* the child's stderr, NUL-terminated */
} child_result;

/* Forks, runs fn(arg) in the child (which should not return), and collects
 * its stderr and exit status. A child still running after
 * RUN_CHILD_DEADLINE seconds is killed (SIGKILL, which even a wedged
 * emulator obeys) and the test sees it die of that signal, with what it
 * printed so far: children set their own alarms, and this is the second
 * line, so that the parent never waits for ctest's timeout. */
enum { RUN_CHILD_DEADLINE = 180 };

static inline child_result run_child(void (*fn)(void *), void *arg)
{
    child_result r;
    memset(&r, 0, sizeof r);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches fatal signals in tests; the child wants gort's own
         * handling, as a program linking gort would have. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k = 1;
    time_t deadline = time(NULL) + RUN_CHILD_DEADLINE;
    while (k > 0) {
        struct pollfd pfd = { fds[0], POLLIN, 0 };
        long left = (long)(deadline - time(NULL));
        int ready = left > 0 ? poll(&pfd, 1, (int)left * 1000) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            kill(pid, SIGKILL);
            n += (size_t)snprintf(r.err + n, sizeof r.err - n,
                                  "\n[run_child: killed after %d s]\n", RUN_CHILD_DEADLINE);
            break;
        }
        if ((k = read(fds[0], r.err + n, sizeof r.err - 1 - n)) > 0)
            n += (size_t)k;
    }
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r.exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return r;
}

struct main_child { void (*body)(void *); int procs; };

static void main_child(void *arg)
{
    struct main_child *c = arg;
    alarm(20);
    gort_gomaxprocs(c->procs);
    gort_main(c->body, NULL);
    _exit(0);
}

static inline child_result run_main_child(void (*body)(void *), int procs)
{
    struct main_child c = { body, procs };
    return run_child(main_child, &c);
}

/* Asserts that the child exited with status 2 and said `want` on stderr. */
#define assert_child_died_with(r, want) do {                              \
        if ((r).exit_status != 2 || !strstr((r).err, (want)))             \
            print_error("child status %d signal %d, stderr:\n%s\n",       \
                        (r).exit_status, (r).signal, (r).err);            \
        assert_int_equal((r).exit_status, 2);                             \
        assert_non_null(strstr((r).err, (want)));                         \
    } while (0)

#endif
