/*
 * select.c — select over several channel operations (Go: runtime/select.go).
 *
 * selectgo first tries each case on its own (pass 0), then runs Go's three
 * passes with every involved channel locked:
 *
 *   pass 0: visit the cases in a random order (pollorder) and try each as
 *           a non-blocking send or receive, which looks without the lock
 *           and then takes only that channel's. Usually a case is ready,
 *           and the select costs one lock instead of one per channel.
 *   pass 1: the same under all the locks, in the same order, because a
 *           case may have become ready since: take the first one that can
 *           proceed now, exactly as chansend/chanrecv would. Random order
 *           makes the choice uniform among ready cases, so no case starves.
 *           With default (no blocking), nothing ready here means -1: the
 *           locks make this pass one instant at which no case was ready.
 *           Pass 0 alone could not say so: a value can move from a channel
 *           not yet tried to one already tried, so that every try fails
 *           although some case was ready all along. (With a single channel
 *           its one try is such an instant, and pass 1 is skipped.)
 *   pass 2: queue a sudog on every channel (all marked isSelect, all
 *           pointing at the same g) and park.
 *   (wake)  the first party to dequeue one of our sudogs wins the g's
 *           selectdone flag and completes that case as for a plain
 *           send/recv; any other party that finds a sibling sudog loses the
 *           flag and skips it (waitq_dequeue).
 *   pass 3: lock everything again and unqueue the sudogs of the losing
 *           cases, so they do not pile up on quiet channels.
 *
 * Deadlock-free locking: the channels are locked in address order
 * (lockorder, sorted with a heap sort: n log n, no recursion), each distinct
 * channel once even if several cases name it, and unlocked in reverse.
 * Cases on a NULL channel (Go's nil channel) are left out of both orders,
 * so they can never fire; a select with nothing but those blocks forever,
 * as `select {}` does.
 */
#include "chan.h"

#include <stdlib.h>

enum { SMALL_SELECT = 16 };         /* orders of smaller selects live on the stack */

/* The channel order of one select: what selunlock needs, bundled so that
 * send/recv can release the locks through a plain function pointer. */
typedef struct selorder {
    gort_select_case *cases;
    uint32_t *lockorder;
    uint32_t n;
} selorder;

static hchan *casechan(const selorder *o, uint32_t i)
{
    return (hchan *)o->cases[o->lockorder[i]].chan;
}

static void sellock(const selorder *o)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (i == 0 || casechan(o, i) != casechan(o, i - 1))
            lock(&casechan(o, i)->lock);
}

/* Unlocks in reverse lock order, each channel once. Only the select's own
 * g calls this (directly, or as send/recv's unlockf), so o stays valid. */
static void selunlock(void *arg)
{
    const selorder *o = arg;
    for (uint32_t i = o->n; i-- > 0;) {
        hchan *c = casechan(o, i);
        if (i > 0 && c == casechan(o, i - 1))
            continue;              /* unlock it at its first occurrence */
        unlock(&c->lock);
    }
}

/* gopark's unlock function: releases every channel, walking the g's sudog
 * list (in lock order) since the select's own frame must not be touched
 * once the first lock is released. */
static bool selparkcommit(g *gp, void *unused)
{
    hchan *lastc = NULL;
    for (sudog *sg = gp->waiting; sg; sg = sg->waitlink) {
        /* Unlock a channel only after passing its last sudog: once it is
         * unlocked, the fields of its sudogs may change. */
        if (sg->c != lastc && lastc)
            unlock(&lastc->lock);
        lastc = sg->c;
    }
    if (lastc)
        unlock(&lastc->lock);
    return true;
}

/* ---- Orders ----------------------------------------------------------------- */

/* A uniformly random permutation of the cases that have a channel
 * (inside-out Fisher-Yates). Returns how many there are. */
