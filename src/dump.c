/*
 * dump.c — the goroutine dump: SIGQUIT and gort_dump_goroutines (Go:
 * traceback.go's tracebackothers, goroutineheader and printcreatedby, and
 * signal_unix.go's SIGQUIT, which dumps every goroutine and exits 2).
 *
 * Every goroutine is printed as Go prints it:
 *
 *     goroutine 7 [chan receive, 2 minutes]:
 *     gopark(...)
 *             /src/gort/src/proc.c:1336 +0x8b
 *     ...
 *     worker(...)
 *             /src/app/main.c:12 +0x25
 *     created by main_goroutine in goroutine 1
 *             /src/app/main.c:20 +0x66
 *
 * The header gives the goid, the status or what the goroutine waits for
 * (Go's wait reason strings), for how long once that is a minute or more
 * (g.waitsince, noted lazily: proc.c zeroes it when a G starts to wait,
 * and the GC or a dump notes "now" the first time it sees the G waiting,
 * as Go does), and whether it is locked to its thread. Then its frames,
 * from the context it saved when it switched out (gwalk.h; for one
 * switched out by async preemption, on through asyncPreemptReturn's signal
 * frame into the code the signal interrupted); function+offset, and
 * file:line where debug information exists (symtab.c, libdw). A goroutine
 * running on another thread has no saved context: Go's words "goroutine
 * running on other thread; stack unavailable" then. Last, where it was
 * created (g.gopc) and by which goroutine. Goroutines the runtime keeps for
 * itself while idle (GC workers, forced-GC helper) are left out, as Go
 * leaves out its system goroutines.
 *
 * Two phases, so that no lock is taken while another thread may hold it:
 *
 *   1. With the world stopped by signal (stopTheWorldGC, roots.c: every
 *      thread that may run goroutines sits in a signal handler), each G's
 *      header fields are copied and its stack walked for raw PCs into
 *      memory mapped beforehand. Nothing here allocates or takes a runtime
 *      lock: allgs cannot change while the world is stopped, and a G whose
 *      stack a stopped thread is on (running, or half-way through a
 *      switch, its saved sp not yet valid: gStackInUse) is not walked.
 *   2. With the world running again, PCs become names and lines (libdw
 *      allocates and reads files) and the text is written.
 *
 * What can still block: libunwind finds unwind tables with
 * dl_iterate_phdr, which takes the dynamic loader's lock; a thread stopped
 * inside dlopen holds it, and the walk then waits for a thread that waits
 * for us. The collector's own stops have the same dependency.
 *
 * SIGQUIT. A signal handler may interrupt a thread holding malloc's lock or
 * a runtime lock, so the handler does nothing but note the signal and wake
 * a dedicated thread, started with the runtime, that sleeps in a futex and
 * otherwise never runs. That thread is an ordinary thread when it dumps: it
 * may stop the world, allocate and print, and then exits the process with
 * status 2. The handler is installed unless the program has a SIGQUIT
 * handler of its own (which it keeps); an ignored SIGQUIT is taken over, as
 * Go does (a shell starts background jobs with SIGQUIT ignored).
 */
#include "gwalk.h"
#include "malloc.h"
#include "symtab.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { DUMP_MAX_FRAMES = 100, DUMP_AVG_FRAMES = 32, DUMP_SPARE_GS = 64 };

/* One goroutine as seen with the world stopped. */
typedef struct gdump {
    uint64_t  goid, parentGoid;
    uintptr_t gopc;
    uintptr_t fn;            /* its entry function: the frame of a G that never ran */
    uint32_t  status;
    enum waitreason waitreason;
    int64_t   waitmin;       /* minutes waited so far */
    bool      locked;        /* locked to its thread */
    bool      onthread;      /* running on a thread: no saved context to walk */
    bool      elided;        /* frames left out: too many, or the pc pool was full */
    bool      self;          /* the goroutine that asked for the dump */
    uint32_t  pc0, npc;      /* its frames: pcs[pc0 .. pc0+npc) */
} gdump;

