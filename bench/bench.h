/*
 * bench.h — what every C bench shares with its Go twin (bench/go/bench.go
 * holds the same three helpers in Go):
 *
 *   scaled()   applies BENCH_SCALE, which scales each iteration count on
 *              both sides alike;
 *   sized()    a data-set size (a map of 1 M keys): it stays as it is,
 *              except in the smoke run (GORT_BENCH_QUICK=1), where it
 *              shrinks by BENCH_SCALE like a count;
 *   report()   prints the `BENCH <workload> <ns-per-op>` line run.sh reads;
 *   now_ns()   the monotonic clock of the benches that do not link gort;
 *   vmhwm_kib() the peak resident set, for the collector benches;
 *   cpu_ns()   the process's CPU time, every thread (the _cpu rows);
 *   wanted()   the workload filter: `bench/chan pingpong mpmc` runs only
 *              those two workloads (for profiling one of them); no
 *              arguments, as run.sh calls every bench, runs them all.
 *
 * Header-only: each bench is a single translation unit, so the file-scope
 * state below exists once per executable.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Applies BENCH_SCALE to an iteration count (at least 1). */
static inline int64_t scaled(int64_t n)
{
    const char *s = getenv("BENCH_SCALE");
    double f = s ? strtod(s, NULL) : 0;
    if (f <= 0)
        return n;
    int64_t r = (int64_t)((double)n * f);
    return r > 0 ? r : 1;
}

/* Applies BENCH_SCALE to a data-set size only in a smoke run. */
static inline int64_t sized(int64_t n)
{
    const char *q = getenv("GORT_BENCH_QUICK");
    return q && strcmp(q, "0") != 0 && *q ? scaled(n) : n;
}

/*
 * Prints one result line. Takes the elapsed time rather than reading a clock
 * itself: the gort benches time with gort_nanotime, the comparison
 * allocators (which do not link gort) with clock_gettime.
 */
static inline void report(const char *name, int64_t elapsed_ns, int64_t ops)
{
    printf("BENCH %s %.2f\n", name, (double)elapsed_ns / (double)ops);
    fflush(stdout);   /* a later crash or timeout must not lose finished lines */
}

/* CLOCK_MONOTONIC in ns, for the comparison columns that do not link gort
 * (gort's own benches time with gort_nanotime). */
static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The peak resident set (VmHWM), in KiB. */
static inline long vmhwm_kib(void)
{
    char line[256];
    long v = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* The CPU time (user + system, every thread) this process has used, in ns. */
static inline int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* The command line, kept by bench_args() for wanted(). */
static int bench_argc;
static char **bench_argv;

/* Records main's arguments; call it first thing in main. */
static inline void bench_args(int argc, char **argv)
{
    bench_argc = argc;
    bench_argv = argv;
}

/* Whether to run workload name: all run when the command line names none. */
static inline bool wanted(const char *name)
{
    if (bench_argc < 2)
        return true;
    for (int i = 1; i < bench_argc; i++)
        if (strcmp(bench_argv[i], name) == 0)
            return true;
    return false;
}

#endif
