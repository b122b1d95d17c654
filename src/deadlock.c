/*
 * deadlock.c — deadlock detection (Go: proc.go's checkdead), and the
 * threads that are not goroutines but block in gort anyway.
 *
 * Go's rule: when the last running M goes idle, and no goroutine is
 * runnable and no timer is pending, nothing can ever happen again, so the
 * program is dead: "fatal error: all goroutines are asleep - deadlock!".
 *
 * A C program that links gort breaks one premise of that rule: in Go only
 * goroutines (and timers, and the network) wake goroutines, but here any
 * thread of the C program may call gort_chan_send or gort_mutex_unlock at
 * any moment. gort therefore reports a deadlock only when all of this holds:
 *
 *   1. some thread waits in gort_main for its main goroutine: a "Go
 *      program" is running, and it is the thing that is stuck;
 *   2. every other thread that ever called into gort has exited or waits in
 *      gort_main too (a thread blocked in a channel operation counts as
 *      able to proceed: another thread might wake it);
 *   3. no M runs: each is idle or parked for a locked goroutine
 *      (mcount - nmidle - nmidlelocked == 0), so no goroutine runs, and an
 *      M in a syscall or asleep until a timer counts as running;
 *   4. no timer is pending on any P;
 *   5. no thread exists that gort does not know: the process has no more
 *      threads than the Ms, the registered threads, and the threads it had
 *      when gort first saw a foreign thread (sanitizer or emulator helpers,
 *      say). A thread the program started later that has not called into
 *      gort yet may still do so: a goroutine often starts a pthread and
 *      then waits for what it sends;
 *   6. some goroutine exists. If none does, the main goroutine ended with
 *      gort_goexit and nothing is left to run: Go's "no goroutines (main
 *      called runtime.Goexit) - deadlock!".
 * Rule 5 cannot see threads that existed before gort's first use and call
 * into it only later; docs/channels.md lists this. checkdead runs where an
 * M goes idle (stopm) and where an M locked to a goroutine parks
 * (stoplockedm), with sched.lock held.
 *
 * Foreign threads. A thread that is not an M has no g, so it cannot park.
 * When it must wait (a channel operation, a semaphore) it uses a stand-in g
 * allocated on its first call into gort: the sudogs point at the stand-in
 * as they would at a goroutine, the stand-in's `threadpark` note is where
 * the thread sleeps, and waitready wakes it with notewakeup instead of
 * goready. The stand-in is freed when the thread exits (a pthread key
 * destructor), which is also when it stops counting for rule 2.
 */
#include "chan.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct threadg { g g; note park; };

static _Atomic int32_t nforeign;     /* registered threads not waiting in gort_main */
static _Atomic int32_t nmainwait;    /* threads waiting in gort_main */
static __thread struct threadg *mythreadg;
static pthread_key_t threadkey;
static pthread_once_t threadkey_once = PTHREAD_ONCE_INIT;
static int32_t strangers0;           /* threads gort did not know at its first foreign call */

/* ---- Foreign threads --------------------------------------------------------- */

static void threadexit(void *tg)
{
    free(tg);
    atomic_fetch_sub(&nforeign, 1);
}

/* The process's thread count (Linux: /proc/self/status), or -1. */
static int32_t countthreads(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *t = strstr(buf, "\nThreads:");
    return t ? (int32_t)strtol(t + 9, NULL, 10) : -1;
}

/* Threads that are neither Ms nor registered (the caller must make sure
 * that every M counted in mcount is a live thread). */
static int32_t strangers(int32_t registered)
{
    int32_t n = countthreads();
    return n < 0 ? -1 : n - sched.mcount - registered;
}

/* First foreign call: every thread alive now but this one and the Ms is a
 * helper we must not wait for. */
static void firstforeign(void)
{
    if (pthread_key_create(&threadkey, threadexit) != 0)
        gort_throw("runtime: pthread_key_create failed");
    lock(&sched.lock);
    strangers0 = strangers(1);
    unlock(&sched.lock);
}

void foreign_register(void)
{
    if (mythreadg)
        return;
    struct threadg *tg = calloc(1, sizeof *tg);
    if (!tg)
        gort_throw("runtime: out of memory registering a thread");
    tg->g.threadpark = &tg->park;
    atomic_store(&tg->g.atomicstatus, Gwaiting);
    pthread_once(&threadkey_once, firstforeign);
    pthread_setspecific(threadkey, tg);
    mythreadg = tg;
    atomic_fetch_add(&nforeign, 1);
}

void foreign_main_wait(void)
{
    foreign_register();
    atomic_fetch_add(&nmainwait, 1);
    atomic_fetch_sub(&nforeign, 1);
}

/* Runs on the main goroutine, before it wakes its gort_main caller: the
 * thread counts as a possible waker again before it can run any C code. */
void foreign_main_done(void)
{
    atomic_fetch_add(&nforeign, 1);
    atomic_fetch_sub(&nmainwait, 1);
}

/* ---- Waiting: goroutines park, foreign threads sleep ---------------------------- */

g *waitg(void)
{
    g *gp = getg();
    if (!gp) {
        foreign_register();
        return &mythreadg->g;
    }
    if (gp == gp->m->g0)
        gort_throw("blocking operation on a scheduler stack (g0)");
    return gp;
}

void waitpark(g *gp, bool (*unlockf)(g *, void *), void *lock, enum waitreason reason)
{
    if (!gp->threadpark) {
        gopark(unlockf, lock, reason);
        return;
    }
    gp->waitreason = reason;
    atomic_fetch_add(&sched.nwaiting_threads, 1);
    if (!unlockf || unlockf(gp, lock))
        notesleep(gp->threadpark);
    noteclear(gp->threadpark);
    atomic_fetch_sub(&sched.nwaiting_threads, 1);
}

static bool parkunlock(g *gp, void *l)
{
    unlock(l);
    return true;
}

void waitparkunlock(g *gp, mutex *l, enum waitreason reason)
{
    waitpark(gp, parkunlock, l, reason);
}

void waitready(g *gp)
{
    if (gp->threadpark)
        notewakeup(gp->threadpark);
    else
        goready(gp);
}

void waitforever(enum waitreason reason)
{
    waitpark(waitg(), NULL, NULL, reason);
    gort_throw("unreachable: woke from a wait that has no waker");
}

/* ---- checkdead ------------------------------------------------------------------ */

/* An M just went idle; sched.lock is held. Dies if nothing can ever run again. */
void checkdead(void)
{
    if (atomic_load(&nmainwait) == 0 || atomic_load(&nforeign) > 0 ||
        atomic_load(&sched.nwaiting_threads) > 0)
        return;
    int32_t run = sched.mcount - sched.nmidle - sched.nmidlelocked;
    if (run > 0)
        return;
    if (run < 0)
        gort_throw("checkdead: inconsistent counts: mcount=%d nmidle=%d nmidlelocked=%d",
                   sched.mcount, sched.nmidle, sched.nmidlelocked);
    if (atomic_load(&sched.runqsize) > 0)
        gort_throw("checkdead: runnable g");
    if (nobarrierWakeTime() != 0)
        return;
    int32_t strange = strangers(atomic_load(&nmainwait));
    if (strange > strangers0)
        return;
    bool none = gort_num_goroutine() == 0;
    unlock(&sched.lock);
    if (none)
        gort_throw("no goroutines (main called runtime.Goexit) - deadlock!");
    gort_throw("all goroutines are asleep - deadlock!");
}
