// Interrupt state of the vGIC: inputs (lines, hardware mappings), deliverability and the per-vCPU
// sets of interrupts waiting for a list register.
#include "vgic/vgic.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::kNone;

namespace {

Vgic::Config sanitize(Vgic::Config c) {
    if (c.vcpus == 0) {
        c.vcpus = 1;
    }
    if (c.vcpus > kVgicMaxVcpus) {
        c.vcpus = kVgicMaxVcpus;
    }
    if (c.spis > kVgicMaxSpis) {
        c.spis = kVgicMaxSpis;
    }
    c.spis -= c.spis % 32;  // GICD_TYPER.ITLinesNumber counts SPIs in blocks of 32
    return c;
}

void set_bit(std::array<std::uint64_t, vgic::kIntidWords>& bits, std::uint32_t n, bool v) {
    const std::uint64_t mask = std::uint64_t{1} << (n % 64);
    bits[n / 64] = v ? (bits[n / 64] | mask) : (bits[n / 64] & ~mask);
}

}  // namespace

Vgic::Vgic(const Config& config) : config_(sanitize(config)) {
    reset_state();
}

Device& Vgic::distributor() {
    return distributor_;
}

Device& Vgic::redistributors() {
    return redistributors_;
}

void Vgic::Distributor::reset() {
    vgic_.reset_state();
}

void Vgic::set_access_hook(AccessHook fn, void* ctx) {
    access_hook_ = fn;
    access_ctx_ = ctx;
}

void Vgic::set_notify(Notify fn, void* ctx) {
    notify_ = fn;
    notify_ctx_ = ctx;
}

std::uint32_t Vgic::spis() const {
    return config_.spis;
}

std::uint32_t Vgic::vcpus() const {
    return config_.vcpus;
}

void Vgic::reset_state() {
    // Reset values (IHI 0069H, GICD_/GICR_ register descriptions; where the architecture leaves
    // them IMPLEMENTATION DEFINED, those of a GIC-600): everything disabled, inactive, group 0,
    // priority 0, SPIs level-sensitive and routed to Aff0 = 0. Hardware mappings are the
    // hypervisor's configuration, not guest state: they survive.
    enable_grp0_ = false;
    enable_grp1_ = false;
    for (std::uint32_t v = 0; v < kVgicMaxVcpus; ++v) {
        for (std::uint32_t i = 0; i < vgic::kPrivateIrqs; ++i) {
            Irq& irq = private_[v][i];
            const bool hw = irq.hw;
            const std::uint16_t pintid = irq.pintid;
            irq = Irq{};
            irq.intid = static_cast<std::uint16_t>(i);
            irq.route = static_cast<std::uint8_t>(v);
            irq.edge = i < vgic::kSgis;  // SGIs are edge-triggered, PPIs level (see ICFGR1)
            irq.hw = hw;
            irq.pintid = pintid;
        }
        vcpu_[v] = VcpuState{};
    }
    for (std::uint32_t s = 0; s < kVgicMaxSpis; ++s) {
        Irq& irq = spi_[s];
        const bool hw = irq.hw;
        const std::uint16_t pintid = irq.pintid;
        irq = Irq{};
        irq.intid = static_cast<std::uint16_t>(32 + s);
        irq.route = 0;
        irq.hw = hw;
        irq.pintid = pintid;
        irouter_[s] = 0;
    }
}

Irq* Vgic::find(std::uint32_t vcpu, std::uint32_t intid) {
    if (intid < vgic::kPrivateIrqs) {
        return vcpu < config_.vcpus ? &private_[vcpu][intid] : nullptr;
    }
    return intid - vgic::kPrivateIrqs < config_.spis ? &spi_[intid - vgic::kPrivateIrqs] : nullptr;
}

const Irq* Vgic::find(std::uint32_t vcpu, std::uint32_t intid) const {
    return const_cast<Vgic*>(this)->find(vcpu, intid);
}

bool Vgic::group_enabled(const Irq& irq) const {
    return irq.group1 ? enable_grp1_ : enable_grp0_;
}

bool Vgic::deliverable_now(const Irq& irq) const {
    // Forwarded to the CPU interface: pending, not active (the running priority of an active
    // interrupt masks its own pending state), enabled, and its group enabled in GICD_CTLR,
    // which with affinity routing also gates SGIs and PPIs (IHI 0069H, GICD_CTLR). Redistributor
    // sleep (GICR_WAKER) is not a gate here: it is a power handshake the guest completes first.
    return irq.enabled && !irq.active && irq.pending() && group_enabled(irq);
}

