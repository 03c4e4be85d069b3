// The virtual GICv3 of one guest: distributor and redistributor register models, interrupt
// state, SGI routing and list-register delivery. Portable and host-tested; the EL2 side only
// copies ListRegisterFile images to and from ICH_LR<n>_EL2 / ICH_HCR_EL2.
//
// Threading: one guest's vCPUs all run on one pCPU for now (issue: SMP adds locking). A vCPU's
// flush/sync are called only by that vCPU's run loop; inputs (set_level, sgi) may come from any
// vCPU or device of the same guest.
#pragma once

#include <cstdint>

#include "corvisor/device.hpp"
#include "vgic/list_register.hpp"

namespace corvisor {

inline constexpr std::uint32_t kVgicMaxVcpus = 8;
inline constexpr std::uint32_t kVgicMaxSpis = 256;  ///< INTIDs 32..287: ITLinesNumber <= 8
inline constexpr std::uint32_t kVgicDistSize = 0x10000;
inline constexpr std::uint32_t kVgicRedistStride = 0x20000;  ///< RD_base + SGI_base frames

class Vgic {
public:
    struct Config {
        std::uint32_t vcpus = 1;    ///< 1..kVgicMaxVcpus; vCPU i has affinity Aff0 = i
        std::uint32_t spis = 64;    ///< multiple of 32, <= kVgicMaxSpis
    };
    /// Called when an interrupt becomes deliverable to `vcpu` (to wake it from WFI).
    using Notify = void (*)(void* ctx, std::uint32_t vcpu);

    explicit Vgic(const Config& config);
    Vgic(const Vgic&) = delete;
    Vgic& operator=(const Vgic&) = delete;

    /// MMIO models, to map on the guest's bus: the distributor (kVgicDistSize bytes) and the
    /// redistributor frames (kVgicRedistStride bytes per vCPU, contiguous, vCPU 0 first).
    Device& distributor();
    Device& redistributors();

    void set_notify(Notify fn, void* ctx);

    /// Interrupt inputs. `intid` 16..31 is vCPU `vcpu`'s PPI; 32.. an SPI (`vcpu` ignored).
    /// Level-sensitive interrupts follow the level; edge-triggered ones pend on a rising edge.
    /// Out-of-range INTIDs are ignored.
    void set_level(std::uint32_t vcpu, std::uint32_t intid, bool level);
    /// A guest's write of ICC_SGI1R_EL1 (also ICC_ASGI1R/SGI0R: same layout) from `sender`:
    /// pends the SGI on the targets it names in this guest (IRM broadcast: all but the sender).
    /// Targets that do not exist are ignored.
    void sgi(std::uint32_t sender, std::uint64_t icc_sgi1r);

    /// Deliver `intid` of `vcpu` through the list registers with HW=1 and physical INTID
    /// `pintid`: the guest's deactivation deactivates the physical interrupt (the virtual
    /// timer). The hypervisor calls set_level(vcpu, intid, true) when the physical one fires.
    void map_hardware(std::uint32_t vcpu, std::uint32_t intid, std::uint32_t pintid);

    /// Before entering `vcpu`: put its highest-priority pending, enabled, group-enabled
    /// interrupts that are not yet in an LR into free LRs (priority order; ties: lower INTID),
    /// and set lrs.hcr (En always; UIE/NPIE when more are pending than fit, so a maintenance
    /// interrupt brings the vCPU back to refill). Level-sensitive software interrupts get the
    /// EOI-maintenance bit so their level is re-sampled on deactivation. True if lrs changed.
    bool flush(std::uint32_t vcpu, ListRegisterFile& lrs);
    /// After an exit of `vcpu` (with the LRs read back into `lrs`): take back what the guest
    /// did (acknowledged -> active, deactivated -> inactive, level re-asserted if still high),
    /// and free LRs that are invalid now.
    void sync(std::uint32_t vcpu, ListRegisterFile& lrs);

    /// Whether `vcpu` has an interrupt it would take now, in or out of the LRs (WFI wakes).
    bool deliverable(std::uint32_t vcpu) const;
    /// For tests and the shutdown summary.
    bool pending(std::uint32_t vcpu, std::uint32_t intid) const;
    bool active(std::uint32_t vcpu, std::uint32_t intid) const;
    bool enabled(std::uint32_t vcpu, std::uint32_t intid) const;
    std::uint8_t priority(std::uint32_t vcpu, std::uint32_t intid) const;
    std::uint32_t spis() const;
    std::uint32_t vcpus() const;

private:
    struct Impl;
    // Storage for the implementation, sized for kVgicMaxVcpus and kVgicMaxSpis (no heap).
    alignas(16) unsigned char storage_[24576];
    Impl& impl();
    const Impl& impl() const;
};

}  // namespace corvisor
