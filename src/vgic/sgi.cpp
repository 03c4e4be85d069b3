// Software-generated interrupts: a guest's write of ICC_SGI1R_EL1 (IHI 0069H, ICC_SGI1R_EL1;
// ICC_SGI0R_EL1 and ICC_ASGI1R_EL1 share the layout), trapped and handed to Vgic::sgi.
#include "vgic/delivery.hpp"

namespace corvisor {

namespace {

// ICC_SGI1R_EL1 fields: INTID [27:24], IRM [40] (every PE but the sender), TargetList [15:0]
// (Aff0 = RS * 16 + bit), and the affinity fields that must be 0 for any vCPU here to be named:
// Aff1 [23:16], Aff2 [39:32], RS [47:44] (vCPUs have Aff0 < 16), Aff3 [55:48].
constexpr unsigned kIntidShift = 24;
constexpr std::uint64_t kIrm = 1ull << 40;
constexpr std::uint64_t kNotAff0Below16 = 0x00ff'f0ff'00ff'0000ull;
static_assert(kVgicMaxVcpus <= 16, "vCPU i has affinity 0.0.0.i with RS = 0");

}  // namespace

void Vgic::sgi(std::uint32_t sender, std::uint64_t icc_sgi1r) {
    const std::uint32_t all = (1u << config_.vcpus) - 1;  // within TargetList's 16 bits
    std::uint32_t targets = 0;
    if ((icc_sgi1r & (kIrm | kNotAff0Below16)) == 0) {
        targets = static_cast<std::uint32_t>(icc_sgi1r) & all;
    } else if ((icc_sgi1r & kIrm) != 0) {
        targets = all & ~(sender < kVgicMaxVcpus ? 1u << sender : 0u);
    }
    if (targets == 0) {
        return;
    }
    const auto intid = static_cast<std::uint32_t>((icc_sgi1r >> kIntidShift) & 0xf);
    if ((targets & (targets - 1)) != 0) {
        sgi_each(targets, intid);
        return;
    }
    // One target, usually the sender itself.
    vgic::Irq& irq = private_[static_cast<std::uint32_t>(__builtin_ctz(targets))][intid];
    irq.pend();
    changed(irq);
}

[[gnu::noinline]] void Vgic::sgi_each(std::uint32_t targets, std::uint32_t intid) {
    for (; targets != 0; targets &= targets - 1) {
        vgic::Irq& irq = private_[static_cast<std::uint32_t>(__builtin_ctz(targets))][intid];
        irq.pend();
        changed(irq);
    }
}

}  // namespace corvisor
