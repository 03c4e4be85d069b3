// ICH_LR<n>_EL2 as a typed value (GICv3 spec, IHI 0069 12.5.10), and the software image of a
// vCPU's list registers that the vGIC model fills and reads. src/el2 copies the image to and
// from the hardware registers; host tests inspect it directly.
#pragma once

#include <array>
#include <cstdint>

#include "arch/bitfield.hpp"

namespace corvisor {

inline constexpr std::uint32_t kMaxListRegisters = 16;

enum class LrState : std::uint8_t { kInvalid = 0, kPending = 1, kActive = 2, kPendingActive = 3 };

class ListRegister {
    CV_REGISTER(ListRegister, std::uint64_t, 0)
    constexpr std::uint64_t raw() const { return value_; }
    CV_FIELD_AS(31, 0, vintid, std::uint32_t)
    CV_FIELD_AS(44, 32, pintid, std::uint32_t)
    /// With HW=0, bit 41 asks for a maintenance interrupt when the guest deactivates it (EOI).
    CV_BIT(41, eoi_maintenance)
    CV_FIELD_AS(55, 48, priority, std::uint8_t)
    CV_BIT(60, group1)
    CV_BIT(61, hw)
    CV_FIELD_AS(63, 62, state, LrState)
};

/// The software image of one vCPU's virtual CPU interface state that the vGIC owns.
struct ListRegisterFile {
    std::array<ListRegister, kMaxListRegisters> lr{};
    std::uint32_t count = 4;  ///< implemented LRs: ICH_VTR_EL2.ListRegs + 1 (4 on QEMU)
    std::uint64_t hcr = 0;    ///< ICH_HCR_EL2 (IchHcrEl2) to program on the next entry
    /// Bit n set: LR n holds something (valid), so arch code must read it back after an exit.
    std::uint32_t in_use = 0;
};

}  // namespace corvisor
