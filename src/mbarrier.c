/*
 * mbarrier.c — the write barrier (Go: mbarrier.go's hybrid barrier,
 * gcWriteBarrier, typedmemmove, bulkBarrierPreWrite).
 *
 * While marking runs beside the program, a pointer store can hide an object
 * from the collector: the program loads a pointer out of a heap slot the
 * marker has not scanned yet, overwrites the slot, and keeps the pointer in
 * a place the marker has already passed. Go's hybrid barrier closes that
 * hole with two shades on every pointer store `*slot = ptr`:
 *
 *     shade(*slot)                  the old value (Yuasa's deletion barrier)
 *     if current stack is grey:
 *         shade(ptr)                the new value (Dijkstra's insertion barrier)
 *
 * In gort no goroutine runs with a grey stack: the pause that starts
 * marking scans the stacks of the running ones, and any other is scanned
 * before it runs again (mgcmark.c). So the second shade never applies:
 * what is left is the deletion barrier, a snapshot at the beginning. Every
 * object reachable when marking began is marked, because a pointer can only
 * leave the snapshot by being overwritten, and the overwrite shades it (a
 * stack scanned late was frozen until then); objects allocated during
 * marking are black (mgcmark.c). docs/gc.md walks through the argument.
 *
 * A C compiler puts no barrier on stores, so in GORT_GCMODE=barrier the
 * program promises to store pointers into GC memory through gort_store_ptr
 * and gort_memmove; the runtime's own stores into GC objects (map and slice
 * copies, channel elements) go through the same functions. The check of the
 * flag, the shades and the store form one suspension-free region: the
 * world, stopped to start marking, cannot be stopped between "the barrier
 * is off" and the store.
 */
#include "malloc.h"

#include <string.h>

static void shadeRange(const void *dst, size_t n)
{
    uintptr_t p = ((uintptr_t)dst + 7) & ~(uintptr_t)7, end = (uintptr_t)dst + n;
    for (; p + 8 <= end; p += 8)
        shade(*(volatile uintptr_t *)p);
}

void gort_store_ptr(void *slot, void *val)
{
    nosuspend_enter();
    if (unlikely(atomic_load_explicit(&writeBarrierEnabled, memory_order_relaxed)))
        shade(*(volatile uintptr_t *)slot);
    *(void *volatile *)slot = val;
    nosuspend_exit();
}

/* Copies in pieces so that one region never runs long. */
enum { barrierChunk = 64 << 10 };

/* Overwrites n bytes at dst with src's, or with zeros when src is NULL,
 * shading what they held. */
static void bulkBarrierWrite(void *dst, const void *src, size_t n)
{
    bool backward = src && (uintptr_t)dst > (uintptr_t)src && (uintptr_t)dst < (uintptr_t)src + n;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < barrierChunk ? n - done : barrierChunk;
        size_t off = backward ? n - done - k : done;
        nosuspend_enter();
        if (unlikely(atomic_load_explicit(&writeBarrierEnabled, memory_order_relaxed)))
            shadeRange((char *)dst + off, k);
        if (src)
            memmove((char *)dst + off, (const char *)src + off, k);
        else
            memset((char *)dst + off, 0, k);
        nosuspend_exit();
        done += k;
    }
}

void gort_memmove(void *dst, const void *src, size_t n) { bulkBarrierWrite(dst, src, n); }
void memclrHasPointers(void *dst, size_t n) { bulkBarrierWrite(dst, NULL, n); }
