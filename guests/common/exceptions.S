/* EL1 vector table (Arm ARM D1.10.2): 16 entries of 0x80 bytes, 2 KiB aligned.
 * Each entry saves x0/x1, puts its index in x1 and joins the common path,
 * which saves a struct exc_frame (exceptions.h) and calls guest_exception().
 * The IRQ entry (current EL, SP_ELx) first records CNTVCT_EL0 in
 * irq_entry_cntvct (gic.h): the interrupt benchmarks' "handler entry". */

#define FRAME_SIZE 288

    .macro ventry index
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\index
    b       exc_common
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .globl  exception_vectors
exception_vectors:
    ventry 0    /* current EL, SP_EL0: sync, IRQ, FIQ, SError */
    ventry 1
    ventry 2
    ventry 3
    ventry 4    /* current EL, SP_ELx */
    .balign 0x80                        /* 5: IRQ; exception entry synchronises, no isb needed */
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mrs     x0, cntvct_el0
    adrp    x1, irq_entry_cntvct
    str     x0, [x1, :lo12:irq_entry_cntvct]
    mov     x1, #5
    b       exc_common
    ventry 6
    ventry 7
    ventry 8    /* lower EL, AArch64 */
    ventry 9
    ventry 10
    ventry 11
    ventry 12   /* lower EL, AArch32 */
    ventry 13
    ventry 14
    ventry 15

exc_common:
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x2, elr_el1
    stp     x30, x2, [sp, #16 * 15]     /* x30 at 240, elr at 248 */
    mrs     x2, spsr_el1
    mrs     x3, esr_el1
    stp     x2, x3, [sp, #16 * 16]      /* spsr at 256, esr at 264 */
    mrs     x2, far_el1
    stp     x2, x1, [sp, #16 * 17]      /* far at 272, vector at 280 */
    mov     x0, sp
    bl      guest_exception
    ldp     x30, x2, [sp, #16 * 15]
    msr     elr_el1, x2
    ldr     x2, [sp, #16 * 16]
    msr     spsr_el1, x2
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #FRAME_SIZE
    eret
