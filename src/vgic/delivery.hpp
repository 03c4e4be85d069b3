// The hot helpers of the vGIC's delivery paths (set_level, sgi, flush, sync), inline for the
// src/vgic translation units only.
//
// Invariants, kept after every change of an interrupt (refresh):
// - `irq.signalled` is the vCPU it is deliverable to (kNone if none), counted in that vCPU's
//   `signalled`; `irq.queued` is that same vCPU while no LR holds it, and exactly the interrupts
//   with queued == v have their bit in vcpu_[v].candidates (candidate_words summarizes them).
// - An LR n of vCPU v outside vcpu_[v].lr_work holds what lr_for() would write now, and its
//   interrupt has kRepend clear: every change of an interrupt in an LR marks that LR (changed()),
//   and sync marks the LRs the guest changed.
#pragma once

#include "vgic/vgic.hpp"

namespace corvisor {

namespace vgic {

constexpr std::uint8_t without(std::uint8_t flags, std::uint8_t f) {
    return static_cast<std::uint8_t>(flags & ~f);
}

}  // namespace vgic

/// The interrupt `intid` of a vCPU's candidate set: known to exist.
inline vgic::Irq& Vgic::irq_at(std::uint32_t vcpu, std::uint32_t intid) {
    return intid < vgic::kPrivateIrqs ? private_[vcpu][intid] : spi_[intid - vgic::kPrivateIrqs];
}

/// Whether an interrupt with these flags is deliverable: pending, not active (the running
/// priority of an active interrupt masks its own pending state), enabled, and its group enabled
/// in GICD_CTLR, which with affinity routing also gates SGIs and PPIs (IHI 0069H, GICD_CTLR).
/// Redistributor sleep (GICR_WAKER) is not a gate here: it is a power handshake the guest
/// completes first.
inline bool Vgic::deliverable_now(std::uint8_t flags) const {
    // Exactly those an LR would show pending only.
    return flags_lr_[flags & vgic::kStateFlags] >> 62 == static_cast<unsigned>(LrState::kPending);
}

/// After every change of `irq`: keep the candidate sets and the per-vCPU count of deliverable
/// interrupts exact, and notify the vCPU it newly became deliverable to (not `quiet`, the vCPU
/// in flush or sync: it is awake). An SPI in an LR belongs to that LR's vCPU until the LR frees,
/// even if its route changed meanwhile. With `mark`, a change from outside the LRs (an input, an
/// SGI, a register write): its LR, if any, must be looked at again by the next flush, and that
/// LR's vCPU is notified.
/// Everything is read before anything is written, and the rare part is a tail call.
inline void Vgic::update(vgic::Irq& irq, std::uint32_t quiet, bool mark) {
    const std::uint32_t lr = irq.lr;
    const std::uint32_t lr_vcpu = irq.lr_vcpu;
    const std::uint32_t target = lr != vgic::kNone ? lr_vcpu : irq.route;
    const std::uint32_t signalled = deliverable_now(irq.flags) ? target : vgic::kNone;
    const std::uint32_t queued = lr != vgic::kNone ? vgic::kNone : signalled;
    const bool moved = queued != irq.queued || signalled != irq.signalled;
    if (mark && lr != vgic::kNone) {
        // That vCPU must look at this LR again before it runs on (its list registers are synced
        // lazily, only when something asks): the notification says so, and covers the one
        // transition() would send.
        vcpu_[lr_vcpu].lr_work |= 1u << lr;
        if (notify_ != nullptr) {
            notify_(notify_ctx_, lr_vcpu);
        }
        quiet = lr_vcpu;
    }
    if (moved) {
        transition(irq, queued, signalled, quiet);
    }
}

/// Adds `irq`, queued nowhere, to vCPU `v`'s candidates.
inline void Vgic::enqueue(vgic::Irq& irq, std::uint32_t v) {
    VcpuState& vs = vcpu_[v];
    const std::uint32_t w = irq.intid / 64u;
    vs.candidates[w] |= std::uint64_t{1} << (irq.intid % 64u);
    vs.candidate_words |= 1u << w;
    irq.queued = static_cast<std::uint8_t>(v);
}

inline void Vgic::refresh(vgic::Irq& irq, std::uint32_t quiet) {
    update(irq, quiet, false);
}

inline void Vgic::changed(vgic::Irq& irq) {
    update(irq, vgic::kNone, true);
}

/// What an LR holding `irq` shows: vINTID, priority, and the table's bits for its flags (a
/// hardware interrupt's pINTID too: `pintid` is 0 for any other).
inline ListRegister Vgic::lr_for(const vgic::Irq& irq) const {
    const std::uint64_t bits = flags_lr_[irq.flags & vgic::kStateFlags];
    if (bits == 0) {
        return ListRegister{};
    }
    return ListRegister(bits | irq.intid | std::uint64_t{irq.pintid} << 32 |
                        std::uint64_t{irq.priority} << 48);
}

inline void Vgic::place(std::uint32_t vcpu, std::uint32_t n, vgic::Irq& irq,
                        ListRegisterFile& lrs) {
    // `irq` is this vCPU's candidate: it stays deliverable to the same vCPU, from an LR now.
    VcpuState& vs = vcpu_[vcpu];
    const std::uint32_t w = irq.intid / 64u;
    vs.candidates[w] &= ~(std::uint64_t{1} << (irq.intid % 64u));
    if (vs.candidates[w] == 0) {
        vs.candidate_words &= ~(1u << w);
    }
    irq.queued = vgic::kNone;
    irq.lr = static_cast<std::uint8_t>(n);
    irq.lr_vcpu = static_cast<std::uint8_t>(vcpu);
    irq.flags = vgic::without(irq.flags, vgic::kRepend);  // the LR shows all pending states
    vs.lr_used |= 1u << n;
    LrSlot& slot = vcpu_[vcpu].lr[n];
    slot.irq = &irq;
    slot.written = lr_for(irq);
    lrs.lr[n] = slot.written;
}

/// Frees LR n; the caller refreshes the interrupt it held.
inline vgic::Irq& Vgic::unlink(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs) {
    VcpuState& vs = vcpu_[vcpu];
    LrSlot& slot = vcpu_[vcpu].lr[n];
    vgic::Irq& irq = *slot.irq;
    irq.lr = vgic::kNone;
    irq.lr_vcpu = vgic::kNone;
    irq.flags = vgic::without(irq.flags, vgic::kRepend);
    vs.lr_used &= ~(1u << n);
    vs.lr_work &= ~(1u << n);
    slot.written = ListRegister{};
    lrs.lr[n] = ListRegister{};
    return irq;
}

inline void Vgic::release(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs) {
    // Back to the candidates if still deliverable; an SPI whose route moved goes to (and
    // notifies) its new vCPU.
    refresh(unlink(vcpu, n, lrs), vcpu);
}

}  // namespace corvisor
