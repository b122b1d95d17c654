/*
 * gwalk.h — walking the stack of a goroutine that is not running
 * (traceback.c; Go: traceback.go's unwinder started from gp.sched).
 *
 * A switched-out goroutine is its saved stack pointer: the switch frame
 * there (arch/<arch>/gobuf.c) gives the registers it resumes with, and
 * libunwind walks on from the function that called gswitch. The goroutine
 * dump (dump.c) and the goroutine profile (pprof.c) both walk this way.
 *
 * One goroutine has two contexts: one switched out by async preemption
 * (signal.c) sits in asyncPreempt, whose frame has no caller (the signal
 * made up the call), while the code it interrupted lies above, described
 * by the copy of the signal frame it will resume (g.sigframe). There the
 * walk goes on from the interrupted instruction's registers, so the
 * program's own frames appear after asyncPreempt's, as if it had called it.
 */
#ifndef GORT_GWALK_H
#define GORT_GWALK_H

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "runtime.h"

typedef struct gwalk {
    unw_context_t uc;
    unw_cursor_t  c;            /* the frame the walk is at */
    const void   *sigframe;     /* still to go on from, if not NULL */
} gwalk;

/* Starts at the frame of gp (switched out, its stack not in use) that
 * called gswitch. False if libunwind cannot. */
bool gwalk_init(gwalk *w, g *gp);
/* Starts at the caller of the function calling it (the running goroutine). */
#define gwalk_here(w) \
    ((w)->sigframe = NULL, unw_getcontext(&(w)->uc) == 0 && \
     unw_init_local(&(w)->c, &(w)->uc) == 0 && unw_step(&(w)->c) > 0)
/* unw_step, which goes from asyncPreempt's frame on to the interrupted
 * code: > 0 if the walk is at a next frame. */
int  gwalk_step(gwalk *w);

#endif /* GORT_GWALK_H */
