// Interrupt state of the vGIC: inputs (lines, hardware mappings), deliverability and the per-vCPU
// sets of interrupts waiting for a list register.
#include "vgic/delivery.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::kNone;

namespace {

Vgic::Config sanitize(Vgic::Config c) {
    if (c.vcpus == 0) {
        c.vcpus = 1;
    }
    if (c.vcpus > kMaxVcpus) {
        c.vcpus = kMaxVcpus;
    }
    if (c.spis > kVgicMaxSpis) {
        c.spis = kVgicMaxSpis;
    }
    c.spis -= c.spis % 32;  // GICD_TYPER.ITLinesNumber counts SPIs in blocks of 32
    return c;
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
    const ModelGuard guard(vgic_);
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

[[gnu::cold]] void Vgic::reset_state() {
    // Reset values (IHI 0069H, GICD_/GICR_ register descriptions; where the architecture leaves
    // them IMPLEMENTATION DEFINED, those of a GIC-600): everything disabled, inactive, group 0,
    // priority 0, SPIs level-sensitive and routed to Aff0 = 0. Hardware mappings are the
    // hypervisor's configuration, not guest state: they survive.
    enable_grp0_ = false;
    enable_grp1_ = false;
    build_flags_lr();
    for (std::uint32_t v = 0; v < kMaxVcpus; ++v) {
        for (std::uint32_t i = 0; i < vgic::kPrivateIrqs; ++i) {
            Irq& irq = private_[v][i];
            const std::uint8_t hw = irq.flags & vgic::kHw;
            const std::uint16_t pintid = irq.pintid;
            irq = Irq{};
            irq.intid = static_cast<std::uint16_t>(i);
            irq.route = static_cast<std::uint8_t>(v);
            // SGIs are edge-triggered, PPIs level-sensitive (see ICFGR1).
            irq.flags = static_cast<std::uint8_t>(hw | (i < vgic::kSgis ? vgic::kEdge : 0));
            irq.pintid = pintid;
        }
        vcpu_[v] = VcpuState{};
    }
    for (std::uint32_t s = 0; s < kVgicMaxSpis; ++s) {
        Irq& irq = spi_[s];
        const std::uint8_t hw = irq.flags & vgic::kHw;
        const std::uint16_t pintid = irq.pintid;
        irq = Irq{};
        irq.intid = static_cast<std::uint16_t>(32 + s);
        irq.route = 0;
        irq.flags = hw;
        irq.pintid = pintid;
        irouter_[s] = 0;
    }
}

[[gnu::cold]] void Vgic::build_flags_lr() {
    for (unsigned f = 0; f <= vgic::kStateFlags; ++f) {
        // Shown pending: pending, enabled and its group enabled (IHI 0069H, GICD_CTLR: with
        // affinity routing the group enables gate SGIs and PPIs too).
        const bool group = (f & vgic::kGroup1) != 0 ? enable_grp1_ : enable_grp0_;
        const bool pending =
            vgic::pending_flags(static_cast<std::uint8_t>(f)) && (f & vgic::kEnabled) != 0 && group;
        LrState state = LrState::kInvalid;
        if ((f & vgic::kActive) != 0) {
            // An edge-triggered interrupt pended again while active is shown pending and active
            // in its LR: the guest takes it again after deactivating the first. A
            // level-sensitive one shows only active; its level is re-sampled when the guest
            // deactivates it (the EOI maintenance interrupt below). A hardware one re-fires
            // through the physical GIC.
            const bool edge = (f & (vgic::kEdge | vgic::kHw)) == vgic::kEdge;
            state = pending && edge ? LrState::kPendingActive : LrState::kActive;
        } else if (pending) {
            state = LrState::kPending;
        }
        ListRegister lr;
        if (state != LrState::kInvalid) {
            lr.set_state(state).set_group1((f & vgic::kGroup1) != 0);
            if ((f & vgic::kHw) != 0) {
                lr.set_hw(true);
            } else if ((f & vgic::kEdge) == 0) {
                lr.set_eoi_maintenance(true);
            }
        }
        flags_lr_[f] = lr.raw();
    }
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

void Vgic::transition(Irq& irq, std::uint32_t queued, std::uint32_t signalled,
                      std::uint32_t quiet) {
    // refresh's slow part: `irq` enters or leaves a candidate set, or its deliverability changed.
    if (queued != irq.queued) {
        const std::uint32_t w = irq.intid / 64u;
        const std::uint64_t bit = std::uint64_t{1} << (irq.intid % 64u);
        if (irq.queued != kNone) {
            VcpuState& old = vcpu_[irq.queued];
            old.candidates[w] &= ~bit;
            if (old.candidates[w] == 0) {
                old.candidate_words &= ~(1u << w);
            }
        }
        irq.queued = kNone;
        if (queued != kNone) {
            enqueue(irq, queued);
        }
    }
    if (signalled != irq.signalled) {
        if (irq.signalled != kNone) {
            --vcpu_[irq.signalled].signalled;
        }
        irq.signalled = static_cast<std::uint8_t>(signalled);
        if (signalled != kNone) {
            ++vcpu_[signalled].signalled;
            if (signalled != quiet && notify_ != nullptr) {
                notify_(notify_ctx_, signalled);
            }
        }
    }
}

[[gnu::cold]] void Vgic::refresh_all() {
    for (std::uint32_t v = 0; v < config_.vcpus; ++v) {
        for (Irq& irq : private_[v]) {
            changed(irq);
        }
    }
    for (std::uint32_t s = 0; s < config_.spis; ++s) {
        changed(spi_[s]);
    }
}

[[gnu::always_inline]] inline void Vgic::set_level_model(std::uint32_t vcpu, std::uint32_t intid,
                                                         bool level) {
    Irq* irq = intid < vgic::kSgis ? nullptr : find(vcpu, intid);
    if (irq == nullptr) {
        return;
    }
    // A hardware interrupt's physical one stays active until the guest deactivates the LR
    // (HW = 1), so it cannot fire again meanwhile; while an LR holds it, the LR owns its state. A
    // low level withdraws it; the next flush takes a still-pending entry out of its LR.
    const std::uint8_t f = irq->flags;
    if (level == ((f & vgic::kLevel) != 0) || ((f & vgic::kHw) != 0 && level && irq->lr != kNone)) {
        return;
    }
    if (level && (f & (vgic::kEdge | vgic::kHw)) == vgic::kEdge) {
        irq->pend();  // rising edge
    }
    irq->set(vgic::kLevel, level);
    changed(*irq);
}

void Vgic::set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) {
    // A shared guest's pCPUs serialize on the model lock; alone, no lock and no guard to unwind.
    if (config_.shared) [[unlikely]] {
        const ModelGuard guard(*this);
        set_level_model(vcpu, intid, level);
        return;
    }
    set_level_model(vcpu, intid, level);
}

void Vgic::map_hardware(std::uint32_t vcpu, std::uint32_t intid, std::uint32_t pintid) {
    const ModelGuard guard(*this);
    Irq* irq = intid < vgic::kSgis ? nullptr : find(vcpu, intid);
    if (irq == nullptr) {
        return;
    }
    irq->set(vgic::kHw, true);
    irq->pintid = static_cast<std::uint16_t>(pintid & 0x1fff);  // ICH_LR<n>_EL2.pINTID, 13 bits
    changed(*irq);  // a hardware interrupt pends on its level whatever its configuration
}

}  // namespace corvisor
