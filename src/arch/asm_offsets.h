/* Layouts shared by assembly (the .S files and inline asm of src/el2) and C++: the one place each
 * offset is written. Every value is checked against the C++ structure it describes with a
 * static_assert(offsetof(...)) in arch/guest_regs.hpp and el2/percpu.hpp, so the two cannot
 * drift apart. Plain #defines: this header is included by the assembler too. */
#ifndef CORVISOR_ARCH_ASM_OFFSETS_H
#define CORVISOR_ARCH_ASM_OFFSETS_H

/* The image is linked at RAM base + this (arm64 Image header text_offset; src/el2/link.ld). */
#define CORVISOR_TEXT_OFFSET 0x200000

/* GuestRegs (arch/guest_regs.hpp): x0..x30, then ELR, SPSR, ESR. */
#define GUEST_REGS_X(n) ((n)*8)
#define GUEST_REGS_ELR 248
#define GUEST_REGS_SPSR 256
#define GUEST_REGS_ESR 264
#define GUEST_REGS_SIZE 272

/* WorldSwitchFrame (arch/guest_regs.hpp): what cv_world_switch pushes on the EL2 stack. The run
 * loop's x28 is the GuestRegs pointer itself (enter_guest), so its slot is where an exit finds it. */
#define WS_FRAME_X29 0
#define WS_FRAME_X30 8
#define WS_FRAME_X27 16
#define WS_FRAME_X28 24
#define WS_FRAME_SIZE 32

/* CpuLocal (exec/cpu.hpp): what the vectors' fast answer to a trapped ID register read uses. */
#define CPU_LOCAL_ID_REGS 8
#define CPU_LOCAL_ID_READS 16
/* ... and its answer to a spread guest's ICC_SGI1R_EL1 write: the loaded vCPU's SgiRoute table
 * (exec/cpu.hpp), one 24-byte entry per target vCPU. */
#define CPU_LOCAL_SGI_ROUTES 24
#define SGI_ROUTE_MAIL 0
#define SGI_ROUTE_WAKE 8
#define SGI_ROUTE_KICK 16
#define SGI_ROUTE_SIZE 24

/* VcpuSysRegs::q (arch/arch.hpp): the 32 FP/SIMD registers, 16 bytes each. */
#define FPSIMD_Q(n) ((n)*16)

/* Each pCPU's EL2 stack (el2/percpu.hpp). */
#define CORVISOR_STACK_SIZE 16384

/* Stringify an expanded macro, for offsets in inline asm. */
#define CV_ASM_STR_(x) #x
#define CV_ASM_STR(x) CV_ASM_STR_(x)

#endif