std::uint8_t Vgic::route_target(std::uint64_t irouter) const {
    // GICD_IROUTER.IRM = 1 ("any PE"): this model always picks vCPU 0. Otherwise the vCPU with
    // that affinity (vCPU i is 0.0.0.i); a route to no vCPU delivers nowhere.
    if ((irouter >> 31) & 1) {
        return 0;
    }
    const std::uint64_t aff0 = irouter & 0xff;
    if ((irouter & 0xffff00) != 0 || aff0 >= config_.vcpus) {
        return kNone;
    }
    return static_cast<std::uint8_t>(aff0);
}

void Vgic::refresh(Irq& irq, std::uint8_t quiet) {
    // Called after every change of `irq`: keep the candidate sets and the per-vCPU count of
    // deliverable interrupts exact, and notify the vCPU it newly became deliverable to. An SPI in
    // an LR belongs to that LR's vCPU until the LR frees, even if its route changed meanwhile.
    const std::uint8_t target = irq.lr_vcpu != kNone ? irq.lr_vcpu : irq.route;
    const bool deliverable = target != kNone && deliverable_now(irq);
    const std::uint8_t queued = deliverable && irq.lr == kNone ? target : kNone;
    if (queued != irq.queued) {
        if (irq.queued != kNone) {
            set_bit(vcpu_[irq.queued].candidates, irq.intid, false);
        }
        if (queued != kNone) {
            set_bit(vcpu_[queued].candidates, irq.intid, true);
        }
        irq.queued = queued;
    }
    const std::uint8_t signalled = deliverable ? target : kNone;
    if (signalled != irq.signalled) {
        if (irq.signalled != kNone) {
            --vcpu_[irq.signalled].signalled;
        }
        irq.signalled = signalled;
        if (signalled != kNone) {
            ++vcpu_[signalled].signalled;
            // The vCPU in flush/sync is awake already: no notification to itself.
            if (signalled != quiet && notify_ != nullptr) {
                notify_(notify_ctx_, signalled);
            }
        }
    }
}

void Vgic::refresh_all() {
    for (std::uint32_t v = 0; v < config_.vcpus; ++v) {
        for (Irq& irq : private_[v]) {
            refresh(irq);
        }
    }
    for (std::uint32_t s = 0; s < config_.spis; ++s) {
        refresh(spi_[s]);
    }
}

void Vgic::set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) {
    Irq* irq = intid < vgic::kSgis ? nullptr : find(vcpu, intid);
    if (irq == nullptr) {
        return;
    }
    if (irq->hw) {
        // The physical interrupt stays active until the guest deactivates the LR (HW = 1), so
        // it cannot fire again meanwhile; while an LR holds it, the LR owns its state. A low
        // level withdraws it; the next flush takes a still-pending entry out of its LR.
        if (level && irq->lr != kNone) {
            return;
        }
        irq->level = level;
    } else {
        if (level && !irq->level && irq->edge) {
            irq->pend();  // rising edge
        }
        irq->level = level;
    }
    refresh(*irq);
}

void Vgic::map_hardware(std::uint32_t vcpu, std::uint32_t intid, std::uint32_t pintid) {
    Irq* irq = intid < vgic::kSgis ? nullptr : find(vcpu, intid);
    if (irq == nullptr) {
        return;
    }
    irq->hw = true;
    irq->pintid = static_cast<std::uint16_t>(pintid & 0x1fff);  // ICH_LR<n>_EL2.pINTID, 13 bits
}

bool Vgic::deliverable(std::uint32_t vcpu) const {
    return vcpu < config_.vcpus && vcpu_[vcpu].signalled != 0;
}

bool Vgic::pending(std::uint32_t vcpu, std::uint32_t intid) const {
    const Irq* irq = find(vcpu, intid);
    return irq != nullptr && irq->pending();
}

bool Vgic::active(std::uint32_t vcpu, std::uint32_t intid) const {
    const Irq* irq = find(vcpu, intid);
    return irq != nullptr && irq->active;
}

bool Vgic::enabled(std::uint32_t vcpu, std::uint32_t intid) const {
    const Irq* irq = find(vcpu, intid);
    return irq != nullptr && irq->enabled;
}

std::uint8_t Vgic::priority(std::uint32_t vcpu, std::uint32_t intid) const {
    const Irq* irq = find(vcpu, intid);
    return irq != nullptr ? irq->priority : 0;
}

}  // namespace corvisor
