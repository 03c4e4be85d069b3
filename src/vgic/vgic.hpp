// The virtual GICv3 of one guest: distributor and redistributor register models, interrupt
// state, SGI routing and list-register delivery. Portable and host-tested; the EL2 side only
// copies ListRegisterFile images to and from ICH_LR<n>_EL2 / ICH_HCR_EL2.
//
// Ownership across pCPUs (a guest's vCPUs may run on several):
// - The model (every interrupt's state, the per-vCPU candidate sets and LR bookkeeping) is
//   shared by all of the guest's vCPUs and devices. When the guest is spread over pCPUs
//   (Config::shared) every public call takes the model lock (recursive: an MMIO access calls
//   the access hook, whose sync comes back in); alone on one pCPU, no lock is taken.
// - A vCPU's list registers, in hardware and in its ListRegisterFile image, belong to its own
//   pCPU alone: only its run loop calls flush/sync for it, and only its pCPU writes ICH_LR<n>.
//   Inputs from elsewhere (set_level, sgi from a vCPU on another pCPU, a device) change the
//   model only, marking the LRs they affect (lr_work) and calling Notify, which makes the
//   target vCPU's own pCPU flush before its next entry (its kick SGI brings it out of the
//   guest if it runs).
// - Direct injection (refire, sgi_refire) reads the model without the lock: callers use it only
//   for a guest that is not shared (the vCPU keeps no direct pointer to a shared vGIC).
// - An SGI to one vCPU of a shared guest does not take the lock on the sender's pCPU: it goes
//   into the target vCPU's mailbox (Vcpu::post_sgi, an atomic bit per SGI and group; or the EL2
//   vectors' sgi_send, which does the same) and the target's pCPU is kicked. Only that pCPU
//   takes the mailbox (take_sgi / take_sgis, under the lock), before it enters the guest, before
//   a WFI sleeps, and on the kick's exit, where an SGI still in an LR the guest has emptied is
//   written there again (refire) and no flush runs.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "arch/gic.hpp"
#include "arch/list_register.hpp"
#include "arch/registers.hpp"
#include "base/limits.hpp"
#include "corvisor/device.hpp"
#include "exec/cpu.hpp"
#include "vgic/irq.hpp"

namespace corvisor {

inline constexpr std::uint32_t kVgicMaxSpis = 256;  ///< INTIDs 32..287: ITLinesNumber <= 8
static_assert(vgic::kMaxIntids == 32 + kVgicMaxSpis && kMaxVcpus < vgic::kNone);

class Vgic {
public:
    struct Config {
        std::uint32_t vcpus = 1;  ///< 1..kMaxVcpus; vCPU i has affinity Aff0 = i
        std::uint32_t spis = 64;  ///< multiple of 32, <= kVgicMaxSpis
        bool shared = false;      ///< the vCPUs run on several pCPUs: lock the model
    };
    /// Called when an interrupt becomes deliverable to `vcpu` (to wake it from WFI), and when an
    /// interrupt in one of its list registers changed (to flush before it runs on).
    using Notify = void (*)(void* ctx, std::uint32_t vcpu);

    explicit Vgic(const Config& config);
    Vgic(const Vgic&) = delete;
    Vgic& operator=(const Vgic&) = delete;

    /// MMIO models, to map on the guest's bus: the distributor (kGicDistSize bytes) and the
    /// redistributor frames (kGicRedistStride bytes per vCPU, contiguous, vCPU 0 first).
    Device& distributor();
    Device& redistributors();

    void set_notify(Notify fn, void* ctx);
    /// Called before every guest access to the vGIC's registers, with the accessing vCPU: the
    /// vCPU brings the model up to date with its list registers (which only the hardware knows
    /// while it runs: an acknowledged or deactivated interrupt), and after a write refills them.
    /// Reads of registers that never depend on interrupt state (GICD_TYPER, GICD_IIDR,
    /// GICD_TYPER2, the ID registers) are answered without it.
    using AccessHook = void (*)(void* ctx, std::uint32_t vcpu, bool write);
    void set_access_hook(AccessHook fn, void* ctx);

