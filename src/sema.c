/*
 * sema.c — semaphores keyed by address, and notify lists (Go: runtime/sema.go).
 *
 * The sync package (sync.c) is built on two runtime services:
 *
 * 1. semacquire/semrelease on any uint32_t in memory: the word holds the
 *    count, and goroutines that find it at zero sleep in a table the
 *    runtime keeps, keyed by the word's address. So a gort_mutex needs no
 *    constructor and no destructor: its `sema` word is all there is.
 *
 *        semtable[251]  (addr >> 3) % 251 picks a root; each root is a lock
 *        |                and a treap of sudogs, one node per distinct address,
 *        v                each node heading a FIFO list of more waiters on
 *      semaRoot           that same address:
 *        treap ──> [addr 0x50] ── waitlink ──> [0x50] ──> [0x50]
 *                   /      \
 *             [0x28]        [0x98]
 *
 *    The treap is a binary search tree on the address that keeps itself
 *    balanced by keeping random priorities (`ticket`) in heap order, so
 *    finding an address is O(log n) even when many distinct addresses
 *    collide in one root. nwait lets semrelease skip the lock when nobody
 *    waits. A caller may queue at the head (lifo): sync.Mutex does so for a
 *    waiter that was woken once and lost the lock to a newcomer. In handoff
 *    mode (sync.Mutex starving) semrelease passes the count directly to the
 *    waiter it wakes (ticket = 1) and yields the P to it.
 *
 * 2. notify lists for gort_cond (Go's notifyList): a waiter takes a ticket
 *    before it releases its lock, then sleeps unless its ticket has already
 *    been notified; Signal wakes the holder of the oldest unnotified
 *    ticket, Broadcast all of them. Tickets make a Signal that races with
 *    Wait impossible to lose.
 *
 * Waiters may be goroutines or foreign threads (park.h's stand-in g).
 */
#include "sema.h"

enum { semTabSize = 251 };      /* prime, so it does not correlate with user patterns */

typedef struct semaRoot {
    mutex  lock;
    sudog *treap;                /* waiters, one node per distinct address */
    _Atomic uint32_t nwait;      /* waiters; read without the lock */
} ALIGNED_CL semaRoot;

static semaRoot semtable[semTabSize];

static semaRoot *semroot(uint32_t *addr)
{
    return &semtable[((uintptr_t)addr >> 3) % semTabSize];
}

static bool cansemacquire(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_ACQUIRE);
    while (v != 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return true;
    }
    return false;
}

/* ---- The treap -------------------------------------------------------------- */

/* The slot that points at x: its parent's left or right, or the root. */
static sudog **parentslot(semaRoot *root, sudog *x)
{
    sudog *p = x->parent;
    if (!p)
        return &root->treap;
    if (p->left == x)
        return &p->left;
    if (p->right != x)
        throw("semaRoot: treap links corrupted");
    return &p->right;
}

/* (x a (y b c)) => (y (x a b) c) */
static void rotateLeft(semaRoot *root, sudog *x)
{
    sudog *y = x->right, *b = y->left;
    *parentslot(root, x) = y;
    y->parent = x->parent;
    y->left = x;
    x->parent = y;
    x->right = b;
    if (b)
        b->parent = x;
}

/* (y (x a b) c) => (x a (y b c)) */
static void rotateRight(semaRoot *root, sudog *y)
{
    sudog *x = y->left, *b = x->right;
    *parentslot(root, y) = x;
    x->parent = y->parent;
    x->right = y;
    y->parent = x;
    y->left = b;
    if (b)
        b->parent = y;
}

/* Puts s in t's place in the tree (t leaves it; its list is not touched). */
static void treap_replace(semaRoot *root, sudog *t, sudog *s)
{
    *parentslot(root, t) = s;
    s->parent = t->parent;
    s->left = t->left;
    s->right = t->right;
    s->ticket = t->ticket;
    if (s->left)
        s->left->parent = s;
    if (s->right)
        s->right->parent = s;
    t->parent = t->left = t->right = NULL;
}