static uint32_t makepollorder(gort_select_case *cases, size_t ncases, uint32_t *pollorder)
{
    uint32_t norder = 0;
    for (uint32_t i = 0; i < ncases; i++) {
        if (!cases[i].chan)
            continue;
        uint32_t j = fastrandn(norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = i;
        norder++;
    }
    return norder;
}

static uintptr_t sortkey(gort_select_case *cases, uint32_t i) { return (uintptr_t)cases[i].chan; }

/* Heap sort of the poll order by channel address (so cases on one channel
 * stay in random order among themselves). */
static void makelockorder(gort_select_case *cases, const uint32_t *pollorder,
                          uint32_t *lockorder, uint32_t n)
{
    /* Build a max-heap, sifting each new element up. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i, o = pollorder[i];
        while (j > 0 && sortkey(cases, lockorder[(j - 1) / 2]) < sortkey(cases, o)) {
            lockorder[j] = lockorder[(j - 1) / 2];
            j = (j - 1) / 2;
        }
        lockorder[j] = o;
    }
    /* Repeatedly move the maximum to the end and sift the displaced
     * element down the shrunken heap. */
    for (uint32_t i = n; i-- > 0;) {
        uint32_t o = lockorder[i], j = 0;
        lockorder[i] = lockorder[0];
        for (;;) {
            uint32_t k = 2 * j + 1;
            if (k >= i)
                break;
            if (k + 1 < i && sortkey(cases, lockorder[k]) < sortkey(cases, lockorder[k + 1]))
                k++;
            if (sortkey(cases, o) >= sortkey(cases, lockorder[k]))
                break;
            lockorder[j] = lockorder[k];
            j = k;
        }
        lockorder[j] = o;
    }
}

/* ---- selectgo --------------------------------------------------------------- */

/* Pass 1: completes the first ready case in poll order, unlocking
 * everything. Returns its index, or -1 (still locked) if none is ready. */
static int pollcases(selorder *o, const uint32_t *pollorder, bool *recvOK)
{
    for (uint32_t k = 0; k < o->n; k++) {
        uint32_t casi = pollorder[k];
        gort_select_case *cas = &o->cases[casi];
        hchan *c = (hchan *)cas->chan;
        sudog *sg;
        if (cas->dir == GORT_RECV) {
            *recvOK = true;
            if ((sg = waitq_dequeue(&c->sendq))) {
                recv_sudog(c, sg, cas->elem, selunlock, o);
            } else if (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
                bufrecv(c, cas->elem);
                selunlock(o);
            } else if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
                selunlock(o);
                chanzero(c, cas->elem);
                *recvOK = false;
            } else {
                continue;
            }
        } else {
            if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
                selunlock(o);
                gopanic("send on closed channel");
            }
            if ((sg = waitq_dequeue(&c->recvq))) {
                send_sudog(c, sg, cas->elem, selunlock, o);
            } else if (atomic_load_explicit(&c->qcount, memory_order_relaxed) < c->dataqsiz) {
                bufsend(c, cas->elem);
                selunlock(o);
            } else {
                continue;
            }
        }
        return (int)casi;
    }
    return -1;
}

/* Pass 2 and 3: queues on every channel, parks, and after the wakeup
 * unqueues the losers. All channels locked on entry, unlocked on return. */
static int blockcases(selorder *o, bool *recvOK)
{
    g *gp = waitg();
    if (gp->waiting)
        throw("select: gp->waiting != NULL");
    sudog **nextp = &gp->waiting;
    for (uint32_t k = 0; k < o->n; k++) {
        gort_select_case *cas = &o->cases[o->lockorder[k]];
        hchan *c = (hchan *)cas->chan;
        sudog *sg = acquireSudog(gp);
        sg->g = gp;
        sg->isSelect = true;
        sg->elem = cas->elem;
        sg->c = c;
        *nextp = sg;               /* the g's list, in lock order */
        nextp = &sg->waitlink;
        waitq_enqueue(cas->dir == GORT_SEND ? &c->sendq : &c->recvq, sg);
    }
    *nextp = NULL;
    gp->param = NULL;
    waitpark(gp, selparkcommit, NULL, waitReasonSelect);

    sellock(o);
    atomic_store(&gp->selectdone, 0);
    sudog *winner = gp->param;
    gp->param = NULL;
    for (sudog *sg = gp->waiting; sg; sg = sg->waitlink) {
        sg->isSelect = false;
        sg->elem = NULL;
        sg->c = NULL;
    }
    int casi = -1;
    bool success = false;
    sudog *sglist = gp->waiting;
    gp->waiting = NULL;
    for (uint32_t k = 0; k < o->n; k++) {
        gort_select_case *cas = &o->cases[o->lockorder[k]];
        if (sglist == winner) {
            casi = (int)o->lockorder[k];   /* already dequeued by our waker */
            success = sglist->success;
        } else {
            hchan *c = (hchan *)cas->chan;
            waitq_remove(cas->dir == GORT_SEND ? &c->sendq : &c->recvq, sglist);
        }
        sudog *next = sglist->waitlink;
        sglist->waitlink = NULL;
        releaseSudog(gp, sglist);
        sglist = next;
    }
    if (casi < 0)
        throw("selectgo: bad wakeup");
    selunlock(o);
    if (o->cases[casi].dir == GORT_SEND && !success)
        gopanic("send on closed channel");
    *recvOK = success;
    return casi;
}

