// Stage 2 geometry and VTCR_EL2 for the 4 KiB granule.
#include "mm/stage2.hpp"
#include "mm/stage2_desc.hpp"
#include "mm/stage2_levels.hpp"

namespace corvisor {

namespace {

constexpr unsigned kMinIpaBits = 32;
constexpr unsigned kMaxIpaBits = 48;
// Each level resolves 9 IPA bits; concatenating up to 16 start tables adds up to 4 more
// (Arm ARM D8.2, "Concatenated translation tables for the initial stage 2 lookup").
constexpr unsigned kBitsPerLevel = 9;
constexpr unsigned kMaxConcatBits = 4;

// VTCR_EL2.SL0 for a start level with TG0 = 4 KiB: 0b10 level 0, 0b01 level 1, 0b00 level 2.
constexpr unsigned sl0_for_level(unsigned level) {
    return 2 - level;
}

}  // namespace

Result<Stage2Geometry> stage2_geometry(unsigned ipa_bits) {
    if (ipa_bits < kMinIpaBits || ipa_bits > kMaxIpaBits) {
        return Error::kUnsupported;
    }
    // Start at the deepest level whose root fits in 16 concatenated tables: each level skipped
    // is one memory access fewer on every stage 2 TLB miss, for at most 64 KiB of root (KVM
    // chooses the same way). So 32 bits starts at level 2 with 4 tables rather than at level 1
    // with one 4-entry table; the cost is no 1 GiB blocks, which a 4 GiB IPA space barely
    // needs. Level 0 is used only from 44 bits; a level 1 start would need 32+ tables there.
    for (unsigned level = 2;; --level) {
        const unsigned root_bits = ipa_bits - stage2_detail::level_shift(level);
        if (root_bits <= kBitsPerLevel + kMaxConcatBits || level == 0) {
            const unsigned concat =
                root_bits > kBitsPerLevel ? 1u << (root_bits - kBitsPerLevel) : 1u;
            return Stage2Geometry{
                .ipa_bits = ipa_bits,
                .start_level = level,
                .concat_tables = concat,
                .t0sz = 64 - ipa_bits,
                .sl0 = sl0_for_level(level),
            };
        }
    }
}

unsigned pa_range_bits(unsigned id_aa64mmfr0_parange_field) {
    // ID_AA64MMFR0_EL1.PARange. 0b0110 (52 bits) needs FEAT_LPA descriptors, which the 48-bit
    // output address field of Stage2Descriptor cannot express, so it and any later (larger)
    // encoding is treated as 48 bits.
    constexpr unsigned kBits[] = {32, 36, 40, 42, 44, 48};
    constexpr unsigned kCount = sizeof(kBits) / sizeof(kBits[0]);
    if (id_aa64mmfr0_parange_field >= kCount) {
        return 48;
    }
    return kBits[id_aa64mmfr0_parange_field];
}

std::uint64_t vtcr_el2_value(const Stage2Geometry& geometry, unsigned ps_field) {
    return VtcrEl2{}
        .set_t0sz(geometry.t0sz)
        .set_sl0(geometry.sl0)
        .set_irgn0(VtcrEl2::kCacheWbWa)
        .set_orgn0(VtcrEl2::kCacheWbWa)
        .set_sh0(VtcrEl2::kInnerShareable)
        .set_tg0(VtcrEl2::kTg0Granule4K)
        .set_ps(ps_field)
        .value();
}

}  // namespace corvisor
