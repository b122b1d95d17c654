/*
 * switch.S (arm64) — goroutine context switch, entry trampoline and stack
 * switching for deep calls (Go: asm_arm64.s gogo/mcall/systemstack).
 *
 * A suspended context is just a stack pointer. The AAPCS64 callee-saved state
 * (x19-x28, the frame pointer x29, the link register x30, the low halves
 * d8-d15 and FPCR) is stored in a 176-byte frame on the suspended stack:
 *
 *   sp+0   x19 x20 | x21 x22 | x23 x24 | x25 x26 | x27 x28 | x29 x30   (96 B)
 *   sp+96  d8 d9   | d10 d11 | d12 d13 | d14 d15                      (64 B)
 *   sp+160 fpcr    | pad                                              (16 B)
 */
#define FUNC(name) .globl name; .type name,%function; .p2align 4; name:
#define END(name)  .size name, .-name
#define FRAME 176

    .text

/* void gswitch(void **save_sp, void *load_sp)
 *
 * Unwind info for every instruction, so that a profiler's signal landing
 * anywhere in here unwinds correctly. Both stacks have the same layout, so
 * the CFA rule still holds after sp is switched: from then on the frame is
 * the resumed context's own call into gswitch. Until x30 is reloaded it
 * holds our own return address, which is also the one saved in the frame. */
FUNC(gswitch)
    .cfi_startproc
    sub     sp, sp, #FRAME
    .cfi_adjust_cfa_offset FRAME
    stp     x19, x20, [sp, #0]
    .cfi_rel_offset x19, 0
    .cfi_rel_offset x20, 8
    stp     x21, x22, [sp, #16]
    .cfi_rel_offset x21, 16
    .cfi_rel_offset x22, 24
    stp     x23, x24, [sp, #32]
    .cfi_rel_offset x23, 32
    .cfi_rel_offset x24, 40
    stp     x25, x26, [sp, #48]
    .cfi_rel_offset x25, 48
    .cfi_rel_offset x26, 56
    stp     x27, x28, [sp, #64]
    .cfi_rel_offset x27, 64
    .cfi_rel_offset x28, 72
    stp     x29, x30, [sp, #80]
    .cfi_rel_offset x29, 80
    .cfi_rel_offset x30, 88
    stp     d8, d9, [sp, #96]
    .cfi_rel_offset d8, 96
    .cfi_rel_offset d9, 104
    stp     d10, d11, [sp, #112]
    .cfi_rel_offset d10, 112
    .cfi_rel_offset d11, 120
    stp     d12, d13, [sp, #128]
    .cfi_rel_offset d12, 128
    .cfi_rel_offset d13, 136
    stp     d14, d15, [sp, #144]
    .cfi_rel_offset d14, 144
    .cfi_rel_offset d15, 152
    mrs     x10, fpcr
    str     x10, [sp, #160]
    mov     x9, sp
    str     x9, [x0]                /* publish: from here the old context may be resumed */
    mov     sp, x1
    ldr     x9, [sp, #160]
    cmp     x9, x10                 /* writing FPCR is slow: only when it differs */
    b.eq    1f
    msr     fpcr, x9
1:
    ldp     x19, x20, [sp, #0]
    .cfi_restore x19
    .cfi_restore x20
    ldp     x21, x22, [sp, #16]
    .cfi_restore x21
    .cfi_restore x22
    ldp     x23, x24, [sp, #32]
    .cfi_restore x23
    .cfi_restore x24
    ldp     x25, x26, [sp, #48]
    .cfi_restore x25
    .cfi_restore x26
    ldp     x27, x28, [sp, #64]
    .cfi_restore x27
    .cfi_restore x28
    ldp     x29, x30, [sp, #80]
    .cfi_restore x29
    .cfi_restore x30
    ldp     d8, d9, [sp, #96]
    .cfi_restore d8
    .cfi_restore d9
    ldp     d10, d11, [sp, #112]
    .cfi_restore d10
    .cfi_restore d11
    ldp     d12, d13, [sp, #128]
    .cfi_restore d12
    .cfi_restore d13
    ldp     d14, d15, [sp, #144]
    .cfi_restore d14
    .cfi_restore d15
    add     sp, sp, #FRAME
    .cfi_adjust_cfa_offset -FRAME
    ret
    .cfi_endproc
END(gswitch)

/* void *gostartcall(void *top): the frame gswitch pops for a goroutine
 * that has never run: x30 = .Lgostart_ret (one instruction into gostart, see
 * there), x29 = 0, FPCR = 0 (defaults). */
FUNC(gostartcall)
    .cfi_startproc
    and     x0, x0, #~15
    sub     x0, x0, #FRAME
    mov     x1, x0
    mov     x2, #(FRAME / 16)
1:  stp     xzr, xzr, [x1], #16
    subs    x2, x2, #1
    b.ne    1b
    adrp    x1, .Lgostart_ret
    add     x1, x1, :lo12:.Lgostart_ret
    str     x1, [x0, #88]
    ret
    .cfi_endproc
END(gostartcall)

/* The bottom frame of every goroutine; x30 undefined stops unwinders here.
 * A new goroutine "returns" to .Lgostart_ret, one instruction in (Go's goexit
 * does the same): an unwinder looks up a return address's caller at
 * address-1, which then falls on the nop inside gostart rather than before it. */
    .hidden gostart
FUNC(gostart)
    .cfi_startproc
    .cfi_undefined x30
    nop
.Lgostart_ret:
    mov     x29, #0
    bl      goentry            /* never returns */
    brk     #0
    .cfi_endproc
END(gostart)

/* void call_with_sp(void *sp, void (*fn)(void *), void *arg)
 * Runs fn(arg) on another stack; x29 holds the caller's frame so the CFA
 * (and unwinding) leads back to the caller. */
FUNC(call_with_sp)
    .cfi_startproc
    stp     x29, x30, [sp, #-16]!
    .cfi_adjust_cfa_offset 16
    .cfi_rel_offset x29, 0
    .cfi_rel_offset x30, 8
    mov     x29, sp
    .cfi_def_cfa_register x29
    and     x0, x0, #~15
    mov     sp, x0
    mov     x0, x2
    blr     x1
    mov     sp, x29
    .cfi_def_cfa_register sp
    ldp     x29, x30, [sp], #16
    .cfi_adjust_cfa_offset -16
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
END(call_with_sp)

/* uintptr_t getsp(void)
 *
 * The caller's stack pointer at the call: the lowest address of its frame,
 * below the callee-saved registers it spilled (GCC puts them under its
 * locals here, so a local's address is not low enough). The GC scans a
 * stopping thread's stack from there (roots.c). */
FUNC(getsp)
    .cfi_startproc
    mov     x0, sp
    ret
    .cfi_endproc
END(getsp)

    .section .note.GNU-stack,"",%progbits
