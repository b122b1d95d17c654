/*
 * mgcwp.c — kernel write tracking for the concurrent collector: the MMU as
 * the card table (no Go file: Go's compiler emits write barriers, gort's C
 * compiler does not; the idea is Boehm, Demers and Shenker's "Mostly
 * parallel garbage collection", PLDI 1991, and Boehm GC's os_dep.c).
 *
 * A concurrent marker scans an object once. If the program later stores a
 * pointer to an unmarked object into an object already scanned, and drops
 * every other reference, the marker never sees it and the object is freed
 * while reachable. Go prevents that with a write barrier the compiler puts
 * on every pointer store. A C compiler puts none, so gort asks the kernel
 * which pages were written instead:
 *
 *   mark start (world stopped)   gcwp_arm: write-protect every tracked page
 *   concurrent mark              the program runs; the first write to each
 *                                protected page is noted by the kernel
 *   precleaning passes           gcwp_collect: which pages were written?
 *                                (and protect them again, in the same step);
 *                                the marker re-scans marked objects on them
 *   mark termination (stopped)   gcwp_collect_last (the written pages stay
 *                                writable until the next arm), re-scan
 *
 * Each pass re-scans only what was written during the previous one, so the
 * written set shrinks and the final pass, with the world stopped, is short.
 * Boehm's collector did this with mprotect and a SIGSEGV handler per first
 * write (or the soft-dirty bits of /proc): a signal per page, and a VMA split
 * per protected range. Linux 6.7 made it cheap:
 *
 *   - userfaultfd with UFFD_FEATURE_WP_ASYNC: a write to a protected page
 *     faults into the kernel, which clears the page's write-protect bit and
 *     lets the write proceed; no signal, no handler thread. The page is then
 *     "written" (PAGE_IS_WRITTEN) until protected again. UFFD_USER_MODE_ONLY
 *     makes the fd usable without privilege (vm.unprivileged_userfaultfd
 *     only restricts kernel-mode faults), and UFFD_FEATURE_WP_UNPOPULATED
 *     protects pages that are not populated yet as well. A range joins with
 *     UFFDIO_REGISTER (UFFDIO_REGISTER_MODE_WP).
 *   - The PAGEMAP_SCAN ioctl on /proc/self/pagemap walks a range's page
 *     tables and returns the written pages as [start, end) regions; with
 *     PM_SCAN_WP_MATCHING it write-protects each reported page again in the
 *     same walk, and PM_SCAN_CHECK_WPASYNC makes it fail rather than report
 *     nonsense over memory that is not under asynchronous write-protect.
 *
 * The kernel counts as a writer too: a read() into a protected heap buffer
 * takes the same fault in copy_to_user and the page is reported. A page
 * returned with MADV_DONTNEED (the scavenger) loses its protection with its
 * contents and is reported as written until the next collect re-protects it:
 * over-reporting, never a lost write. Never-touched pages fault in protected.
 *
 * Costs (measured in docs/gc.md, "Page tracking"; bench/gcwp.c): a first
 * write to a protected page costs a minor fault that the kernel resolves by
 * itself; a later write to the page costs nothing until it is protected
 * again. A collect walks the page tables of the tracked ranges: its cost
 * grows with the populated memory walked and the pages reported. Arming is
 * such a walk too, protecting only what is unprotected (PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING does that several times faster here than
 * UFFDIO_WRITEPROTECT over everything). Disarming unprotects the populated
 * pages with UFFDIO_WRITEPROTECT, the slowest of the walks, which is why it
 * may run with the world started.
 *
 * Why a write racing with a collect is never lost: PM_SCAN_WP_MATCHING
 * tests and re-protects each page under that page table's lock, and flushes
 * the TLB before it drops the lock and returns. A concurrent write either
 * (a) happened before the scan reached the page: the page was "written" and
 * this collect reports it; the flush interrupts any CPU still holding a
 * writable translation, so by the time the ioctl returns its stores are
 * visible to the marker that re-scans the page; or (b) comes after: it
 * finds the page protected, faults, the kernel (under the same lock) marks
 * the page written, and the next collect reports it. A write resolved by
 * the fault before the scan takes the lock is case (a). There is no window
 * in which a page is protected again without the written state having been
 * read first.
 *
 * If the kernel (< 6.7: EINVAL), a sandbox (a seccomp profile or a security
 * module: EPERM, EACCES; vm.unprivileged_userfaultfd does not apply to
 * user-mode-only fds) or an emulator (qemu-user has no userfaultfd: ENOSYS)
 * refuses, gcwp_init returns false with the reason in gcwp_why() and the
 * collector marks with the world stopped instead. GORT_DEBUG=gcwpoff=1 forces that
 * path (for tests). A forked child inherits neither the registration (the
 * kernel drops it without UFFD_FEATURE_EVENT_FORK) nor, here, the fds: it
 * starts unprobed and gcwp_init probes again.
 *
 * Locking: wp.lock guards the range list and the armed flag; it is a leaf
 * taken under mheap_.lock (gcwp_track runs when the heap grows). Walks run
 * without it, one range at a time (ranges are only ever appended), so heap
 * growth never waits for a walk. gcwp_arm, the collects and gcwp_disarm are
 * called by one coordinator at a time. (The collector never disarms: see
 * mgcconc.c; the tests do.)
 */
