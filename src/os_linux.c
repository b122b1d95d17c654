/*
 * os_linux.c — the thin layer between the runtime and Linux (Go: os_linux.go,
 * mem_linux.go).
 *
 * Everything that names a system call lives here so the rest of the runtime
 * stays portable C: futexes for sleeping and waking threads, the monotonic
 * clock, CPU count, and the four memory verbs the allocator and the stack code
 * speak (Go's sysReserve / sysAlloc / sysUnused / sysFree).
 */
#include "runtime.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int32_t getproccount(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

int gettid_(void) { return (int)syscall(SYS_gettid); }
void osyield(void) { sched_yield(); }
void usleep_(uint32_t us) { usleep(us); }

int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t walltime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps while *addr == val, for at most ns (ns < 0: no limit). Returns 0 when
 * woken or when *addr changed, -1 on timeout. Spurious wakeups are allowed:
 * callers re-check their condition. */
int futexsleep(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
    return (r == -1 && errno == ETIMEDOUT) ? -1 : 0;
}

void futexwakeup(_Atomic uint32_t *addr, uint32_t cnt)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, cnt, NULL, NULL, 0);
}

/* Address space without commitment: pages cost nothing until touched. */
void *sysReserve(size_t n)
{
    void *v = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return v == MAP_FAILED ? NULL : v;
}

/* Zeroed memory from the OS, accounted in *stat (may be NULL). */
void *sysAlloc(size_t n, uint64_t *stat)
{
    void *v = sysReserve(n);
    if (v && stat)
        __atomic_fetch_add(stat, n, __ATOMIC_RELAXED);
    return v;
}

void sysFree(void *v, size_t n, uint64_t *stat)
{
    munmap(v, n);
    if (stat)
        __atomic_fetch_sub(stat, n, __ATOMIC_RELAXED);
}

/* The pages' contents are no longer needed: RSS drops at once and the next
 * touch reads zeros (MADV_DONTNEED semantics on private anonymous memory). */
void sysUnused(void *v, size_t n)
{
    madvise(v, n, MADV_DONTNEED);
}
