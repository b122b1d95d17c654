/*
 * stack.c — goroutine stacks (Go: stack.go, but with fixed stacks).
 *
 * Go grows a goroutine's stack by copying it, which needs to find and fix
 * every pointer into the stack. C code keeps such pointers everywhere, so gort
 * never moves a stack. Instead each goroutine owns a fixed *virtual*
 * reservation (default 256 KiB) and lets the MMU do the growing: the kernel
 * commits a page only when it is first touched, so a goroutine that stays
 * shallow costs one page.
 *
 * One slot of a stack region:
 *
 *   lo                    lo+guard                                  hi
 *   | guard (64 KiB, no    | usable stack, grows down  <-- sp | struct g |
 *   |  access, costs 0)    |                                  |          |
 *
 * The struct g lives at the very top of its own stack, so a parked goroutine
 * that never ran deep touches exactly one page: its G and its top frames.
 * A G and its stack are born, pooled, reused and released together (Go's
 * gfget/gfput keep a dead G's stack too), so "stack pool" and "free G list"
 * are one list.
 *
 * Slots of the default size are carved from large MAP_NORESERVE regions (one
 * VMA each). Spawning a burst must not pay a system call and a page fault
 * per stack: where the kernel takes it, a new region's guards are installed
 * in a few vectored calls, and the top pages of 64 slots are committed in
 * one (reserve_slot). That kernel work is most of a burst's cost, so it is
 * done ahead of the spawner where possible: while slots are being carved,
 * a P that runs out of work (stack_prepare) commits the top pages of the
 * next batches and maps and guards the next region, in time the spawner's
 * P would otherwise spend in the kernel. It stays at most PREPARE_AHEAD
 * committed pages and one mapped region ahead of the last slot carved. The
 * guard below each slot is, in order of preference:
 *   1. MADV_GUARD_INSTALL (Linux 6.13+): no VMA split, so millions fit under
 *      vm.max_map_count;
 *   2. mprotect(PROT_NONE), which splits the VMA: only within a budget;
 *   3. a canary word at the bottom of the usable stack, checked at switches.
 * A touch of a guard raises SIGSEGV; signal.c turns it into
 * "fatal error: stack overflow". The guard is 64 KiB rather than one page so
 * that a frame of up to 64 KiB cannot jump over it into the slot below; a
 * larger frame (a VLA, alloca) is caught only by code built with
 * -fstack-clash-protection, which touches such a frame's pages in order
 * (the build adds it, and gort.pc gives it to users).
 *
 * Stacks that ran deep keep their committed pages. A dead G's stack is
 * trimmed with MADV_DONTNEED (Go's shrinkstack): at once if the scheduler
 * saw it run deep (its sp at a switch), otherwise when its P next goes idle
 * (at most every 10 ms) — spare time, never the spawn path. After a
 * collection, pooled dead Gs that spawning did not need give their whole
 * slot back (stack_release_slots, Go's freeing of dead Gs' stacks at each
 * cycle): every page of it, the G included, and the address range, which
 * reserve_slot hands out again before carving new slots.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if GORT_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum { GUARD_SIZE = 64 << 10, REGION_SLOTS = 1024, POPULATE_BATCH = 64,
       PREPARE_AHEAD = 4 * POPULATE_BATCH };   /* slots stack_prepare commits ahead */
#define TRIM_PERIOD (10 * 1000 * 1000)     /* ns between idle-time trims of a P's pool */
enum { GUARD_MADVISE, GUARD_MPROTECT, GUARD_CANARY };
#define STACK_CANARY 0x6f72742d73746b21ULL   /* "!kts-tro" */

size_t stack_default_size = 256 << 10;
static size_t pagesize;

/* The current region being carved: slots [next, end); the slots below
 * populated have their top page committed (or an M is committing it). */
static mutex stackLock;
static uintptr_t region_next, region_end, region_populated;
static bool region_guarded;              /* its guards were installed in one go */
/* The next region, mapped and guarded by stack_prepare (0: none yet). */
static uintptr_t spare_region;
static bool spare_busy;                  /* an M is making it */
static bool spare_off;                   /* making one failed: the spawner maps its own */
/* Fresh slots were carved since stack_prepare last found itself ahead. */
_Atomic bool stack_demand;
/* Default-size slots given back whole (stack_release_slots), every page
 * released, for reserve_slot to hand out before carving new ones. Bit 0 of
 * an entry: the slot has a canary instead of a guard. stackLock held. */
