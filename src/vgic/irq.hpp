// The state the vGIC keeps for one interrupt (Arm IHI 0069H, "Interrupt lifecycle": inactive,
// pending, active, active and pending), internal to src/vgic.
#pragma once

#include <cstdint>

namespace corvisor::vgic {

inline constexpr std::uint8_t kNone = 0xff;            ///< no vCPU / no list register
inline constexpr std::uint32_t kSgis = 16;             ///< INTIDs 0-15
inline constexpr std::uint32_t kPrivateIrqs = 32;      ///< SGIs and PPIs, banked per vCPU
inline constexpr std::uint32_t kMaxIntids = 32 + 256;  ///< kPrivateIrqs + kVgicMaxSpis
inline constexpr std::uint32_t kIntidWords = (kMaxIntids + 63) / 64;
/// Five priority bits, as ICH_VTR_EL2.PRIbits on QEMU (docs/platform.md): the distributor keeps the
/// same bits, the low three of IPRIORITYR bytes are RAZ/WI (IHI 0069H, "Interrupt
/// prioritization").
inline constexpr std::uint8_t kPriorityMask = 0xf8;

// Irq::flags, one byte so that the delivery paths read and write an interrupt's state at once.
inline constexpr std::uint8_t kEnabled = 1u << 0;
inline constexpr std::uint8_t kGroup1 = 1u << 1;
inline constexpr std::uint8_t kEdge = 1u << 2;   ///< ICFGR: edge-triggered (SGIs always)
inline constexpr std::uint8_t kLatch = 1u << 3;  ///< pending latch: an edge, an SGI, ISPENDR
inline constexpr std::uint8_t kLevel = 1u << 4;  ///< the input; for kHw "the physical one fired"
inline constexpr std::uint8_t kActive = 1u << 5;
inline constexpr std::uint8_t kHw = 1u << 6;
/// Pended again while in an LR, after the flush that wrote that LR: the guest's acknowledge of
/// the older pending state, seen at the next sync, must not consume this one.
inline constexpr std::uint8_t kRepend = 1u << 7;
/// The flags deliverability depends on (all but kRepend): an index into a 128-entry table.
inline constexpr std::uint8_t kStateFlags = 0x7f;

/// IHI 0069H "Interrupt lifecycle": an edge-triggered interrupt is pending while its latch is
/// set; a level-sensitive one while its latch is set or its input is asserted. A hardware-mapped
/// interrupt pends when the physical one fires, whatever its configuration.
constexpr bool pending_flags(std::uint8_t f) {
    return (f & kLatch) != 0 || ((f & kLevel) != 0 && (f & (kEdge | kHw)) != kEdge);
}

/// 16 bytes, so that finding one is a shift.
struct Irq {
    std::uint16_t intid = 0;
    std::uint16_t pintid = 0;  ///< physical INTID when kHw, else 0 (lr_for ORs it in)
    std::uint8_t priority = 0;
    /// Private interrupts: the owning vCPU. SPIs: the vCPU GICD_IROUTER names (kNone if none).
    std::uint8_t route = kNone;
    std::uint8_t lr = kNone;  ///< list register holding it, in vCPU `lr_vcpu`'s file
    std::uint8_t lr_vcpu = kNone;
    std::uint8_t queued = kNone;     ///< vCPU whose set of LR candidates holds it
    std::uint8_t signalled = kNone;  ///< vCPU it is deliverable to (counted in that vCPU)
    std::uint8_t flags = 0;
    std::uint8_t unused[5] = {};

    bool has(std::uint8_t f) const { return (flags & f) != 0; }
    void set(std::uint8_t f, bool on) {
        flags = static_cast<std::uint8_t>(on ? flags | f : flags & ~f);
    }
    bool pending() const { return pending_flags(flags); }
    void pend() { flags = static_cast<std::uint8_t>(flags | kLatch | (lr != kNone ? kRepend : 0)); }
};
static_assert(sizeof(Irq) == 16);

}  // namespace corvisor::vgic
