/*
 * bench/syscall.c — blocking C calls wrapped for the scheduler; Go twin:
 * bench/go/syscall.go.
 *
 * What it measures (one `BENCH <workload> <ns-per-op>` line each):
 *
 *   syscall      2 Ps, 2 goroutines, each doing 100 000 pipe round trips on
 *                its own pipe: write(1 byte) then read(1 byte), each call
 *                wrapped in gort_syscall_enter/exit (GORT_BLOCKING). An op is
 *                one round trip: two system calls and two enter/exit pairs.
 *                The calls never block (the byte is there), so this is the
 *                price of the bracket around a short call, and of sysmon not
 *                getting in its way.
 *   syscall_1p   the same with 1 P: the two goroutines share it.
 *
 * Why it is a fair comparison: the Go twin makes the same calls through
 * syscall.Write and syscall.Read on a syscall.Pipe, which go through Go's
 * entersyscall/exitsyscall as every system call does, with the same counts
 * and GOMAXPROCS. BENCH_SCALE (a factor, default 1) scales the counts on
 * both sides alike. Arguments name the workloads to run (all by default).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gort.h"
#include "bench.h"

#define ROUND_TRIPS 100000   /* per goroutine */
#define GOROUTINES  2

static _Atomic int64_t sink;

struct syscall_run {
    int64_t n;               /* round trips per goroutine */
    gort_waitgroup wg;
};

static void roundtripper(void *arg)
{
    struct syscall_run *run = arg;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    char c = 'x';
    int64_t got = 0;
    for (int64_t i = 0; i < run->n; i++) {
        GORT_BLOCKING(write(fds[1], &c, 1));
        got += GORT_BLOCKING(read(fds[0], &c, 1));
    }
    close(fds[0]);
    close(fds[1]);
    atomic_fetch_add(&sink, got);
    gort_waitgroup_done(&run->wg);
}

static void bench_syscall(const char *name, int procs)
{
    if (!wanted(name))
        return;
    struct syscall_run run = { .n = scaled(ROUND_TRIPS), .wg = GORT_WAITGROUP_INIT };
    gort_gomaxprocs(procs);
    int64_t start = gort_nanotime();
    gort_waitgroup_add(&run.wg, GOROUTINES);
    for (int i = 0; i < GOROUTINES; i++)
        gort_go(roundtripper, &run);
    gort_waitgroup_wait(&run.wg);
    report(name, gort_nanotime() - start, GOROUTINES * run.n);
}

static void bench_main(void *arg)
{
    (void)arg;
    bench_syscall("syscall", 2);
    bench_syscall("syscall_1p", 1);
    if (atomic_load(&sink) == 0)
        printf("sink 0\n");
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    return gort_main(bench_main, NULL);
}
