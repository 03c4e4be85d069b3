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
/// Five priority bits, as ICH_VTR_EL2.PRIbits on QEMU (FACTS.md): the distributor keeps the
/// same bits, the low three of IPRIORITYR bytes are RAZ/WI (IHI 0069H, "Interrupt
/// prioritization").
inline constexpr std::uint8_t kPriorityMask = 0xf8;

struct Irq {
    std::uint16_t intid = 0;
    std::uint16_t pintid = 0;  ///< physical INTID when `hw`
    std::uint8_t priority = 0;
    /// Private interrupts: the owning vCPU. SPIs: the vCPU GICD_IROUTER names (kNone if none).
    std::uint8_t route = kNone;
    std::uint8_t lr = kNone;  ///< list register holding it, in vCPU `lr_vcpu`'s file
    std::uint8_t lr_vcpu = kNone;
    std::uint8_t queued = kNone;     ///< vCPU whose set of LR candidates holds it
    std::uint8_t signalled = kNone;  ///< vCPU it is deliverable to (counted in that vCPU)
    bool enabled = false;
    bool group1 = false;
    bool edge = false;   ///< ICFGR: edge-triggered (SGIs always), else level-sensitive
    bool latch = false;  ///< pending latch: an edge, an SGI or a write of ISPENDR
    bool level = false;  ///< the input line; for `hw`, "the physical interrupt fired"
    bool active = false;
    bool hw = false;
    /// Pended again while in an LR, after the flush that wrote that LR: the guest's acknowledge
    /// of the older pending state, seen at the next sync, must not consume this one.
    bool repend = false;

    /// IHI 0069H "Interrupt lifecycle": an edge-triggered interrupt is pending while its latch is
    /// set; a level-sensitive one while its latch is set or its input is asserted. A
    /// hardware-mapped interrupt pends when the physical one fires, whatever its configuration.
    bool pending() const { return latch || (level && (!edge || hw)); }
    void pend() {
        latch = true;
        if (lr != kNone) {
            repend = true;
        }
    }
};

}  // namespace corvisor::vgic
