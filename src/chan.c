/*
 * chan.c — channels (Go: runtime/chan.go).
 *
 * A channel (hchan, see chan.h) is a ring buffer plus two queues of blocked
 * parties, under one lock. Every operation is one short critical section:
 *
 *   send:  1. closed?                      -> panic "send on closed channel"
 *          2. a receiver is waiting?       -> copy the value straight into
 *             the receiver's variable and wake it (the buffer is empty then)
 *          3. room in the buffer?          -> copy into buf[sendx]
 *          4. otherwise queue a sudog on sendq and park; the receiver that
 *             dequeues it copies the value out and wakes us.
 *   recv:  1. a sender is waiting?         -> unbuffered: copy from it;
 *             buffered (so the buffer is full): take buf[recvx], put the
 *             sender's value in the slot it frees, wake the sender
 *          2. something in the buffer?     -> take buf[recvx]
 *          3. closed?                      -> zero value, ok = false
 *          4. otherwise queue on recvq and park.
 *   close: mark closed, then wake every queued receiver (zero value,
 *          ok = false) and every queued sender (it panics when it runs).
 *
 * So a value is copied once when handed straight to a waiting partner and
 * twice when it passes through the buffer (in, then out); an unbuffered
 * channel is always a direct handoff: whoever arrives second copies.
 * Invariants (as Go's): at least one of sendq and recvq is empty, except
 * when one select both sends and receives on an unbuffered channel;
 * qcount > 0 implies recvq is empty; qcount < dataqsiz implies sendq is empty.
 *
 * Non-blocking operations (gort_chan_try_*, select with default) first look
 * without the lock: a channel that is open and full (or empty) can be
 * reported as "would block" from two single-word reads, because a channel
 * never becomes un-closed. Those words are atomics for that reason.
 *
 * Waiters are goroutines, or foreign threads blocking through a stand-in
 * g (park.h); the code below does not need to tell them apart.
 *
 * Memory: hchan and its buffer are one GC object, scanned conservatively
 * (the buffer may hold pointers) unless made with gort_chan_make_noscan,
 * freed by the collector when unreachable.
 * Sudogs are GC objects too, reachable from the Ps' caches, the central
 * list, the wait queues and the waiting G.
 */
#include "chan.h"
#include "malloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { maxElemSize = 1 << 16 };         /* Go's limit on a channel's element size */

#define hchanSize ((sizeof(hchan) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

void badchan(const void *c)
{
    gopanic("channel %p used after the collector freed it: keep a channel's pointer where the "
            "collector looks (goroutine stacks, globals, GC memory, gort_add_roots ranges), "
            "not only in malloc memory", c);
}

void chanSweepFreed(mspan *s)
{
    for (uintptr_t i = 0; i < s->nelems; i++) {
        bool alloc = i < s->freeindex || ((s->allocBits[i / 64] >> (i % 64)) & 1);
        bool marked = (s->gcmarkBits[i / 64] >> (i % 64)) & 1;
        if (alloc && !marked)
            atomic_store_explicit(&((hchan *)(s->startAddr + i * s->elemsize))->magic, 0,
                                  memory_order_relaxed);
    }
}

/* ---- Wait queues ------------------------------------------------------------ */

/* q->first is also read without the lock (full/empty), so it is stored
 * atomically; everything else in a queue is touched only under the lock. */
static void setfirst(waitq *q, sudog *s) { __atomic_store_n(&q->first, s, __ATOMIC_RELAXED); }
static sudog *loadfirst(waitq *q) { return __atomic_load_n(&q->first, __ATOMIC_ACQUIRE); }

void waitq_enqueue(waitq *q, sudog *sg)
{
    sg->next = NULL;
    sudog *x = q->last;
    sg->prev = x;
    if (x)
        x->next = sg;
    else
        setfirst(q, sg);
    q->last = sg;
}

sudog *waitq_dequeue(waitq *q)
{
    for (;;) {
        sudog *sg = q->first;
        if (!sg)
            return NULL;
        sudog *y = sg->next;
        setfirst(q, y);
        if (y)
            y->prev = NULL;
        else
            q->last = NULL;
        sg->next = NULL;
        /* A select is queued on several channels; between another case
         * waking it and it removing itself from the rest, whoever wins the
         * selectdone flag is the one that may wake it. */
        uint32_t zero = 0;
        if (sg->isSelect && !atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1))
            continue;
        return sg;
    }
}