/* Adds s, on behalf of gp, to the waiters on addr. */
static void semaqueue(semaRoot *root, uint32_t *addr, sudog *s, g *gp, bool lifo)
{
    s->g = gp;
    s->elem = addr;
    s->left = s->right = s->parent = NULL;
    s->waitlink = s->waittail = NULL;
    sudog *last = NULL, **pt = &root->treap;
    for (sudog *t = *pt; t; t = *pt) {
        if (t->elem == (void *)addr) {
            if (lifo) {
                /* s heads the list now: it takes t's node in the tree. */
                treap_replace(root, t, s);
                s->waitlink = t;
                s->waittail = t->waittail ? t->waittail : t;
                t->waittail = NULL;
            } else {
                if (t->waittail)
                    t->waittail->waitlink = s;
                else
                    t->waitlink = s;
                t->waittail = s;
            }
            return;
        }
        last = t;
        pt = (uintptr_t)addr < (uintptr_t)t->elem ? &t->left : &t->right;
    }
    /* A new address: a leaf with a random priority (odd, so never 0),
     * rotated up while its parent's priority is larger. */
    s->ticket = fastrand() | 1;
    s->parent = last;
    *pt = s;
    while (s->parent && s->parent->ticket > s->ticket) {
        if (s->parent->left == s)
            rotateRight(root, s->parent);
        else
            rotateLeft(root, s->parent);
    }
}

/* Removes and returns the first waiter on addr, or NULL. */
static sudog *semadequeue(semaRoot *root, uint32_t *addr)
{
    sudog *s = root->treap;
    while (s && s->elem != (void *)addr)
        s = (uintptr_t)addr < (uintptr_t)s->elem ? s->left : s->right;
    if (!s)
        return NULL;
    sudog *t = s->waitlink;
    if (t) {
        /* The next waiter on addr takes s's node. */
        treap_replace(root, s, t);
        t->waittail = t->waitlink ? s->waittail : NULL;
    } else {
        /* Rotate s down to a leaf, keeping the heap order, then cut it off. */
        while (s->left || s->right) {
            if (!s->right || (s->left && s->left->ticket < s->right->ticket))
                rotateRight(root, s);
            else
                rotateLeft(root, s);
        }
        *parentslot(root, s) = NULL;
    }
    s->parent = s->left = s->right = NULL;
    s->waitlink = s->waittail = NULL;
    s->elem = NULL;
    s->ticket = 0;
    return s;
}

/* ---- Acquire and release --------------------------------------------------------- */

/* Does the mutex profile time this wait (a contended gort_mutex or
 * gort_rwmutex, with the profile on)? */
static bool mutexprofiled(enum waitreason reason)
{
    return unlikely(atomic_load_explicit(&mutexprofilerate, memory_order_relaxed) > 0) &&
           (reason == waitReasonSyncMutexLock || reason == waitReasonSyncRWMutexLock ||
            reason == waitReasonSyncRWMutexRLock);
}

void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason)
{
    if (cansemacquire(addr))
        return;
    /* Announce ourselves in nwait, then check once more under the lock: a
     * semrelease after that check sees nwait and comes to wake us. */
    g *gp = waitg();
    sudog *s = acquireSudog(gp);
    semaRoot *root = semroot(addr);
    s->ticket = 0;
    for (;;) {
        lock(&root->lock);
        atomic_fetch_add(&root->nwait, 1);
        if (cansemacquire(addr)) {
            atomic_fetch_sub(&root->nwait, 1);
            unlock(&root->lock);
            break;
        }
        s->acquiretime = mutexprofiled(reason) ? nanotime() : 0;
        semaqueue(root, addr, s, gp, lifo);
        gp->waiting = s;        /* what it waits on, for the leak pass (mgcleak.c) */
        waitparkunlock(gp, &root->lock, reason);
        gp->waiting = NULL;
        if (s->ticket != 0 || cansemacquire(addr))
            break;              /* handed the count, or won it */
    }
    s->ticket = 0;
    releaseSudog(gp, s);
}

