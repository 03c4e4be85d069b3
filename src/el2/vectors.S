// EL2 exception vectors and the world switch (docs/architecture.md, "The trap path", step 1).
//
// cv_world_switch(x0 = GuestRegs*) saves the hypervisor's frame pointer, return address, x27 and
// x28 on the EL2 stack, loads the guest's x0..x18 and x27..x30 and ERETs to whatever ELR_EL2 and
// SPSR_EL2 hold. Guest x19..x26, ELR and SPSR are loaded once when the vCPU enters its fast loop
// (arch_enter_fast_path) and stay live in the registers across traps answered at once. A guest exit lands in a lower-EL vector,
// which saves the guest's registers into the same GuestRegs and returns from cv_world_switch as
// if it were a call, with the exit kind in x0 and ESR_EL2 in x2. It is not an AAPCS function: its caller (the
// inline asm of src/el2/inline/arch_inline.hpp) declares every other register clobbered. No C++ runs between the exception and that return: every
// instruction here is paid on every trap (docs/benchmarks.md, floor figures).

#include "arch/asm_offsets.h"

    .macro  save_guest_and_return kind
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       guest_exit
    .endm

    .macro  hyp_fault kind
    stp     x29, x30, [sp, #-16]!
    mov     x0, #\kind
    b       el2_fault
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .global el2_vectors
el2_vectors:
    // Current EL with SP_EL0: never used.
    .balign 0x80
    hyp_fault 0
    .balign 0x80
    hyp_fault 1
    .balign 0x80
    hyp_fault 2
    .balign 0x80
    hyp_fault 3
    // Current EL with SP_EL2: a hypervisor bug (EL2 runs with interrupts masked).
    .balign 0x80
    hyp_fault 4
    .balign 0x80
    hyp_fault 5
    .balign 0x80
    hyp_fault 6
    .balign 0x80
    hyp_fault 7
    // Lower EL, AArch64: guest exits (ExitKind: 0 sync, 1 IRQ, 2 FIQ, 3 SError). The sync
    // slot falls straight into guest_exit, which must fit its 32 instructions.
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #0
    // Entered with the guest's x0/x1 pushed and the exit kind in x1.
guest_exit:
    ldr     x0, [sp, #(16 + WS_FRAME_REGS)]  // past the guest x0/x1 just pushed
    stp     x2, x3, [x0, #GUEST_REGS_X(2)]
    stp     x4, x5, [x0, #GUEST_REGS_X(4)]
    stp     x6, x7, [x0, #GUEST_REGS_X(6)]
    stp     x8, x9, [x0, #GUEST_REGS_X(8)]
    stp     x10, x11, [x0, #GUEST_REGS_X(10)]
    stp     x12, x13, [x0, #GUEST_REGS_X(12)]
    stp     x14, x15, [x0, #GUEST_REGS_X(14)]
    stp     x16, x17, [x0, #GUEST_REGS_X(16)]
    str     x18, [x0, #GUEST_REGS_X(18)]
    // x19..x26 are not saved: the run loop is built with -ffixed-x19..x26 and everything it calls
    // preserves them (AAPCS), so they keep the guest's values until it leaves its fast path.
    stp     x27, x28, [x0, #GUEST_REGS_X(27)]
    stp     x29, x30, [x0, #GUEST_REGS_X(29)]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #GUEST_REGS_X(0)]
    // ELR_EL2/SPSR_EL2 stay in the registers too (see arch_save_pc_state); ESR goes back in x2.
    mrs     x2, esr_el2
    mov     x0, x1
    ldp     x27, x28, [sp, #WS_FRAME_X27]
    ldp     x29, x30, [sp], #WS_FRAME_SIZE
    ret
    .org    el2_vectors + 0x480     // fails to assemble if guest_exit overflows its slot
    .balign 0x80
    save_guest_and_return 1
    .balign 0x80
    save_guest_and_return 2
    .balign 0x80
    save_guest_and_return 3
    // Lower EL, AArch32 (a guest's 32-bit EL0): same registers, same syndromes.
    .balign 0x80
    save_guest_and_return 0
    .balign 0x80
    save_guest_and_return 1
    .balign 0x80
    save_guest_and_return 2
    .balign 0x80
    save_guest_and_return 3

    .text
    .balign 64
    .global cv_world_switch
    .type   cv_world_switch, %function
cv_world_switch:
    stp     x29, x30, [sp, #-WS_FRAME_SIZE]!
    stp     x0, x27, [sp, #WS_FRAME_REGS]   // WorldSwitchFrame: regs, x27
    str     x28, [sp, #WS_FRAME_X28]
    ldp     x2, x3, [x0, #GUEST_REGS_X(2)]
    ldp     x4, x5, [x0, #GUEST_REGS_X(4)]
    ldp     x6, x7, [x0, #GUEST_REGS_X(6)]
    ldp     x8, x9, [x0, #GUEST_REGS_X(8)]
    ldp     x10, x11, [x0, #GUEST_REGS_X(10)]
    ldp     x12, x13, [x0, #GUEST_REGS_X(12)]
    ldp     x14, x15, [x0, #GUEST_REGS_X(14)]
    ldp     x16, x17, [x0, #GUEST_REGS_X(16)]
    ldr     x18, [x0, #GUEST_REGS_X(18)]
    ldp     x27, x28, [x0, #GUEST_REGS_X(27)]
    ldp     x29, x30, [x0, #GUEST_REGS_X(29)]
    ldp     x0, x1, [x0, #GUEST_REGS_X(0)]
    eret
    .size   cv_world_switch, . - cv_world_switch

// A fault taken at EL2 itself: report it and stop (el2_panic_exception never returns).
el2_fault:
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    bl      el2_panic_exception
1:  wfe
    b       1b