typedef struct dumpbuf {
    void      *mem;          /* one mapping holds gs and pcs */
    size_t     memsize;
    gdump     *gs;
    size_t     ng, gcap;
    uintptr_t *pcs;
    size_t     npc, pcap;
    g         *self;         /* the dumping goroutine, or NULL */
    int64_t    now;
    bool       overflow;     /* more Gs than gcap: map more and stop again */
} dumpbuf;

static bool dumpbuf_map(dumpbuf *b, size_t gcap)
{
    size_t pcap = gcap * DUMP_AVG_FRAMES + DUMP_MAX_FRAMES;
    b->memsize = gcap * sizeof(gdump) + pcap * sizeof(uintptr_t);
    b->mem = sysAlloc(b->memsize, NULL);
    if (!b->mem)
        return false;
    b->gs = b->mem;
    b->gcap = gcap;
    b->pcs = (uintptr_t *)(b->gs + gcap);
    b->pcap = pcap;
    b->ng = b->npc = 0;
    b->overflow = false;
    return true;
}

static void dumpbuf_unmap(dumpbuf *b)
{
    if (b->mem)
        sysFree(b->mem, b->memsize, NULL);
    b->mem = NULL;
}

/* The bottom frame of every goroutine is the gostart trampoline: Go hides
 * its equivalent, goexit, and so do we. */
static bool is_gostart(unw_cursor_t *c)
{
    unw_proc_info_t pi;
    return unw_get_proc_info(c, &pi) == 0 && pi.start_ip == (unw_word_t)gostart;
}

/* Appends the PCs of the walk w to d's frames. */
static void walk(dumpbuf *b, gdump *d, gwalk *w)
{
    d->pc0 = (uint32_t)b->npc;
    do {
        unw_word_t ip = 0;
        if (unw_get_reg(&w->c, UNW_REG_IP, &ip) != 0 || ip == 0 || is_gostart(&w->c))
            break;
        if (d->npc == DUMP_MAX_FRAMES || b->npc == b->pcap) {
            d->elided = true;
            break;
        }
        b->pcs[b->npc++] = (uintptr_t)ip;
        d->npc++;
    } while (unw_step(&w->c) > 0);
}

/* Walks a switched-out G from the context it saved. */
static void walk_saved(dumpbuf *b, gdump *d, g *gp)
{
    gwalk w;
    if (gwalk_init(&w, gp))
        walk(b, d, &w);
}

static bool is_system_goroutine(g *gp, uint32_t status)
{
    return status == Gwaiting && gp->waitreason == waitReasonFinalizerWait;
}

/* forEachGStopped's function: records gp (world stopped; see the top). */
static void collect_one(g *gp, void *arg)
{
    dumpbuf *b = arg;
    uint32_t status = atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
    if (status == Gdead || status == Gidle || gp == b->self || is_system_goroutine(gp, status))
        return;
    if (b->ng == b->gcap) {
        b->overflow = true;
        return;
    }
    gdump *d = &b->gs[b->ng++];
    *d = (gdump){ .goid = gp->goid, .parentGoid = gp->parentGoid, .gopc = gp->gopc,
                  .fn = (uintptr_t)gp->fn, .status = status, .waitreason = gp->waitreason,
                  .locked = gp->lockedm != NULL };
    waitsince_observe(gp, status, b->now);
    int64_t since = atomic_load_explicit(&gp->waitsince, memory_order_relaxed);
    if ((status == Gwaiting || status == Gsyscall) && since != 0)
        d->waitmin = (b->now - since) / (60 * (int64_t)1000000000);
    if (status == Grunning || status == Gsyscall || gStackInUse(gp))
        d->onthread = true;
    else
        walk_saved(b, d, gp);
}

/* The dumping goroutine itself, walked from here before the stop: it is
 * running, and its frames are the caller's. */
static NOINLINE void collect_self(dumpbuf *b)
{
    g *gp = b->self;
    gdump *d = &b->gs[b->ng++];
    *d = (gdump){ .goid = gp->goid, .parentGoid = gp->parentGoid, .gopc = gp->gopc,
                  .status = Grunning, .locked = gp->lockedm != NULL, .self = true };
    gwalk w;
    if (gwalk_here(&w))
        walk(b, d, &w);   /* from collect_self's caller */
}

