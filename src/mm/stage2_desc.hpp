// Typed views of VTCR_EL2 and of VMSAv8-64 stage 2 descriptors (4 KiB granule): every bit
// position used by src/mm is named once, here.
#pragma once

#include <cstdint>

namespace corvisor {

/// Bits [Hi:Lo] of a 64-bit register or descriptor.
template <unsigned Hi, unsigned Lo>
struct BitField {
    static_assert(Lo <= Hi && Hi < 64);
    static constexpr std::uint64_t kMask = (~std::uint64_t{0} >> (63 - (Hi - Lo))) << Lo;
    static constexpr std::uint64_t get(std::uint64_t reg) { return (reg & kMask) >> Lo; }
    static constexpr std::uint64_t set(std::uint64_t reg, std::uint64_t v) {
        return (reg & ~kMask) | ((v << Lo) & kMask);
    }
};

// Accessors `name()` / `set_name(v)` for a field of `value_` (Zircon hwreg style).
#define CV_S2_FIELD(hi, lo, name)                  \
    constexpr std::uint64_t name() const {         \
        return BitField<hi, lo>::get(value_);      \
    }                                              \
    constexpr auto& set_##name(std::uint64_t v) {  \
        value_ = BitField<hi, lo>::set(value_, v); \
        return *this;                              \
    }
#define CV_S2_BIT(bit, name)                                 \
    constexpr bool name() const {                            \
        return BitField<bit, bit>::get(value_) != 0;         \
    }                                                        \
    constexpr auto& set_##name(bool v) {                     \
        value_ = BitField<bit, bit>::set(value_, v ? 1 : 0); \
        return *this;                                        \
    }

/// VTCR_EL2, the stage 2 translation control (Arm ARM, VTCR_EL2 register description).
class VtcrEl2 {
public:
    static constexpr std::uint64_t kRes1 = std::uint64_t{1} << 31;
    static constexpr std::uint64_t kTg0Granule4K = 0b00;
    static constexpr std::uint64_t kCacheWbWa = 0b01;       // IRGN0/ORGN0 Write-Back Write-Allocate
    static constexpr std::uint64_t kInnerShareable = 0b11;  // SH0

    constexpr VtcrEl2() = default;
    constexpr explicit VtcrEl2(std::uint64_t value) : value_(value) {}
    constexpr std::uint64_t value() const { return value_; }

    CV_S2_FIELD(5, 0, t0sz)     // IPA size is 2^(64 - T0SZ)
    CV_S2_FIELD(7, 6, sl0)      // start level; encoding depends on TG0
    CV_S2_FIELD(9, 8, irgn0)    // inner cacheability of table walks
    CV_S2_FIELD(11, 10, orgn0)  // outer cacheability of table walks
    CV_S2_FIELD(13, 12, sh0)    // shareability of table walks
    CV_S2_FIELD(15, 14, tg0)    // granule
    CV_S2_FIELD(18, 16, ps)     // output (physical) address size, ID_AA64MMFR0_EL1.PARange encoding
    CV_S2_BIT(19, vs)           // 16-bit VMID

private:
    std::uint64_t value_ = kRes1;
};

/// One 64-bit stage 2 translation table entry, 4 KiB granule (Arm ARM D8.3, "Translation table
/// descriptor formats"; S2AP and XN in D8.4, "Memory access control"; MemAttr in the stage 2
/// memory region attributes of D8).
///   bits[1:0]  0b00/0b10 invalid, 0b01 block (levels 1-2), 0b11 table (levels 0-2) or page
///              (level 3); 0b01 at level 3 and block at level 0 are invalid without FEAT_LPA2.
///   [47:12]    output address (next table, or block/page base; a block's low bits are RES0).
class Stage2Descriptor {
public:
    static constexpr std::uint64_t kAddressMask = BitField<47, 12>::kMask;
    // MemAttr[5:2] with HCR_EL2.FWB == 0: [5:4] outer, [3:2] inner for Normal; 0b00 in [5:4]
    // selects Device and [3:2] its kind.
    static constexpr std::uint64_t kMemAttrNormalWb = 0b1111;     // Normal, Outer+Inner Write-Back
    static constexpr std::uint64_t kMemAttrDeviceNgnre = 0b0001;  // Device-nGnRE
    static constexpr std::uint64_t kShInner = 0b11;
    // XN[1:0] at [54:53] (FEAT_XNX): 0b10 is execute-never at EL1 and EL0, and is the same
    // encoding as the plain XN bit 54 on cores without FEAT_XNX (bit 53 RES0).
    static constexpr std::uint64_t kXnNone = 0b00;
    static constexpr std::uint64_t kXnAll = 0b10;
    // Leaf bits that are not the address or the descriptor type: what a block split copies.
    static constexpr std::uint64_t kLeafAttrMask = BitField<11, 2>::kMask | BitField<63, 50>::kMask;

    constexpr Stage2Descriptor() = default;
    constexpr explicit Stage2Descriptor(std::uint64_t value) : value_(value) {}
    constexpr std::uint64_t value() const { return value_; }

    CV_S2_BIT(0, valid)
    CV_S2_BIT(1, table_or_page)  // 1: table at levels 0-2, page at level 3; 0: block
    CV_S2_FIELD(5, 2, mem_attr)
    CV_S2_BIT(6, s2ap_read)   // S2AP[0]
    CV_S2_BIT(7, s2ap_write)  // S2AP[1]
    CV_S2_FIELD(9, 8, sh)
    CV_S2_BIT(10, af)  // access flag; 0 would fault on first access (no FEAT_HAFDBS assumed)
    CV_S2_FIELD(54, 53, xn)

    constexpr std::uint64_t address() const { return value_ & kAddressMask; }
    constexpr Stage2Descriptor& set_address(std::uint64_t pa) {
        value_ = (value_ & ~kAddressMask) | (pa & kAddressMask);
        return *this;
    }

    /// Points to a next-level table: valid with bit 1 set above level 3.
    constexpr bool is_table(unsigned level) const {
        return valid() && table_or_page() && level < 3;
    }

private:
    std::uint64_t value_ = 0;
};

#undef CV_S2_FIELD
#undef CV_S2_BIT

}  // namespace corvisor
