/*
 * mgcwork.c — the mark phase's work queues (Go: mgcwork.go's gcWork,
 * workbuf, getempty/putfull/trygetfull, balance).
 *
 * Grey objects wait in workbufs: fixed-size arrays of addresses. Every
 * thread that marks (background workers, assisting goroutines, the write
 * barrier's shade, the stop-the-world collector) owns a gcWork with two of
 * them, and a global list holds full ones for anyone to take:
 *
 *   thread A's gcWork            global                 thread B's gcWork
 *   wbuf1 [■■■■□□□□]             full:  [■■■■■■■■] ──>  wbuf1 [□□□□□□□□]
 *   wbuf2 [■■■■■■■■]             full:  [■■■■■■■■]      wbuf2 [■■□□□□□□]
 *                                empty: [□□□□□□□□] ...
 *
 * put fills wbuf1; when it is full the two swap, and when both are full
 * wbuf1 goes on the full list and an empty buffer takes its place. tryGet
 * pops from wbuf1, swaps when it is empty, and takes a full buffer from
 * the global list when both are. Two buffers rather than one stop a
 * thread that sits at a buffer boundary from moving a buffer to the list
 * and back at every object (Go's hysteresis). A thread with work while the
 * global list is empty gives half a buffer to it (balance), so idle markers
 * find something to do: that is the "stealing".
 *
 * Go keeps a gcWork per P. gort keeps one per thread (in gclocal, roots.c
 * lists them): marking always runs inside a suspension-free region on one
 * thread, foreign threads and the background workers have no P, and the
 * stop-the-world collector flushes every thread's buffers at mark
 * termination. The global lists are under one lock, taken only when a whole
 * buffer moves.
 */
#include "malloc.h"

#include <string.h>

enum { workbufChunk = 64 << 10 };     /* buffers are carved from chunks of this size */

static struct {
    mutex    lock;
    workbuf *full, *empty;
    _Atomic uint32_t nfull;           /* read without the lock: is there work to take? */
    uintptr_t chunk, nchunk;          /* the current carve-out */
} wlists;

/* An empty buffer; the list's or a new one. */
static workbuf *getempty(void)
{
    lock(&wlists.lock);
    workbuf *b = wlists.empty;
    if (b) {
        wlists.empty = b->next;
    } else {
        if (wlists.nchunk < sizeof(workbuf)) {
            wlists.chunk = (uintptr_t)sysAlloc(workbufChunk, &memstats.gcMiscSys);
            if (!wlists.chunk)
                throw("runtime: out of memory allocating GC work buffers");
            wlists.nchunk = workbufChunk;
        }
        b = (workbuf *)wlists.chunk;
        wlists.chunk += sizeof(workbuf);
        wlists.nchunk -= sizeof(workbuf);
    }
    unlock(&wlists.lock);
    b->next = NULL;
    b->nobj = 0;
    return b;
}

static void putempty(workbuf *b)
{
    lock(&wlists.lock);
    b->next = wlists.empty;
    wlists.empty = b;
    unlock(&wlists.lock);
}

static void putfull(workbuf *b)
{
    lock(&wlists.lock);
    b->next = wlists.full;
    wlists.full = b;
    atomic_fetch_add(&wlists.nfull, 1);
    unlock(&wlists.lock);
}

static workbuf *trygetfull(void)
{
    if (atomic_load_explicit(&wlists.nfull, memory_order_relaxed) == 0)
        return NULL;
    lock(&wlists.lock);
    workbuf *b = wlists.full;
    if (b) {
        wlists.full = b->next;
        atomic_fetch_sub(&wlists.nfull, 1);
    }
    unlock(&wlists.lock);
    return b;
}

bool gcWorkAvailable(void) { return atomic_load(&wlists.nfull) != 0; }

void gcw_put(gcWork *w, uintptr_t obj)
{
    workbuf *b = w->wbuf1;
    if (unlikely(!b)) {
        b = w->wbuf1 = getempty();
        w->wbuf2 = getempty();
    } else if (unlikely(b->nobj == workbufEntries)) {
        w->wbuf1 = w->wbuf2;
        w->wbuf2 = b;
        b = w->wbuf1;
        if (b->nobj == workbufEntries) {
            putfull(b);
            b = w->wbuf1 = getempty();
        }
    }
    b->obj[b->nobj++] = obj;
}

uintptr_t gcw_tryGet(gcWork *w)
{
    workbuf *b = w->wbuf1;
    if (unlikely(!b)) {
        if (!(b = trygetfull()))
            return 0;
        w->wbuf1 = b;
        w->wbuf2 = getempty();
    }
    if (unlikely(b->nobj == 0)) {
        w->wbuf1 = w->wbuf2;
        w->wbuf2 = b;
        b = w->wbuf1;
        if (b->nobj == 0) {
            workbuf *f = trygetfull();
            if (!f)
                return 0;
            putempty(b);
            b = w->wbuf1 = f;
        }
    }
    return b->obj[--b->nobj];
}

bool gcw_empty(const gcWork *w)
{
    return !w->wbuf1 || (w->wbuf1->nobj == 0 && w->wbuf2->nobj == 0);
}

/* Gives half of a well-filled wbuf1 to the global list when that is empty. */
void gcw_balance(gcWork *w)
{
    workbuf *b = w->wbuf1;
    if (!b || atomic_load_explicit(&wlists.nfull, memory_order_relaxed) != 0)
        return;
    if (w->wbuf2->nobj != 0) {
        putfull(w->wbuf2);
        w->wbuf2 = getempty();
    } else if (b->nobj > 4) {
        workbuf *h = getempty();
        h->nobj = b->nobj / 2;
        b->nobj -= h->nobj;
        memcpy(h->obj, b->obj + b->nobj, h->nobj * sizeof h->obj[0]);
        putfull(h);
    }
}

/* Puts every grey object of w on the global list and folds its counters
 * into work's (Go's dispose). Region held, or the world stopped. */
void gcw_dispose(gcWork *w)
{
    for (int i = 0; i < 2; i++) {
        workbuf **bp = i ? &w->wbuf2 : &w->wbuf1;
        if (!*bp)
            continue;
        if ((*bp)->nobj)
            putfull(*bp);
        else
            putempty(*bp);
        *bp = NULL;
    }
    if (w->bytesMarked) {
        atomic_fetch_add(&work.bytesMarked, w->bytesMarked);
        w->bytesMarked = 0;
    }
}

/* Empties the global full list (the world stopped: a cycle's mark found
 * everything, or was cut short). */
void gcWorkReset(void)
{
    workbuf *b;
    while ((b = trygetfull()))
        putempty(b);
}
