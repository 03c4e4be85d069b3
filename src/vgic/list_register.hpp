// ICH_LR<n>_EL2 and ICH_HCR_EL2 as typed values (Arm GICv3/v4 architecture spec, IHI 0069,
// 12.5.10 ICH_LR<n>_EL2 and 12.5.7 ICH_HCR_EL2), and the software image of a vCPU's list
// registers that the vGIC model fills and reads. Arch code copies the image to and from the
// hardware registers on EL2; host tests inspect it directly.
#pragma once

#include <array>
#include <cstdint>

namespace corvisor {

inline constexpr std::uint32_t kMaxListRegisters = 16;

enum class LrState : std::uint8_t { kInvalid = 0, kPending = 1, kActive = 2, kPendingActive = 3 };

class ListRegister {
public:
    constexpr ListRegister() = default;
    constexpr explicit ListRegister(std::uint64_t raw) : raw_(raw) {}
    constexpr std::uint64_t raw() const { return raw_; }

    constexpr std::uint32_t vintid() const { return static_cast<std::uint32_t>(raw_ & 0xffffffff); }
    constexpr std::uint32_t pintid() const {
        return static_cast<std::uint32_t>((raw_ >> 32) & 0x1fff);
    }
    /// With HW=0, bit 41 asks for a maintenance interrupt when the guest deactivates it (EOI).
    constexpr bool eoi_maintenance() const { return ((raw_ >> 41) & 1) != 0; }
    constexpr std::uint8_t priority() const { return static_cast<std::uint8_t>(raw_ >> 48); }
    constexpr bool group1() const { return ((raw_ >> 60) & 1) != 0; }
    constexpr bool hw() const { return ((raw_ >> 61) & 1) != 0; }
    constexpr LrState state() const { return static_cast<LrState>(raw_ >> 62); }

    constexpr ListRegister& set_vintid(std::uint32_t v) { return set(0, 32, v); }
    constexpr ListRegister& set_pintid(std::uint32_t v) { return set(32, 13, v); }
    constexpr ListRegister& set_eoi_maintenance(bool v) { return set(41, 1, v ? 1 : 0); }
    constexpr ListRegister& set_priority(std::uint8_t v) { return set(48, 8, v); }
    constexpr ListRegister& set_group1(bool v) { return set(60, 1, v ? 1 : 0); }
    constexpr ListRegister& set_hw(bool v) { return set(61, 1, v ? 1 : 0); }
    constexpr ListRegister& set_state(LrState s) {
        return set(62, 2, static_cast<std::uint64_t>(s));
    }

private:
    constexpr ListRegister& set(unsigned lsb, unsigned width, std::uint64_t v) {
        std::uint64_t mask = (width == 64 ? ~0ull : ((1ull << width) - 1)) << lsb;
        raw_ = (raw_ & ~mask) | ((v << lsb) & mask);
        return *this;
    }
    std::uint64_t raw_ = 0;
};

/// ICH_HCR_EL2 bits the vGIC uses.
struct IchHcr {
    static constexpr std::uint64_t kEn = 1ull << 0;       ///< virtual CPU interface enabled
    static constexpr std::uint64_t kUie = 1ull << 1;      ///< maintenance IRQ when <= 1 LR valid
    static constexpr std::uint64_t kLrenpie = 1ull << 2;  ///< ... on EOI of an entry not in an LR
    static constexpr std::uint64_t kNpie = 1ull << 3;     ///< ... when no LR is pending
};

/// ICH_MISR_EL2 maintenance reasons (read at an exit caused by the maintenance interrupt).
struct IchMisr {
    static constexpr std::uint32_t kEoi = 1u << 0;
    static constexpr std::uint32_t kU = 1u << 1;
    static constexpr std::uint32_t kLrenp = 1u << 2;
    static constexpr std::uint32_t kNp = 1u << 3;
};

/// The software image of one vCPU's virtual CPU interface state that the vGIC owns.
struct ListRegisterFile {
    std::array<ListRegister, kMaxListRegisters> lr{};
    std::uint32_t count = 4;  ///< implemented LRs: ICH_VTR_EL2.ListRegs + 1 (4 on QEMU)
    std::uint64_t hcr = 0;    ///< ICH_HCR_EL2 to program on the next entry
    /// Bit n set: LR n holds something (valid), so arch code must read it back after an exit.
    std::uint32_t in_use = 0;
};

}  // namespace corvisor