    /// Interrupt inputs. `intid` 16..31 is vCPU `vcpu`'s PPI; 32.. an SPI (`vcpu` ignored).
    /// Level-sensitive interrupts follow the level; edge-triggered ones pend on a rising edge.
    /// Out-of-range INTIDs are ignored.
    void set_level(std::uint32_t vcpu, std::uint32_t intid, bool level);
    /// A guest's write of ICC_SGI1R_EL1 or ICC_ASGI1R_EL1 (`group1`) or ICC_SGI0R_EL1 from
    /// `sender`: pends the SGI on the targets it names in this guest (IRM broadcast: all but the
    /// sender) whose SGI is configured in that group. Targets that do not exist are ignored.
    void sgi(std::uint32_t sender, std::uint64_t icc_sgi1r, bool group1 = true);

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

    /// Direct injection, the fast way for a private interrupt that fires again: `intid` (an SGI
    /// or PPI of `vcpu`, one of this guest's vCPUs) that the model still holds pending in LR n,
    /// as the last flush wrote it, while the hardware shows LR n empty (`empty`: ICH_ELRSR_EL2),
    /// so the guest has acknowledged and deactivated it since. For an edge-triggered or a
    /// hardware-linked interrupt the new firing brings the model back to exactly the state it
    /// still has (pending in LR n): only the hardware LR needs writing again. Then lrs.lr[n] is
    /// set and n returned, for the caller to write that one LR; anything else returns kNoLr and
    /// changes nothing (the caller takes the general way: set_level or sgi, then sync and flush).
    /// It reads the model without its lock: callers use it only when !shared().
    static constexpr std::uint32_t kNoLr = kMaxListRegisters;

    // ICC_SGI1R_EL1 fields (IHI 0069H): INTID [27:24], IRM [40] (every PE but the sender),
    // TargetList [15:0] (Aff0 = RS * 16 + bit), and the affinity fields that must be 0 for any
    // vCPU here to be named: Aff1 [23:16], Aff2 [39:32], RS [47:44] (vCPUs have Aff0 < 16), Aff3
    // [55:48].
    static constexpr unsigned kSgiIntidShift = 24;
    static constexpr std::uint64_t kSgiIrm = 1ull << 40;
    static constexpr std::uint64_t kSgiNotAff0Below16 = 0x00ff'f0ff'00ff'0000ull;

    std::uint32_t refire(std::uint32_t vcpu, std::uint32_t intid, std::uint32_t empty,
                         ListRegisterFile& lrs) {
        const vgic::Irq& irq = private_[vcpu % kMaxVcpus][intid % vgic::kPrivateIrqs];
        const std::uint32_t n = irq.lr;  // kNone (0xff) if in no LR
        const VcpuState& vs = vcpu_[vcpu % kMaxVcpus];
        // Not an LR the model changed since (lr_work), and not one awaiting an EOI maintenance
        // interrupt (a level-sensitive software interrupt: ELRSR never shows those empty).
        if (n >= kMaxListRegisters || ((empty & ~vs.lr_work) >> n & 1u) == 0) {
            return kNoLr;
        }
        const ListRegister lr = vs.lr[n].written;
        if (lr.state() != LrState::kPending) {
            return kNoLr;
        }
        lrs.lr[n] = lr;
        return n;
    }
    /// refire() for a guest's ICC_SGI1R_EL1 write that names only the sender itself (the usual
    /// self-IPI); kNoLr for any other target set.
    std::uint32_t sgi_refire(std::uint32_t sender, std::uint64_t icc_sgi1r, std::uint32_t empty,
                             ListRegisterFile& lrs) {
        if ((icc_sgi1r & (kSgiIrm | kSgiNotAff0Below16 | 0xffffu)) != (1u << sender)) {
            return kNoLr;
        }
        return refire(sender, static_cast<std::uint32_t>(icc_sgi1r >> kSgiIntidShift) & 0xfu, empty,
                      lrs);
    }

