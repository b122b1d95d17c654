/*
 * slice.c — Go's slices: make, append's growth, copy, reslicing and bounds
 * checks (Go: runtime/slice.go, runtime/panic.go's bounds errors).
 *
 * A slice is {ptr, len, cap}. Appending within cap writes in place; past
 * cap, growslice picks a new capacity, allocates a new backing array,
 * copies the old elements and returns the new slice (the old array stays
 * as it was: other slices may share it).
 *
 * The new capacity (nextslicecap) is:
 *   - the needed length, when that is more than double the old capacity;
 *   - double the old capacity below 256 elements;
 *   - otherwise old capacity grown by (cap + 768)/4 until it suffices: the
 *     factor slides smoothly from 2x towards 1.25x for large slices.
 * Then the byte size is rounded up to what the allocator really hands out
 * (the size class, or whole 8 KiB pages for large arrays) and the capacity
 * recomputed from that, so no allocated byte is wasted. Go's allocator
 * reserves an 8-byte header in scanned objects above 512 bytes; Go's
 * roundupsize leaves that room, and so does ours, so that the capacity
 * sequence is Go's for scanned and noscan slices alike. The result: the
 * same capacities as Go, element size for element size.
 */
#include "malloc.h"
#include "map.h"

#include <stdio.h>

enum {
    mallocHeaderSize       = 8,     /* Go's header in scanned objects ... */
    minSizeForMallocHeader = 512,   /* ... larger than this */
};

static char zerobase[8];            /* every zero-byte allocation, as Go's zerobase */

/* ---- Panics (Go's boundsError messages) ---------------------------------- */

/* A size_t that came from a negative C integer, shown as Go shows it. */
static bool negative(size_t x) { return (ptrdiff_t)x < 0; }

void gort_panic_index(size_t i, size_t len)
{
    if (negative(i))
        gopanic("runtime error: index out of range [%td]", (ptrdiff_t)i);
    gopanic("runtime error: index out of range [%zu] with length %zu", i, len);
}

static NORETURN void panicslice(const char *fmt, size_t x, size_t y)
{
    char buf[160];
    snprintf(buf, sizeof buf, fmt, x, y);
    gopanic("runtime error: slice bounds out of range %s", buf);
}

/* ---- Allocation ---------------------------------------------------------- */

static void *alloc_array(size_t bytes, bool noscan)
{
    if (bytes == 0)
        return zerobase;
    return noscan ? gort_alloc_noscan(bytes) : gort_alloc(bytes);
}

/* Go's roundupsize(size, noscan): the bytes usable in the block mallocgc
 * would hand out for size bytes, less the header of scanned objects. */
static size_t roundupsize_go(size_t size, bool noscan)
{
    if (size > maxSmallSize - mallocHeaderSize)
        return roundupsize(size);                 /* whole pages */
    size_t req = size;
    if (!noscan && req > minSizeForMallocHeader)
        req += mallocHeaderSize;
    return roundupsize(req) - (req - size);
}

/* Go's nextslicecap: the capacity before size-class rounding. */
static size_t nextslicecap(size_t newLen, size_t oldCap)
{
    size_t newcap = oldCap, doublecap = oldCap + oldCap;
    if (newLen > doublecap)
        return newLen;
    const size_t threshold = 256;
    if (oldCap < threshold)
        return doublecap;
    while (newcap < newLen)
        newcap += (newcap + 3 * threshold) >> 2;
    return newcap;
}

/* The capacity growslice gives a slice of cap oldCap that must hold newLen
 * elements of elem_size bytes; *bytes gets the backing array's size. Panics
 * "growslice: len out of range" when that cannot be allocated. */
size_t growslice_cap(size_t newLen, size_t oldCap, size_t elem_size, bool noscan, size_t *bytes)
{
    size_t newcap = nextslicecap(newLen, oldCap), mem;
    if (__builtin_mul_overflow(newcap, elem_size, &mem) || mem > maxAlloc)
        gopanic("runtime error: growslice: len out of range");
    mem = roundupsize_go(mem, noscan);
    newcap = mem / elem_size;
    *bytes = newcap * elem_size;
    return newcap;
}

