// The guest register file as the exception vectors save it, and the frame the world switch
// pushes. Assembly (src/el2/vectors.S) and inline asm use the offsets of arch/asm_offsets.h;
// they are checked here against the structures, so the two cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "arch/asm_offsets.h"

namespace corvisor {

/// Why the guest left: which vector of the lower-EL AArch64 group was taken.
enum class ExitKind : std::uint64_t { kSync = 0, kIrq = 1, kFiq = 2, kSError = 3 };

struct alignas(16) GuestRegs {
    std::uint64_t x[31];  ///< x0..x30
    std::uint64_t elr;    ///< ELR_EL2: where the guest resumes
    std::uint64_t spsr;   ///< SPSR_EL2: guest PSTATE
    std::uint64_t esr;    ///< host tests: the scripted exit's ESR (EL2 returns it in a register)

    /// Register `n` as the instruction sees it: x31 is xzr for loads/stores.
    std::uint64_t reg(unsigned n) const { return n < 31 ? x[n] : 0; }
    void set_reg(unsigned n, std::uint64_t v) {
        if (n < 31) {
            x[n] = v;
        }
    }
};

static_assert(std::is_standard_layout_v<GuestRegs>);
static_assert(offsetof(GuestRegs, x) == GUEST_REGS_X(0));
static_assert(sizeof(GuestRegs::x[0]) == GUEST_REGS_X(1));
static_assert(offsetof(GuestRegs, elr) == GUEST_REGS_ELR);
static_assert(offsetof(GuestRegs, spsr) == GUEST_REGS_SPSR);
static_assert(offsetof(GuestRegs, esr) == GUEST_REGS_ESR);
static_assert(sizeof(GuestRegs) == GUEST_REGS_SIZE);

/// What cv_world_switch (src/el2/vectors.S) pushes on the EL2 stack while the guest runs: the
/// caller's frame record and the run loop's x27/x28, x28 being the GuestRegs the exit saves into.
struct WorldSwitchFrame {
    std::uint64_t x29;
    std::uint64_t x30;
    std::uint64_t x27;
    GuestRegs* x28;
};
static_assert(std::is_standard_layout_v<WorldSwitchFrame>);
static_assert(offsetof(WorldSwitchFrame, x29) == WS_FRAME_X29);
static_assert(offsetof(WorldSwitchFrame, x30) == WS_FRAME_X30);
static_assert(offsetof(WorldSwitchFrame, x27) == WS_FRAME_X27);
static_assert(offsetof(WorldSwitchFrame, x28) == WS_FRAME_X28);
static_assert(sizeof(WorldSwitchFrame) == WS_FRAME_SIZE && WS_FRAME_SIZE % 16 == 0);

/// What a guest exit reports: which vector, and ESR_EL2 for synchronous exits.
struct GuestExit {
    ExitKind kind;
    std::uint64_t esr;
};

}  // namespace corvisor
