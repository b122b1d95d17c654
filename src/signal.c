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
 */
#include "runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIGSTACK_SIZE = 64 << 10 };

static struct sigaction old_segv, old_bus;

NORETURN void fatal_signal(const char *header, void *ucontext);

static void forward(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
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

void signal_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sighandler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction_(SIGSEGV, &sa, &old_segv);
    sigaction_(SIGBUS, &sa, &old_bus);
}

/* Each M gets an alternate signal stack, so that a goroutine that ran off
 * its stack can still be reported. */
void minitSignals(m *mp)
{
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
