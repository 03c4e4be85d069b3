// Software-generated interrupts: a guest's write of ICC_SGI1R_EL1, ICC_ASGI1R_EL1 or
// ICC_SGI0R_EL1 (IHI 0069H 12.2: one layout), trapped and handed to Vgic::sgi. With one Security
// state (GICD_CTLR.DS = 1, as this vGIC is) SGI1R and ASGI1R both generate Group 1 SGIs and SGI0R
// Group 0 ones; a target whose SGI is configured in the other group is not signalled (IHI 0069H,
// "Forwarding an SGI to a target PE").
#include "vgic/delivery.hpp"

namespace corvisor {

static_assert(kMaxVcpus <= 16, "vCPU i has affinity 0.0.0.i with RS = 0");

void Vgic::sgi(std::uint32_t sender, std::uint64_t icc_sgi1r, bool group1) {
    const ModelGuard guard(*this);
    const std::uint32_t all = (1u << config_.vcpus) - 1;  // within TargetList's 16 bits
    std::uint32_t targets = 0;
    if ((icc_sgi1r & (kSgiIrm | kSgiNotAff0Below16)) == 0) {
        targets = static_cast<std::uint32_t>(icc_sgi1r) & all;
    } else if ((icc_sgi1r & kSgiIrm) != 0) {
        targets = all & ~(sender < kMaxVcpus ? 1u << sender : 0u);
    }
    if (targets == 0) {
        return;
    }
    const auto intid = static_cast<std::uint32_t>((icc_sgi1r >> kSgiIntidShift) & 0xf);
    if ((targets & (targets - 1)) != 0) {
        sgi_each(targets, intid, group1);
        return;
    }
    // One target, usually the sender itself.
    vgic::Irq& irq = private_[static_cast<std::uint32_t>(__builtin_ctz(targets))][intid];
    if (irq.has(vgic::kGroup1) != group1) [[unlikely]] {
        return;
    }
    irq.pend();
    changed(irq);
}

[[gnu::noinline]] void Vgic::sgi_each(std::uint32_t targets, std::uint32_t intid, bool group1) {
    for (; targets != 0; targets &= targets - 1) {
        vgic::Irq& irq = private_[static_cast<std::uint32_t>(__builtin_ctz(targets))][intid];
        if (irq.has(vgic::kGroup1) == group1) {
            irq.pend();
            changed(irq);
        }
    }
}

void Vgic::pend_sgi(vgic::Irq& irq) {
    irq.pend();
    changed(irq);
}

std::uint32_t Vgic::take_sgis(std::uint32_t vcpu, std::uint32_t mail, std::uint32_t empty,
                              ListRegisterFile& lrs) {
    const ModelGuard guard(*this);  // once for all of them (take_sgi takes it again)
    std::uint32_t written = 0;
    for (; mail != 0; mail &= mail - 1) {
        const auto bit = static_cast<std::uint32_t>(__builtin_ctz(mail));
        const std::uint32_t n = take_sgi(vcpu, bit, empty & ~written, lrs);
        if (n != kNoLr) {
            written |= 1u << n;
        }
    }
    return written;
}

}  // namespace corvisor
