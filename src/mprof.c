/*
 * mprof.c — the profiles that count events by call stack: heap, block and
 * mutex (Go: mprof.go).
 *
 * Each profile is a table of buckets, one per distinct call stack, found
 * by hashing the stack's PCs (Go's buckhash/stkbucket):
 *
 *     bucket: [next in hash chain][next in the profile's list][hash][n]
 *             [v0 v1 v2 v3]  counters, their meaning per profile
 *             [pc0 pc1 ... pc(n-1)]  leaf first
 *
 *   heap   v = allocated objects, allocated bytes, freed objects, freed
 *          bytes. Sampling (Go's MemProfileRate, 512 KiB): each mcache
 *          counts down c.nextSample by the size of every allocation; when
 *          it runs out the allocation is recorded and the countdown is
 *          drawn again from an exponential distribution of mean
 *          MemProfileRate, so every byte has the same chance to be the
 *          one sampled and the fast path pays one subtraction. A sampled
 *          object gets a record (address -> bucket) and its span the flag
 *          `profiled`; when the sweeper frees an object of such a span it
 *          calls mProf_Free, which counts the free in the bucket.
 *   block  v = events, nanoseconds: a goroutine waited in a channel
 *          operation, select, a semaphore, a sync primitive (park.h's
 *          waitpark). Go's SetBlockProfileRate: a wait of at least `rate`
 *          ns is always recorded; a shorter one with probability ns/rate,
 *          counted as rate/ns events of rate ns each (unbiased).
 *   mutex  v = events, nanoseconds: a gort_mutex/gort_rwmutex waiter was
 *          released after waiting ns, recorded with the stack of the
 *          unlocker that released it (Go's SetMutexProfileFraction: on
 *          average one event in `rate`; the writer multiplies by rate).
 *
 * Stacks drop the runtime's own leading frames (mallocgc, semacquire1,
 * ...: all of gort's code is in the section gort_text), so the leaf is the
 * program's function that allocated or blocked, as Go hides runtime.*
 * frames in heap profiles.
 *
 * Locking. A bucket table's lock is taken inside a suspension-free region
 * (malloc.h) so that no thread stopped by the collector holds it: the
 * sweeper takes the heap table's lock while the world may be stopping. No
 * libc allocation happens under it (a stopped thread may hold malloc's
 * lock): new buckets and records are allocated before it is taken.
 */
#define UNW_LOCAL_ONLY
#include "malloc.h"
#include "pprof.h"

#include <libunwind.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern char __start_gort_text[] __attribute__((weak));
extern char __stop_gort_text[] __attribute__((weak));

bucketTable memProfile, blockProfile, mutexProfile;
_Atomic int64_t memprofilerate = 512 * 1024;  /* Go's MemProfileRate */
_Atomic int64_t blockprofilerate, mutexprofilerate;

/* ---- Stacks ------------------------------------------------------------------- */

bool inRuntimeText(uintptr_t pc)
{
    return __start_gort_text && pc >= (uintptr_t)__start_gort_text &&
           pc < (uintptr_t)__stop_gort_text;
}

/* Drops the leading frames that are the runtime's own; keeps everything if
 * nothing else is left. Returns the new count. */
int trimRuntimeFrames(uintptr_t *pcs, int n)
{
    int i = 0;
    while (i < n && inRuntimeText(pcs[i]))
        i++;
    if (i == n)
        return n;
    memmove(pcs, pcs + i, (size_t)(n - i) * sizeof *pcs);
    return n - i;
}

