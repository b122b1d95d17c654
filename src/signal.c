/*
 * signal.c — signal handling (Go: signal_unix.go).
 *
 * gort installs one handler, for SIGSEGV and SIGBUS, running on a per-thread
 * alternate signal stack (a goroutine that overflowed has no stack left to
 * run a handler on). It decides what the fault means:
 *
 *   - the address is in the guard below the current goroutine's stack (or a
 *     gort_call_on_stack segment): "fatal error: stack overflow", Go's words,
 *     with the goroutine id and a traceback, exit 2;
 *   - otherwise, if the program had its own handler before gort started, the
 *     fault is passed on to it, so gort coexists with crash reporters;
 *   - otherwise Go's nil-dereference panic text, a traceback, exit 2.
 *
 * Asynchronous preemption (Go: preempt.go, signal_unix.go's doSigPreempt).
 * A goroutine that computes for a whole time slice without calling the
 * runtime cannot see its P's preempt flag, so sysmon also sends its thread
 * SIGURG (preemptM, sysmon.c), as Go does. The handler switches the
 * goroutine out only where that is safe in C:
 *
 *   - the thread runs a goroutine whose P was asked to preempt, in the
 *     Grunning state, on its own stack, with room below its stack pointer;
 *   - its PC is in the program's own code: an executable segment of the
 *     main program, or of a library the program allowed with
 *     gort_async_preempt_allow, and never in gort itself (all of gort's
 *     code sits in the section gort_text, cmake/gort-text.sh). libc, the
 *     dynamic loader and the sanitizer runtimes are other objects, so a
 *     goroutine inside malloc or printf (holding their locks, keeping
 *     thread-local addresses) is never switched out.
 *
 * Otherwise the handler returns and sysmon tries again next round. To
 * preempt, the handler copies the kernel's signal frame (all registers, the
 * flags, the full FP/vector state) onto the goroutine's stack and makes the
 * thread continue in asyncPreempt, on that stack, as a handler called from
 * a signal frame: its return address is asyncPreemptReturn
 * (arch/<arch>/preempt.S), which, like the restorer the kernel gives every
 * handler, calls rt_sigreturn on the copy its stack pointer then points
 * at. asyncPreempt yields like gort_yield; when the goroutine runs again,
 * perhaps on another thread, asyncPreempt returns, and the kernel restores
 * every register and resumes the interrupted instruction. Unwinders see
 * asyncPreemptReturn as a signal frame, so a walk from inside asyncPreempt
 * (a CPU profile sample, the goroutine dump) goes on into the interrupted
 * code. The frame surgery is per-arch (arch/<arch>/sigctx.c). Under TSan
 * there is no asynchronous preemption: TSan delivers signals late, on a
 * copy of the context, so a rewritten context would be lost.
 * GORT_DEBUG=asyncpreemptoff=1 turns it off.
 */
#include "malloc.h"          /* gclocal */

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

enum { SIGSTACK_SIZE = 64 << 10 };

static struct sigaction old_segv, old_bus;

NORETURN void fatal_signal(const char *header, void *ucontext);

/* The one way gort installs a handler (Go: os_linux.go's setsig). */
int setsig(int sig, void (*fn)(int, siginfo_t *, void *), int flags, bool blockall,
           struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    if (blockall)
        sigfillset(&sa.sa_mask);
    else
        sigemptyset(&sa.sa_mask);
    return sigaction_(sig, &sa, old);
}

/* Go: signal_unix.go's sigfwd. */
bool sigfwd(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction)
        old->sa_sigaction(sig, si, uc);
    else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
        old->sa_handler(sig);
    else
        return false;
    return true;
}

static void forward(int sig, siginfo_t *si, void *uc)
{
    if (sigfwd(sig == SIGSEGV ? &old_segv : &old_bus, sig, si, uc))
        return;
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "panic: runtime error: invalid memory address or nil pointer dereference\n"
             "[signal %s: %s code=0x%x addr=%p]\n",
             sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
             sig == SIGSEGV ? "segmentation violation" : "bus error",
             si->si_code, si->si_addr);
    fatal_signal(hdr, uc);
}

