/*
 * gwalk.h — walking the stack of a goroutine that is not running
 * (traceback.c; Go: traceback.go's unwinder started from gp.sched).
 *
 * A switched-out goroutine is its saved stack pointer: the switch frame
 * there (arch/<arch>/gobuf.c) gives the registers it resumes with, and
 * libunwind walks on from the function that called gswitch. The goroutine
 * dump (dump.c) and the goroutine profile (pprof.c) both walk this way.
 *
 * A goroutine switched out by async preemption (signal.c) sits in
 * asyncPreempt, called from asyncPreemptReturn, which unwinders see as a
 * signal frame (arch/<arch>/preempt.S): unw_step goes on through it to the
 * interrupted instruction and the program's own frames above, as through
 * any signal handler's frame.
 */
#ifndef GORT_GWALK_H
#define GORT_GWALK_H

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "runtime.h"

typedef struct gwalk {
    unw_context_t uc;
    unw_cursor_t  c;            /* the frame the walk is at: unw_step goes on */
} gwalk;

/* Starts at the frame of gp (switched out, its stack not in use) that
 * called gswitch. False if libunwind cannot. */
bool gwalk_init(gwalk *w, g *gp);
/* Starts at the caller of the function calling it (the running goroutine). */
#define gwalk_here(w) \
    (unw_getcontext(&(w)->uc) == 0 && unw_init_local(&(w)->c, &(w)->uc) == 0 && \
     unw_step(&(w)->c) > 0)

#endif /* GORT_GWALK_H */
