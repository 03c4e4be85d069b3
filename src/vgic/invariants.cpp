// Vgic::consistent: the incremental delivery state (candidate sets, deliverable counts, LR
// bookkeeping, the flags table) recomputed from scratch the straightforward way and compared. For
// tests; nothing on the hypervisor's paths calls it.
#include "vgic/delivery.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::kNone;

namespace {

// The LR an interrupt should be shown as, written out from its flags without the table (the
// model before flags_lr_ existed).
std::uint64_t reference_lr(const Irq& irq, bool grp0, bool grp1) {
    const std::uint8_t f = irq.flags;
    const bool group = (f & vgic::kGroup1) != 0 ? grp1 : grp0;
    const bool pending = irq.pending() && (f & vgic::kEnabled) != 0 && group;
    LrState state = LrState::kInvalid;
    if ((f & vgic::kActive) != 0) {
        const bool edge = (f & vgic::kEdge) != 0 && (f & vgic::kHw) == 0;
        state = pending && edge ? LrState::kPendingActive : LrState::kActive;
    } else if (pending) {
        state = LrState::kPending;
    } else {
        return 0;
    }
    ListRegister lr;
    lr.set_vintid(irq.intid).set_priority(irq.priority).set_state(state);
    lr.set_group1((f & vgic::kGroup1) != 0);
    if ((f & vgic::kHw) != 0) {
        lr.set_hw(true).set_pintid(irq.pintid);
    } else if ((f & vgic::kEdge) == 0) {
        lr.set_eoi_maintenance(true);
    }
    return lr.raw();
}

}  // namespace

[[gnu::cold]] bool Vgic::consistent() const {
    const ModelGuard guard(*this);
    std::array<VcpuState, kMaxVcpus> want{};
    bool ok = true;
    const auto check = [&](const Irq& irq) {
        const std::uint8_t target = irq.lr != kNone ? irq.lr_vcpu : irq.route;
        const bool group = irq.has(vgic::kGroup1) ? enable_grp1_ : enable_grp0_;
        const bool deliverable = target != kNone && irq.pending() && irq.has(vgic::kEnabled) &&
                                 !irq.has(vgic::kActive) && group;
        const std::uint8_t signalled = deliverable ? target : kNone;
        const std::uint8_t queued = irq.lr == kNone ? signalled : kNone;
        ok = ok && irq.signalled == signalled && irq.queued == queued;
        ok = ok && (irq.pintid == 0 || irq.has(vgic::kHw));
        if (signalled != kNone) {
            ++want[signalled].signalled;
        }
        if (queued != kNone) {
            want[queued].candidates[irq.intid / 64] |= std::uint64_t{1} << (irq.intid % 64);
            want[queued].candidate_words |= 1u << (irq.intid / 64);
        }
        if (irq.lr != kNone) {
            // Held by the LR that says so, which shows what the model says unless marked.
            if (irq.lr >= kMaxListRegisters || irq.lr_vcpu >= config_.vcpus) {
                ok = false;
                return;
            }
            const VcpuState& vs = vcpu_[irq.lr_vcpu];
            const LrSlot& slot = vcpu_[irq.lr_vcpu].lr[irq.lr];
            ok = ok && (vs.lr_used & (1u << irq.lr)) != 0 && slot.irq == &irq;
            if ((vs.lr_work & (1u << irq.lr)) == 0) {
                ok = ok && !irq.has(vgic::kRepend) &&
                     slot.written.raw() == reference_lr(irq, enable_grp0_, enable_grp1_);
            }
        } else {
            ok = ok && irq.lr_vcpu == kNone && !irq.has(vgic::kRepend);
        }
    };
    for (std::uint32_t v = 0; v < config_.vcpus; ++v) {
        for (const Irq& irq : private_[v]) {
            check(irq);
        }
    }
    for (std::uint32_t s = 0; s < config_.spis; ++s) {
        check(spi_[s]);
    }
    for (std::uint32_t v = 0; v < config_.vcpus; ++v) {
        const VcpuState& vs = vcpu_[v];
        ok = ok && vs.candidates == want[v].candidates &&
             vs.candidate_words == want[v].candidate_words && vs.signalled == want[v].signalled &&
             (vs.lr_work & kLrDirty & ~vs.lr_used) == 0;
        for (std::uint32_t used = vs.lr_used; used != 0; used &= used - 1) {
            const LrSlot& slot = vcpu_[v].lr[static_cast<std::uint32_t>(__builtin_ctz(used))];
            ok = ok && slot.irq != nullptr && slot.irq->lr_vcpu == v;
        }
    }
    for (unsigned f = 0; f <= vgic::kStateFlags; ++f) {
        Irq probe;
        probe.flags = static_cast<std::uint8_t>(f);
        ok = ok && flags_lr_[f] == reference_lr(probe, enable_grp0_, enable_grp1_);
    }
    return ok;
}

}  // namespace corvisor
