// Typed VMSAv8-64 stage 2 descriptors (4 KiB granule): every descriptor bit position used by
// src/mm is named once, here (VTCR_EL2 is in arch/registers.hpp).
#pragma once

#include <cstdint>

#include "arch/bitfield.hpp"
#include "arch/registers.hpp"

namespace corvisor {

/// One 64-bit stage 2 translation table entry, 4 KiB granule (Arm ARM D8.3, "Translation table
/// descriptor formats"; S2AP and XN in D8.4, "Memory access control"; MemAttr in the stage 2
/// memory region attributes of D8).
///   bits[1:0]  0b00/0b10 invalid, 0b01 block (levels 1-2), 0b11 table (levels 0-2) or page
///              (level 3); 0b01 at level 3 and block at level 0 are invalid without FEAT_LPA2.
///   [47:12]    output address (next table, or block/page base; a block's low bits are RES0).
class Stage2Descriptor {
    CV_REGISTER(Stage2Descriptor, std::uint64_t, 0)
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

    CV_BIT(0, valid)
    CV_BIT(1, table_or_page)  // 1: table at levels 0-2, page at level 3; 0: block
    CV_FIELD(5, 2, mem_attr)
    CV_BIT(6, s2ap_read)   // S2AP[0]
    CV_BIT(7, s2ap_write)  // S2AP[1]
    CV_FIELD(9, 8, sh)
    CV_BIT(10, af)  // access flag; 0 would fault on first access (no FEAT_HAFDBS assumed)
    CV_FIELD(54, 53, xn)

    constexpr std::uint64_t address() const { return value_ & kAddressMask; }
    constexpr Stage2Descriptor& set_address(std::uint64_t pa) {
        value_ = (value_ & ~kAddressMask) | (pa & kAddressMask);
        return *this;
    }

    /// Points to a next-level table: valid with bit 1 set above level 3.
    constexpr bool is_table(unsigned level) const {
        return valid() && table_or_page() && level < 3;
    }
};

}  // namespace corvisor
