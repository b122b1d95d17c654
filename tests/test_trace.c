/*
 * test_trace.c — the execution trace (trace.c): Chrome trace-event JSON
 * that Perfetto loads. A known program runs under the trace (a ping-pong
 * over unbuffered channels, a collection, a wrapped syscall) and a small
 * Python check parses the file with json.load and counts what the trace
 * must hold: the two goroutines' creation, their runs on P lanes, their
 * blocks on "chan receive" or "chan send" (which side waits depends on
 * the timing) and their wakeups, the GC's phases, the syscall.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char check_py[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "ev = d['traceEvents']\n"
    "ids = [int(a) for a in sys.argv[2:]]\n"
    "def n(f): return sum(1 for e in ev if f(e))\n"
    "def args(e): return e.get('args', {})\n"
    "lanes = {e['args']['name'] for e in ev if e.get('name') == 'thread_name'}\n"
    "print('created', n(lambda e: e.get('name') == 'GoCreate' and args(e).get('goid') in ids))\n"
    "print('runs', n(lambda e: e.get('ph') == 'X' and args(e).get('goid') in ids and e['dur'] >= 0"
    " and e['tid'] >= 0))\n"
    "print('blocks', n(lambda e: e.get('name') == 'GoBlock' and args(e).get('goid') in ids"
    " and args(e).get('reason') in ('chan receive', 'chan send')))\n"
    "print('unblocks', n(lambda e: e.get('name') == 'GoUnblock' and args(e).get('goid') in ids))\n"
    "print('gcmark', n(lambda e: e.get('name') == 'GC mark' and e['ph'] in 'BE'))\n"
    "print('syscalls', n(lambda e: e.get('name') in ('GoSysCall', 'GoSysExit')))\n"
    "print('lanes', int('P0' in lanes and 'GC' in lanes))\n";

struct counts { long created, runs, blocks, unblocks, gcmark, syscalls, lanes; };

/* Parses path with Python's json module and counts events of goroutines ids. */
static bool check_trace(const char *path, const uint64_t *ids, int nids, struct counts *c)
{
    char script[256], cmd[1024];
    snprintf(script, sizeof script, "%s/gort_trace_check_%d.py", P_tmpdir, (int)getpid());
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(check_py, f);
    fclose(f);
    int k = snprintf(cmd, sizeof cmd, "python3 %s %s", script, path);
    for (int i = 0; i < nids; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %llu", (unsigned long long)ids[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>&1");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    memset(c, 0, sizeof *c);
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "created %ld", &c->created);
        sscanf(line, "runs %ld", &c->runs);
        sscanf(line, "blocks %ld", &c->blocks);
        sscanf(line, "unblocks %ld", &c->unblocks);
        sscanf(line, "gcmark %ld", &c->gcmark);
        sscanf(line, "syscalls %ld", &c->syscalls);
        sscanf(line, "lanes %ld", &c->lanes);
        if (strstr(line, "Error") || strstr(line, "Traceback"))
            print_error("%s", line);
    }
    int st = pclose(p);
    unlink(script);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool have_python(void) { return system("python3 -c pass >/dev/null 2>&1") == 0; }

enum { ROUNDS = 200 };

struct pingpong { gort_chan *in, *out; gort_waitgroup *wg; };

static void player(void *arg)
{
    struct pingpong *pp = arg;
    int v;
    while (gort_chan_recv(pp->in, &v) && v < ROUNDS) {
        v++;
        gort_chan_send(pp->out, &v);
    }
    gort_chan_close(pp->out);
    gort_waitgroup_done(pp->wg);
}

static void traced_work(uint64_t ids[2])
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_chan *a = gort_chan_make(sizeof(int), 0), *b = gort_chan_make(sizeof(int), 0);
    struct pingpong pa = { a, b, &wg }, pb = { b, a, &wg };
    gort_waitgroup_add(&wg, 2);
    ids[0] = gort_go(player, &pa);
    ids[1] = gort_go(player, &pb);
    int v = 0;
    gort_chan_send(a, &v);
    gort_waitgroup_wait(&wg);
    gort_gc();
    gort_syscall_enter();
    usleep(1000);
    gort_syscall_exit();
}

static void assert_counts(const struct counts *c)
{
    print_message("created %ld runs %ld blocks %ld unblocks %ld gcmark %ld syscalls %ld\n",
                  c->created, c->runs, c->blocks, c->unblocks, c->gcmark, c->syscalls);
    assert_int_equal(c->created, 2);
    assert_true(c->runs >= ROUNDS / 2);      /* each blocks on nearly every round */
    assert_true(c->blocks >= ROUNDS / 2);
    assert_true(c->unblocks >= ROUNDS / 2);
    assert_int_equal(c->gcmark, 2);           /* one B, one E */
    assert_int_equal(c->syscalls, 2);
    assert_int_equal(c->lanes, 1);
}

static void pingpong_body(void *arg)
{
    char path[256];
    snprintf(path, sizeof path, "%s/gort_trace_%d.json", P_tmpdir, (int)getpid());
    assert_int_equal(gort_trace_start(path), 0);
    assert_int_equal(gort_trace_start(path), -EBUSY);
    uint64_t ids[2];
    traced_work(ids);
    assert_int_equal(gort_trace_stop(), 0);
    assert_int_equal(gort_trace_stop(), -EINVAL);
    if (!have_python()) {
        print_message("no python3: %s not parsed\n", path);
        return;
    }
    struct counts c;
    assert_true(check_trace(path, ids, 2, &c));
    assert_counts(&c);
    unlink(path);
}

static void test_trace_pingpong_1p(void **st) { run_in_gort(pingpong_body, NULL, 1); }
static void test_trace_pingpong_2p(void **st) { run_in_gort(pingpong_body, NULL, 2); }

/* GORT_TRACE traces the whole run, from before the main goroutine. */
static char envpath[256];
static uint64_t envids[2];
static int envfd[2];

static void env_main(void *arg)
{
    traced_work(envids);
    assert_int_equal(write(envfd[1], envids, sizeof envids), (ssize_t)sizeof envids);
}

static void env_child(void *arg)
{
    setenv("GORT_TRACE", envpath, 1);
    gort_main(env_main, NULL);
    _exit(0);
}

static void test_trace_env(void **st)
{
    snprintf(envpath, sizeof envpath, "%s/gort_trace_env_%d.json", P_tmpdir, (int)getpid());
    assert_int_equal(pipe(envfd), 0);
    child_result r = run_child(env_child, NULL);
    if (r.exit_status != 0)
        print_error("child: %s\n", r.err);
    assert_int_equal(r.exit_status, 0);
    assert_int_equal(read(envfd[0], envids, sizeof envids), (ssize_t)sizeof envids);
    close(envfd[0]);
    close(envfd[1]);
    if (have_python()) {
        struct counts c;
        assert_true(check_trace(envpath, envids, 2, &c));
        assert_counts(&c);
    }
    unlink(envpath);
}

static void bad_path_body(void *arg)
{
    assert_int_equal(gort_trace_start("/nonexistent-dir/trace.json"), -ENOENT);
}

static void test_trace_bad_path(void **st) { run_in_gort(bad_path_body, NULL, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* children first: the parent must not have started the runtime */
        cmocka_unit_test(test_trace_env),
        cmocka_unit_test(test_trace_bad_path),
        cmocka_unit_test(test_trace_pingpong_1p),
        cmocka_unit_test(test_trace_pingpong_2p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
