/* Entry: the arm64 Linux Image header (Documentation/arch/arm64/booting.rst),
 * so QEMU's -kernel, U-Boot and corvisor enter us at EL1, MMU off, with x0 =
 * the DTB's physical address.
 *
 * The image is linked at 0 and uses only PC-relative addressing (ADRP/ADD,
 * ADR, B/BL; -fno-jump-tables; no initialised pointers in data), so it runs
 * wherever the loader puts it: text_offset = 0 with flags bit 3 ("placeable
 * anywhere") asks for any 2 MiB-aligned base in RAM. QEMU puts it at RAM base
 * + 2 MiB (it keeps the first 2 MiB for its boot stub); corvisor at its guest
 * RAM base. The only alignment the code needs is 2 KiB, for VBAR_EL1. */

    .section .text.head, "ax"
    .globl  _start
_start:
    b       entry                       /* code0 */
    .long   0                           /* code1 */
    .quad   0                           /* text_offset */
    .quad   __image_size                /* image_size: file + BSS + stack (guest.ld) */
    .quad   0xa                         /* flags: LE, 4 KiB pages, placeable anywhere */
    .quad   0, 0, 0                     /* res2..res4 */
    .ascii  "ARM\x64"                   /* magic */
    .long   0                           /* res5 (no PE header) */

entry:
    msr     daifset, #0xf               /* booting.rst says masked; make sure */
    msr     spsel, #1
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1
    mov     x19, x0                     /* the DTB, callee-saved across the loop */

    /* Zero BSS (and the stack within it) before any C runs. guest.ld aligns
     * both ends to 16 bytes; stp of aligned pairs is safe on Device memory. */
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el1, x1
    isb

    mov     x0, x19
    bl      guest_main
    bl      guest_power_off
3:  wfi
    b       3b