/* Phase 1: map room for every G, stop the world, copy, start it. Retries
 * with more room if goroutines were created between the sizing and the
 * stop. NOINLINE and spilling its registers, as gcCycle: a stopper's own
 * frame is where the collector starts scanning its stack. */
static NOINLINE bool collect(dumpbuf *b)
{
    __builtin_unwind_init();
    uintptr_t sp = getsp();            /* below the spilled registers */
    size_t want = allgcount() + DUMP_SPARE_GS;
    for (;;) {
        if (!dumpbuf_map(b, want))
            return false;
        if (b->self)
            collect_self(b);
        stopTheWorldGC(sp);
        b->now = nanotime();
        forEachGStopped(collect_one, b);
        startTheWorldGC();
        if (!b->overflow)
            return true;
        want = allgcount() * 2 + DUMP_SPARE_GS;
        dumpbuf_unmap(b);
    }
}

/* ---- Phase 2: names, lines, text ------------------------------------------------ */

static const char *const gStatusStrings[] = {
    [Gidle] = "idle", [Grunnable] = "runnable", [Grunning] = "running",
    [Gsyscall] = "syscall", [Gwaiting] = "waiting", [Gdead] = "dead",
};

static void print_header(FILE *f, const gdump *d)
{
    const char *status = d->status < nelem(gStatusStrings) ? gStatusStrings[d->status] : "???";
    if (d->status == Gwaiting && d->waitreason != waitReasonZero)
        status = waitreason_string(d->waitreason);
    fprintf(f, "goroutine %llu [%s", (unsigned long long)d->goid, status);
    if (d->waitmin >= 1)
        fprintf(f, ", %lld minutes", (long long)d->waitmin);
    if (d->locked)
        fprintf(f, ", locked to thread");
    fprintf(f, "]:\n");
}

/* "\tfile:line +0xoff" for pc (fi: what symtab knows of it), or the object
 * and offset without line information. */
static void print_location(FILE *f, uintptr_t pc, const funcinfo *fi)
{
    if (fi->file)
        fprintf(f, "\t%s:%d", fi->file, fi->line);
    else
        fprintf(f, "\t%s +0x%lx pc=0x%lx", fi->object ? fi->object : "?",
                (unsigned long)(pc - fi->objbase), (unsigned long)pc);
    if (fi->file && fi->name && pc > fi->entry)
        fprintf(f, " +0x%lx", (unsigned long)(pc - fi->entry));
    fprintf(f, "\n");
}

/* ret: pc is a return address, looked up at pc-1 (in the call), as Go's
 * tracepc; the offset printed is pc's own. */
/* A C function's name: the symbol up to any '.', which only the compiler
 * adds (gopark.localalias, f.constprop.0, f.cold), never the programmer. */
static void print_funcname(FILE *f, const char *name)
{
    if (!name)
        name = "?";
    fprintf(f, "%.*s", (int)strcspn(name, "."), name);
}

static void print_frame(FILE *f, symtab *st, uintptr_t pc, bool ret)
{
    funcinfo fi;
    symtab_lookup(st, ret ? pc - 1 : pc, &fi);
    print_funcname(f, fi.name);
    fprintf(f, "(...)\n");
    print_location(f, pc, &fi);
}

static void print_createdby(FILE *f, symtab *st, const gdump *d)
{
    if (!d->gopc)
        return;
    funcinfo fi;
    symtab_lookup(st, d->gopc - 1, &fi);
    fprintf(f, "created by ");
    print_funcname(f, fi.name);
    if (d->parentGoid)
        fprintf(f, " in goroutine %llu", (unsigned long long)d->parentGoid);
    fprintf(f, "\n");
    print_location(f, d->gopc, &fi);
}