gort_slice gort_slice_grow(gort_slice s, size_t elem_size, size_t n, bool noscan)
{
    size_t newLen;
    if (__builtin_add_overflow(s.len, n, &newLen) || negative(newLen))
        gopanic("runtime error: growslice: len out of range");
    if (newLen <= s.cap)
        return s;
    if (elem_size == 0)
        return (gort_slice){ zerobase, s.len, newLen };
    size_t bytes, newcap = growslice_cap(newLen, s.cap, elem_size, noscan, &bytes);
    void *p = alloc_array(bytes, noscan);
    GORT_ASSERT(gort_usable_size(p) >= bytes);
    if (s.len)
        heap_memmove(p, s.ptr, s.len * elem_size);
    return (gort_slice){ p, s.len, newcap };
}

static gort_slice makeslice(size_t elem_size, size_t len, size_t cap, bool noscan)
{
    size_t mem;
    if (__builtin_mul_overflow(elem_size, cap, &mem) || mem > maxAlloc || negative(len) || len > cap) {
        if (__builtin_mul_overflow(elem_size, len, &mem) || mem > maxAlloc || negative(len))
            gopanic("runtime error: makeslice: len out of range");
        gopanic("runtime error: makeslice: cap out of range");
    }
    return (gort_slice){ alloc_array(mem, noscan), len, cap };
}

gort_slice gort_slice_make(size_t elem_size, size_t len, size_t cap)
{
    return makeslice(elem_size, len, cap, false);
}

gort_slice gort_slice_make_noscan(size_t elem_size, size_t len, size_t cap)
{
    return makeslice(elem_size, len, cap, true);
}

/* ---- append and copy ------------------------------------------------------- */

static gort_slice append(gort_slice s, size_t elem_size, const void *elems, size_t n, bool noscan)
{
    if (n == 0)
        return s;
    /* elems may point into s's own array; growing keeps the old array
     * intact, and memmove copes with the overlap in place. */
    s = gort_slice_grow(s, elem_size, n, noscan);
    heap_memmove((char *)s.ptr + s.len * elem_size, elems, n * elem_size);
    s.len += n;
    return s;
}

gort_slice gort_slice_append(gort_slice s, size_t elem_size, const void *elems, size_t n)
{
    return append(s, elem_size, elems, n, false);
}

gort_slice gort_slice_append_noscan(gort_slice s, size_t elem_size, const void *elems, size_t n)
{
    return append(s, elem_size, elems, n, true);
}

size_t gort_slice_copy(gort_slice dst, gort_slice src, size_t elem_size)
{
    size_t n = dst.len < src.len ? dst.len : src.len;
    if (n && dst.ptr != src.ptr)
        heap_memmove(dst.ptr, src.ptr, n * elem_size);
    return n;
}

/* ---- Reslicing and indexing ------------------------------------------------ */

/* &s[lo], except that a result of capacity 0 keeps s.ptr (as Go's compiler
 * does): a pointer one past the array would point at the next heap object,
 * keeping the wrong object alive and not this one. */
static void *subptr(gort_slice s, size_t elem_size, size_t lo, size_t newcap)
{
    return newcap ? (char *)s.ptr + lo * elem_size : s.ptr;
}

gort_slice gort_slice_sub(gort_slice s, size_t elem_size, size_t lo, size_t hi)
{
    /* Go checks the high bound first, then lo <= hi. */
    if (hi > s.cap || negative(hi))
        panicslice("[:%zu] with capacity %zu", hi, s.cap);
    if (lo > hi)
        panicslice("[%zu:%zu]", lo, hi);
    return (gort_slice){ subptr(s, elem_size, lo, s.cap - lo), hi - lo, s.cap - lo };
}

gort_slice gort_slice_sub3(gort_slice s, size_t elem_size, size_t lo, size_t hi, size_t max)
{
    if (max > s.cap || negative(max))
        panicslice("[::%zu] with capacity %zu", max, s.cap);
    if (hi > max)
        panicslice("[:%zu:%zu]", hi, max);
    if (lo > hi)
        panicslice("[%zu:%zu:]", lo, hi);
    return (gort_slice){ subptr(s, elem_size, lo, max - lo), hi - lo, max - lo };
}

void *gort_slice_index(gort_slice s, size_t elem_size, size_t i)
{
    return gort_slice_at_(s, elem_size, i);
}
