/* Constants shared by assembly and C++ (checked against the C++ layouts in guest_regs.hpp). */
#pragma once

#define CORVISOR_TEXT_OFFSET 0x200000
#define GUEST_REGS_X0 0
#define GUEST_REGS_ELR 248
#define GUEST_REGS_SPSR 256
#define GUEST_REGS_ESR 264
/* The frame cv_world_switch pushes: x29/x30, the GuestRegs pointer, x27, x28. */
#define ENTER_FRAME_SIZE 48
#define ENTER_FRAME_REGS 16
#define ENTER_FRAME_X27 24
