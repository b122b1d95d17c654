/*
 * mgcmark.c — marking: from roots to every reachable object (Go: mgcmark.go's
 * greyobject, scanobject, scanblock, gcDrain; mbitmap.go's findObject;
 * mcheckmark.go).
 *
 * Tri-colour marking. An object is white until its mark bit is set (grey),
 * and black once its words have been scanned. Grey objects wait on a mark
 * stack; the drain loop pops one, scans its words and greys what they point
 * to, until the stack is empty: then every object reachable from the roots
 * is black and every white object is garbage.
 *
 * Any word may be a pointer. A candidate value v is checked in O(1):
 *   1. v within the span of addresses the heap's arenas ever covered;
 *   2. v's page belongs to an in-use span (the arena's span table);
 *   3. v below the span's last object; its slot is v's offset divided by the
 *      object size (a multiply by the span's divMul);
 *   4. the slot is allocated: below freeindex, or set in allocBits.
 * Interior pointers therefore keep their object alive, as in Go.
 *
 * How an object's words are read: noscan spans are never scanned; other
 * objects are scanned where the heap bitmap says a word may hold a pointer
 * (all ones for gort_alloc, the type's ptrmask for gort_new), 64 words per
 * bitmap load.
 *
 * Checkmark mode (GORT_DEBUG=gccheckmark=1) marks a second time, with the
 * world stopped, into a separate bitmap per arena, and reports every object
 * it reaches that the cycle's mark left white: the test of any cleverer
 * marking (concurrent, barriers, page tracking) against the simple one.
 * Side marking uses the same bitmap without the comparison: the
 * goroutine-leak pass (mgcleak.c) marks from roots of its choosing between
 * cycles, and the cycle's mark bits and statistics never see it.
 *
 * The scanner reads stacks, globals and objects that the sanitizers consider
 * poisoned or racy (redzones, other threads' stacks): those reads are
 * exempt from instrumentation.
 */
#include "malloc.h"

#include <string.h>

#define NOSANITIZE __attribute__((no_sanitize_address, no_sanitize_thread))

typedef struct markRange { uintptr_t b, n; } markRange;
static struct { markRange *buf; size_t n, cap; } markStack;

gcWorkState work;

static void markStackGrow(void)
{
    size_t ncap = markStack.cap ? markStack.cap * 2 : 1 << 16;
    markRange *nb = sysAlloc(ncap * sizeof *nb, &memstats.gcMiscSys);
    if (!nb)
        throw("runtime: out of memory growing the GC mark stack");
    if (markStack.buf) {
        memcpy(nb, markStack.buf, markStack.n * sizeof *nb);
        sysFree(markStack.buf, markStack.cap * sizeof *nb, &memstats.gcMiscSys);
    }
    markStack.buf = nb;
    markStack.cap = ncap;
}

void gcMarkPrepare(void)
{
    if (!markStack.buf)
        markStackGrow();
    markStack.n = 0;
}

static inline void push(uintptr_t b, uintptr_t n)
{
    if (unlikely(markStack.n == markStack.cap))
        markStackGrow();
    markStack.buf[markStack.n++] = (markRange){ b, n };
}

static inline bool isAllocated(const mspan *s, uintptr_t idx)
{
    return idx < s->freeindex || ((s->allocBits[idx / 64] >> (idx % 64)) & 1);
}

static NORETURN void checkmarkFail(uintptr_t obj, mspan *s)
{
    throw("checkmark found unmarked object: obj=%#lx span=[%#lx,%#lx) sizeclass=%u elemsize=%lu",
          (unsigned long)obj, (unsigned long)s->startAddr,
          (unsigned long)(s->startAddr + s->npages * pageSize),
          spanClass_sizeclass(s->spanclass), (unsigned long)s->elemsize);
}

/* Sets obj's checkmark bit; false if it was set already. */
static bool setCheckmark(uintptr_t obj)
{
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(obj)], memory_order_relaxed);
    if (!ha->checkmarks) {
        ha->checkmarks = sysAlloc(heapArenaWords / 8, &memstats.gcMiscSys);
        if (!ha->checkmarks)
            throw("runtime: out of memory for checkmark bits");
    }
    uintptr_t w = (obj % heapArenaBytes) / 8;
    uint64_t bit = 1ULL << (w % 64);
    if (ha->checkmarks[w / 64] & bit)
        return false;
    ha->checkmarks[w / 64] |= bit;
    return true;
}

