/*
 * sigctx.c (arm64) — the signal-context surgery of asynchronous preemption
 * (Go: signal_arm64.go's pushCall). See src/signal.c for the algorithm.
 *
 * The kernel's signal frame on arm64 is
 *     siginfo | ucontext (uc_mcontext: x0-x30, sp, pc, pstate, then records:
 *     fpsimd_context with v0-v31/FPSR/FPCR, esr, sve, ...)
 * and rt_sigreturn reads it at the stack pointer. The records are
 * position-independent except extra_context (state too big for the frame,
 * with an absolute pointer into the signal stack): a frame that has one is
 * not copied, and the preemption is retried later. arm64 has no red zone.
 */
#include "runtime.h"

#include <signal.h>
#include <stddef.h>
#include <ucontext.h>

#ifndef EXTRA_MAGIC
#define EXTRA_MAGIC 0x45585401U
#endif

struct ctxhdr { uint32_t magic, size; };     /* the kernel's _aarch64_ctx */

/* preempt.S's CFI finds the interrupted registers at these offsets. */
_Static_assert(sizeof(siginfo_t) == 128 && offsetof(ucontext_t, uc_mcontext.regs) == 184 &&
               offsetof(ucontext_t, uc_mcontext.sp) == 184 + 8 * 31 &&
               offsetof(ucontext_t, uc_mcontext.pc) == 184 + 8 * 32, "preempt.S: REGS");

void ctx_pc_sp(void *ucv, uintptr_t *pc, uintptr_t *sp)
{
    ucontext_t *uc = ucv;
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
}

/* Whether the frame's records are all inside it (no extra_context). */
static bool self_contained(ucontext_t *uc)
{
    uint8_t *r = uc->uc_mcontext.__reserved, *end = r + sizeof uc->uc_mcontext.__reserved;
    while (r + sizeof(struct ctxhdr) <= end) {
        struct ctxhdr *h = (struct ctxhdr *)r;
        if (h->magic == 0)
            return true;
        if (h->magic == EXTRA_MAGIC || h->size < sizeof *h || h->size > (size_t)(end - r))
            return false;
        r += h->size;
    }
    return false;
}

SIGNAL_NOSANITIZE void *ctx_save(void *ucv, void *si, uintptr_t lo)
{
    ucontext_t *uc = ucv;
    if ((uint8_t *)uc != (uint8_t *)si + sizeof(siginfo_t) || !self_contained(uc))
        return NULL;
    size_t size = sizeof(siginfo_t) + sizeof(ucontext_t);
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
    if (sp < lo + size + 128)
        return NULL;
    uintptr_t frame = (sp - size) & ~(uintptr_t)15;
    copy_frame((void *)frame, si, size);
    return (void *)frame;
}

void *ctx_ucontext(void *saved) { return (uint8_t *)saved + sizeof(siginfo_t); }

/* The thread continues in fn(saved) as if called from asyncPreemptReturn
 * with sp at the copy (16-byte aligned, as ctx_save made it). */
SIGNAL_NOSANITIZE void ctx_redirect(void *ucv, void *saved, void (*fn)(void *))
{
    ucontext_t *uc = ucv;
    uc->uc_mcontext.sp = (uintptr_t)saved;
    uc->uc_mcontext.pc = (uintptr_t)fn;
    uc->uc_mcontext.regs[0] = (uintptr_t)saved;
    uc->uc_mcontext.regs[30] = (uintptr_t)asyncPreemptReturn;
}
