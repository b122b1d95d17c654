/*
 * cpu_profile.c — find where a program spends its CPU, with Go's tools.
 *
 * gort samples the CPU as Go does: 100 times per second of CPU time each
 * thread uses, the kernel interrupts that thread (SIGPROF from a
 * per-thread timer), and gort records the stack it was running. Stop the
 * profile and it is written in pprof's format, so Go's own viewer reads it:
 *
 *     ./cpu_profile cpu.pb.gz
 *     go tool pprof -top cpu.pb.gz          # functions by CPU spent in them
 *     go tool pprof -http=:8080 cpu.pb.gz   # flame graph in a browser
 *
 * Here four goroutines share the work: each checks numbers for primality
 * by trial division (count_primes, the hot function, where nearly every
 * sample lands) and sends its count on a channel. A program you cannot
 * change gets the same with GORT_CPUPROFILE=cpu.pb.gz in its environment.
 * (docs/profiling.md explains the profiles and how to read them.)
 */
#include <gort.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WORKERS = 4 };

static const char *path = "cpu.pb.gz";
static uint64_t limit = 300000;

static bool is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

/* The hot function: noinline, so the profile shows it by name rather than
 * folded into its caller. */
__attribute__((noinline)) static uint64_t count_primes(uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    for (uint64_t i = from; i < to; i++)
        n += is_prime(i);
    return n;
}

struct job { uint64_t from, to; gort_chan *out; };

static void worker(void *arg)
{
    struct job *j = arg;
    uint64_t n = count_primes(j->from, j->to);
    gort_chan_send(j->out, &n);
}

static void main_goroutine(void *arg)
{
    /* From here until gort_pprof_cpu_stop, every thread running goroutines
     * is sampled. */
    int rc = gort_pprof_cpu_start(path);
    if (rc < 0) {
        fprintf(stderr, "cpu_profile: cannot profile to %s: %s\n", path, strerror(-rc));
        return;
    }
    gort_chan *results = gort_chan_make(sizeof(uint64_t), 0);
    struct job jobs[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        jobs[i] = (struct job){ limit * i / WORKERS, limit * (i + 1) / WORKERS, results };
        gort_go(worker, &jobs[i]);
    }
    uint64_t total = 0, n;
    for (int i = 0; i < WORKERS; i++) {
        gort_chan_recv(results, &n);
        total += n;
    }
    /* Writes the profile: gzipped profile.proto, as Go's pprof writes it. */
    rc = gort_pprof_cpu_stop();
    printf("%llu primes below %llu\n", (unsigned long long)total, (unsigned long long)limit);
    if (rc < 0)
        fprintf(stderr, "cpu_profile: writing %s: %s\n", path, strerror(-rc));
    else
        printf("CPU profile written to %s: go tool pprof -top %s\n", path, path);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        path = argv[1];
    if (argc > 2)
        limit = strtoull(argv[2], NULL, 10);
    return gort_main(main_goroutine, NULL);
}