/* Greys the object at slot idx of s (Go's greyobject). */
static inline void greyobject(uintptr_t obj, mspan *s, uintptr_t idx)
{
    uint64_t *mw = &s->gcmarkBits[idx / 64], bit = 1ULL << (idx % 64);
    if (unlikely(work.checkmark)) {
        if (!setCheckmark(obj))
            return;
        if (!(*mw & bit) && !work.sidemark) {
            work.checkmarkMissed++;
            checkmarkFail(obj, s);
        }
    } else {
        if (*mw & bit)
            return;
        *mw |= bit;
        work.bytesMarked += s->elemsize;
    }
    if (!spanClass_noscan(s->spanclass))
        push(obj, s->elemsize);
}

/* Greys whatever heap object v points into, if any. */
static inline void markword(uintptr_t v)
{
    if (v - mheap_.arenaLo >= mheap_.arenaHi - mheap_.arenaLo)
        return;
    mspan *s = spanOf(v);
    if (!s || atomic_load_explicit(&s->state, memory_order_relaxed) != mSpanInUse ||
        v < s->startAddr || v >= s->limit)
        return;
    uintptr_t idx = mspan_objIndex(s, v);
    if (!isAllocated(s, idx))
        return;
    greyobject(s->startAddr + idx * s->elemsize, s, idx);
}

NOSANITIZE void scanblock(uintptr_t b, uintptr_t n)
{
    uintptr_t p = (b + 7) & ~(uintptr_t)7, end = b + n;
    for (; p + 8 <= end; p += 8)
        markword(*(volatile uintptr_t *)p);
}

/* Scans the n bytes of the heap object at b where the heap bitmap says a
 * word may hold a pointer. */
NOSANITIZE static void scanobject(uintptr_t b, uintptr_t n)
{
    uintptr_t end = b + n;
    for (uintptr_t a = b; a < end;) {
        heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(a)], memory_order_relaxed);
        uintptr_t w = (a % heapArenaBytes) / 8;
        unsigned cnt = 64 - (unsigned)(w % 64);
        if (cnt > (end - a) / 8)
            cnt = (unsigned)((end - a) / 8);
        uint64_t bits = ha->heapBits[w / 64] >> (w % 64);
        if (cnt < 64)
            bits &= (1ULL << cnt) - 1;
        while (bits) {
            unsigned k = (unsigned)__builtin_ctzll(bits);
            markword(*(uintptr_t *)(a + (uintptr_t)k * 8));
            bits &= bits - 1;
        }
        a += (uintptr_t)cnt * 8;
    }
}

void gcDrain(void)
{
    while (markStack.n) {
        markRange r = markStack.buf[--markStack.n];
        scanobject(r.b, r.n);
    }
}

/* Clears every arena's checkmark bits (world stopped, before a checkmark pass). */
void gcClearCheckmarks(void)
{
    for (size_t i = 0; i < mheap_.nallArenas; i++) {
        heapArena *ha = mheap_.arenas[mheap_.allArenas[i]];
        if (ha->checkmarks)
            sysUnused(ha->checkmarks, heapArenaWords / 8);   /* reads back as zero */
    }
}

/* ---- Side marking (the goroutine-leak pass) --------------------------------------- */

static gcWorkState sideSaved;

void gcSideMarkBegin(void)
{
    sideSaved = work;
    gcMarkPrepare();
    gcClearCheckmarks();
    work.checkmark = work.sidemark = true;
}

void gcSideDrain(void) { gcDrain(); }

bool gcSideMarked(uintptr_t p)
{
    mspan *s;
    uintptr_t idx, obj = findObject(p, &s, &idx);
    if (!obj || !isAllocated(s, idx))
        return true;
    heapArena *ha = atomic_load_explicit(&mheap_.arenas[arenaIndex(obj)], memory_order_relaxed);
    uintptr_t w = (obj % heapArenaBytes) / 8;
    return ha->checkmarks && ((ha->checkmarks[w / 64] >> (w % 64)) & 1);
}

void gcSideMarkEnd(void) { work = sideSaved; }