    /// SGIs that vCPUs on other pCPUs sent `vcpu` through its mailbox (Vcpu::post_sgi; bit i:
    /// Group 1 SGI i, bit 16 + i: Group 0 SGI i), taken on `vcpu`'s own pCPU: each pends as
    /// sgi() would pend it. One whose LR the guest has emptied since the model put it there
    /// (ELRSR bits `empty`; 0 if this vCPU's LRs are not the ones in hardware) is written into
    /// that LR again, as refire() does; the result says which LRs of `lrs` the caller must
    /// write. The others go through the model (and its notify). Takes the lock when shared.
    std::uint32_t take_sgis(std::uint32_t vcpu, std::uint32_t mail, std::uint32_t empty,
                            ListRegisterFile& lrs);
    /// take_sgis() for one SGI (mailbox bit `bit`): the LR of `lrs` to write, or kNoLr (it went
    /// through the model, or is not signalled).
    std::uint32_t take_sgi(std::uint32_t vcpu, std::uint32_t bit, std::uint32_t empty,
                           ListRegisterFile& lrs) {
        if (vcpu >= config_.vcpus) {
            return kNoLr;
        }
        const ModelGuard guard(*this);
        const std::uint32_t intid = bit % 16;
        vgic::Irq& irq = private_[vcpu][intid];
        if (irq.has(vgic::kGroup1) != (bit < 16)) {
            return kNoLr;  // configured in the other group: not signalled (as sgi() does)
        }
        // Under the lock the model is as refire() expects it: an LR that another pCPU's change
        // touched is marked in lr_work, which refire declines.
        const std::uint32_t n = refire(vcpu, intid, empty, lrs);
        if (n == kNoLr) {
            pend_sgi(irq);
        }
        return n;
    }

    /// Whether `vcpu` has an interrupt it would take now, in or out of the LRs (WFI wakes).
    bool deliverable(std::uint32_t vcpu) const {
        const ModelGuard guard(*this);
        return vcpu < config_.vcpus && vcpu_[vcpu].signalled != 0;
    }
    /// The state of one interrupt (the vCPU's trap paths ask about its timers' PPIs); false / 0
    /// for INTIDs the guest does not have.
    bool pending(std::uint32_t vcpu, std::uint32_t intid) const {
        const ModelGuard guard(*this);
        const vgic::Irq* irq = find(vcpu, intid);
        return irq != nullptr && irq->pending();
    }
    bool active(std::uint32_t vcpu, std::uint32_t intid) const {
        const ModelGuard guard(*this);
        const vgic::Irq* irq = find(vcpu, intid);
        return irq != nullptr && irq->has(vgic::kActive);
    }
    bool enabled(std::uint32_t vcpu, std::uint32_t intid) const {
        const ModelGuard guard(*this);
        const vgic::Irq* irq = find(vcpu, intid);
        return irq != nullptr && irq->has(vgic::kEnabled);
    }
    std::uint8_t priority(std::uint32_t vcpu, std::uint32_t intid) const {
        const ModelGuard guard(*this);
        const vgic::Irq* irq = find(vcpu, intid);
        return irq != nullptr ? irq->priority : 0;
    }
    std::uint32_t spis() const { return config_.spis; }
    bool shared() const { return config_.shared; }
    std::uint32_t vcpus() const { return config_.vcpus; }
    /// For tests: the incrementally kept delivery state (candidate sets, deliverable counts, LR
    /// bookkeeping) agrees with a recomputation from scratch.
    bool consistent() const;

private:
    /// Holds the model lock for its scope when the guest is shared.
    class ModelGuard {
    public:
        explicit ModelGuard(const Vgic& v) : lock_(v.config_.shared ? &v.lock_ : nullptr) {
            if (lock_ != nullptr) [[unlikely]] {
                lock_->lock(&this_cpu());
            }
        }
        ~ModelGuard() {
            if (lock_ != nullptr) [[unlikely]] {
                lock_->unlock();
            }
        }
        ModelGuard(const ModelGuard&) = delete;
        ModelGuard& operator=(const ModelGuard&) = delete;

