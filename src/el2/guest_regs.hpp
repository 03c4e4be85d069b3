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

/// Enter the guest with `regs` and return when it exits, with every general register, ELR, SPSR
/// and ESR saved back into `regs` (a KVM-style "run" call).
///
/// On EL2 this is the world switch of vectors.S, reached by an inline `bl` that tells the
/// compiler every register but x19, x20, x29 and sp is clobbered. The switch saves only those
/// (so the run loop keeps its vCPU pointer and counter in registers) and the return address;
/// the compiler keeps only what is live across the call, and saves the other callee-saved
/// registers once per function rather than once per trap. Host tests link a scripted
/// `arch_enter_guest` instead.
#if defined(CORVISOR_EL2)
inline ExitKind enter_guest(GuestRegs* regs) {
    // `regs` travels in x19, which the switch preserves: the compiler then knows it (and the
    // vCPU it is embedded in) is still in x19 afterwards instead of reloading it from the stack.
    register GuestRegs* x19 asm("x19") = regs;
    register std::uint64_t x0 asm("x0");
    asm volatile("mov x0, x19\n\tbl cv_world_switch"
                 : "=r"(x0)
                 : "r"(x19)
                 : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                   "x14", "x15", "x16", "x17", "x18", "x21", "x22", "x23", "x24", "x25", "x26",
                   "x27", "x28", "x30", "cc", "memory");
    return static_cast<ExitKind>(x0);
}
#else
extern "C" ExitKind arch_enter_guest(GuestRegs* regs);
inline ExitKind enter_guest(GuestRegs* regs) {
    return arch_enter_guest(regs);
}
#endif

}  // namespace corvisor