#include "mgcwp.h"
#include "malloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { scanBatch = 256 };   /* regions per PAGEMAP_SCAN call */

typedef struct wpRange { uintptr_t base, end; } wpRange;

static struct {
    mutex     lock;
    bool      probed;       /* gcwp_init ran in this process */
    bool      ok;           /* ... and tracking works */
    bool      armed;
    _Atomic uint32_t armGen; /* arms so far (gcwp_armGen) */
    int       uffd, pagemap;
    wpRange  *ranges;       /* append-only; sysAlloc memory, not a GC root */
    size_t    nranges, cap;
    pageRegion *vec;        /* collect's result buffer (sysAlloc) */
    size_t    ospage;
    char      why[160];
} wp = { .uffd = -1, .pagemap = -1 };

const char *gcwp_why(void)
{
    if (wp.why[0])
        return wp.why;
    return wp.ok ? "kernel write tracking works" : "kernel write tracking not probed yet";
}

static void setwhy(const char *what, int err)
{
    snprintf(wp.why, sizeof wp.why, "%s (%s)", what, strerror(-err));
}

/* ---- Ranges ------------------------------------------------------------- */

/* Appends [base, end) to the range list, merging with the last range when
 * contiguous. wp.lock held. */
static void addRange(uintptr_t base, uintptr_t end)
{
    assertLockHeld(&wp.lock);
    if (wp.nranges && wp.ranges[wp.nranges - 1].end == base) {
        wp.ranges[wp.nranges - 1].end = end;
        return;
    }
    if (wp.nranges == wp.cap)
        wp.ranges = sysGrowArray(wp.ranges, wp.nranges, &wp.cap, sizeof *wp.ranges, 64,
                                 &memstats.gcMiscSys);
    wp.ranges[wp.nranges++] = (wpRange){ base, end };
}

/* Range i into *r; false past the end. Ranges appended meanwhile are seen. */
static bool rangeAt(size_t i, wpRange *r)
{
    lock(&wp.lock);
    bool ok = i < wp.nranges;
    if (ok)
        *r = wp.ranges[i];
    unlock(&wp.lock);
    return ok;
}

/* Write-protects whatever of [base, end) is not: the written pages are
 * protected again, the rest already is. 0 or -errno. */
static int protect(uintptr_t base, uintptr_t end)
{
    uintptr_t walked;
    long r = pagemapScanWritten(wp.pagemap, base, end, NULL, 0, true, &walked);
    return r < 0 ? (int)r : 0;
}

/* Registers [base, end) with the userfaultfd and, while armed, protects it.
 * wp.lock held, wp.ok. */
static int enroll(uintptr_t base, uintptr_t end)
{
    int err = uffdRegisterWP(wp.uffd, base, end - base);
    if (err == 0 && wp.armed)
        err = protect(base, end);
    return err;
}

/* Asynchronous write-protect takes anonymous memory and private file
 * mappings alike (a loaded object's data). A range the kernel refuses to
 * register (droppable memory, or no memory left to split its mapping) stays
 * listed: every scan of it fails (PM_SCAN_CHECK_WPASYNC) and collect reports
 * it whole, so its writes are over-reported, never lost. */
