/*
 * gobuf.c (amd64) — the registers of a switched-out goroutine, as an
 * unwinder wants them (Go: the gobuf's sp, pc and bp, which Go's traceback
 * starts from).
 *
 * gort saves a suspended goroutine as its stack pointer alone (switch.S):
 *
 *   sched_sp -> [mxcsr|x87cw] r15 r14 r13 r12 rbx rbp  ret
 *               +0            +8  +16 +24 +32 +40 +48  +56
 *
 * Resuming it pops those and returns to ret with rsp = sched_sp + 64. The
 * same values, put in a ucontext, let libunwind walk the goroutine's stack
 * from the function that called gswitch, as if it were running. The dump
 * and the goroutine profile both start there (traceback.c's gwalk).
 */
#include "runtime.h"

#include <ucontext.h>

__attribute__((no_sanitize_address)) void gobuf_context(const void *sched_sp, void *ucv)
{
    const uint64_t *s = sched_sp;
    greg_t *r = ((ucontext_t *)ucv)->uc_mcontext.gregs;
    r[REG_R15] = (greg_t)s[1];
    r[REG_R14] = (greg_t)s[2];
    r[REG_R13] = (greg_t)s[3];
    r[REG_R12] = (greg_t)s[4];
    r[REG_RBX] = (greg_t)s[5];
    r[REG_RBP] = (greg_t)s[6];
    r[REG_RIP] = (greg_t)s[7];
    r[REG_RSP] = (greg_t)(uintptr_t)(s + 8);
}
