// EL2 exception vectors and the world switch (docs/architecture.md, "The trap path", step 1).
//
// cv_world_switch(x28 = GuestRegs*) saves the hypervisor's frame pointer, return address, x27
// and x28 on the EL2 stack, loads the guest's x0..x18 and x27..x30 and ERETs to whatever ELR_EL2
// and SPSR_EL2 hold. Guest x19..x26, ELR and SPSR are loaded once when the vCPU enters its fast
// loop (arch_enter_fast_path) and stay live in the registers across traps answered at once. A
// guest exit lands in a lower-EL vector, which saves the guest's registers into the same
// GuestRegs (the saved x28) and returns from cv_world_switch as if it were a call, with the exit
// kind in x0 and ESR_EL2 in x2. It is not an AAPCS function: its caller (the inline asm of
// src/el2/inline/arch_inline.hpp) declares every other register clobbered. A trapped ID register
// read never gets that far: id_read answers it in the vectors; nor does, in a guest spread over
// several pCPUs, an SGI to one vCPU on another pCPU (sgi_send). No C++ runs between the exception
// and that return: every instruction here is paid on every trap (docs/benchmarks.md).

#include "arch/asm_offsets.h"

    // The guest's x0..x18 and x27..x30 into its GuestRegs (x0 = it, from the world-switch
    // frame), with the guest's x0/x1 taken off the stack where the vector pushed them. x19..x26
    // are not saved: the run loop is built with -ffixed-x19..x26 and everything it calls
    // preserves them (AAPCS), so they keep the guest's values until it leaves its fast path.
    .macro  save_guest_regs
    ldr     x0, [sp, #(16 + WS_FRAME_X28)]  // the GuestRegs, past the guest x0/x1 just pushed
    stp     x2, x3, [x0, #GUEST_REGS_X(2)]
    stp     x4, x5, [x0, #GUEST_REGS_X(4)]
    stp     x6, x7, [x0, #GUEST_REGS_X(6)]
    stp     x8, x9, [x0, #GUEST_REGS_X(8)]
    stp     x10, x11, [x0, #GUEST_REGS_X(10)]
    stp     x12, x13, [x0, #GUEST_REGS_X(12)]
    stp     x14, x15, [x0, #GUEST_REGS_X(14)]
    stp     x16, x17, [x0, #GUEST_REGS_X(16)]
    str     x18, [x0, #GUEST_REGS_X(18)]
    stp     x27, x28, [x0, #GUEST_REGS_X(27)]
    stp     x29, x30, [x0, #GUEST_REGS_X(29)]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #GUEST_REGS_X(0)]
    .endm

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

    // One table of vectors. \name is its symbol; \idread the answer for trapped ID register
    // reads it uses (and through it, what a trapped MSR goes to).
    .macro  vector_table name, idread
    .balign 2048
    .global \name
\name:
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
    // slot holds its own copy of the exit (it must fit its 32 instructions), with ESR_EL2 read
    // once, up front: EC bit 3 set sends the exit past \idread first, which answers a trapped
    // ID register read (HCR_EL2.TID3) without the run loop; anything else comes back here.
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mrs     x1, esr_el2
    tbnz    x1, #29, \idread        // EC 0x18 (MSR/MRS) is among the classes with bit 3 set
    // Entered with the guest's x0/x1 pushed and ESR_EL2 in x1.
\name\()_sync_exit:
    save_guest_regs
    mov     x2, x1                  // ESR
    mov     x0, #0                  // ExitKind::kSync
    ldp     x27, x28, [sp, #WS_FRAME_X27]
    ldp     x29, x30, [sp], #WS_FRAME_SIZE
    ret
    .org    \name + 0x480           // fails to assemble if the sync exit overflows its slot
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
    .endm

    // A trapped MRS of an ID register (HCR_EL2.TID3; the same test as SysRegIss::
    // is_id_group_read: op0 3, op1 0, CRn 0, a read), answered here: the value from the loaded
    // vCPU's IdRegisterFile (slot CRm * 8 + op2, CRm's top bit dropped) into Rt, its sysreg exit
    // counted, ELR_EL2 past the instruction, back to the guest. Every register but x0..x3 keeps
    // the guest's value throughout. Anything else goes to \exit as it came (x1 = ESR), a write
    // (MSR) to \write.
    .macro  id_read_body exit, write
    ubfx    x0, x1, #26, #6         // EC (ISS2 above it is not part of it)
    cmp     x0, #0x18
    b.ne    \exit
    tbz     x1, #0, \write          // a write (MSR): ICC_SGI1R_EL1 and the like
    tst     x1, #0x1fc00            // op1 [16:14], CRn [13:10]
    b.ne    \exit
    tbz     x1, #21, \exit          // op0 = 3
    tbz     x1, #20, \exit
    stp     x2, x3, [sp, #-16]!     // now x2/x3 at sp, the guest's x0/x1 at sp + 16
    ubfx    x2, x1, #1, #3          // CRm [3:1]
    ubfx    x3, x1, #17, #3         // op2
    add     x2, x3, x2, lsl #3
    mrs     x3, tpidr_el2           // this pCPU's CpuLocal
    ldp     x0, x3, [x3, #CPU_LOCAL_ID_REGS]  // the table, the exit counter
    ldr     x2, [x0, x2, lsl #3]
    ldr     x0, [x3]
    add     x0, x0, #1
    str     x0, [x3]
    ubfx    x0, x1, #5, #5          // Rt
    adr     x3, 1f
    add     x3, x3, x0, lsl #3
    br      x3
1:  // Rt <- x2: 31 two-instruction entries (x0..x3 through their stack slots), then XZR.
    str     x2, [sp, #16]
    b       2f
    str     x2, [sp, #24]
    b       2f
    str     x2, [sp, #0]
    b       2f
    str     x2, [sp, #8]
    b       2f
    .irp    n, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    mov     x\n, x2
    b       2f
    .endr
    nop                             // Rt 31: XZR, the value is dropped
    b       2f
2:  ldp     x2, x3, [sp], #16
    mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
    ldp     x0, x1, [sp], #16
    eret
    .endm

    .section .text.vectors, "ax"
    // The table of every vCPU whose guest runs on one pCPU (and of the hypervisor's own
    // exceptions before any guest runs): a trapped MSR goes to the run loop.
    vector_table el2_vectors, id_read
    // Right after the table, in its section: within reach of its tbz/tbnz.
    .balign 64
id_read:
    id_read_body el2_vectors_sync_exit, el2_vectors_sync_exit

    // The table of a vCPU whose guest is spread over several pCPUs (Vcpu::load selects it,
    // arch_select_vectors): the same, except that a trapped write of ICC_SGI1R_EL1 naming one
    // other vCPU on another pCPU is answered here (sgi_send).
    vector_table el2_vectors_spread, id_read_spread
    .balign 64
id_read_spread:
    id_read_body el2_vectors_spread_sync_exit, sgi_send

    // A guest's ICC_SGI1R_EL1 write, in a spread guest (docs/architecture.md, "SMP"): what
    // Vcpu::post_remote_sgi and Vcpu::kick do for the usual IPI, without the run loop. Entered
    // with the guest's x0/x1 pushed and ESR_EL2 in x1, known to be a trapped MSR. It takes the
    // loaded vCPU's route to the one target TargetList names (CpuLocal::sgi_routes, a SgiRoute
    // per vCPU, Vcpu::build_sgi_routes), ORs the SGI into that vCPU's mailbox, sets its wake
    // Event and kicks its pCPU with the physical SGI, counts the sysreg exit, and returns to the
    // guest past the instruction. Anything else (another register, several targets, IRM, Aff1+
    // or RS not 0, the sender itself, a vCPU on this pCPU or one that does not exist, and a
    // target whose wake Event has a waiter to post) goes to the run loop as it came, which
    // answers it in C++: nothing done here before that is undone or done twice wrongly (the
    // mailbox bit is set again, harmlessly).
    .balign 64
sgi_send:
    ubfx    x0, x1, #0, #22         // ISS [21:0]: op0, op2, op1, CRn, Rt, CRm, direction
    and     w0, w0, #0xfffffc1f     // without Rt
    sub     w0, w0, #0x3a3, lsl #12 // op0 3, op2 5, op1 0, CRn 12 ...
    cmp     w0, #0x16               // ... CRm 11, a write: ICC_SGI1R_EL1
    b.ne    el2_vectors_spread_sync_exit
    stp     x2, x3, [sp, #-16]!
    stp     x4, x5, [sp, #-16]!     // x4, x5, x2, x3, then the guest's x0, x1 at sp + 32
    ubfx    x0, x1, #5, #5          // Rt
    adr     x2, 1f
    add     x2, x2, x0, lsl #3
    br      x2
1:  // x0 <- Rt: 31 two-instruction entries (x0..x5 from their stack slots), then XZR.
    ldr     x0, [sp, #32]
    b       2f
    ldr     x0, [sp, #40]
    b       2f
    ldr     x0, [sp, #16]
    b       2f
    ldr     x0, [sp, #24]
    b       2f
    ldr     x0, [sp, #0]
    b       2f
    ldr     x0, [sp, #8]
    b       2f
    .irp    n, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    mov     x0, x\n
    b       2f
    .endr
    mov     x0, xzr
2:  // One target in TargetList, Aff3.Aff2.Aff1 = 0, RS = 0, IRM = 0 (Vgic::kSgiIrm,
    // kSgiNotAff0Below16).
    mov     x2, #0xff0000
    movk    x2, #0xf1ff, lsl #32
    movk    x2, #0xff, lsl #48
    tst     x0, x2
    b.ne    3f
    ands    w2, w0, #0xffff
    b.eq    3f
    sub     w3, w2, #1
    tst     w3, w2
    b.ne    3f
    rbit    w2, w2
    clz     w2, w2                  // the target vCPU
    mrs     x3, tpidr_el2
    ldr     x3, [x3, #CPU_LOCAL_SGI_ROUTES]
    cbz     x3, 3f
    add     x3, x3, x2, lsl #4
    add     x3, x3, x2, lsl #3      // its SgiRoute (24 bytes each)
    ldp     x4, x5, [x3, #SGI_ROUTE_MAIL]   // the mailbox, the wake Event's state word
    cbz     x4, 3f                  // itself, one on this pCPU, or none
    ubfx    x0, x0, #24, #4         // INTID: a Group 1 SGI is mailbox bit INTID
    mov     w2, #1
    lsl     w0, w2, w0
4:  ldxr    w2, [x4]                // mailbox |= bit, release (Vcpu::post_sgi)
    orr     w2, w2, w0
    stlxr   w1, w2, [x4]
    cbnz    w1, 4b
    mov     x0, #1                  // Event::kSet
5:  ldaxr   x2, [x5]                // the wake Event's set(), unless a waiter is to be posted
    cmp     x2, #1
    b.hi    6f
    stlxr   w1, x0, [x5]
    cbnz    w1, 5b
    ldr     x0, [x3, #SGI_ROUTE_KICK]
    dsb     ishst                   // the mailbox before the kick (arch_kick_pcpu)
    msr     icc_sgi1r_el1, x0
    mrs     x3, tpidr_el2
    ldr     x3, [x3, #CPU_LOCAL_ID_READS]   // the vCPU's sysreg exit count
    ldr     x0, [x3]
    add     x0, x0, #1
    str     x0, [x3]
    mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
    ldp     x4, x5, [sp], #16
    ldp     x2, x3, [sp], #16
    ldp     x0, x1, [sp], #16
    eret
6:  clrex
3:  ldp     x4, x5, [sp], #16       // to the run loop, as the exit came
    ldp     x2, x3, [sp], #16
    mrs     x1, esr_el2
    b       el2_vectors_spread_sync_exit

    .text
    // Every other exit: entered with the guest's x0/x1 pushed and the exit kind in x1.
    .balign 64
guest_exit:
    save_guest_regs
    // ELR_EL2/SPSR_EL2 stay in the registers too (see arch_save_pc_state); ESR goes back in x2.
    mrs     x2, esr_el2
    mov     x0, x1
    ldp     x27, x28, [sp, #WS_FRAME_X27]
    ldp     x29, x30, [sp], #WS_FRAME_SIZE
    ret

    .balign 64
    .global cv_world_switch
    .type   cv_world_switch, %function
    // x28 = the GuestRegs to load and, on the exit, to save into (enter_guest sets it).
cv_world_switch:
    stp     x29, x30, [sp, #-WS_FRAME_SIZE]!
    stp     x27, x28, [sp, #WS_FRAME_X27]   // WorldSwitchFrame: x27, x28 = the GuestRegs
    ldp     x2, x3, [x28, #GUEST_REGS_X(2)]
    ldp     x4, x5, [x28, #GUEST_REGS_X(4)]
    ldp     x6, x7, [x28, #GUEST_REGS_X(6)]
    ldp     x8, x9, [x28, #GUEST_REGS_X(8)]
    ldp     x10, x11, [x28, #GUEST_REGS_X(10)]
    ldp     x12, x13, [x28, #GUEST_REGS_X(12)]
    ldp     x14, x15, [x28, #GUEST_REGS_X(14)]
    ldp     x16, x17, [x28, #GUEST_REGS_X(16)]
    ldr     x18, [x28, #GUEST_REGS_X(18)]
    ldp     x29, x30, [x28, #GUEST_REGS_X(29)]
    ldp     x0, x1, [x28, #GUEST_REGS_X(0)]
    ldp     x27, x28, [x28, #GUEST_REGS_X(27)]  // the base last (no writeback: well defined)
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
