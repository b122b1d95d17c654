/*
 * preempt.S (arm64) — the last step of an asynchronous preemption
 * (Go: preempt_arm64.s's asyncPreempt; see src/signal.c and docs/sysmon.md).
 *
 * When the SIGURG handler preempts a goroutine it copies the kernel's
 * signal frame (x0-x30, sp, pc, pstate, and the FP/SIMD registers v0-v31
 * with FPSR/FPCR, SVE state included when present) onto the goroutine's
 * stack and sends the goroutine into asyncPreempt (signal.c), which yields.
 * Its link register is asyncPreemptReturn, as a signal handler's is the
 * vDSO's __kernel_rt_sigreturn, and its stack pointer is the copy:
 *
 *     sp at asyncPreempt's entry -> siginfo, ucontext     (16-byte aligned)
 *
 * so when asyncPreempt returns, possibly on another thread, rt_sigreturn
 * hands the copy back to the kernel, which restores all of it and resumes
 * the interrupted instruction. arm64 has no way to restore all 31
 * registers and jump without a scratch register; the kernel does it for us.
 *
 * Unwinders: libunwind recognises these two instructions at a frame's pc
 * as a signal frame and reads the registers from the ucontext at its sp,
 * before it looks at any CFI. The CFI below says the same for DWARF
 * unwinders: a signal frame ('S' augmentation: its pc is looked up as is,
 * not as pc-1) whose CFA is the interrupted sp and whose caller's
 * registers sit in the ucontext; the caller's pc, not x30, is the return
 * address (column 32, the pc in DWARF for AArch64). The nop is inside the
 * FDE because a return address is looked up as pc-1: the walk from
 * asyncPreempt must find this FDE, not the previous function's.
 */

/* siginfo (128 bytes), then struct ucontext (glibc's ucontext_t), whose
 * uc_mcontext.regs sits at 184, then sp and pc (checked by _Static_assert
 * in arch/arm64/sigctx.c). */
#define REGS    (128 + 184)
#define X(i)    (REGS + 8 * (i))
#define SP_OFF  X(31)
#define PC_OFF  X(32)

/* The value at sp+off, off < 8192, as a DWARF expression: DW_OP_breg31
 * (sp) with off in two bytes of SLEB128. */
#define SP_PLUS(off) 0x8f, ((off) & 0x7f) | 0x80, (off) >> 7

/* DW_CFA_expression: DWARF register reg is saved at sp+off. */
#define SAVED_AT(reg, off) .cfi_escape 0x10, reg, 3, SP_PLUS(off)

    .text
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_return_column 32
    .cfi_escape 0x0f, 4, SP_PLUS(SP_OFF), 0x06     /* CFA = *(sp + sp_off) (DW_OP_deref) */
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    SAVED_AT(\r, X(\r))             /* x0 .. x30 */
    .endr
    SAVED_AT(31, SP_OFF)            /* sp */
    SAVED_AT(32, PC_OFF)            /* pc */
    nop
    .globl  asyncPreemptReturn
    .type   asyncPreemptReturn, %function
asyncPreemptReturn:
    mov     x8, #139                /* SYS_rt_sigreturn */
    svc     #0
    brk     #0                      /* rt_sigreturn does not return */
    .cfi_endproc
    .size   asyncPreemptReturn, .-asyncPreemptReturn

    .section .note.GNU-stack,"",@progbits