void semrelease1(uint32_t *addr, bool handoff)
{
    semaRoot *root = semroot(addr);
    __atomic_fetch_add(addr, 1, __ATOMIC_ACQ_REL);
    if (atomic_load(&root->nwait) == 0)
        return;
    lock(&root->lock);
    if (atomic_load(&root->nwait) == 0) {
        unlock(&root->lock);    /* a waiter took the count meanwhile */
        return;
    }
    sudog *s = semadequeue(root, addr);
    if (s)
        atomic_fetch_sub(&root->nwait, 1);
    unlock(&root->lock);
    if (!s)
        return;
    if (unlikely(s->acquiretime))   /* the unlocker's stack ends the contention (Go's) */
        mutexevent(nanotime() - s->acquiretime);
    bool handed = handoff && cansemacquire(addr);
    if (handed)
        s->ticket = 1;
    waitready(s->g);
    /* Starving mutex: the waiter sits in our runnext; let it run at once
     * on our P, and take its place in the queue. */
    if (handed && ingoroutine())
        gosched();
}

/* ---- Notify lists (gort_cond) ---------------------------------------------------- */

/* a < b for counters that wrap, whose true difference is below 2^31. */
static bool less(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

_Static_assert(sizeof(mutex) <= sizeof(((gort_cond *)0)->lock), "gort_cond.lock holds a mutex");
static mutex *nllock(gort_cond *l) { return (mutex *)&l->lock; }

uint32_t notifyListAdd(gort_cond *l)
{
    return __atomic_fetch_add(&l->wait, 1, __ATOMIC_ACQ_REL);
}

void notifyListWait(gort_cond *l, uint32_t t)
{
    g *gp = waitg();
    lock(nllock(l));
    if (less(t, __atomic_load_n(&l->notify, __ATOMIC_ACQUIRE))) {
        unlock(nllock(l));      /* already notified */
        return;
    }
    sudog *s = acquireSudog(gp);
    s->g = gp;
    s->ticket = t;
    s->next = NULL;
    if (l->tail)
        ((sudog *)l->tail)->next = s;
    else
        l->head = s;
    l->tail = s;
    s->elem = l;                /* what it waits on, for the leak pass (mgcleak.c) */
    gp->waiting = s;
    waitparkunlock(gp, nllock(l), waitReasonSyncCondWait);
    gp->waiting = NULL;
    s->elem = NULL;
    s->ticket = 0;
    releaseSudog(gp, s);
}

void notifyListNotifyAll(gort_cond *l)
{
    if (__atomic_load_n(&l->wait, __ATOMIC_ACQUIRE) == __atomic_load_n(&l->notify, __ATOMIC_ACQUIRE))
        return;                 /* nobody took a ticket since the last notify */
    lock(nllock(l));
    sudog *s = l->head;
    l->head = l->tail = NULL;
    __atomic_store_n(&l->notify, __atomic_load_n(&l->wait, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    unlock(nllock(l));
    while (s) {
        sudog *next = s->next;
        s->next = NULL;
        waitready(s->g);
        s = next;
    }
}

void notifyListNotifyOne(gort_cond *l)
{
    if (__atomic_load_n(&l->wait, __ATOMIC_ACQUIRE) == __atomic_load_n(&l->notify, __ATOMIC_ACQUIRE))
        return;
    lock(nllock(l));
    uint32_t t = l->notify;
    if (t == __atomic_load_n(&l->wait, __ATOMIC_ACQUIRE)) {
        unlock(nllock(l));
        return;
    }
    __atomic_store_n(&l->notify, t + 1, __ATOMIC_RELEASE);
    /* The holder of ticket t is near the head (waiters queue in roughly
     * ticket order); if it has not queued yet, it will see notify > t and
     * not sleep at all. */
    for (sudog *prev = NULL, *s = l->head; s; prev = s, s = s->next) {
        if (s->ticket != t)
            continue;
        if (prev)
            prev->next = s->next;
        else
            l->head = s->next;
        if (!s->next)
            l->tail = prev;
        unlock(nllock(l));
        s->next = NULL;
        waitready(s->g);
        return;
    }
    unlock(nllock(l));
}