    private:
        RecursiveSpinLock* lock_;
    };

    /// The two MMIO faces of the model; each forwards to the Vgic that owns it.
    class Distributor final : public Device {
    public:
        explicit Distributor(Vgic& vgic) : vgic_(vgic), typer_(vgic.distributor_typer()) {}
        std::string_view name() const override { return "gicv3-dist"; }
        MmioResult mmio(MmioAccess access) override;
        /// Resets the whole vGIC (the redistributors' reset does nothing: one reset per guest).
        void reset() override;

    private:
        Vgic& vgic_;
        std::uint32_t typer_;  ///< GICD_TYPER: a constant, read without the access hook
    };
    class Redistributors final : public Device {
    public:
        explicit Redistributors(Vgic& vgic) : vgic_(vgic) {}
        std::string_view name() const override { return "gicv3-redist"; }
        MmioResult mmio(MmioAccess access) override;

    private:
        Vgic& vgic_;
    };

    /// One list register of a vCPU as the model knows it.
    struct LrSlot {
        /// What the LR holds as of the last flush or sync (the guest changes only the state).
        ListRegister written;
        vgic::Irq* irq = nullptr;  ///< the interrupt it holds, while in lr_used
    };
    struct VcpuState {
        /// Deliverable interrupts of this vCPU not in an LR, one bit per INTID.
        std::array<std::uint64_t, vgic::kIntidWords> candidates{};
        std::uint32_t candidate_words = 0;  ///< bit w: candidates[w] != 0
        std::uint32_t lr_used = 0;          ///< bit n: LR n holds lr[n].irq
        /// What the next flush has to do besides filling LRs: kLrDirty, the LRs whose interrupt
        /// changed in the model since the LR was last written or synced (only these can need
        /// rewriting; a subset of lr_used), kLrsChanged and kLrsStale.
        std::uint32_t lr_work = kLrsStale;
        std::uint32_t signalled = 0;  ///< interrupts deliverable to this vCPU, in or out of LRs
        bool asleep = true;           ///< GICR_WAKER.ProcessorSleep
        std::array<LrSlot, kMaxListRegisters> lr{};
        std::array<std::uint8_t, 192> unused{};  // to 512 bytes, so that indexing is a shift
    };
    static constexpr std::uint32_t kLrDirty = (1u << kMaxListRegisters) - 1;
    /// Sync freed LRs: the next flush must report a change (the hardware LR still holds the
    /// invalid entry, which with the EOI bit keeps the maintenance interrupt asserted).
    static constexpr std::uint32_t kLrsChanged = 1u << 30;
    /// The next flush clears the whole image: the first entry, or after a reset.
    static constexpr std::uint32_t kLrsStale = 1u << 31;
    static_assert(sizeof(VcpuState) == 512 && sizeof(LrSlot) == 16, "indexing is a shift");

    /// The interrupt, or nullptr if this guest does not have it (or `vcpu` for a private one).
    vgic::Irq* find(std::uint32_t vcpu, std::uint32_t intid) {
        if (intid < vgic::kPrivateIrqs) {
            return vcpu < config_.vcpus ? &private_[vcpu][intid] : nullptr;
        }
        const std::uint32_t spi = intid - vgic::kPrivateIrqs;
        return spi < config_.spis ? &spi_[spi] : nullptr;
    }
    const vgic::Irq* find(std::uint32_t vcpu, std::uint32_t intid) const {
        return const_cast<Vgic*>(this)->find(vcpu, intid);
    }

    // The public calls' bodies, with the model lock held when shared.
    bool flush_model(std::uint32_t vcpu, ListRegisterFile& lrs);
    void sync_model(std::uint32_t vcpu, ListRegisterFile& lrs);
    void set_level_model(std::uint32_t vcpu, std::uint32_t intid, bool level);