/* Pass 0: tries each case alone, in poll order, as a non-blocking send or
 * receive, which first looks without the lock and then takes only that
 * channel's. Returns the case that happened, or -1. The common select
 * finds a case ready and so takes one lock instead of all of them (Go
 * always locks every channel). Taking the first ready case in a random
 * order is still a uniform choice among the ready ones. A case that
 * happens here was ready at the instant it happened; -1 proves nothing
 * about all the cases at one instant (see pass 1). */
static int trycases(gort_select_case *cases, const uint32_t *pollorder, uint32_t n, bool *recvOK)
{
    for (uint32_t k = 0; k < n; k++) {
        gort_select_case *cas = &cases[pollorder[k]];
        hchan *c = (hchan *)cas->chan;
        if (cas->dir == GORT_RECV ? chantryrecv(c, cas->elem, recvOK)
                                  : chantrysend(c, cas->elem))
            return (int)pollorder[k];
    }
    return -1;
}

static int selectgo(gort_select_case *cases, size_t ncases, uint32_t *order, bool block, bool *recvOK)
{
    uint32_t *pollorder = order, *lockorder = order + ncases;
    selorder o = { cases, lockorder, makepollorder(cases, ncases, pollorder) };
    int casi = trycases(cases, pollorder, o.n, recvOK);
    /* Default with one channel: its try was the select (Go compiles that
     * select to selectnbsend/selectnbrecv, the same non-blocking op). */
    if (casi >= 0 || (!block && o.n <= 1))
        return casi;
    makelockorder(cases, pollorder, lockorder, o.n);
    sellock(&o);
    casi = pollcases(&o, pollorder, recvOK);   /* a case may have become ready */
    if (casi >= 0)
        return casi;
    if (!block) {
        selunlock(&o);                  /* no case ready while all were locked */
        return -1;
    }
    return blockcases(&o, recvOK);
}

int gort_select(gort_select_case *cases, size_t n, bool block)
{
    g *gp = foreignenter();
    RUNTIME_ENTRY_G(gp);
    gopreempt_check_g(gp);
    for (size_t i = 0; i < n; i++) {
        if (cases[i].dir != GORT_SEND && cases[i].dir != GORT_RECV)
            gopanic("gort_select: case %zu has invalid dir %d", i, cases[i].dir);
        (void)tochan(cases[i].chan);    /* a collected channel panics here */
    }
    if (n == 0) {
        if (block)
            waitforever(waitReasonSelectNoCases);
        return -1;
    }
    if (n > UINT32_MAX / 2)
        gopanic("gort_select: too many cases");
    uint32_t small[2 * SMALL_SELECT];
    uint32_t *order = n <= SMALL_SELECT ? small : malloc(2 * n * sizeof *order);
    if (!order)
        throw("runtime: out of memory");
    bool recvOK = false;
    int casi = selectgo(cases, n, order, block, &recvOK);
    if (casi >= 0 && cases[casi].dir == GORT_RECV && cases[casi].ok)
        *cases[casi].ok = recvOK;
    if (order != small)
        free(order);
    return casi;
}
