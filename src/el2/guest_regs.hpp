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
    std::uint64_t esr;    ///< host tests: the scripted exit's ESR (EL2 returns it in a register)

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

/// What a guest exit reports: which vector, and ESR_EL2 for synchronous exits.
struct GuestExit {
    ExitKind kind;
    std::uint64_t esr;
};

/// Enter the guest with `regs` and return when it exits (a KVM-style "run" call): x0..x18 and
/// x27..x30 are saved back into `regs`; the exit kind and ESR come back in registers.
///
/// On EL2 this is the world switch of vectors.S, reached by an inline `bl`. The switch preserves
/// only x27, x28 (the run loop's vCPU pointer and counter), x29 and sp; it leaves the guest's
/// x19..x26 live, which is correct only in code built with -ffixed-x19..x26 (src/vm/vcpu.cpp, on
/// EL2) between arch_enter_fast_path and arch_leave_fast_path. Host tests link a scripted
/// `arch_enter_guest` instead.
#if defined(CORVISOR_EL2)
#if !defined(CORVISOR_GUEST_REGS_FIXED)
inline GuestExit enter_guest(GuestRegs* regs) = delete;  // only the run loop may switch worlds
#else
inline GuestExit enter_guest(GuestRegs* regs) {
    register GuestRegs* x28 asm("x28") = regs;
    register std::uint64_t x0 asm("x0");
    register std::uint64_t x2 asm("x2");
    asm volatile("mov x0, x28\n\tbl cv_world_switch"
                 : "=r"(x0), "=r"(x2)
                 : "r"(x28)
                 : "x1", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                   "x14", "x15", "x16", "x17", "x18", "x30", "cc", "memory");
    return GuestExit{static_cast<ExitKind>(x0), x2};
}

/// Save the hypervisor's x19..x26 into `host` and load the guest's from `regs`.
inline void arch_enter_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]) {
    asm volatile(
        "stp x19, x20, [%1, #0]\n\tstp x21, x22, [%1, #16]\n\t"
        "stp x23, x24, [%1, #32]\n\tstp x25, x26, [%1, #48]\n\t"
        "ldp x19, x20, [%0, #152]\n\tldp x21, x22, [%0, #168]\n\t"
        "ldp x23, x24, [%0, #184]\n\tldp x25, x26, [%0, #200]" ::"r"(regs.x),
        "r"(host)
        : "memory");
}
/// Store the guest's live x19..x26 into `regs` and give the hypervisor back its own.
inline void arch_leave_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]) {
    asm volatile(
        "stp x19, x20, [%0, #152]\n\tstp x21, x22, [%0, #168]\n\t"
        "stp x23, x24, [%0, #184]\n\tstp x25, x26, [%0, #200]\n\t"
        "ldp x19, x20, [%1, #0]\n\tldp x21, x22, [%1, #16]\n\t"
        "ldp x23, x24, [%1, #32]\n\tldp x25, x26, [%1, #48]" ::"r"(regs.x),
        "r"(host)
        : "memory");
}
/// Copy the guest's live x19..x26 into `regs` (to read them) / load them back (after writing).
inline void arch_spill_live_regs(GuestRegs& regs) {
    asm volatile(
        "stp x19, x20, [%0, #152]\n\tstp x21, x22, [%0, #168]\n\t"
        "stp x23, x24, [%0, #184]\n\tstp x25, x26, [%0, #200]" ::"r"(regs.x)
        : "memory");
}
inline void arch_fill_live_regs(const GuestRegs& regs) {
    asm volatile(
        "ldp x19, x20, [%0, #152]\n\tldp x21, x22, [%0, #168]\n\t"
        "ldp x23, x24, [%0, #184]\n\tldp x25, x26, [%0, #200]" ::"r"(regs.x)
        : "memory");
}
#endif
#else
extern "C" ExitKind arch_enter_guest(GuestRegs* regs);
inline GuestExit enter_guest(GuestRegs* regs) {
    ExitKind kind = arch_enter_guest(regs);
    return GuestExit{kind, regs->esr};
}
// The host fake keeps every register in GuestRegs.
inline void arch_enter_fast_path(GuestRegs&, std::uint64_t (&)[8]) {}
inline void arch_leave_fast_path(GuestRegs&, std::uint64_t (&)[8]) {}
inline void arch_spill_live_regs(GuestRegs&) {}
inline void arch_fill_live_regs(const GuestRegs&) {}
#endif

}  // namespace corvisor