    // State and delivery (vgic.cpp; the hot helpers inline in delivery.hpp).
    void reset_state();
    void build_flags_lr();
    vgic::Irq& irq_at(std::uint32_t vcpu, std::uint32_t intid);
    bool deliverable_now(std::uint8_t flags) const;
    void update(vgic::Irq& irq, std::uint32_t quiet, bool mark);
    void refresh(vgic::Irq& irq, std::uint32_t quiet = vgic::kNone);
    void changed(vgic::Irq& irq);
    /// An SGI from the mailbox that could not be written into its LR again: pend it as sgi().
    void pend_sgi(vgic::Irq& irq);
    void enqueue(vgic::Irq& irq, std::uint32_t v);
    void transition(vgic::Irq& irq, std::uint32_t queued, std::uint32_t signalled,
                    std::uint32_t quiet);
    void refresh_all();
    std::uint8_t route_target(std::uint64_t irouter) const;
    void sgi_each(std::uint32_t targets, std::uint32_t intid, bool group1);

    // List registers (list_registers.cpp: flush's short way and sync; lr_refill.cpp: the
    // general flush; the helpers they share inline in delivery.hpp).
    ListRegister lr_for(const vgic::Irq& irq) const;
    void place(std::uint32_t vcpu, std::uint32_t n, vgic::Irq& irq, ListRegisterFile& lrs);
    vgic::Irq& unlink(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs);
    void release(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs);
    void sync_lr(std::uint32_t vcpu, std::uint32_t n, ListRegisterFile& lrs);
    void sync_each(std::uint32_t vcpu, std::uint32_t touched, ListRegisterFile& lrs);
    bool flush_all(std::uint32_t vcpu, ListRegisterFile& lrs);
    bool rewrite(std::uint32_t vcpu, std::uint32_t check, ListRegisterFile& lrs);
    bool fill(std::uint32_t vcpu, std::uint32_t count, ListRegisterFile& lrs);
    vgic::Irq& best_candidate(std::uint32_t vcpu);
    std::uint32_t lowest_pending_lr(std::uint32_t vcpu);

    // Register models (irq_registers.cpp, distributor.cpp, redistributor.cpp).
    bool irq_register(std::uint32_t vcpu, bool distributor, std::uint64_t offset, MmioAccess a,
                      std::uint64_t& value);
    MmioResult distributor_mmio(MmioAccess a);
    std::uint64_t distributor_access(MmioAccess a);
    std::uint64_t irouter_access(MmioAccess a);
    std::uint64_t redistributor_access(MmioAccess a);
    std::uint64_t redistributor_typer(std::uint32_t vcpu) const;
    std::uint32_t distributor_typer() const;
    void before_access(MmioAccess a) {
        if (access_hook_ != nullptr) {
            access_hook_(access_ctx_, a.vcpu(), a.write());
        }
    }

    // The delivery paths' state first: small offsets from `this`.
    Config config_;
    Notify notify_ = nullptr;
    void* notify_ctx_ = nullptr;
    /// For each value of an interrupt's flags & kStateFlags, given GICD_CTLR's group enables
    /// (build_flags_lr recomputes them when these change): the bits of its LR that follow from
    /// them, State, Group, HW and the EOI maintenance bit; 0 when no LR should hold it.
    std::array<std::uint64_t, vgic::kStateFlags + 1> flags_lr_{};
    std::array<VcpuState, kMaxVcpus> vcpu_{};

    std::array<std::array<vgic::Irq, vgic::kPrivateIrqs>, kMaxVcpus> private_{};
    std::array<vgic::Irq, kVgicMaxSpis> spi_{};
    AccessHook access_hook_ = nullptr;
    void* access_ctx_ = nullptr;
    bool enable_grp0_ = false;  ///< GICD_CTLR.EnableGrp0
    bool enable_grp1_ = false;  ///< GICD_CTLR.EnableGrp1
    std::array<std::uint64_t, kVgicMaxSpis> irouter_{};
    Distributor distributor_{*this};
    Redistributors redistributors_{*this};
    mutable RecursiveSpinLock lock_;  ///< the model lock (Config::shared only)
};

}  // namespace corvisor