static uintptr_t *freeslots;
static size_t nfreeslots, capfreeslots;
static int guard_mode = GUARD_MADVISE;
static int64_t mprotect_budget;          /* VMAs mprotect guards may still add */
_Atomic uint64_t stack_sys_bytes;        /* reserved for stacks */
_Atomic uint64_t stack_inuse_bytes;      /* reservations held by live or pooled Gs */
/* Two pages per held slot: the stack memory the soft memory limit counts
 * (mstats.c), an estimate. A trimmed stack keeps at most the G's page and
 * the one below it, a shallow goroutine touches one or two, and the pages
 * a deep run commits below those are not tracked; the reservations are
 * address space, not memory. Pooled slots count too: their pages stay. */
_Atomic uint64_t stack_resident_bytes;

static size_t round_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
static size_t slot_size(size_t stacksize) { return GUARD_SIZE + stacksize; }

/* How many VMAs we may split for mprotect guards: a quarter of
 * vm.max_map_count, so that malloc and the user keep the rest. */
static int64_t vma_budget(void)
{
    return sysMaxMappings() / 4;
}

/* A stack size asked for: at least STACK_MIN, whole pages. Callers bound it
 * by STACK_MAX first, so neither this nor slot_size can wrap around. */
static size_t stack_round(size_t n)
{
    return round_up(n < STACK_MIN ? STACK_MIN : n, pagesize);
}

void stackinit(size_t stacksize)
{
    pagesize = (size_t)sysconf(_SC_PAGESIZE);
    if (stacksize)
        stack_default_size = stack_round(stacksize);
    mprotect_budget = vma_budget();
    guard_mode = !debug.madvguardoff && sysGuardWorks(pagesize) ? GUARD_MADVISE : GUARD_MPROTECT;
}

const char *stack_guard_kind(void)
{
    static const char *const kinds[] = { [GUARD_MADVISE] = "madvise", [GUARD_MPROTECT] = "mprotect",
                                         [GUARD_CANARY] = "canary" };
    return kinds[guard_mode];
}

/* Installs the guard below a slot, falling back as described above. Returns
 * whether the slot needs a canary. */
static bool install_guard(uintptr_t lo)
{
    if (guard_mode == GUARD_MADVISE) {
        if (sysGuard((void *)lo, GUARD_SIZE) == 0)
            return false;
        guard_mode = GUARD_MPROTECT;
    }
    if (guard_mode == GUARD_MPROTECT) {
        if (mprotect_budget > 0 && sysFault((void *)lo, GUARD_SIZE) == 0) {
            mprotect_budget -= 2;     /* a split in the middle of a VMA adds two */
            return false;
        }
        guard_mode = GUARD_CANARY;
    }
    return true;
}

/* A new region: every slot's guard in one go when the kernel can (one
 * process_madvise per 256 slots instead of a madvise per slot). Returns
 * whether it did; if not, each slot gets its own on the way out. */
static bool guard_region(uintptr_t v, size_t sz)
{
    return guard_mode == GUARD_MADVISE &&
           sysGuardStrided((void *)v, GUARD_SIZE, sz, REGION_SLOTS) == 0;
}

/* Claims the next batch of slots (at most POPULATE_BATCH) of the current
 * region whose top pages are not committed yet: returns its first slot, n
 * gets the count (0 when the region is all claimed). stackLock held. */
static uintptr_t claim_batch(size_t sz, int *n)
{
    uintptr_t from = region_populated;
    size_t left = (region_end - from) / sz;
    *n = left < POPULATE_BATCH ? (int)left : POPULATE_BATCH;
    region_populated = from + (size_t)*n * sz;
    return from;
}

/* Commits the top page (the G and the first frames) of n slots from lo, in
 * one call where each would otherwise fault on its own. Outside stackLock:
 * a slot touched meanwhile just faults, and committing it again is a no-op. */
static void populate_batch(uintptr_t lo, size_t sz, int n)
{
    if (n)
        sysPopulateStrided((void *)(lo + sz - pagesize), pagesize, sz, n);
}

/* Maps a region of REGION_SLOTS slots of sz bytes; *guarded: its guards are
 * installed. 0 if the OS refuses. */
static uintptr_t new_region(size_t sz, bool *guarded)
{
    size_t rsz = sz * REGION_SLOTS;
    void *v = sysReserve(rsz);
    if (!v)
        return 0;
    atomic_fetch_add(&stack_sys_bytes, rsz);
    *guarded = guard_region((uintptr_t)v, sz);
    return (uintptr_t)v;
}