void gcwp_track(void *base, size_t len)
{
    uintptr_t b = (uintptr_t)base;
    lock(&wp.lock);
    addRange(b, b + len);
    if (wp.ok)
        enroll(b, b + len);
    unlock(&wp.lock);
}

/* ---- Probing ------------------------------------------------------------- */

/* Collect's callback for selftest: counts reported bytes. */
static void countBytes(uintptr_t addr, size_t len, void *arg)
{
    (void)addr;
    *(size_t *)arg += len;
}

/* Reports the written pages of [base, end) to fn and, with reprotect,
 * protects them again; on a failed scan, the rest of the range is reported
 * whole (over-reporting is safe, losing a write is not). The number of OS
 * pages reported. */
static size_t collectRange(uintptr_t base, uintptr_t end, bool reprotect,
                           void (*fn)(uintptr_t, size_t, void *), void *arg)
{
    size_t bytes = 0;
    while (base < end) {
        uintptr_t walked = end;
        long n = pagemapScanWritten(wp.pagemap, base, end, wp.vec, scanBatch, reprotect, &walked);
        if (n < 0) {
            fn(base, end - base, arg);
            bytes += end - base;
            break;
        }
        for (long i = 0; i < n; i++) {
            size_t len = (size_t)(wp.vec[i].end - wp.vec[i].start);
            fn((uintptr_t)wp.vec[i].start, len, arg);
            bytes += len;
        }
        if (walked <= base)
            break;
        base = walked;
    }
    return bytes / wp.ospage;
}

/* Does the machinery report exactly the page written, on a scratch mapping
 * of two pages? Catches environments that accept the calls and track
 * nothing. 0, or -errno with wp.why set. */
static int selftest(void)
{
    size_t ps = wp.ospage;
    char *v = sysReserve(2 * ps);
    if (!v)
        return -ENOMEM;
    int err = uffdRegisterWP(wp.uffd, (uintptr_t)v, 2 * ps);
    if (err) {
        setwhy("userfaultfd: UFFDIO_REGISTER in write-protect mode failed", err);
    } else {
        v[0] = 1;                                  /* populated, then protected */
        err = protect((uintptr_t)v, (uintptr_t)v + 2 * ps);
        if (err)
            setwhy("PAGEMAP_SCAN failed (Linux < 6.7?)", err);
    }
    if (err == 0) {
        size_t clean = 0, dirty = 0;
        collectRange((uintptr_t)v, (uintptr_t)v + 2 * ps, true, countBytes, &clean);
        v[ps] = 1;                                 /* never populated before */
        collectRange((uintptr_t)v, (uintptr_t)v + 2 * ps, true, countBytes, &dirty);
        if (clean != 0 || dirty != ps) {
            err = -ENOTSUP;
            setwhy("PAGEMAP_SCAN does not report written pages here", err);
        }
    }
    sysFree(v, 2 * ps, NULL);
    return err;
}

static void closeFds(void)
{
    if (wp.uffd >= 0)
        fdclose(wp.uffd);
    if (wp.pagemap >= 0)
        fdclose(wp.pagemap);
    wp.uffd = wp.pagemap = -1;
}

/* A forked child has neither the registration nor a use for the parent's
 * fds (the userfaultfd belongs to the parent's address space): forget both
 * and let gcwp_init probe again. */
static void atforkChild(void)
{
    atomic_store(&wp.lock.key, 0);
    closeFds();
    wp.probed = wp.ok = wp.armed = false;
    wp.why[0] = 0;
}

/* Opens the fds, checks that tracking works and registers every range so
 * far. wp.lock held. 0 or -errno, with wp.why set. */
