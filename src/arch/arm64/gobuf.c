/*
 * gobuf.c (arm64) — the registers of a switched-out goroutine, as an
 * unwinder wants them (Go: the gobuf's sp, pc and lr, which Go's traceback
 * starts from).
 *
 * gort saves a suspended goroutine as its stack pointer alone (switch.S):
 * a 176-byte frame holding x19-x28 at +0..+72, the frame pointer x29 at
 * +80, the link register x30 at +88, then d8-d15 and FPCR. Resuming it
 * reloads those, pops the frame and returns to x30. The same values, put in
 * a ucontext with pc = x30 and sp above the frame, let libunwind walk the
 * goroutine's stack from the function that called gswitch. The dump and
 * the goroutine profile both start there (traceback.c's gwalk).
 */
#include "runtime.h"

#include <ucontext.h>

enum { SWITCH_FRAME = 176 };

__attribute__((no_sanitize_address)) void gobuf_context(const void *sched_sp, void *ucv)
{
    const uint64_t *s = sched_sp;
    mcontext_t *mc = &((ucontext_t *)ucv)->uc_mcontext;
    for (int i = 0; i < 12; i++)           /* x19 .. x30 */
        mc->regs[19 + i] = s[i];
    mc->pc = s[11];
    mc->sp = (uint64_t)(uintptr_t)sched_sp + SWITCH_FRAME;
}
