// Delivery through the list registers (IHI 0069H, "Virtual interrupt handling and
// prioritization"; ICH_LR<n>_EL2, ICH_HCR_EL2): flush puts the model's state into a vCPU's LR
// image before entry, sync takes back what the guest did to it after an exit.
//
// The model is authoritative for everything except the two transitions only the guest makes
// inside an LR: acknowledge (pending -> active) and deactivate (active -> inactive). sync applies
// exactly those, found by comparing each LR with what flush wrote; flush then rewrites any LR
// whose interrupt changed in the model meanwhile (disabled, cleared, withdrawn, re-pended).
//
// Here are the paths every interrupt takes (flush's short way, sync); lr_refill.cpp has the
// general refill, delivery.hpp the helpers both use.
#include "vgic/delivery.hpp"

namespace corvisor {

using vgic::Irq;
using vgic::kNone;
using vgic::without;

namespace {

// LrState's two bits: pending [0], active [1].
constexpr bool has_pending(LrState s) {
    return (static_cast<unsigned>(s) & 1) != 0;
}

constexpr bool has_active(LrState s) {
    return (static_cast<unsigned>(s) & 2) != 0;
}

}  // namespace

[[gnu::always_inline]] inline bool Vgic::flush_model(std::uint32_t vcpu, ListRegisterFile& lrs) {
    // The usual entries take a short way, the one flush_all would take, decided before anything
    // changes: no LR to look at again, and no candidate or a single one with a free LR.
    if (vcpu >= config_.vcpus) {
        return false;
    }
    VcpuState& vs = vcpu_[vcpu];
    auto& slots = vcpu_[vcpu].lr;
    const std::uint32_t used = vs.lr_used;
    const std::uint32_t work = vs.lr_work;
    if ((work & ~kLrsChanged) != 0) {
        return flush_all(vcpu, lrs);
    }
    for (std::uint32_t u = used; u != 0; u &= u - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(u));
        if (lrs.lr[n].raw() != slots[n].written.raw()) {
            return flush_all(vcpu, lrs);
        }
    }
    bool changed = work != 0;
    std::uint32_t in_use = used;
    if (const std::uint32_t words = vs.candidate_words; words != 0) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(~used));  // the lowest free LR
        const auto w = static_cast<std::uint32_t>(__builtin_ctz(words));
        const std::uint64_t bits = vs.candidates[w];
        if (n >= lrs.count || n >= kMaxListRegisters || (words & (words - 1)) != 0 ||
            (bits & (bits - 1)) != 0) {
            return flush_all(vcpu, lrs);
        }
        // place() for the only candidate.
        Irq& irq = irq_at(vcpu, w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(bits)));
        const ListRegister lr = lr_for(irq);
        irq.queued = kNone;
        irq.lr = static_cast<std::uint8_t>(n);
        irq.lr_vcpu = static_cast<std::uint8_t>(vcpu);
        irq.flags = without(irq.flags, vgic::kRepend);
        vs.candidates[w] = 0;
        vs.candidate_words = 0;
        in_use = used | 1u << n;
        vs.lr_used = in_use;
        slots[n].written = lr;
        slots[n].irq = &irq;
        lrs.lr[n] = lr;
        changed = true;
    }
    // Nothing waits now: ICH_HCR_EL2 is En alone.
    vs.lr_work = 0;
    if (lrs.hcr != IchHcrEl2{}.set_en(true).value() || lrs.in_use != in_use) {
        lrs.hcr = IchHcrEl2{}.set_en(true).value();
        lrs.in_use = in_use;
        changed = true;
    }
    return changed;
}

bool Vgic::flush(std::uint32_t vcpu, ListRegisterFile& lrs) {
    // A shared guest's pCPUs serialize on the model lock; alone, no lock and no guard to unwind.
    if (config_.shared) [[unlikely]] {
        const ModelGuard guard(*this);
        return flush_model(vcpu, lrs);
    }
    return flush_model(vcpu, lrs);
}