static void sighandler(int sig, siginfo_t *si, void *uc)
{
    g *gp = getg();
    if (gp && ingoroutine() && stack_is_guard((uintptr_t)si->si_addr, gp)) {
        char hdr[256];
        snprintf(hdr, sizeof hdr,
                 "runtime: goroutine %llu stack exceeds %zu-byte limit\n"
                 "runtime: addr=%p stack=[%#lx, %#lx]\n"
                 "fatal error: stack overflow\n",
                 (unsigned long long)gp->goid, stack_size_of(gp), si->si_addr,
                 (unsigned long)stack_guard_end(gp), (unsigned long)stack_top(gp));
        fatal_signal(hdr, uc);
    }
    forward(sig, si, uc);
}

/* ---- Asynchronous preemption ---------------------------------------------- */

/* The runtime's own code (cmake/gort-text.sh); weak, so a build without
 * the section still links (then no PC counts as the runtime's, and none
 * counts as the program's either: see asyncPreemptOK). */
extern char __start_gort_text[] __attribute__((weak));
extern char __stop_gort_text[] __attribute__((weak));

enum { MAX_TEXT = 32, ASYNC_STACK_ROOM = 16 << 10 };
static struct { uintptr_t lo, hi; } usertext[MAX_TEXT];  /* where preempting is safe */
static _Atomic int nusertext;
static mutex usertext_lock;
static struct sigaction old_urg;
static bool async_preempt;           /* SIGURG handler installed */
/* The M of this thread (set once by minitSignals): a goroutine's own m
 * field is NULL for a moment while it switches out, and a signal landing
 * then must still find its M. */
static __thread m *thread_m __attribute__((tls_model("initial-exec")));

SIGNAL_NOSANITIZE void copy_frame(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        *(volatile uint64_t *)(d + i) = *(const volatile uint64_t *)(s + i);
    for (; i < n; i++)
        d[i] = s[i];
}

/* Adds the executable segments of one loaded object. usertext_lock held. */
static void addtext(struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        int n = atomic_load(&nusertext);
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || n == MAX_TEXT)
            continue;
        usertext[n].lo = info->dlpi_addr + ph->p_vaddr;
        usertext[n].hi = usertext[n].lo + ph->p_memsz;
        atomic_store(&nusertext, n + 1);       /* publish after the entry */
    }
}

/* dl_iterate_phdr visits the main program first. */
static int addmain(struct dl_phdr_info *info, size_t size, void *arg)
{
    addtext(info);
    return 1;
}

struct findobj { uintptr_t addr; bool found; };

static int addcontaining(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct findobj *f = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->addr >= lo && f->addr < lo + ph->p_memsz) {
            addtext(info);
            f->found = true;
            return 1;
        }
    }
    return 0;
}

int gort_async_preempt_allow(const void *addr)
{
    runtime_init();
    struct findobj f = { (uintptr_t)addr, false };
    lock(&usertext_lock);
    dl_iterate_phdr(addcontaining, &f);
    unlock(&usertext_lock);
    return f.found ? 0 : -ENOENT;
}