/* The current region is used up: start the next one, stack_prepare's spare
 * if it made one. False if the OS refuses. stackLock held. */
static bool next_region(size_t sz)
{
    uintptr_t v = spare_region;
    bool guarded = true;             /* stack_prepare keeps only guarded spares */
    if (v)
        spare_region = 0;
    else if (!(v = new_region(sz, &guarded)))
        return false;
    region_next = region_populated = v;
    region_end = v + sz * REGION_SLOTS;
    region_guarded = guarded;
    return true;
}

/* Reserves address space for a slot: from the shared region for the default
 * size, or a mapping of its own for any other size. *guarded: the slot's
 * guard is already installed. A slot whose top page nobody committed yet
 * commits its whole batch's. */
static uintptr_t reserve_slot(size_t stacksize, bool *guarded)
{
    size_t sz = slot_size(stacksize);
    *guarded = false;
    if (stacksize != stack_default_size) {
        void *v = sysReserve(sz);
        if (v)
            atomic_fetch_add(&stack_sys_bytes, sz);
        return (uintptr_t)v;
    }
    lock(&stackLock);
    if (nfreeslots > 0) {
        uintptr_t e = freeslots[--nfreeslots];
        unlock(&stackLock);
        *guarded = !(e & 1);           /* a canary slot gets its canary again */
        return e & ~(uintptr_t)1;
    }
    if (region_next == region_end && !next_region(sz)) {
        unlock(&stackLock);
        return 0;
    }
    uintptr_t lo = region_next;
    region_next += sz;
    *guarded = region_guarded;
    int n = 0;
    if (lo == region_populated)
        claim_batch(sz, &n);
    atomic_store_explicit(&stack_demand, true, memory_order_relaxed);
    unlock(&stackLock);
    populate_batch(lo, sz, n);
    return lo;
}

/* What stack_prepare does next (stackLock held): map the next region once
 * half of this one is carved, else commit the next batch while fewer than
 * PREPARE_AHEAD slots are ready; false when there is nothing to do. */
static bool prepare_step(size_t sz, uintptr_t *lo, int *n, bool *spare)
{
    *n = 0;
    *spare = false;
    if (!spare_region && !spare_busy && !spare_off && guard_mode == GUARD_MADVISE && region_end &&
        region_end - region_next <= sz * REGION_SLOTS / 2) {
        *spare = spare_busy = true;
        return true;
    }
    if (region_populated < region_end && region_populated - region_next < PREPARE_AHEAD * sz) {
        *lo = claim_batch(sz, n);
        return true;
    }
    return false;
}

/* Maps and guards the next region for next_region. A spare whose guards
 * the kernel refused is dropped (its slots would need guards of their own),
 * and after a failure no more are made. */
static void make_spare(size_t sz)
{
    bool guarded = false;
    uintptr_t v = new_region(sz, &guarded);
    if (v && !guarded) {
        sysFree((void *)v, sz * REGION_SLOTS, NULL);
        atomic_fetch_sub(&stack_sys_bytes, sz * REGION_SLOTS);
        v = 0;
    }
    lock(&stackLock);
    spare_region = v;
    spare_busy = false;
    spare_off = !v;
    unlock(&stackLock);
}

/* Spare time of an idle P while goroutines are being spawned on fresh
 * stacks: works ahead of the spawner (prepare_step) until PREPARE_AHEAD
 * slots are ready and the next region is mapped. Does nothing when no slot
 * was carved since it last found itself far enough ahead. Returns whether
 * it did anything (work may have been queued meanwhile). */
bool stack_prepare(void)
{
    if (!atomic_load_explicit(&stack_demand, memory_order_relaxed))
        return false;
    size_t sz = slot_size(stack_default_size);
    bool worked = false;
    for (;;) {
        uintptr_t lo = 0;
        int n;
        bool spare;
        lock(&stackLock);
        bool more = prepare_step(sz, &lo, &n, &spare);
        if (!more)
            atomic_store_explicit(&stack_demand, false, memory_order_relaxed);
        unlock(&stackLock);
        if (!more)
            return worked;
        worked = true;
        populate_batch(lo, sz, n);
        if (spare)
            make_spare(sz);
    }
}