static void print_goroutine(FILE *f, symtab *st, const dumpbuf *b, const gdump *d)
{
    print_header(f, d);
    if (d->onthread)
        fprintf(f, "\tgoroutine running on other thread; stack unavailable\n");
    else if (d->npc == 0 && d->fn)
        print_frame(f, st, d->fn, false);      /* never ran: about to enter fn */
    for (uint32_t i = 0; i < d->npc; i++)
        print_frame(f, st, b->pcs[d->pc0 + i], true);
    if (d->elided)
        fprintf(f, "...additional frames elided...\n");
    print_createdby(f, st, d);
}

/* The dumping goroutine first, then by goid. */
static int gdump_cmp(const void *x, const void *y)
{
    const gdump *a = x, *b = y;
    if (a->self != b->self)
        return a->self ? -1 : 1;
    return a->goid < b->goid ? -1 : a->goid > b->goid;
}

static void dump(FILE *f)
{
    dumpbuf b = { .self = ingoroutine() ? getg() : NULL };
    gcRegisterThread(NULL);             /* a stopper must be known to the collector */
    if (!collect(&b)) {
        fprintf(f, "goroutine dump: out of memory\n");
        return;
    }
    qsort(b.gs, b.ng, sizeof *b.gs, gdump_cmp);
    symtab *st = symtab_open();
    for (size_t i = 0; i < b.ng; i++) {
        if (i > 0)
            fprintf(f, "\n");
        print_goroutine(f, st, &b, &b.gs[i]);
    }
    symtab_close(st);
    dumpbuf_unmap(&b);
    fflush(f);
}

void gort_dump_goroutines(FILE *f)
{
    RUNTIME_ENTRY();
    runtime_init();
    dump(f ? f : stderr);
}

/* ---- SIGQUIT ----------------------------------------------------------------------- */

static _Atomic uint32_t quitting;     /* futex word: 1 once SIGQUIT came */
static struct { uintptr_t pc; int64_t m; int code; } quitinfo;

/* Notes the signal and wakes the dumper; nothing else (see the top). A
 * second SIGQUIT while the dump runs changes nothing. Under TSan the kernel
 * calls it directly (see dump_init), so it is not instrumented and calls
 * only libc's syscall. */
__attribute__((no_sanitize_thread)) static void sigquit_handler(int sig, siginfo_t *si, void *uc)
{
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&quitting, &zero, 1))
        return;
    int saved = errno;
#if !GORT_TSAN
    uintptr_t sp;
    ctx_pc_sp(uc, &quitinfo.pc, &sp);
#endif
    m *mp = getm();
    quitinfo.m = mp ? mp->id : -1;
    quitinfo.code = si->si_code;
    syscall(SYS_futex, &quitting, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}

static void *dumper(void *arg)
{
    while (atomic_load(&quitting) == 0)
        futexsleepNoGC(&quitting, 0, -1);
    fprintf(stderr, "SIGQUIT: quit\nPC=0x%lx", (unsigned long)quitinfo.pc);
    if (quitinfo.m >= 0)
        fprintf(stderr, " m=%lld", (long long)quitinfo.m);
    fprintf(stderr, " sigcode=%d\n\n", quitinfo.code);
    dump(stderr);
    _exit(2);
}

/* TSan runs a program's handlers late: it notes the signal and calls the
 * handler when the receiving thread next enters libc through TSan. A
 * thread asleep in a raw futex call may never do so, and the dump would
 * not happen; so under TSan the handler is installed with libc's own
 * sigaction, behind TSan's back, and runs at once. */
static int sigaction_direct(int sig, const struct sigaction *sa, struct sigaction *old)
{
#if GORT_TSAN
    /* libc's own symbol: RTLD_NEXT would find TSan's interceptor first. */
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    int (*real)(int, const struct sigaction *, struct sigaction *) = libc ?
        (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(libc, "sigaction") : NULL;
    if (real)
        return real(sig, sa, old) == 0 ? 0 : -errno;
#endif
    return sigaction_(sig, sa, old);
}

void dump_init(void)
{
    struct sigaction old, sa;
    if (sigaction_(SIGQUIT, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
        (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        return;
    newosproc(dumper, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigquit_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction_direct(SIGQUIT, &sa, NULL);
}
