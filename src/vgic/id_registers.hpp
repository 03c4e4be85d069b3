// The CoreSight-style identification registers at the top of every GICv3 frame: GICD_/GICR_
// PIDR4-7, PIDR0-3 and CIDR0-3 at 0xffd0-0xfffc (IHI 0069H, "Identification registers").
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace corvisor::vgic {

inline constexpr std::uint64_t kIdBase = 0xffd0;

/// A GIC-600's values: JEP106 code 0x43b (Arm: PIDR1.DES_0 = 0xb, PIDR2.DES_1 = 3, PIDR4.DES_2 =
/// continuation 4), PIDR4.SIZE = 4 (a 64 KiB frame), PIDR2.ArchRev = 3 (GICv3: the field Linux
/// checks), the CoreSight component class in CIDR0-3. Part number 0x492 for the distributor,
/// 0x493 for a redistributor (PIDR0 holds its low byte, PIDR1[3:0] the high nibble).
inline constexpr std::uint8_t kDistributorPart = 0x92;
inline constexpr std::uint8_t kRedistributorPart = 0x93;

/// The register at `offset` (a word access), or nothing if `offset` is not an ID register.
inline std::optional<std::uint32_t> id_register(std::uint64_t offset, std::uint8_t part) {
    const std::array<std::uint8_t, 12> values = {
        0x44, 0x00, 0x00, 0x00,  // PIDR4-7
        part, 0xb4, 0x3b, 0x00,  // PIDR0-3
        0x0d, 0xf0, 0x05, 0xb1,  // CIDR0-3
    };
    if (offset < kIdBase || offset >= kIdBase + 4 * values.size() || offset % 4 != 0) {
        return std::nullopt;
    }
    return values[(offset - kIdBase) / 4];
}

}  // namespace corvisor::vgic
