/*
 * preempt.S (amd64) — the last step of an asynchronous preemption
 * (Go: preempt_amd64.s's asyncPreempt; see src/signal.c and docs/sysmon.md).
 *
 * When the SIGURG handler preempts a goroutine it copies the kernel's
 * signal frame (every register, the flags, and the full XSAVE state: x87,
 * SSE, AVX, AVX-512) onto the goroutine's stack and sends the goroutine
 * into asyncPreempt (signal.c), which yields. When the goroutine runs
 * again, possibly on another thread, asyncPreemptResume hands that copy
 * back to the kernel with rt_sigreturn, which restores all of it at once
 * and resumes the interrupted instruction. No register is needed to get
 * there: the kernel does the restoring, as it does after every handler.
 *
 * asyncPreemptResume(uc): uc is the copy's ucontext; the kernel expects the
 * stack pointer there (just after the frame's return-address slot).
 */
    .text
    .globl  asyncPreemptResume
    .type   asyncPreemptResume, @function
asyncPreemptResume:
    .cfi_startproc
    movq    %rdi, %rsp
    movl    $15, %eax           /* SYS_rt_sigreturn */
    syscall
    ud2                         /* rt_sigreturn does not return */
    .cfi_endproc
    .size   asyncPreemptResume, .-asyncPreemptResume

    .section .note.GNU-stack,"",@progbits
