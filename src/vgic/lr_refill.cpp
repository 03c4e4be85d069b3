// The general way of filling a vCPU's list registers (Vgic::flush_all), for whatever the short
// way in list_registers.cpp does not cover: LRs to rewrite, several candidates, no free LR.
#include "vgic/delivery.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::without;

Irq& Vgic::best_candidate(std::uint32_t vcpu) {
    // Highest priority is the lowest value; INTIDs ascend, so a tie keeps the lower INTID.
    Irq* best = nullptr;
    const VcpuState& vs = vcpu_[vcpu];
    for (std::uint32_t words = vs.candidate_words; words != 0; words &= words - 1) {
        const auto w = static_cast<std::uint32_t>(__builtin_ctz(words));
        for (std::uint64_t bits = vs.candidates[w]; bits != 0; bits &= bits - 1) {
            Irq& irq = irq_at(vcpu, w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(bits)));
            if (best == nullptr || irq.priority < best->priority) {
                best = &irq;
            }
        }
    }
    return *best;
}

std::uint32_t Vgic::lowest_pending_lr(std::uint32_t vcpu) {
    // The LR to give up for a higher-priority candidate: only a pending, never-acknowledged
    // entry can leave (the model holds all of its state); the lowest priority, then the highest
    // INTID. kMaxListRegisters if none.
    const VcpuState& vs = vcpu_[vcpu];
    const auto& slots = vcpu_[vcpu].lr;
    std::uint32_t worst = kMaxListRegisters;
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        if ((vs.lr_used & (1u << n)) == 0 || slots[n].written.state() != LrState::kPending) {
            continue;
        }
        if (worst == kMaxListRegisters ||
            slots[n].written.priority() > slots[worst].written.priority() ||
            (slots[n].written.priority() == slots[worst].written.priority() &&
             slots[n].irq->intid > slots[worst].irq->intid)) {
            worst = n;
        }
    }
    return worst;
}

bool Vgic::rewrite(std::uint32_t vcpu, std::uint32_t check, ListRegisterFile& lrs) {
    // Entries whose interrupt or image changed since the last flush or sync: rewrite them; drop
    // those no longer pending (cleared, disabled, withdrawn by set_level) nor active.
    VcpuState& vs = vcpu_[vcpu];
    bool changed = false;
    for (check &= vs.lr_used; check != 0; check &= check - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(check));
        LrSlot& slot = vcpu_[vcpu].lr[n];
        Irq& irq = *slot.irq;
        const ListRegister want = lr_for(irq);
        if (want.state() == LrState::kInvalid) {
            release(vcpu, n, lrs);
            changed = true;
            continue;
        }
        irq.flags = without(irq.flags, vgic::kRepend);
        if (want.raw() != slot.written.raw() || want.raw() != lrs.lr[n].raw()) {
            slot.written = want;
            lrs.lr[n] = want;
            changed = true;
        }
    }
    return changed;
}

bool Vgic::fill(std::uint32_t vcpu, std::uint32_t count, ListRegisterFile& lrs) {
    // Free LRs take the best candidates; when none is free, a candidate of strictly higher
    // priority than a pending-only entry takes that entry's place (the guest must see its
    // highest-priority pending interrupt, IHI 0069H "Interrupt prioritization").
    VcpuState& vs = vcpu_[vcpu];
    const std::uint32_t implemented = (1u << count) - 1;
    bool changed = false;
    while (vs.candidate_words != 0) {
        Irq& best = best_candidate(vcpu);
        const std::uint32_t free = ~vs.lr_used & implemented;
        std::uint32_t n = 0;
        if (free != 0) {
            n = static_cast<std::uint32_t>(__builtin_ctz(free));
        } else {
            n = lowest_pending_lr(vcpu);
            if (n == kMaxListRegisters || best.priority >= vcpu_[vcpu].lr[n].written.priority()) {
                break;
            }
            release(vcpu, n, lrs);
        }
        place(vcpu, n, best, lrs);
        changed = true;
    }
    return changed;
}

[[gnu::noinline]] bool Vgic::flush_all(std::uint32_t vcpu, ListRegisterFile& lrs) {
    VcpuState& vs = vcpu_[vcpu];
    const std::uint32_t count = lrs.count < kMaxListRegisters ? lrs.count : kMaxListRegisters;
    // An LR that sync freed still holds its invalid entry in hardware, where one with the EOI
    // bit keeps the EOI maintenance interrupt asserted (ICH_EISR_EL2) until it is rewritten.
    const std::uint32_t work = vs.lr_work;
    vs.lr_work = 0;
    bool changed = (work & kLrsChanged) != 0;
    if ((work & kLrsStale) != 0) {
        // First entry, or the vGIC was reset: whatever the image holds is not ours.
        lrs.lr = {};
        changed = true;
    }
    // The LRs to look at again: those whose interrupt changed, and any whose image is not what
    // the last flush or sync left (everything else already shows the model's state).
    std::uint32_t check = work & kLrDirty;
    for (std::uint32_t used = vs.lr_used & ~check; used != 0; used &= used - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(used));
        if (lrs.lr[n].raw() != vcpu_[vcpu].lr[n].written.raw()) {
            check |= 1u << n;
        }
    }
    if (check != 0 && rewrite(vcpu, check, lrs)) {
        changed = true;
    }
    if (vs.candidate_words != 0 && fill(vcpu, count, lrs)) {
        changed = true;
    }
    // More waiting than fits: ICH_HCR_EL2.UIE raises a maintenance interrupt once at most one LR
    // is valid, and the exit it causes refills them. Candidates wait only when every LR is in
    // use, so with two LRs or more UIE is not asserted at entry; with a single LR it would be,
    // at every entry, so there the waiting ones go in at the next exit of any kind.
    const bool waiting = vs.candidate_words != 0 && count >= 2;
    const std::uint64_t hcr = IchHcrEl2{}.set_en(true).set_uie(waiting).value();
    if (hcr != lrs.hcr || lrs.in_use != vs.lr_used) {
        lrs.hcr = hcr;
        lrs.in_use = vs.lr_used;
        changed = true;
    }
    return changed;
}

}  // namespace corvisor
