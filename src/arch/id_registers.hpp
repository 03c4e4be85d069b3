// The ID register group 3 (HCR_EL2.TID3 traps it): op0 = 3, op1 = 0, CRn = 0, CRm = 1..7,
// op2 = 0..7 — the AArch32 and AArch64 feature ID registers and their reserved, RAZ encodings
// (Arm ARM D19.2, "Identification registers"). One value per encoding: what the hardware has, or
// what a guest is shown.
#pragma once

#include <array>
#include <cstdint>

namespace corvisor {

struct IdRegisterFile {
    /// One slot per CRm 0..7 and op2 0..7, so that a trapped access indexes it straight from its
    /// syndrome; the CRm 0 row (MIDR_EL1 and friends, not trapped by TID3) stays zero.
    static constexpr unsigned kCount = 8 * 8;
    /// The slot of the register with this CRm (1..7) and op2 (0..7).
    static constexpr unsigned index(unsigned crm, unsigned op2) { return crm * 8 + op2; }
    static constexpr bool in_group(unsigned op0, unsigned op1, unsigned crn, unsigned crm) {
        return op0 == 3 && op1 == 0 && crn == 0 && crm >= 1 && crm <= 7;
    }
    std::uint64_t get(unsigned crm, unsigned op2) const { return value[index(crm, op2)]; }
    void set(unsigned crm, unsigned op2, std::uint64_t v) { value[index(crm, op2)] = v; }

    std::array<std::uint64_t, kCount> value{};
};

// The registers named in the offer (CRm, op2).
namespace idreg {
inline constexpr unsigned kPfr0Crm = 1, kPfr0Op2 = 0;          // ID_PFR0_EL1 (AArch32)
inline constexpr unsigned kDfr0Aa32Crm = 1, kDfr0Aa32Op2 = 2;  // ID_DFR0_EL1 (AArch32)
inline constexpr unsigned kAa64Crm4 = 4;                       // ID_AA64PFR*, ZFR0, SMFR0
inline constexpr unsigned kAa64Crm5 = 5;                       // ID_AA64DFR*, AFR*
inline constexpr unsigned kAa64Crm6 = 6;                       // ID_AA64ISAR*
inline constexpr unsigned kAa64Crm7 = 7;                       // ID_AA64MMFR*
}  // namespace idreg

}  // namespace corvisor