static int probe(void)
{
    wp.ospage = (size_t)sysconf(_SC_PAGESIZE);
    if (debug.gcwpoff) {
        snprintf(wp.why, sizeof wp.why, "kernel write tracking disabled by GORT_DEBUG=gcwpoff=1");
        return -ENOTSUP;
    }
    wp.uffd = uffdOpenWPAsync();
    if (wp.uffd < 0) {
        int err = wp.uffd;
        setwhy(err == -ENOSYS ? "no userfaultfd in this kernel or emulator"
               : err == -EPERM || err == -EACCES ? "userfaultfd refused by a sandbox (seccomp or a security module)"
               : err == -EINVAL ? "userfaultfd lacks asynchronous write-protect (Linux < 6.7)"
               : "userfaultfd failed", err);
        return err;
    }
    wp.pagemap = pagemapOpen();
    if (wp.pagemap < 0) {
        setwhy("cannot open /proc/self/pagemap", wp.pagemap);
        return wp.pagemap;
    }
    if (!wp.vec)
        wp.vec = sysAlloc(scanBatch * sizeof *wp.vec, &memstats.gcMiscSys);
    if (!wp.vec)
        throw_oom(scanBatch * sizeof *wp.vec);
    int err = selftest();
    for (size_t i = 0; err == 0 && i < wp.nranges; i++) {
        err = enroll(wp.ranges[i].base, wp.ranges[i].end);
        if (err)
            setwhy("userfaultfd: cannot register the heap", err);
    }
    return err;
}

bool gcwp_init(void)
{
    static bool atforkSet;   /* survives fork: the child inherits the handler */
    lock(&wp.lock);
    if (!wp.probed) {
        wp.probed = true;
        wp.ok = probe() == 0;
        if (!wp.ok)
            closeFds();
        else if (!atforkSet)
            atforkSet = pthread_atfork(NULL, NULL, atforkChild) == 0;
    }
    bool ok = wp.ok;
    unlock(&wp.lock);
    return ok;
}

/* ---- Arm, collect, disarm -------------------------------------------------- */

/* Sets the armed flag (never while tracking is unavailable); the old value. */
static bool setArmed(bool on)
{
    lock(&wp.lock);
    bool was = wp.armed;
    __atomic_store_n(&wp.armed, on && wp.ok, __ATOMIC_RELAXED);   /* gcwp_unprotect peeks */
    unlock(&wp.lock);
    return was;
}

static bool armed(void)
{
    lock(&wp.lock);
    bool a = wp.armed;
    unlock(&wp.lock);
    return a;
}

/* Armed first, then protected: a range tracked meanwhile protects itself. A
 * range that cannot be protected is reported whole by each collect. */
int gcwp_arm(void)
{
    setArmed(true);
    if (!armed())
        return -ENOTSUP;
    atomic_fetch_add(&wp.armGen, 1);     /* before protecting: see gcwp_armGen */
    int first = 0;
    wpRange r;
    for (size_t i = 0; rangeAt(i, &r); i++) {
        int err = protect(r.base, r.end);
        if (err && !first)
            first = err;
    }
    return first;
}

static size_t collectAll(bool reprotect, void (*fn)(uintptr_t, size_t, void *), void *arg)
{
    size_t pages = 0;
    wpRange r;
    if (!armed())
        return 0;
    for (size_t i = 0; rangeAt(i, &r); i++)
        pages += collectRange(r.base, r.end, reprotect, fn, arg);
    return pages;
}

size_t gcwp_collect(void (*fn)(uintptr_t addr, size_t len, void *arg), void *arg)
{
    return collectAll(true, fn, arg);
}

size_t gcwp_collect_last(void (*fn)(uintptr_t addr, size_t len, void *arg), void *arg)
{
    return collectAll(false, fn, arg);
}

uint32_t gcwp_armGen(void)
{
    return __atomic_load_n(&wp.armed, __ATOMIC_RELAXED) ? atomic_load(&wp.armGen) : 0;
}

/* One ioctl instead of a fault per page. Unprotected, the pages read as
 * written: a collect reports them like pages the program wrote, so this is
 * safe at any time, during a mark too (over-reporting, never a lost write).
 * A range that is not tracked (not heap memory) fails harmlessly. */
void gcwp_unprotect(void *base, size_t len)
{
    if (__atomic_load_n(&wp.armed, __ATOMIC_RELAXED))
        uffdWriteProtect(wp.uffd, (uintptr_t)base, len, false);
}

void gcwp_disarm(void)
{
    bool was = setArmed(false);
    wpRange r;
    for (size_t i = 0; was && rangeAt(i, &r); i++)
        uffdWriteProtect(wp.uffd, r.base, r.end - r.base, false);
}