int cursorPCs(void *cursor, uintptr_t *pcs, int max)
{
    unw_cursor_t *c = cursor;
    int n = 0;
    do {
        unw_word_t ip;
        if (unw_get_reg(c, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        pcs[n++] = (uintptr_t)ip;
    } while (n < max && unw_step(c) > 0);
    return n;
}

/* The caller's stack, leaf first, runtime frames dropped: return addresses. */
int callers(uintptr_t *pcs, int max)
{
#if GORT_TSAN
    /* Not unw_backtrace: its per-thread cache is freed by a TSD destructor
     * that takes a lock after TSan has torn the exiting thread down, and
     * TSan's mutex interceptor crashes there (test_malloc's pthreads). */
    unw_context_t ctx;
    unw_cursor_t c;
    int n = unw_getcontext(&ctx) == 0 && unw_init_local(&c, &ctx) == 0 ? cursorPCs(&c, pcs, max) : 0;
#else
    int n = unw_backtrace((void **)pcs, max);
#endif
    return n > 0 ? trimRuntimeFrames(pcs, n) : 0;
}

/* ---- Buckets --------------------------------------------------------------------- */

static uint32_t stkhash(const uintptr_t *stk, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++)
        h = (h ^ stk[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static bucket *lookup(bucketTable *t, const uintptr_t *stk, int n, uint32_t h)
{
    for (bucket *b = t->hash[h % BUCKHASH]; b; b = b->next)
        if (b->hash == h && b->nstk == n && memcmp(b->stk, stk, (size_t)n * sizeof *stk) == 0)
            return b;
    return NULL;
}

bucket *bucketLock(bucketTable *t, const uintptr_t *stk, int n)
{
    uint32_t h = stkhash(stk, n);
    nosuspend_enter();
    lock(&t->lock);
    bucket *b = lookup(t, stk, n, h);
    if (b)
        return b;
    unlock(&t->lock);
    nosuspend_exit();
    bucket *nb = calloc(1, sizeof *nb + (size_t)n * sizeof *stk);
    if (!nb)
        return NULL;                /* the event goes unrecorded */
    nb->hash = h;
    nb->nstk = n;
    memcpy(nb->stk, stk, (size_t)n * sizeof *stk);
    nosuspend_enter();
    lock(&t->lock);
    if ((b = lookup(t, stk, n, h))) {
        unlock(&t->lock);
        nosuspend_exit();
        free(nb);                   /* someone else added it meanwhile */
        return bucketLock(t, stk, n);
    }
    nb->next = t->hash[h % BUCKHASH];
    t->hash[h % BUCKHASH] = nb;
    nb->allnext = t->all;
    t->all = nb;
    return nb;
}

void bucketUnlock(bucketTable *t)
{
    unlock(&t->lock);
    nosuspend_exit();
}

/* ---- Heap profile ------------------------------------------------------------------- */

/* A sampled object still in the heap: its slot's address and its bucket. */
typedef struct memRecord {
    struct memRecord *next;
    uintptr_t addr;
    uintptr_t size;
    bucket   *b;
} memRecord;

enum { RECHASH = 4096 };
static memRecord *records[RECHASH]; /* memProfile.lock */
static memRecord *recordFree;       /* reused records, memProfile.lock */

static size_t rechash(uintptr_t addr) { return (addr >> 4) % RECHASH; }

/* The next countdown: exponential with mean rate (Go's nextSample), so
 * that sampling points form a Poisson process over allocated bytes. */
uintptr_t nextSample(void)
{
    int64_t rate = atomic_load_explicit(&memprofilerate, memory_order_relaxed);
    if (rate <= 0)
        return UINTPTR_MAX;
    if (rate == 1)
        return 0;
    double u = ((double)fastrand() + 1.0) / 4294967296.0;   /* (0, 1] */
    double v = -log(u) * (double)rate;
    return v >= (double)(UINTPTR_MAX / 2) ? UINTPTR_MAX / 2 : (uintptr_t)v;
}

/* x (size bytes) was sampled: count it in its stack's bucket and remember
 * it, so that its free is counted too. Called outside the allocator's
 * suspension-free region. */
void mProf_Malloc(void *x, uintptr_t size)
{
    if (atomic_load_explicit(&memprofilerate, memory_order_relaxed) <= 0)
        return;                     /* turned off since the countdown was drawn */
    uintptr_t stk[MAXSTACK];
    int n = callers(stk, MAXSTACK);
    mspan *s = spanOfHeap((uintptr_t)x);
    if (!s)
        return;
    uintptr_t base = s->startAddr + mspan_objIndex(s, (uintptr_t)x) * s->elemsize;
    memRecord *r = malloc(sizeof *r);
    bucket *b = bucketLock(&memProfile, stk, n);
    if (!b) {
        free(r);
        return;
    }
    b->v[0] += 1;
    b->v[1] += (double)size;
    if (!r && (r = recordFree))
        recordFree = r->next;
    if (r) {
        r->addr = base;
        r->size = size;
        r->b = b;
        r->next = records[rechash(base)];
        records[rechash(base)] = r;
        atomic_store_explicit(&s->profiled, 1, memory_order_relaxed);
    }
    bucketUnlock(&memProfile);
}

/* Removes every record of the object at addr (a tiny block can hold two
 * sampled objects), counting each as freed when `freed`. Returns whether
 * there was one. memProfile.lock held. */
static bool recordsTake(uintptr_t addr, bool freed)
{
    bool found = false;
    for (memRecord **rp = &records[rechash(addr)]; *rp;) {
        memRecord *r = *rp;
        if (r->addr != addr) {
            rp = &r->next;
            continue;
        }
        found = true;
        if (!freed)
            break;
        r->b->v[2] += 1;
        r->b->v[3] += (double)r->size;
        *rp = r->next;
        r->next = recordFree;
        recordFree = r;
    }
    return found;
}

/* The sweeper is about to free s's unmarked objects, and s holds sampled
 * ones: count those that die. */
void mProf_Free(mspan *s)
{
    bool live = false;
    nosuspend_enter();
    lock(&memProfile.lock);
    for (uintptr_t i = 0; i < s->nelems; i++) {
        bool marked = (s->gcmarkBits[i / 64] >> (i % 64)) & 1;
        if (recordsTake(s->startAddr + i * s->elemsize, !marked) && marked)
            live = true;
    }
    atomic_store_explicit(&s->profiled, live, memory_order_relaxed);
    unlock(&memProfile.lock);
    nosuspend_exit();
}

int gort_set_mem_profile_rate(int rate)
{
    return (int)atomic_exchange(&memprofilerate, rate < 0 ? 0 : rate);
}

/* ---- Block and mutex profiles ------------------------------------------------------- */

static uint64_t rand64(void) { return (uint64_t)fastrand() << 32 | fastrand(); }

static void saveblockevent(bucketTable *t, double count, double ns)
{
    uintptr_t stk[MAXSTACK];
    int n = callers(stk, MAXSTACK);
    bucket *b = bucketLock(t, stk, n);
    if (!b)
        return;
    b->v[0] += count;
    b->v[1] += ns;
    bucketUnlock(t);
}

void blockevent(int64_t ns)
{
    int64_t rate = atomic_load_explicit(&blockprofilerate, memory_order_relaxed);
    if (ns <= 0)
        ns = 1;
    if (rate <= 0 || (rate > ns && (int64_t)(rand64() % (uint64_t)rate) > ns))
        return;
    if (ns < rate)
        saveblockevent(&blockProfile, (double)rate / (double)ns, (double)rate);
    else
        saveblockevent(&blockProfile, 1, (double)ns);
}

void mutexevent(int64_t ns)
{
    int64_t rate = atomic_load_explicit(&mutexprofilerate, memory_order_relaxed);
    if (rate > 0 && rand64() % (uint64_t)rate == 0)
        saveblockevent(&mutexProfile, 1, (double)(ns > 0 ? ns : 0));
}

void gort_set_block_profile_rate(int rate)
{
    atomic_store(&blockprofilerate, rate < 0 ? 0 : rate);
}

int gort_set_mutex_profile_fraction(int rate)
{
    if (rate < 0)
        return (int)atomic_load(&mutexprofilerate);
    return (int)atomic_exchange(&mutexprofilerate, rate);
}
