/*
 * os_linux.c — the thin layer between the runtime and Linux (Go: os_linux.go,
 * mem_linux.go).
 *
 * Everything that names a system call lives here so the rest of the runtime
 * stays portable C: futexes for sleeping and waking threads, the clocks,
 * sleeping, CPU count, the thread list, signal handlers and stacks, and the
 * memory verbs the allocator and the stack code speak (Go's sysReserve /
 * sysAlloc / sysUnused / sysFree / sysFault, plus guard pages). Each wrapper
 * is one call; failures come back as a negative errno, never in errno.
 */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

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

/* Sleeps ns, resuming after signal handlers. */
void nanosleep_(int64_t ns)
{
    struct timespec ts = { ns / 1000000000, ns % 1000000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Calls f(tid, arg) for each thread of the process; false if it cannot tell. */
bool eachtid(void (*f)(int tid, void *arg), void *arg)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            f(atoi(e->d_name), arg);
    closedir(d);
    return true;
}

int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time the calling thread has used (the GC's fractional worker paces itself by it). */
int64_t threadcputime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t walltime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The futex wait itself: 0 when woken or *addr changed, -1 on timeout. */
int futexsleepNoGC(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
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

/* Sleeps while *addr == val, for at most ns (ns < 0: no limit). Returns 0 when
 * woken or when *addr changed, -1 on timeout. Spurious wakeups are allowed:
 * callers re-check their condition. Asleep, the thread counts as stopped
 * for the GC, which scans it from this frame (its registers spilled here). */
int futexsleep(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    __builtin_unwind_init();
    uintptr_t sp = getsp();            /* below the spilled registers */
    gcBlockingEnter(sp);
    int r = futexsleepNoGC(addr, val, ns);
    gcBlockingExit();
    return r;
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

static int syserr(int r) { return r == 0 ? 0 : -errno; }

/* Any touch of the pages faults (Go's sysFault). Costs a VMA split. */
int sysFault(void *v, size_t n)
{
    return syserr(mprotect(v, n, PROT_NONE));
}

/* Linux 6.13+ guard pages: any touch faults, without splitting the VMA. */
int sysGuard(void *v, size_t n)
{
    return syserr(madvise(v, n, MADV_GUARD_INSTALL));
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PIDFD_SELF_THREAD_GROUP (-10001)   /* "this process", no fd (recent kernels) */
#define IOV_BATCH 256                      /* ranges per call (UIO_MAXIOV is 1024) */

/* One advice over n ranges of len bytes, stride apart from v, in one
 * process_madvise(2) call per 256 ranges instead of n madvise calls.
 * Recent kernels (6.18 here) take guard and populate advice for the
 * calling process this way; older ones refuse, and the caller falls back.
 * 0 or -errno. */
static int madvise_strided(uintptr_t v, size_t len, size_t stride, int n, int advice)
{
    struct iovec iov[IOV_BATCH];
    while (n > 0) {
        int k = n < IOV_BATCH ? n : IOV_BATCH;
        for (int i = 0; i < k; i++, v += stride)
            iov[i] = (struct iovec){ (void *)v, len };
        long done = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, iov, (size_t)k, advice, 0);
        if (done != (long)(len * (size_t)k))
            return done < 0 ? -errno : -EAGAIN;
        n -= k;
    }
    return 0;
}

/* sysGuard for n ranges at once (see madvise_strided). */
int sysGuardStrided(void *v, size_t len, size_t stride, int n)
{
    return madvise_strided((uintptr_t)v, len, stride, n, MADV_GUARD_INSTALL);
}

/* Commits n ranges at once, as if each had been written to: one call
 * instead of a page fault per range. Best effort: a range it leaves out is
 * committed by its first touch instead. */
void sysPopulateStrided(void *v, size_t len, size_t stride, int n)
{
    madvise_strided((uintptr_t)v, len, stride, n, MADV_POPULATE_WRITE);
}

/* Does sysGuard really guard? Some environments (qemu-user, old kernels
 * with a seccomp shim) accept the advice and install nothing. A write()
 * *from* a guarded page must fail with EFAULT rather than fault. */
bool sysGuardWorks(size_t pagesize)
{
    bool ok = false;
    int fds[2];
    void *v = sysReserve(pagesize);
    if (!v || pipe(fds) != 0)
        return false;
    if (sysGuard(v, pagesize) == 0)
        ok = write(fds[1], v, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
    sysFree(v, pagesize, NULL);
    return ok;
}

/* How many mappings (VMAs) a process may have: vm.max_map_count. */
int64_t sysMaxMappings(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    return max;
}

/* ---- Kernel write tracking (mgcwp.c) ------------------------------------
 * userfaultfd's asynchronous write-protect and the PAGEMAP_SCAN ioctl are
 * Linux 6.7+; Debian bookworm's headers (6.1) lack them, so the values of the
 * kernel's UAPI (include/uapi/linux/userfaultfd.h and fs.h) are given here.
 * This section's headers are included here, with it. */
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef PAGEMAP_SCAN
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WRITTEN       (1 << 1)
#endif
_Static_assert(sizeof(pageRegion) == 24, "pageRegion is the kernel's struct page_region");

/* A userfaultfd for asynchronous write-protection of this process's own
 * memory: user-mode faults only (so no privilege is needed), no handler
 * thread (the kernel resolves each fault itself), and the never-populated
 * pages of a protected range protected too. The fd, or -errno: -ENOSYS
 * without userfaultfd (old or stripped kernel, qemu-user), -EPERM when a
 * sandbox refuses it, -EINVAL when the kernel lacks the features (< 6.7). */
int uffdOpenWPAsync(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return -errno;
    uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
    struct uffdio_api api = { .api = UFFD_API, .features = want };
    int err = 0;
    if (ioctl(fd, UFFDIO_API, &api) != 0)
        err = -errno;
    else if ((api.features & want) != want)
        err = -EINVAL;
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

/* Puts [base, base+len) under fd's write-protect mode (nothing is protected
 * yet). 0 or -errno. */
int uffdRegisterWP(int fd, uintptr_t base, size_t len)
{
    struct uffdio_register r = { .range = { base, len }, .mode = UFFDIO_REGISTER_MODE_WP };
    return syserr(ioctl(fd, UFFDIO_REGISTER, &r));
}

/* Write-protects (on) or unprotects [base, base+len) of a registered range.
 * 0 or -errno. */
int uffdWriteProtect(int fd, uintptr_t base, size_t len, bool on)
{
    struct uffdio_writeprotect w = { .range = { base, len }, .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
    return syserr(ioctl(fd, UFFDIO_WRITEPROTECT, &w));
}

/* /proc/self/pagemap, for pagemapScanWritten. The fd, or -errno. */
int pagemapOpen(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* One PAGEMAP_SCAN of [start, end) for pages written since they were last
 * protected; with reprotect, write-protecting each again as it is found
 * (atomically per page, under the page-table lock). Fills up to n regions of
 * vec (vec may be NULL with n 0: protect only) and sets *walkEnd to where
 * the walk stopped (end unless vec filled up). Every page must be under
 * asynchronous write-protect (else -EPERM). Regions filled, or -errno. */
long pagemapScanWritten(int fd, uintptr_t start, uintptr_t end, pageRegion *vec, size_t n,
                        bool reprotect, uintptr_t *walkEnd)
{
    struct pm_scan_arg a = {
        .size = sizeof a,
        .flags = (reprotect ? PM_SCAN_WP_MATCHING : 0) | PM_SCAN_CHECK_WPASYNC,
        .start = start, .end = end,
        .vec = (uintptr_t)vec, .vec_len = n,
        .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
    };
    long r = ioctl(fd, PAGEMAP_SCAN, &a);
    if (r < 0)
        return -errno;
    *walkEnd = a.walk_end;
    return r;
}

int sigaction_(int sig, const struct sigaction *sa, struct sigaction *old)
{
    return syserr(sigaction(sig, sa, old));
}

/* Sends sig to thread tid of this process (Go's signalM). 0 or -errno. */
int tgkill_(int tid, int sig)
{
    return syscall(SYS_tgkill, getpid(), tid, sig) == 0 ? 0 : -errno;
}

/* Opens /proc/self/task/<tid>/stat, kept open by sysmon to read a thread's
 * scheduling state cheaply (one pread). The fd, or -errno. */
int threadstat_open(int tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

void fdclose(int fd) { close(fd); }

/* membarrier(2), private expedited: when it returns, every running thread
 * of the process has executed a full memory barrier (the others will at
 * their next context switch). The process must register first: true if
 * the kernel (or emulator) supports it. */
bool membarrier_init(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void membarrier_(void)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        throw("runtime: membarrier failed (errno %d)", errno);
}

/* The state letter of a thread's stat file ('R' running or runnable, 'S'
 * sleeping, 'D' disk sleep, ...), or 0 if it cannot be read. The state is
 * the field after the command name, which is in parentheses and may itself
 * hold spaces and parentheses: look after the last ')'. */
char threadstate(int fd)
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *r = strrchr(buf, ')');
    return r && r[1] == ' ' ? r[2] : 0;
}

/* Sets the calling thread's alternate signal stack to [sp, sp+n); n == 0
 * disables it (Go's signalstack). */
int signalstack(void *sp, size_t n)
{
    stack_t ss = { .ss_sp = sp, .ss_size = n, .ss_flags = n ? 0 : SS_DISABLE };
    return syserr(sigaltstack(&ss, NULL));
}

/* The calling thread's alternate signal stack, if it has one. */
bool getsignalstack(uintptr_t *lo, uintptr_t *hi)
{
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE))
        return false;
    *lo = (uintptr_t)ss.ss_sp;
    *hi = (uintptr_t)ss.ss_sp + ss.ss_size;
    return true;
}

/* A timer on the calling thread's CPU clock that sends sig to this very
 * thread when it expires (Go's per-thread profiling timer: timer_create
 * with CLOCK_THREAD_CPUTIME_ID and SIGEV_THREAD_ID). 0 or -errno. */
int threadCPUTimerCreate(int sig, void **timer)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev._sigev_un._tid = gettid_();
    timer_t t;
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t) != 0)
        return -errno;
    *timer = (void *)t;
    return 0;
}

/* Arms timer to expire after first ns of the thread's CPU time, then
 * every interval ns; first == 0 disarms it. 0 or -errno. */
int threadCPUTimerSet(void *timer, int64_t first, int64_t interval)
{
    struct itimerspec its = {
        .it_value = { first / 1000000000, first % 1000000000 },
        .it_interval = { interval / 1000000000, interval % 1000000000 },
    };
    return syserr(timer_settime((timer_t)timer, 0, &its, NULL));
}