void waitq_remove(waitq *q, sudog *sg)
{
    sudog *x = sg->prev, *y = sg->next;
    if (!x && !y && q->first != sg)
        return;                    /* already dequeued by whoever woke us */
    if (x)
        x->next = y;
    else
        setfirst(q, y);
    if (y)
        y->prev = x;
    else
        q->last = x;
    sg->next = sg->prev = NULL;
}

/* ---- The buffer --------------------------------------------------------------- */

static void *chanbuf(hchan *c, size_t i) { return (char *)c + hchanSize + i * c->elemsize; }

/* Elements may hold GC pointers and land in GC memory (the buffer, or a
 * receiver's heap object): copies and clears go through the write barrier
 * (typedmemmove, malloc.h), which is inline while the collector is not
 * marking. */
static void elemcopy(hchan *c, void *dst, const void *src)
{
    if (c->elemsize)
        typedmemmove(dst, src, c->elemsize);
}

void chanzero(hchan *c, void *ep)
{
    if (ep && c->elemsize)
        typedmemclr(ep, c->elemsize);
}

/* A receive from the buffer: *dst = *qp (dst may be NULL), then *qp = zero,
 * and when src is not NULL *qp = *src (a parked sender's value refills the
 * slot). All in one region while the barrier is off; the barrier's path
 * copies one at a time. */
static void elemtake(hchan *c, void *dst, void *qp, const void *src)
{
    size_t n = c->elemsize;
    if (!n)
        return;
    if (likely(n <= inlineBarrierCopy)) {
        gcLocal *l = nosuspend_enter();
        if (!writeBarrierOn()) {
            if (dst)
                memmove_sized(dst, qp, n);
            if (src)
                memmove_sized(qp, src, n);
            else
                memclr_sized(qp, n);
            nosuspend_exit_on(l);
            return;
        }
        nosuspend_exit_on(l);
    }
    if (dst)
        typedmemmove(dst, qp, n);
    if (src)
        typedmemmove(qp, src, n);
    else
        typedmemclr(qp, n);
}

static size_t qcount(hchan *c) { return atomic_load_explicit(&c->qcount, memory_order_acquire); }

static void qcount_add(hchan *c, long d)
{
    atomic_store_explicit(&c->qcount, qcount(c) + (size_t)d, memory_order_release);
}

static size_t advance(hchan *c, size_t i) { return i + 1 == c->dataqsiz ? 0 : i + 1; }

void bufsend(hchan *c, const void *ep)
{
    elemcopy(c, chanbuf(c, c->sendx), ep);
    c->sendx = advance(c, c->sendx);
    qcount_add(c, 1);
}

void bufrecv(hchan *c, void *ep)
{
    elemtake(c, ep, chanbuf(c, c->recvx), NULL);
    c->recvx = advance(c, c->recvx);
    qcount_add(c, -1);
}

/* Would a send block? One racy look, no lock (see the top comment). */
static bool full(hchan *c)
{
    if (c->dataqsiz == 0)
        return loadfirst(&c->recvq) == NULL;
    return qcount(c) == c->dataqsiz;
}

/* Would a receive block? */
static bool empty(hchan *c)
{
    if (c->dataqsiz == 0)
        return loadfirst(&c->sendq) == NULL;
    return qcount(c) == 0;
}

/* ---- Handing values to parked parties ----------------------------------------- */

static void unlockchan(void *c) { unlock(&((hchan *)c)->lock); }

/* sg has been dequeued; its waiter learns the outcome from sg->success. */
static void wake(sudog *sg, bool success, void (*unlockf)(void *), void *arg)
{
    g *gp = sg->g;
    unlockf(arg);
    gp->param = sg;
    sg->success = success;
    waitready(gp);
}

void send_sudog(hchan *c, sudog *sg, const void *ep, void (*unlockf)(void *), void *arg)
{
    if (sg->elem) {
        elemcopy(c, sg->elem, ep);
        sg->elem = NULL;
    }
    wake(sg, true, unlockf, arg);
}

