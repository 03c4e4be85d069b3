// corvisor's entry: an arm64 Linux Image header (Documentation/arch/arm64/booting.rst), so that
// QEMU, U-Boot and firmware pass the DTB in x0 and load us at RAM base + text_offset.

#include "arch/asm_offsets.h"

    .section .text.head, "ax"
    .global _start
_start:
    b       primary_entry            // code0
    .long   0                        // code1
    .quad   CORVISOR_TEXT_OFFSET     // text_offset: we are linked at RAM base + this
    .quad   _image_size              // image_size, BSS included
    .quad   0x2                      // flags: little endian, 4 KiB pages, 2 MiB-aligned base
    .quad   0, 0, 0                  // res2..res4
    .ascii  "ARM\x64"                // magic
    .long   0                        // res5

primary_entry:
    mov     x19, x0                  // the DTB
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    park                     // not at EL2: nothing we can do, not even print
    // We are linked at a fixed address: a loader that placed us elsewhere gets parked.
    adr     x1, _start
    ldr     x2, =_start
    cmp     x1, x2
    b.ne    park

    msr     daifset, #0xf
    ldr     x1, =el2_vectors
    msr     vbar_el2, x1
    isb

    // Zero the BSS (it holds the stacks, so before any call).
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    ldr     x1, =boot_stack_top
    mov     sp, x1
    mov     x0, x19
    bl      el2_main
park:
    wfe
    b       park

    // A secondary pCPU, started by PSCI CPU_ON (smp.cpp) at EL2 with its MMU off and x0 = its
    // pCPU index: vectors, its stack (secondary_stacks, kStackSize each), then C++.
    .global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    ldr     x1, =el2_vectors
    msr     vbar_el2, x1
    isb
    ldr     x1, =secondary_stacks
    ldr     x2, =CORVISOR_STACK_SIZE
    madd    x1, x0, x2, x1
    add     x1, x1, x2
    mov     sp, x1
    bl      el2_secondary_main
    b       park
    .ltorg

    // The boot pCPU's stack (kStackSize, el2/percpu.hpp).
    .section .bss.boot_stack, "aw", %nobits
    .balign 16
boot_stack:
    .space  CORVISOR_STACK_SIZE
    .global boot_stack_top
boot_stack_top:
