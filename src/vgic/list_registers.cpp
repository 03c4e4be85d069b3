// Delivery through the list registers (IHI 0069H, "Virtual interrupt handling and
// prioritization"; ICH_LR<n>_EL2, ICH_HCR_EL2): flush puts the model's state into a vCPU's LR
// image before entry, sync takes back what the guest did to it after an exit.
//
// The model is authoritative for everything except the two transitions only the guest makes
// inside an LR: acknowledge (pending -> active) and deactivate (active -> inactive). sync applies
// exactly those, found by comparing each LR with what flush wrote; flush then rewrites any LR
// whose interrupt changed in the model meanwhile (disabled, cleared, withdrawn, re-pended).
#include "vgic/vgic.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::kNone;

namespace {

constexpr bool has_pending(LrState s) {
    return s == LrState::kPending || s == LrState::kPendingActive;
}

constexpr bool has_active(LrState s) {
    return s == LrState::kActive || s == LrState::kPendingActive;
}

}  // namespace

ListRegister Vgic::lr_for(const Irq& irq) const {
    const bool pending = irq.pending() && irq.enabled && group_enabled(irq);
    LrState state = LrState::kInvalid;
    if (irq.active) {
        // An edge-triggered interrupt pended again while active is shown pending and active in
        // its LR: the guest takes it again after deactivating the first. A level-sensitive one
        // shows only active; its level is re-sampled when the guest deactivates it (the EOI
        // maintenance interrupt below). A hardware one re-fires through the physical GIC.
        state = pending && irq.edge && !irq.hw ? LrState::kPendingActive : LrState::kActive;
    } else if (pending) {
        state = LrState::kPending;
    } else {
        return ListRegister{};
    }
    ListRegister lr;
    lr.set_vintid(irq.intid).set_priority(irq.priority).set_group1(irq.group1).set_state(state);
    if (irq.hw) {
        lr.set_hw(true).set_pintid(irq.pintid);
    } else if (!irq.edge) {
        lr.set_eoi_maintenance(true);
    }
    return lr;
}

void Vgic::place(std::uint32_t vcpu, std::uint32_t n, Irq& irq, ListRegisterFile& lrs) {
    VcpuState& vs = vcpu_[vcpu];
    irq.lr = static_cast<std::uint8_t>(n);
    irq.lr_vcpu = static_cast<std::uint8_t>(vcpu);
    irq.repend = false;  // the LR about to be written shows every pending state so far
    vs.lr_intid[n] = irq.intid;
    vs.lr_used |= 1u << n;
    vs.lr_written[n] = lr_for(irq);
    lrs.lr[n] = vs.lr_written[n];
    refresh(irq, static_cast<std::uint8_t>(vcpu));
}

void Vgic::release(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs) {
    VcpuState& vs = vcpu_[vcpu];
    Irq& irq = *find(vcpu, vs.lr_intid[n]);
    irq.lr = kNone;
    irq.lr_vcpu = kNone;
    irq.repend = false;
    vs.lr_used &= ~(1u << n);
    vs.lr_written[n] = ListRegister{};
    lrs.lr[n] = ListRegister{};
    // Back to the candidates if still deliverable; an SPI whose route moved goes to (and
    // notifies) its new vCPU.
    refresh(irq, static_cast<std::uint8_t>(vcpu));
}

Irq* Vgic::best_candidate(std::uint32_t vcpu) {
    // Highest priority is the lowest value; INTIDs ascend, so a tie keeps the lower INTID.
    Irq* best = nullptr;
    const auto& words = vcpu_[vcpu].candidates;
    for (std::uint32_t w = 0; w < words.size(); ++w) {
        for (std::uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
            const auto intid = w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(bits));
            Irq* irq = find(vcpu, intid);
            if (best == nullptr || irq->priority < best->priority) {
                best = irq;
            }
        }
    }
    return best;
}

std::uint32_t Vgic::lowest_pending_lr(std::uint32_t vcpu) {
    // The LR to give up for a higher-priority candidate: only a pending, never-acknowledged
    // entry can leave (the model holds all of its state); the lowest priority, then the highest
    // INTID. kMaxListRegisters if none.
    const VcpuState& vs = vcpu_[vcpu];
    std::uint32_t worst = kMaxListRegisters;
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        if ((vs.lr_used & (1u << n)) == 0 || vs.lr_written[n].state() != LrState::kPending) {
            continue;
        }
        if (worst == kMaxListRegisters ||
            vs.lr_written[n].priority() > vs.lr_written[worst].priority() ||
            (vs.lr_written[n].priority() == vs.lr_written[worst].priority() &&
             vs.lr_intid[n] > vs.lr_intid[worst])) {
            worst = n;
        }
    }
    return worst;
}

bool Vgic::flush(std::uint32_t vcpu, ListRegisterFile& lrs) {
    if (vcpu >= config_.vcpus) {
        return false;
    }
    VcpuState& vs = vcpu_[vcpu];
    const std::uint32_t count = lrs.count < kMaxListRegisters ? lrs.count : kMaxListRegisters;
    // An LR that sync freed still holds its invalid entry in hardware, where one with the EOI
    // bit keeps the EOI maintenance interrupt asserted (ICH_EISR_EL2) until it is rewritten.
    bool changed = vs.lrs_changed;
    vs.lrs_changed = false;
    if (vs.lrs_stale) {
        // First entry, or the vGIC was reset: whatever the image holds is not ours.
        lrs.lr = {};
        vs.lrs_stale = false;
        changed = true;
    }

    // Entries already in LRs: rewrite what changed in the model since the last sync; drop those
    // no longer pending (cleared, disabled, withdrawn by set_level) nor active.
    for (std::uint32_t used = vs.lr_used; used != 0; used &= used - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(used));
        Irq& irq = *find(vcpu, vs.lr_intid[n]);
        const ListRegister want = lr_for(irq);
        if (want.state() == LrState::kInvalid) {
            release(vcpu, n, lrs);
            changed = true;
            continue;
        }
        irq.repend = false;
        if (want.raw() != vs.lr_written[n].raw() || want.raw() != lrs.lr[n].raw()) {
            vs.lr_written[n] = want;
            lrs.lr[n] = want;
            changed = true;
        }
    }

    // Free LRs take the best candidates; when none is free, a candidate of strictly higher
    // priority than a pending-only entry takes that entry's place (the guest must see its
    // highest-priority pending interrupt, IHI 0069H "Interrupt prioritization").
    for (Irq* best = best_candidate(vcpu); best != nullptr; best = best_candidate(vcpu)) {
        std::uint32_t n = 0;
        while (n < count && (vs.lr_used & (1u << n)) != 0) {
            ++n;
        }
        if (n == count) {
            n = lowest_pending_lr(vcpu);
            if (n == kMaxListRegisters || best->priority >= vs.lr_written[n].priority()) {
                break;
            }
            release(vcpu, n, lrs);
        }
        place(vcpu, n, *best, lrs);
        changed = true;
    }

    // More waiting than fits: ICH_HCR_EL2.UIE raises a maintenance interrupt once at most one LR
    // is valid, and the exit it causes refills them. Candidates wait only when every LR is in
    // use, so with two LRs or more UIE is not asserted at entry; with a single LR it would be,
    // at every entry, so there the waiting ones go in at the next exit of any kind.
    bool waiting = false;
    for (std::uint64_t word : vs.candidates) {
        waiting = waiting || word != 0;
    }
    const std::uint64_t hcr = IchHcr::kEn | (waiting && count >= 2 ? IchHcr::kUie : 0);
    if (hcr != lrs.hcr || lrs.in_use != vs.lr_used) {
        lrs.hcr = hcr;
        lrs.in_use = vs.lr_used;
        changed = true;
    }
    return changed;
}

void Vgic::sync(std::uint32_t vcpu, ListRegisterFile& lrs) {
    if (vcpu >= config_.vcpus) {
        return;
    }
    VcpuState& vs = vcpu_[vcpu];
    for (std::uint32_t used = vs.lr_used; used != 0; used &= used - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(used));
        Irq& irq = *find(vcpu, vs.lr_intid[n]);
        const LrState was = vs.lr_written[n].state();
        const LrState now = lrs.lr[n].state();
        if (has_pending(was) && !has_pending(now)) {
            // Acknowledged: that consumes the latch (also a level-sensitive interrupt's latch
            // set by ISPENDR, IHI 0069H "Interrupt lifecycle"), unless something pended it again
            // after the flush. A hardware interrupt's physical one is active now and not pending.
            irq.latch = irq.repend;
            irq.repend = false;
            if (irq.hw) {
                irq.level = false;
            }
        }
        if (has_active(was) != has_active(now)) {
            irq.active = has_active(now);
        }
        if (now == LrState::kInvalid) {
            // Deactivated: a level-sensitive interrupt still asserted is pending again (release
            // queues it); a hardware one will be signalled again by the physical GIC.
            release(vcpu, n, lrs);
            vs.lrs_changed = true;
        } else {
            vs.lr_written[n] = ListRegister(lrs.lr[n].raw());
            refresh(irq, static_cast<std::uint8_t>(vcpu));
        }
    }
    lrs.in_use = vs.lr_used;
}

}  // namespace corvisor
