/*
 * chan.h — the internal contract of channels (chan.c) and select
 * (select.c). Go keeps these in chan.go and select.go; the types are Go's.
 *
 * A channel is an hchan: a ring buffer of dataqsiz elements plus two FIFO
 * queues of waiters (sudogs), all guarded by one runtime mutex.
 *
 *   hchan: qcount dataqsiz buf elemsize closed sendx recvx recvq sendq lock
 *                           |                            |
 *                           v                            v
 *            [e0][e1][e2][e3]                 sudog <-> sudog <-> sudog
 *             ^recvx   ^sendx                 (one per blocked G, FIFO)
 *
 * The public type gort_chan is this struct under another name. A sudog
 * stands for one waiting party, a goroutine or a foreign thread's stand-in
 * (park.h).
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include "park.h"

typedef struct waitq { sudog *first, *last; } waitq;

typedef struct hchan {
    mutex            lock;      /* guards all of the below and the sudogs queued here */
    _Atomic uint32_t closed;
    _Atomic uint32_t magic;     /* hchanMagic while the block is a live channel */
    uint32_t         elemsize;  /* immutable; may be 0; below 64 KiB (makechan); fills magic's padding */
    _Atomic size_t   qcount;    /* elements in buf (read unlocked by fast paths) */
    size_t           dataqsiz;  /* capacity; immutable */
    size_t           sendx;     /* next slot to fill */
    size_t           recvx;     /* next slot to drain */
    waitq            recvq;     /* blocked receivers */
    waitq            sendq;     /* blocked senders */
} hchan;

/* A collected channel. The collector can free a channel the program still
 * uses when its only pointer lies where it does not look (malloc memory);
 * the sweeper clears the magic word of every channel block it frees
 * (chanSweepFreed), so an operation on one panics, naming that cause,
 * instead of corrupting what reuses the memory. (Once a new channel reuses
 * the block, the check cannot tell.) */
enum { hchanMagic = 0x6e616863 };     /* "chan" */
NORETURN void badchan(const void *c);
static inline hchan *tochan(gort_chan *c)
{
    hchan *h = (hchan *)c;
    if (h && unlikely(atomic_load_explicit(&h->magic, memory_order_relaxed) != hchanMagic))
        badchan(h);
    return h;
}

/* ---- Wait queues (chan.c); the channel's lock held ------------------------ */

void   waitq_enqueue(waitq *q, sudog *sg);
/* Removes and returns the first waiter that may still be woken: a select
 * whose other case already fired is skipped (see g.selectdone). */
sudog *waitq_dequeue(waitq *q);
/* Unlinks sg from q (a select tidying up its losing cases). Go's dequeueSudoG. */
void   waitq_remove(waitq *q, sudog *sg);

/* ---- Channel operations shared with select.c (chan.c); c locked ------------- */

/* Hands ep to the dequeued receiver sg / takes the dequeued sender sg's
 * value into ep (or into the buffer, taking the head for ep). Both release
 * the channel locks with unlockf(arg) before waking sg's waiter. */
void send_sudog(hchan *c, sudog *sg, const void *ep, void (*unlockf)(void *), void *arg);
void recv_sudog(hchan *c, sudog *sg, void *ep, void (*unlockf)(void *), void *arg);
void bufsend(hchan *c, const void *ep);   /* the buffer has room */
void bufrecv(hchan *c, void *ep);         /* the buffer is not empty; ep may be NULL */
void chanzero(hchan *c, void *ep);        /* *ep = the zero value, if ep */
/* Non-blocking send / receive (gort_chan_try_*), c unlocked: true if the
 * operation happened; *received: a value, not the zero of a closed channel. */
bool chantrysend(hchan *c, const void *ep);
bool chantryrecv(hchan *c, void *ep, bool *received);

#endif /* GORT_CHAN_H */
