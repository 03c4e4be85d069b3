// The guest register file as the exception vectors save it. Assembly (src/el2/vectors.S) uses
// the offsets below: they are checked here, so the two cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace corvisor {

/// Why the guest left: which vector of the lower-EL AArch64 group was taken.
enum class ExitKind : std::uint64_t { kSync = 0, kIrq = 1, kFiq = 2, kSError = 3 };

struct alignas(16) GuestRegs {
    std::uint64_t x[31];  ///< x0..x30
    std::uint64_t elr;    ///< ELR_EL2: where the guest resumes
    std::uint64_t spsr;   ///< SPSR_EL2: guest PSTATE
    std::uint64_t esr;    ///< ESR_EL2 of the last exit (sync exits only)

    /// Register `n` as the instruction sees it: x31 is xzr for loads/stores.
    std::uint64_t reg(unsigned n) const { return n < 31 ? x[n] : 0; }
    void set_reg(unsigned n, std::uint64_t v) {
        if (n < 31) {
            x[n] = v;
        }
    }
};

// Offsets used by vectors.S.
inline constexpr std::size_t kGuestRegsX0 = 0;
inline constexpr std::size_t kGuestRegsElr = 248;
inline constexpr std::size_t kGuestRegsSpsr = 256;
inline constexpr std::size_t kGuestRegsEsr = 264;
static_assert(std::is_standard_layout_v<GuestRegs>);
static_assert(offsetof(GuestRegs, x) == kGuestRegsX0);
static_assert(offsetof(GuestRegs, elr) == kGuestRegsElr);
static_assert(offsetof(GuestRegs, spsr) == kGuestRegsSpsr);
static_assert(offsetof(GuestRegs, esr) == kGuestRegsEsr);

/// Enter the guest with `regs` and return when it exits, with every general register, ELR and
/// SPSR saved back into `regs` (KVM-style "run" call). Assembly on EL2; scripted in host tests.
extern "C" ExitKind arch_enter_guest(GuestRegs* regs);

}  // namespace corvisor
