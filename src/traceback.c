/*
 * traceback.c — goroutine tracebacks with libunwind (Go: traceback.go).
 *
 * Go prints, for a dying goroutine, a header naming it and its state, then
 * one entry per frame. gort does the same for C frames:
 *
 *     goroutine 7 [running]:
 *     deep_recursion(...)
 *             /path/libfoo.so +0x1139 pc=0x7f3c1a2b1139
 *
 * Unwinding uses the DWARF CFI the compiler and our assembly emit;
 * gostart marks its return address undefined, so the walk ends cleanly
 * at the bottom of every goroutine instead of wandering into the scheduler,
 * and asyncPreemptReturn (preempt.S) is a signal frame, so a walk through
 * a goroutine preempted by signal goes on into the code it interrupted.
 * From a signal handler the walk starts at the interrupted context, so the
 * faulting frame comes first.
 */
#include "gwalk.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

enum { MAX_FRAMES = 100 };

static void print_frame(unw_cursor_t *c)
{
    unw_word_t ip = 0, off = 0;
    char name[256];
    unw_get_reg(c, UNW_REG_IP, &ip);
    if (unw_get_proc_name(c, name, sizeof name, &off) != 0)
        snprintf(name, sizeof name, "?");
    Dl_info info;
    const char *obj = "?";
    uintptr_t base = 0;
    if (dladdr((void *)ip, &info) && info.dli_fname) {
        obj = info.dli_fname;
        base = (uintptr_t)info.dli_fbase;
    }
    gprint("%s(...)\n\t%s +0x%lx pc=0x%lx\n", name, obj,
               (unsigned long)(ip - base), (unsigned long)ip);
}

static void walk(unw_cursor_t *c, int skip)
{
    int n = 0;
    do {
        if (skip > 0) {
            skip--;
            continue;
        }
        print_frame(c);
        if (++n == MAX_FRAMES) {
            gprint("...additional frames elided...\n");
            break;
        }
    } while (unw_step(c) > 0);
}

/* "goroutine N [state]:" for the current thread's context. */
static void print_header(void)
{
    g *gp = getg();
    if (ingoroutine())
        gprint("goroutine %llu [running]:\n", (unsigned long long)gp->goid);
    else if (gp)
        gprint("runtime stack (M%lld g0):\n", (long long)gp->m->id);
    else
        gprint("thread (not a goroutine):\n");
}

void traceback_current(int skip)
{
    unw_context_t uc;
    unw_cursor_t c;
    print_header();
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return;
    walk(&c, skip + 1);
}

void traceback_context(void *ucontext)
{
    unw_cursor_t c;
    print_header();
    if (unw_init_local2(&c, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) != 0)
        return;
    walk(&c, 0);
}

/* ---- Goroutines that are not running (gwalk.h) ----------------------------------- */

bool gwalk_init(gwalk *w, g *gp)
{
    memset(&w->uc, 0, sizeof w->uc);
    gobuf_context(gp->sched_sp, &w->uc);
    return unw_init_local(&w->c, &w->uc) == 0;
}