void Vgic::sync_lr(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs) {
    // The guest changed LR n: take back what it did. (The interrupt's refresh is written out:
    // everything is read before anything is written.)
    VcpuState& vs = vcpu_[vcpu];
    LrSlot& slot = vcpu_[vcpu].lr[n];
    const ListRegister lr = lrs.lr[n];
    const LrState was = slot.written.state();
    const LrState now = lr.state();
    Irq& irq = *slot.irq;
    std::uint8_t f = irq.flags;
    const std::uint32_t route = irq.route;
    const std::uint32_t signalled_was = irq.signalled;  // (in an LR, it is queued nowhere)
    if (has_pending(was) && !has_pending(now)) {
        // Acknowledged: that consumes the latch (also a level-sensitive interrupt's latch set by
        // ISPENDR, IHI 0069H "Interrupt lifecycle"), unless something pended it again after the
        // flush. A hardware interrupt's physical one is active now and not pending.
        const bool repend = (f & vgic::kRepend) != 0;
        f = without(f, vgic::kLatch | vgic::kRepend | ((f & vgic::kHw) != 0 ? vgic::kLevel : 0));
        f = static_cast<std::uint8_t>(f | (repend ? vgic::kLatch : 0));
    }
    if (has_active(was) != has_active(now)) {
        f = has_active(now) ? static_cast<std::uint8_t>(f | vgic::kActive)
                            : without(f, vgic::kActive);
    }
    std::uint32_t signalled = kNone;
    std::uint32_t queued = kNone;
    if (now == LrState::kInvalid) {
        // Deactivated: freed (unlink). A level-sensitive interrupt still asserted is pending
        // again and queued for its route; a hardware one will be signalled again by the
        // physical GIC.
        irq.flags = without(f, vgic::kRepend);
        irq.lr = kNone;
        irq.lr_vcpu = kNone;
        vs.lr_used &= ~(1u << n);
        vs.lr_work = (vs.lr_work & ~(1u << n)) | kLrsChanged;
        slot.written = ListRegister{};
        lrs.lr[n] = ListRegister{};
        lrs.in_use = vs.lr_used;
        signalled = deliverable_now(f) ? route : kNone;
        queued = signalled;
    } else {
        irq.flags = f;
        slot.written = lr;
        vs.lr_work |= 1u << n;
        signalled = deliverable_now(f) ? vcpu : kNone;
    }
    if (signalled == signalled_was) {
        if (queued != kNone) {
            enqueue(irq, queued);  // back to the candidates of the vCPU it stays deliverable to
        }
    } else if (signalled == kNone) {
        --vcpu_[signalled_was].signalled;  // completed: deliverable no more
        irq.signalled = kNone;
    } else {
        transition(irq, queued, signalled, vcpu);
    }
}

[[gnu::noinline]] void Vgic::sync_each(std::uint32_t vcpu, std::uint32_t touched,
                                       ListRegisterFile& lrs) {
    for (; touched != 0; touched &= touched - 1) {
        sync_lr(vcpu, static_cast<std::uint32_t>(__builtin_ctz(touched)), lrs);
    }
}

[[gnu::always_inline]] inline void Vgic::sync_model(std::uint32_t vcpu, ListRegisterFile& lrs) {
    if (vcpu >= config_.vcpus) {
        return;
    }
    // Only the LRs the guest changed since the last flush or sync have something to take back,
    // in LR order; usually one LR is in use, or none.
    const std::uint32_t used = vcpu_[vcpu].lr_used;
    const auto& slots = vcpu_[vcpu].lr;
    lrs.in_use = used;
    if ((used & (used - 1)) == 0) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(used | 1u << 31));
        if (used != 0 && lrs.lr[n].raw() != slots[n].written.raw()) {
            sync_lr(vcpu, n, lrs);
        }
        return;
    }
    std::uint32_t touched = 0;
    for (std::uint32_t u = used; u != 0; u &= u - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(u));
        if (lrs.lr[n].raw() != slots[n].written.raw()) {
            touched |= 1u << n;
        }
    }
    if (touched != 0) {
        sync_each(vcpu, touched, lrs);
    }
}

void Vgic::sync(std::uint32_t vcpu, ListRegisterFile& lrs) {
    // A shared guest's pCPUs serialize on the model lock; alone, no lock and no guard to unwind.
    if (config_.shared) [[unlikely]] {
        const ModelGuard guard(*this);
        sync_model(vcpu, lrs);
        return;
    }
    sync_model(vcpu, lrs);
}

}  // namespace corvisor