static g *g_at_top(uintptr_t hi)
{
    return (g *)((hi - sizeof(g)) & ~(uintptr_t)(CACHELINE - 1));
}

/* The highest usable stack address, just below the G. */
uintptr_t stack_top(g *gp) { return (uintptr_t)gp & ~(uintptr_t)15; }

size_t stack_size_check(size_t n, const char *who)
{
    if (n > STACK_MAX)
        gopanic("%s: stack size %zu out of range (at most %zu)", who, n, (size_t)STACK_MAX);
    return n == 0 ? stack_default_size : stack_round(n);
}

g *stackalloc_g(size_t stacksize)
{
    bool guarded;
    uintptr_t lo = reserve_slot(stacksize, &guarded);
    if (!lo)
        throw("runtime: cannot allocate %zu-byte goroutine stack: out of memory",
                   stacksize);
    uintptr_t hi = lo + slot_size(stacksize);
    bool canary = !guarded && install_guard(lo);
    g *gp = g_at_top(hi);
    memset(gp, 0, sizeof *gp);
    gp->stack.lo = lo;
    gp->stack.hi = hi;
    gp->stack_low_water = stack_top(gp);
    gp->stack_canary = canary;
    if (canary)
        *(uint64_t *)(lo + GUARD_SIZE) = STACK_CANARY;
    atomic_fetch_add(&stack_inuse_bytes, slot_size(stacksize));
    atomic_fetch_add(&stack_resident_bytes, 2 * pagesize);
    allgadd(gp);
    return gp;
}

size_t stack_size_of(g *gp) { return gp->stack.hi - gp->stack.lo - GUARD_SIZE; }
uintptr_t stack_guard_end(g *gp) { return gp->stack.lo + GUARD_SIZE; }

/* A G whose stack has a size other than the default is not pooled: its
 * slot is unmapped, between cycles only (proc.c gfreeSized). */
void stackfree_g(g *gp)
{
    size_t sz = gp->stack.hi - gp->stack.lo;
    allgremove(gp);
    atomic_fetch_sub(&stack_inuse_bytes, sz);
    atomic_fetch_sub(&stack_resident_bytes, 2 * pagesize);
    atomic_fetch_sub(&stack_sys_bytes, sz);
    sysFree((void *)gp->stack.lo, sz, NULL);
}

/* Remembers released slots (bit 0 of each: it has a canary). If the list
 * cannot grow, the rest stay out of use: address space only, their pages
 * are released already. */
static void push_freeslots(const uintptr_t *e, int n)
{
    lock(&stackLock);
    if (nfreeslots + (size_t)n > capfreeslots) {
        size_t cap = capfreeslots ? 2 * capfreeslots : 1024;
        while (cap < nfreeslots + (size_t)n)
            cap *= 2;
        uintptr_t *grown = realloc(freeslots, cap * sizeof *grown);
        if (grown) {
            freeslots = grown;
            capfreeslots = cap;
        }
    }
    for (int i = 0; i < n && nfreeslots < capfreeslots; i++)
        freeslots[nfreeslots++] = e[i];
    unlock(&stackLock);
}

/* Pooled dead Gs of the default size give back their whole slots (Go's
 * markrootFreeGStacks frees dead Gs' stacks at each cycle): they leave
 * allgs, every page of their slots but the guards is released, the Gs
 * included, and the next spawns take the slots before carving new ones.
 * Neighbouring slots go in one madvise, guards and all (the guards stay:
 * MADV_DONTNEED keeps guard markers, and a PROT_NONE guard holds no page),
 * so gs in address order makes the fewest calls: each costs a TLB
 * shootdown on every CPU, which made one call per slot slow. The caller
 * makes sure no cycle is under way: marking walks allgs and reads the Gs. */
void stack_release_slots(g **gs, int n)
{
    uintptr_t e[n];
    size_t sz = slot_size(stack_default_size);
    for (int i = 0; i < n; i++) {
        g *gp = gs[i];
        GORT_ASSERT(gp->stack.hi - gp->stack.lo == sz);
        e[i] = gp->stack.lo | gp->stack_canary;
        allgremove(gp);
        stack_reset_for_reuse(gp);     /* ASan: the next G's frames start clean */
    }
    for (int i = 0, j; i < n; i = j) {
        uintptr_t lo = e[i] & ~(uintptr_t)1;
        for (j = i + 1; j < n && (e[j] & ~(uintptr_t)1) == lo + (size_t)(j - i) * sz; j++)
            ;
        sysUnused((void *)(lo + GUARD_SIZE), (size_t)(j - i) * sz - GUARD_SIZE);
    }
    atomic_fetch_sub(&stack_inuse_bytes, (size_t)n * sz);
    atomic_fetch_sub(&stack_resident_bytes, (size_t)n * 2 * pagesize);
    push_freeslots(e, n);
}