void recv_sudog(hchan *c, sudog *sg, void *ep, void (*unlockf)(void *), void *arg)
{
    if (c->dataqsiz == 0) {
        if (ep)
            elemcopy(c, ep, sg->elem);
    } else {
        /* The buffer is full: take its head, and the sender's value fills
         * the slot just freed, which is the new tail. */
        elemtake(c, ep, chanbuf(c, c->recvx), sg->elem);
        c->recvx = advance(c, c->recvx);
        c->sendx = c->recvx;
    }
    sg->elem = NULL;
    wake(sg, true, unlockf, arg);
}

/* Queues the caller on q and parks until a partner or close dequeues it.
 * c is locked on entry and unlocked on return. Returns sg->success.
 * A plain send or receive waits in exactly one queue, so it uses the sudog
 * embedded in its g: Go takes one from the P's cache, which costs a pop
 * and a push per blocking operation. Only select needs several. Inline in
 * both callers: as a call it pays a frame of its own on every park. */
static ALWAYS_INLINE bool chanpark(g *gp, hchan *c, waitq *q, void *ep, enum waitreason reason)
{
    sudog *mysg = &gp->chansudog;
    mysg->elem = ep;
    mysg->waitlink = NULL;
    mysg->g = gp;
    mysg->isSelect = false;
    mysg->c = c;
    gp->waiting = mysg;
    gp->param = NULL;
    waitq_enqueue(q, mysg);
    waitparkunlock(gp, &c->lock, reason);
    if (mysg != gp->waiting)
        throw("G waiting list is corrupted");
    gp->waiting = NULL;
    gp->param = NULL;
    bool success = mysg->success;
    mysg->c = NULL;
    return success;
}

/* ---- Send, receive, close -------------------------------------------------------- */

/* gp: the caller's waitg() when block, else unused. */
static ALWAYS_INLINE bool chansend(g *gp, hchan *c, const void *ep, bool block)
{
    if (!c) {
        if (!block)
            return false;
        waitforever(waitReasonChanSendNilChan);
    }
    if (!block && !atomic_load(&c->closed) && full(c))
        return false;
    lock(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        unlock(&c->lock);
        gopanic("send on closed channel");
    }
    sudog *sg = waitq_dequeue(&c->recvq);
    if (sg) {
        send_sudog(c, sg, ep, unlockchan, c);
        return true;
    }
    if (qcount(c) < c->dataqsiz) {
        bufsend(c, ep);
        unlock(&c->lock);
        return true;
    }
    if (!block) {
        unlock(&c->lock);
        return false;
    }
    if (!chanpark(gp, c, &c->sendq, (void *)ep, waitReasonChanSend)) {
        if (!atomic_load(&c->closed))
            throw("chansend: spurious wakeup");
        gopanic("send on closed channel");
    }
    return true;
}

/* Returns whether the operation happened (false: it would block); sets
 * *received to false when it completed because c is closed and drained. */
static ALWAYS_INLINE bool chanrecv(g *gp, hchan *c, void *ep, bool block, bool *received)
{
    *received = false;
    if (!c) {
        if (!block)
            return false;
        waitforever(waitReasonChanReceiveNilChan);
    }
    if (!block && empty(c)) {
        if (!atomic_load(&c->closed))
            return false;
        /* Closed for good; recheck for data that arrived between the looks. */
        if (empty(c)) {
            chanzero(c, ep);
            return true;
        }
    }
    lock(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        if (qcount(c) == 0) {
            unlock(&c->lock);
            chanzero(c, ep);
            return true;
        }
    } else {
        sudog *sg = waitq_dequeue(&c->sendq);
        if (sg) {
            recv_sudog(c, sg, ep, unlockchan, c);
            *received = true;
            return true;
        }
    }
    if (qcount(c) > 0) {
        bufrecv(c, ep);
        unlock(&c->lock);
        *received = true;
        return true;
    }
    if (!block) {
        unlock(&c->lock);
        return false;
    }
    *received = chanpark(gp, c, &c->recvq, ep, waitReasonChanReceive);
    return true;
}

