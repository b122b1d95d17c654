/*
 * preempt.S (arm64) — the last step of an asynchronous preemption
 * (Go: preempt_arm64.s's asyncPreempt; see src/signal.c and docs/sysmon.md).
 *
 * When the SIGURG handler preempts a goroutine it copies the kernel's
 * signal frame (x0-x30, sp, pc, pstate, and the FP/SIMD registers v0-v31
 * with FPSR/FPCR, SVE state included when present) onto the goroutine's
 * stack and sends the goroutine into asyncPreempt (signal.c), which yields.
 * When the goroutine runs again, possibly on another thread,
 * asyncPreemptResume hands that copy back to the kernel with rt_sigreturn,
 * which restores all of it and resumes the interrupted instruction. arm64
 * has no way to restore all 31 registers and jump without a scratch
 * register; the kernel does it for us.
 *
 * asyncPreemptResume(frame): frame is the copy (siginfo, then ucontext);
 * the kernel expects the stack pointer there.
 */
    .text
    .globl  asyncPreemptResume
    .type   asyncPreemptResume, %function
asyncPreemptResume:
    .cfi_startproc
    mov     sp, x0
    mov     x8, #139            /* SYS_rt_sigreturn */
    svc     #0
    brk     #0                  /* rt_sigreturn does not return */
    .cfi_endproc
    .size   asyncPreemptResume, .-asyncPreemptResume

    .section .note.GNU-stack,"",@progbits
