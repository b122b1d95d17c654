/*
 * bench/gcwp.c — what kernel write tracking costs (src/mgcwp.c: userfaultfd
 * asynchronous write-protect + PAGEMAP_SCAN), on a 256 MiB region populated
 * beforehand, the size of a large heap. No Go twin: Go's compiler emits
 * write barriers and tracks no pages; these rows feed docs/gc.md's "Page
 * tracking" table, not a ratio.
 *
 *   wp_first_write      ns per first write to a protected page (a fault the
 *                       kernel resolves itself), 16 384 pages spread over the region
 *   wp_rewrite          ns per write to the same pages again (no fault): the
 *                       baseline to subtract
 *   wp_arm_all          ns per gcwp_arm when every page needs protecting (the
 *                       first cycle, or all of the heap written since)
 *   wp_arm_none         ns per gcwp_arm when nothing was written since
 *   wp_collect_clean    ns per gcwp_collect with no page written
 *   wp_collect_few      ns per gcwp_collect with 100 pages written
 *   wp_collect_many     ns per gcwp_collect with 16 384 pages (a quarter) written
 *   wp_collect_all      ns per gcwp_collect with all 65 536 pages written
 *   wp_disarm           ns per gcwp_disarm (unprotects the whole populated region)
 *
 * Only the call named is timed; the writes that set each collect up are not.
 * Times are the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): all
 * the work is the thread's own, in the kernel (the ioctl's walk, the fault),
 * so CPU time is the cost, and unlike wall time it does not grow with the
 * load of a shared machine. Each row is the median of several timings (of
 * one call, or of a batch of 256 writes).
 */
#include "bench.h"
#include "mgcwp.h"
#include "runtime.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static size_t regionBytes = 256u << 20;
static char *region;
static size_t ps, npages;
static uint64_t seed = 88172645463325252ull;

static size_t randpage(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (size_t)(seed % npages);
}

static int64_t cputime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reports the median of n timings, each of ops operations. */
static void report_median(const char *name, int64_t *t, int n, int64_t ops)
{
    qsort(t, (size_t)n, sizeof *t, cmp64);
    if (wanted(name))
        report(name, t[n / 2], ops);
}

static void nop(uintptr_t addr, size_t len, void *arg)
{
    (void)addr, (void)len, (void)arg;
}

/* Writes n pages: random ones, or with n == npages every page. */
static void dirty(size_t n)
{
    for (size_t i = 0; i < n; i++)
        region[(n == npages ? i : randpage()) * ps] ^= 1;
}

enum { maxRounds = 64, batch = 256 };

/* ns per collect with n pages written before each. */
static void collects(const char *name, size_t n, int rounds)
{
    int64_t t[maxRounds];
    gcwp_collect(nop, NULL);           /* start from nothing written */
    for (int i = 0; i < rounds; i++) {
        dirty(n);
        int64_t t0 = cputime();
        gcwp_collect(nop, NULL);
        t[i] = cputime() - t0;
    }
    report_median(name, t, rounds, 1);
}

/* Writes to 16 384 protected pages spread over the region, by batches of
 * 256, then the same pages again. */
static void first_writes(void)
{
    enum { n = 16384, nb = n / batch };
    size_t stride = npages / n;
    int64_t first[nb], again[nb];
    gcwp_collect(nop, NULL);
    for (int pass = 0; pass < 2; pass++)
        for (size_t b = 0; b < nb; b++) {
            int64_t t0 = cputime();
            for (size_t i = b * batch; i < (b + 1) * batch; i++)
                region[i * stride * ps] = (char)(2 + pass);
            (pass ? again : first)[b] = cputime() - t0;
        }
    report_median("wp_first_write", first, nb, batch);
    report_median("wp_rewrite", again, nb, batch);
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    if (!gcwp_init()) {
        fprintf(stderr, "gcwp: kernel write tracking unavailable: %s\n", gcwp_why());
        return 0;
    }
    ps = (size_t)sysconf(_SC_PAGESIZE);
    regionBytes = (size_t)scaled((int64_t)regionBytes) & ~(ps - 1);
    npages = regionBytes / ps;
    region = mmap(NULL, regionBytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
        return 1;
    memset(region, 1, regionBytes);
    gcwp_track(region, regionBytes);

    enum { rounds = 9 };
    int64_t armAll[rounds], armNone[rounds], disarm[rounds];
    for (int r = 0; r < rounds; r++) {
        int64_t t = cputime();
        gcwp_arm();                    /* after disarm every page is unprotected */
        armAll[r] = cputime() - t;
        t = cputime();
        gcwp_arm();
        armNone[r] = cputime() - t;
        if (r == 0) {
            first_writes();
            collects("wp_collect_clean", 0, 31);
            collects("wp_collect_few", 100, 31);
            collects("wp_collect_many", npages / 4, 9);
            collects("wp_collect_all", npages, 5);
        }
        gcwp_collect(nop, NULL);       /* mark termination: all protected */
        t = cputime();
        gcwp_disarm();
        disarm[r] = cputime() - t;
    }
    report_median("wp_arm_all", armAll, rounds, 1);
    report_median("wp_arm_none", armNone, rounds, 1);
    report_median("wp_disarm", disarm, rounds, 1);
    return 0;
}
