/*
 * sigctx.c (amd64) — the signal-context surgery of asynchronous preemption
 * (Go: signal_amd64.go's pushCall). See src/signal.c for the algorithm.
 *
 * The kernel's signal frame on x86-64 is
 *     pretcode | struct ucontext (304 bytes) | siginfo | ... | XSAVE area
 * and uc_mcontext.fpregs points at the XSAVE area (64-byte aligned; its
 * software-reserved bytes at 464 say how long it is). rt_sigreturn reads
 * the ucontext at the stack pointer and the XSAVE area through fpregs, so a
 * copy of both anywhere in memory is a context the kernel can resume.
 * The copy goes below the interrupted stack pointer, past the 128-byte red
 * zone the ABI lets leaf functions use without moving rsp, laid out as the
 * kernel lays out a frame for a handler (preempt.S shows why):
 *
 *     rsp -> return address | ucontext (16-byte aligned) ... | XSAVE copy
 */
#include "runtime.h"

#include <signal.h>
#include <stddef.h>
#include <ucontext.h>

enum {
    RED_ZONE = 128,
    UC_KERNEL = offsetof(ucontext_t, uc_sigmask) + 8, /* the kernel's struct ucontext */
    FRAME = 8 + UC_KERNEL,                            /* return address, ucontext */
    FXSAVE_SIZE = 512,
    EFLAGS_DF = 0x400,
};
/* preempt.S's CFI finds the interrupted registers at these offsets. */
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs) == 40, "preempt.S: UC_GREGS");
_Static_assert(REG_R8 == 0 && REG_R15 == 7 && REG_RDI == 8 && REG_RSI == 9 && REG_RBP == 10 &&
               REG_RBX == 11 && REG_RDX == 12 && REG_RAX == 13 && REG_RCX == 14 &&
               REG_RSP == 15 && REG_RIP == 16, "preempt.S: GREG numbers");
#define FP_XSTATE_MAGIC1 0x46505853U

/* The software-reserved bytes of the FXSAVE area (the kernel's fpx_sw_bytes). */
struct fpx_sw { uint32_t magic1, extended_size; uint64_t xfeatures; uint32_t xstate_size; };

void ctx_pc_sp(void *ucv, uintptr_t *pc, uintptr_t *sp)
{
    ucontext_t *uc = ucv;
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
}

SIGNAL_NOSANITIZE void *ctx_save(void *ucv, void *si, uintptr_t lo)
{
    (void)si;
    ucontext_t *uc = ucv;
    const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
    if (!fp)
        return NULL;
    const struct fpx_sw *sw = (const void *)(fp + 464);
    size_t fpsize = sw->magic1 == FP_XSTATE_MAGIC1 ? sw->extended_size : FXSAVE_SIZE;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (sp < lo + RED_ZONE + fpsize + FRAME + 128)
        return NULL;
    uintptr_t fpcopy = (sp - RED_ZONE - fpsize) & ~(uintptr_t)63;
    ucontext_t *copy = (ucontext_t *)((fpcopy - UC_KERNEL) & ~(uintptr_t)15);
    copy_frame((void *)fpcopy, fp, fpsize);
    copy_frame(copy, uc, UC_KERNEL);
    copy->uc_mcontext.fpregs = (void *)fpcopy;
    return copy;
}

void *ctx_ucontext(void *saved) { return saved; }

/* The thread continues in fn(saved) as if called from asyncPreemptReturn
 * with rsp at the return address below the copy (so rsp+8 is 16-byte
 * aligned, as at any call), the direction flag clear as the ABI requires
 * at a call. */
SIGNAL_NOSANITIZE void ctx_redirect(void *ucv, void *saved, void (*fn)(void *))
{
    ucontext_t *uc = ucv;
    uintptr_t sp = (uintptr_t)saved - 8;
    *(uintptr_t *)sp = (uintptr_t)asyncPreemptReturn;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)fn;
    uc->uc_mcontext.gregs[REG_RDI] = (greg_t)(uintptr_t)saved;
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)EFLAGS_DF;
}