/* Gives back the pages a deep run committed, keeping the G's page and the
 * one below it (the first frames). MADV_DONTNEED over pages never touched costs only a
 * page-table walk, so this need not know how deep the G went. */
void stack_trim(g *gp)
{
    uintptr_t keep = ((uintptr_t)gp & ~(uintptr_t)(pagesize - 1)) - pagesize;
    uintptr_t from = stack_guard_end(gp);
    if (gp->stack_canary)
        from += pagesize;              /* the canary's page stays */
    if (keep > from)
        sysUnused((void *)from, keep - from);
    gp->stack_low_water = stack_top(gp);
    gp->stack_trimmed = true;
}

/* A dead G goes back to a pool: trim now if the scheduler saw it run deep;
 * otherwise leave it for stack_trim_list, when its P has time to spare. */
void stack_release(g *gp)
{
    gp->stack_trimmed = false;
    if (gp->stack_low_water < stack_top(gp) - pagesize)
        stack_trim(gp);
}

/* Trims every G in a free list that has not been trimmed since it died.
 * Called when a P goes idle, at most once per TRIM_PERIOD per P: a madvise
 * per dead goroutine would cost more than the spawn itself. */
void stack_trim_list(p *pp, int64_t now)
{
    if (!pp->gFree || now - pp->lasttrim < TRIM_PERIOD)
        return;
    pp->lasttrim = now;
    for (g *gp = pp->gFree; gp; gp = gp->schedlink)
        if (!gp->stack_trimmed)
            stack_trim(gp);
}

/* Poisoned frames of a dead goroutine must not trip ASan in the next one. */
void stack_reset_for_reuse(g *gp)
{
#if GORT_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)stack_guard_end(gp),
                                stack_top(gp) - stack_guard_end(gp));
#else
    (void)gp;
#endif
}

void stack_check_canary(g *gp)
{
    if (gp->stack_canary && *(uint64_t *)stack_guard_end(gp) != STACK_CANARY) {
        gprint("runtime: goroutine %llu overran its %zu-byte stack (canary)\n",
                   (unsigned long long)gp->goid, stack_size_of(gp));
        throw("stack overflow");
    }
}

/* Is addr in the guard of gp's stack or of one of its call_on_stack segments? */
bool stack_is_guard(uintptr_t addr, g *gp)
{
    if (addr >= gp->stack.lo && addr < stack_guard_end(gp))
        return true;
    for (struct stackseg *s = gp->segs; s; s = s->next)
        if (addr >= s->stk.lo && addr < s->stk.lo + GUARD_SIZE)
            return true;
    return false;
}

/* An address in a frame below the caller's: the caller's stack pointer, near enough. */
static NOINLINE uintptr_t callersp(void)
{
    volatile char here = 0;
    return (uintptr_t)&here;
}

/* gort_call_on_stack: a one-off guarded segment for one deep call. The
 * segment's pages are returned to the OS as soon as the call returns. The
 * GC scans the stack the call left from sp_on_entry up. */
void gort_call_on_stack(size_t size, void (*fn)(void *), void *arg)
{
    runtime_init();                  /* pagesize */
    size = stack_size_check(size, "gort_call_on_stack");
    size_t sz = slot_size(size);
    void *v = sysReserve(sz);
    if (!v)
        throw("runtime: cannot allocate %zu-byte stack segment: out of memory", size);
    int e = 0;
    if ((guard_mode != GUARD_MADVISE || sysGuard(v, GUARD_SIZE) != 0) &&
        (e = sysFault(v, GUARD_SIZE)) != 0)
        throw("runtime: cannot guard stack segment (errno %d)", -e);
    struct stackseg seg = { .stk = { (uintptr_t)v, (uintptr_t)v + sz }, .sp_on_entry = callersp() };
    g *gp = getg();
    if (gp) {
        seg.next = gp->segs;
        gp->segs = &seg;
    }
    call_with_sp((void *)(seg.stk.hi - 64), fn, arg);
    if (gp)
        gp->segs = seg.next;
    sysFree(v, sz, NULL);
}
