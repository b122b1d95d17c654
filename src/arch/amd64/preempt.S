/*
 * preempt.S (amd64) — the last step of an asynchronous preemption
 * (Go: preempt_amd64.s's asyncPreempt; see src/signal.c and docs/sysmon.md).
 *
 * When the SIGURG handler preempts a goroutine it copies the kernel's
 * signal frame (every register, the flags, and the full XSAVE state: x87,
 * SSE, AVX, AVX-512) onto the goroutine's stack and sends the goroutine
 * into asyncPreempt (signal.c), which yields. Its return address is
 * asyncPreemptReturn, as a signal handler's is glibc's __restore_rt:
 *
 *     rsp at asyncPreempt's entry -> &asyncPreemptReturn
 *                                    the copy's ucontext   (16-byte aligned)
 *
 * so when asyncPreempt returns, possibly on another thread, rsp points at
 * the ucontext and rt_sigreturn hands the copy back to the kernel, which
 * restores every register at once and resumes the interrupted instruction.
 *
 * Unwinders (libunwind for the CPU profile and the goroutine dump, gdb,
 * libgcc) learn from the CFI below that asyncPreemptReturn is a signal
 * frame ('S' augmentation: its pc is looked up as is, not as pc-1) whose
 * caller's registers all sit in the ucontext at rsp; the CFA is the
 * interrupted rsp. The instructions are __restore_rt's too, which unwinders
 * without CFI recognise (gdb, libgcc's fallback). The nop is inside the FDE
 * because a return address is looked up as pc-1: the walk from asyncPreempt
 * must find this FDE, not the previous function's.
 */

/* struct ucontext (glibc's ucontext_t) on x86-64: uc_mcontext.gregs at
 * 40, 8 bytes each, in <sys/ucontext.h>'s REG_* order (checked by
 * _Static_assert in arch/amd64/sigctx.c). */
#define UC_GREGS 40
#define GREG(i)  (UC_GREGS + 8 * (i))

/* The value at rsp+off, off < 8192, as a DWARF expression: DW_OP_breg7
 * (rsp) with off in two bytes of SLEB128. */
#define RSP_PLUS(off) 0x77, ((off) & 0x7f) | 0x80, (off) >> 7

/* DW_CFA_expression: DWARF register reg is saved at rsp+off. */
#define SAVED_AT(reg, off) .cfi_escape 0x10, reg, 3, RSP_PLUS(off)

    .text
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_escape 0x0f, 4, RSP_PLUS(GREG(15)), 0x06  /* CFA = *(rsp + gregs[REG_RSP]) (DW_OP_deref) */
    SAVED_AT(0,  GREG(13))          /* rax */
    SAVED_AT(1,  GREG(12))          /* rdx */
    SAVED_AT(2,  GREG(14))          /* rcx */
    SAVED_AT(3,  GREG(11))          /* rbx */
    SAVED_AT(4,  GREG(9))           /* rsi */
    SAVED_AT(5,  GREG(8))           /* rdi */
    SAVED_AT(6,  GREG(10))          /* rbp */
    SAVED_AT(7,  GREG(15))          /* rsp */
    SAVED_AT(8,  GREG(0))           /* r8 .. r15 */
    SAVED_AT(9,  GREG(1))
    SAVED_AT(10, GREG(2))
    SAVED_AT(11, GREG(3))
    SAVED_AT(12, GREG(4))
    SAVED_AT(13, GREG(5))
    SAVED_AT(14, GREG(6))
    SAVED_AT(15, GREG(7))
    SAVED_AT(16, GREG(16))          /* rip, the return address column */
    nop
    .globl  asyncPreemptReturn
    .type   asyncPreemptReturn, @function
asyncPreemptReturn:
    movq    $15, %rax               /* SYS_rt_sigreturn */
    syscall
    ud2                             /* rt_sigreturn does not return */
    .cfi_endproc
    .size   asyncPreemptReturn, .-asyncPreemptReturn

    .section .note.GNU-stack,"",@progbits