static void closechan(hchan *c)
{
    if (!c)
        gopanic("close of nil channel");
    lock(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        unlock(&c->lock);
        gopanic("close of closed channel");
    }
    atomic_store(&c->closed, 1);

    /* Collect everyone (linked through schedlink), wake them unlocked. */
    g *glist = NULL;
    sudog *sg;
    while ((sg = waitq_dequeue(&c->recvq))) {
        chanzero(c, sg->elem);
        sg->elem = NULL;
        sg->g->param = sg;
        sg->success = false;
        sg->g->schedlink = glist;
        glist = sg->g;
    }
    while ((sg = waitq_dequeue(&c->sendq))) {
        sg->elem = NULL;
        sg->g->param = sg;
        sg->success = false;
        sg->g->schedlink = glist;
        glist = sg->g;
    }
    unlock(&c->lock);
    while (glist) {
        g *gp = glist;
        glist = gp->schedlink;
        gp->schedlink = NULL;
        waitready(gp);
    }
}

/* Non-blocking send and receive for select's first pass (select.c). */
bool chantrysend(hchan *c, const void *ep) { return chansend(NULL, c, ep, false); }
bool chantryrecv(hchan *c, void *ep, bool *received) { return chanrecv(NULL, c, ep, false, received); }

/* ---- Public API ------------------------------------------------------------------- */

/* The hchan and its buffer, one zeroed GC object, cache-line aligned so that
 * the lock and the fields every operation touches share one line: with
 * senders and receivers on different threads, each line an operation
 * touches is one more transfer. Every size class that is a multiple of 64
 * bytes gives 64-aligned objects. A big buffer is a large object, whose
 * pages fresh from the OS are not cleared (nor committed) by the allocator.
 * noscan (elements hold no GC pointers) makes the collector skip the object,
 * as Go's makechan does for pointer-free element types: otherwise each cycle
 * reads the whole buffer, which commits every page of it on kernels that
 * back reads of untouched memory with real pages. The sudogs queued on the
 * channel stay reachable through their Gs (g.waiting, the waiter's stack). */
static hchan *makechan(size_t elem_size, size_t cap, bool noscan)
{
    RUNTIME_ENTRY();
    /* Go's compiler rejects such element types; here it is a run-time check. */
    if (elem_size >= maxElemSize)
        gopanic("makechan: invalid channel element type");
    /* cap > PTRDIFF_MAX is a negative size passed through size_t. */
    if ((elem_size && cap > (maxAlloc - hchanSize) / elem_size) || cap > (size_t)PTRDIFF_MAX)
        gopanic("makechan: size out of range");
    size_t size = (hchanSize + elem_size * cap + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
    hchan *c = mallocgc(size, NULL, noscan ? MALLOC_NOSCAN : 0);
    c->elemsize = (uint32_t)elem_size;
    c->dataqsiz = cap;
    atomic_store_explicit(&c->magic, hchanMagic, memory_order_relaxed);
    atomic_store_explicit(&spanOfHeap((uintptr_t)c)->hasChan, 1, memory_order_relaxed);
    return c;
}

gort_chan *gort_chan_make(size_t elem_size, size_t cap) { return (gort_chan *)makechan(elem_size, cap, false); }
gort_chan *gort_chan_make_noscan(size_t elem_size, size_t cap) { return (gort_chan *)makechan(elem_size, cap, true); }

void gort_chan_send(gort_chan *c, const void *elem)
{
    g *gp = waitg();
    RUNTIME_ENTRY_G(gp);
    gopreempt_check_g(gp);
    chansend(gp, tochan(c), elem, true);
}

bool gort_chan_recv(gort_chan *c, void *out)
{
    bool received;
    g *gp = waitg();
    RUNTIME_ENTRY_G(gp);
    gopreempt_check_g(gp);
    chanrecv(gp, tochan(c), out, true, &received);
    return received;
}

bool gort_chan_try_send(gort_chan *c, const void *elem)
{
    g *gp = foreignenter();
    RUNTIME_ENTRY_G(gp);
    gopreempt_check_g(gp);
    return chantrysend(tochan(c), elem);
}

bool gort_chan_try_recv(gort_chan *c, void *out, bool *ok)
{
    bool received;
    g *gp = foreignenter();
    RUNTIME_ENTRY_G(gp);
    gopreempt_check_g(gp);
    bool selected = chantryrecv(tochan(c), out, &received);
    if (selected && ok)
        *ok = received;
    return selected;
}

void gort_chan_close(gort_chan *c)
{
    RUNTIME_ENTRY();
    foreignenter();
    closechan(tochan(c));
}

size_t gort_chan_len(gort_chan *c) { return c ? qcount(tochan(c)) : 0; }
size_t gort_chan_cap(gort_chan *c) { return c ? tochan(c)->dataqsiz : 0; }