/* May a goroutine interrupted at pc be switched out? */
static bool asyncPreemptOK(uintptr_t pc)
{
    if (!__start_gort_text || (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text))
        return false;
    int n = atomic_load_explicit(&nusertext, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (pc >= usertext[i].lo && pc < usertext[i].hi)
            return true;
    return false;
}

/* Where a preempted goroutine continues, on its own stack, called from
 * the signal frame asyncPreemptReturn above the copy: yield, then return,
 * and asyncPreemptReturn resumes from the copy. The copy's uc_stack tells
 * rt_sigreturn which alternate signal stack to set: the current thread's,
 * not the one the signal arrived on. */
SIGNAL_NOSANITIZE void asyncPreempt(void *saved)
{
    uint32_t inruntime = runtime_enter();
    gopreempt_m(getg());
    runtime_leave(&inruntime);
    ucontext_t *uc = ctx_ucontext(saved);
    uc->uc_stack.ss_sp = getg()->m->gsignal_stack;
    uc->uc_stack.ss_size = SIGSTACK_SIZE;
    uc->uc_stack.ss_flags = 0;
}

/* The preemption itself, if every condition of the essay above holds. */
static SIGNAL_NOSANITIZE void doSigPreempt(m *mp, siginfo_t *si, void *uc)
{
    g *gp = getg();
    p *pp = mp->p;
    /* m.inruntime: the goroutine is inside gort (RUNTIME_ENTRY), whatever
     * the PC says. gort calls code that may lie in the program's text (a
     * libgcc helper such as __popcountdi2 linked into the executable), and
     * may hold a runtime lock while it does. gclocal.nosuspend: the thread
     * is in a region, which belongs to the thread, not the G; entries
     * without RUNTIME_ENTRY (the maps') reach one and call memcpy through
     * the executable's PLT, program text again. A G switched out there
     * would leave the region open on this thread for good (test_map hung
     * under qemu: no cycle could start, no stop could finish). */
    if (!gp || gp->m != mp || gp == mp->g0 || mp->curg != gp || !pp ||
        gclocal.nosuspend ||
        atomic_load_explicit(&mp->inruntime, memory_order_relaxed) ||
        !atomic_load_explicit(&pp->preempt, memory_order_relaxed) ||
        atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) != Grunning)
        return;
    uintptr_t pc, sp, lo = stack_guard_end(gp) + ASYNC_STACK_ROOM;
    ctx_pc_sp(uc, &pc, &sp);
    if (!asyncPreemptOK(pc) || sp <= lo || sp > stack_top(gp))
        return;
    void *saved = ctx_save(uc, si, lo);
    if (saved)
        ctx_redirect(uc, saved, asyncPreempt);
}

/* SIGURG: ours when sysmon sent it (m.preemptsig); otherwise the
 * program's own handler if it had one (SIGURG is also "urgent data on a
 * socket"). */
static void sigurg(int sig, siginfo_t *si, void *uc)
{
    int e = errno;
    m *mp = thread_m;
    if (mp && atomic_exchange(&mp->preemptsig, 0))
        doSigPreempt(mp, si, uc);
    else
        sigfwd(&old_urg, sig, si, uc);
    errno = e;
}

bool asyncpreempt_enabled(void) { return async_preempt; }

static void asyncpreempt_init(void)
{
#if GORT_TSAN
    return;                          /* see the essay: TSan loses rewritten contexts */
#endif
    if (debug.asyncpreemptoff)
        return;
    lock(&usertext_lock);
    dl_iterate_phdr(addmain, NULL);
    unlock(&usertext_lock);
    async_preempt = setsig(SIGURG, sigurg, SA_ONSTACK | SA_RESTART, true, &old_urg) == 0;
}

void signal_init(void)
{
    setsig(SIGSEGV, sighandler, SA_ONSTACK, true, &old_segv);
    setsig(SIGBUS, sighandler, SA_ONSTACK, true, &old_bus);
    asyncpreempt_init();
}

/* Each M gets an alternate signal stack, so that a goroutine that ran off
 * its stack can still be reported. */
void minitSignals(m *mp)
{
    thread_m = mp;
    mp->gsignal_stack = malloc(SIGSTACK_SIZE);
    if (!mp->gsignal_stack)
        throw("runtime: cannot allocate signal stack");
    if (signalstack(mp->gsignal_stack, SIGSTACK_SIZE) != 0)
        throw("runtime: sigaltstack failed");
}

void unminitSignals(m *mp)
{
    signalstack(NULL, 0);
    free(mp->gsignal_stack);
    mp->gsignal_stack = NULL;
}
