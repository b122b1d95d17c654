/*
 * switch.S (amd64) — goroutine context switch, entry trampoline and stack
 * switching for deep calls (Go: asm_amd64.s gogo/mcall/systemstack).
 *
 * A suspended context is just a stack pointer. Everything the System V ABI
 * says a callee must preserve (rbx rbp r12-r15, the MXCSR and x87 control
 * words) is pushed onto the suspended stack itself, with the return address
 * already there from the call into gswitch. Caller-saved registers need no
 * saving: the C compiler already assumes gswitch clobbers them.
 *
 *   saved stack, low -> high:  [mxcsr|x87cw] r15 r14 r13 r12 rbx rbp  ret
 *                               ^ *save_sp
 *
 * Loading MXCSR and the x87 control word is slow, and they almost never
 * differ between goroutines, so they are loaded only when they do.
 */
#define FUNC(name) .globl name; .type name,@function; .p2align 4; name:
#define END(name)  .size name, .-name

    .text

/* void gswitch(void **save_sp, void *load_sp)
 *
 * Unwind info for every instruction, so that a profiler's signal landing
 * anywhere in here unwinds correctly. Both stacks have the same layout at
 * the same offsets, so the CFA rule still holds after rsp is switched: from
 * then on the frame is the resumed context's own call into gswitch. */
FUNC(gswitch)
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movl    (%rsp), %eax            /* our control words, read back at the width */
    movzwl  4(%rsp), %edx           /* they were stored (else store forwarding stalls) */
    movq    %rsp, (%rdi)            /* publish: from here the old context may be resumed */
    movq    %rsi, %rsp
    cmpl    (%rsp), %eax            /* loading them is slow: only when they differ */
    jne     1f
    cmpw    4(%rsp), %dx
    jne     1f
2:  .cfi_remember_state             /* CFA = rsp+64, as at the jumps to 1 */
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_restore_state
1:  ldmxcsr (%rsp)
    fldcw   4(%rsp)
    jmp     2b
    .cfi_endproc
END(gswitch)

/* void *gostartcall(void *top): builds the frame gswitch pops for a
 * goroutine that has never run, so that its "return" enters gostart (past
 * its first byte, see there) with rsp 16-byte aligned. Returns the stack
 * pointer to resume. */
FUNC(gostartcall)
    .cfi_startproc
    andq    $-16, %rdi
    leaq    .Lgostart_ret(%rip), %rax
    movq    %rax, -8(%rdi)          /* ret -> gostart, leaves rsp = top */
    xorl    %eax, %eax
    movq    %rax, -16(%rdi)         /* rbp = 0: end of the frame-pointer chain */
    movq    %rax, -24(%rdi)
    movq    %rax, -32(%rdi)
    movq    %rax, -40(%rdi)
    movq    %rax, -48(%rdi)
    movq    %rax, -56(%rdi)
    movl    $0x1F80, -64(%rdi)      /* default MXCSR: all exceptions masked */
    movl    $0x037F, -60(%rdi)      /* default x87 control word */
    leaq    -64(%rdi), %rax
    ret
    .cfi_endproc
END(gostartcall)

/* The bottom frame of every goroutine. rip is marked undefined so debuggers
 * and libunwind stop here instead of walking into garbage. A new goroutine
 * "returns" to .Lgostart_ret, one byte in (Go's goexit does the same): an
 * unwinder looks up a return address's caller at address-1, which then
 * falls on the nop inside gostart rather than before it. */
    .hidden gostart
FUNC(gostart)
    .cfi_startproc
    .cfi_undefined %rip
    nop
.Lgostart_ret:
    xorl    %ebp, %ebp
    call    goentry            /* never returns */
    ud2
    .cfi_endproc
END(gostart)

/* void call_with_sp(void *sp, void (*fn)(void *), void *arg)
 * Runs fn(arg) on another stack. rbp keeps the caller's stack pointer and
 * the CFA is expressed through it, so unwinding crosses back to the caller. */
FUNC(call_with_sp)
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    movq    %rsp, %rbp
    .cfi_def_cfa_register %rbp
    andq    $-16, %rdi
    movq    %rdi, %rsp
    movq    %rdx, %rdi
    call    *%rsi
    movq    %rbp, %rsp
    .cfi_def_cfa_register %rsp
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_endproc
END(call_with_sp)

/* uintptr_t getsp(void)
 *
 * The caller's stack pointer at the call: the lowest address of its frame,
 * below the callee-saved registers it spilled. The GC scans a stopping
 * thread's stack from there (roots.c). */
FUNC(getsp)
    .cfi_startproc
    leaq    8(%rsp), %rax
    ret
    .cfi_endproc
END(getsp)

    .section .note.GNU-stack,"",@progbits
