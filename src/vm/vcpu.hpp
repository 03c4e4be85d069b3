// A virtual CPU: its registers, its power state and its run loop, a coroutine on its pCPU's
// executor (docs/architecture.md, "The trap path").
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "arch/arch.hpp"
#include "arch/esr.hpp"
#include "arch/guest_regs.hpp"
#include "corvisor/device.hpp"
#include "corvisor/task.hpp"
#include "exec/executor.hpp"
#include "vdev/mmio_bus.hpp"
#include "vdev/psci.hpp"
#include "vgic/vgic.hpp"
#include "vm/exit_stats.hpp"

namespace corvisor {

class Vm;

class Vcpu {
public:
    /// `hcr_alone` / `hcr_shared`: its HCR_EL2 while it is the only vCPU on on its pCPU / while
    /// others are on too (WFI and WFE trap).
    void init(Vm& vm, std::uint32_t index, std::uint64_t hcr_alone, std::uint64_t hcr_shared,
              std::uint64_t cntvoff, std::uint64_t cpacr_force, std::uint64_t mdcr);
    /// Run on pCPU `pcpu` (its loop is posted to that pCPU's executor and always resumed there).
    /// `lock_devices`: the guest's vCPUs are spread over several pCPUs, so its device accesses
    /// take the guest's device lock.
    void place(std::uint32_t pcpu, bool lock_devices);
    Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    /// Leaves its pCPU's list (a guest that could not be built, a test's).
    ~Vcpu();
    std::uint32_t pcpu() const { return home_; }

    /// The run loop: enter the guest, decode the exit, dispatch it, re-enter. When the VM stops
    /// it parks (off) until the VM is started again (Vm::start); it never ends. The fast path (an
    /// exit answered at once) neither suspends nor allocates.
    Task<void> run();

    /// Make this vCPU runnable at `entry` (PSCI CPU_ON, boot, reset) with x0 = `context`, from
    /// any pCPU. False if it was not off (another CPU_ON won the race).
    bool power_on(std::uint64_t entry, std::uint64_t context);
    /// Power off without waking (reset, CPU_OFF).
    void power_off();
    /// Wake the run loop if it waits (power on, VM stop, an interrupt, its timer), from any
    /// pCPU; if it runs on another pCPU, that pCPU's kick SGI makes it leave the guest and look.
    void kick();

    /// Connect the guest's vGIC: `lr_count` list registers (ICH_VTR_EL2), timers forwarded.
    void attach_vgic(Vgic& vgic, std::uint32_t lr_count);
    /// For a guest spread over several pCPUs, once every vCPU is placed and the vGIC attached:
    /// the SgiRoute to each other vCPU of the guest on another pCPU, which the EL2 vectors use to
    /// answer this vCPU's ICC_SGI1R_EL1 write to it (the mailbox, the wake-up and the kick of
    /// Vcpu::post_remote_sgi and Vcpu::kick) without the run loop.
    void build_sgi_routes();
    const SgiRoute& sgi_route(std::uint32_t target) const {
        return sgi_routes_[target % kMaxVcpus];
    }
    /// The vGIC has something new for this vCPU: refill its list registers before the next
    /// entry, and wake it if it waits in WFI.
    void notify_irq();
    /// An SGI from another vCPU of its guest (a guest spread over pCPUs): into this vCPU's
    /// mailbox, then the kick. Its own pCPU takes the mailbox into the vGIC before it enters the
    /// guest or sleeps in WFI, and on the kick's exit writes the SGI's LR directly when it can
    /// (Vgic::take_sgis): an IPI across pCPUs costs the sender no vGIC lock, and the receiver
    /// one LR write.
    void post_sgi(std::uint32_t intid, bool group1) {
        sgi_mail_.fetch_or(1u << ((intid % 16) + (group1 ? 0 : 16)), std::memory_order_release);
        kick();
    }
    /// Forget mailed SGIs (the guest is reloaded; no vCPU of it runs).
    void clear_sgi_mail() { sgi_mail_.store(0, std::memory_order_relaxed); }
    /// This vCPU's EL1 virtual or physical timer fired (its PPI, forwarded).
    void timer_fired(std::uint32_t intid);
    /// The guest is about to access its vGIC's registers from this vCPU.
    void before_vgic_access(bool write);

    VcpuPower power() const { return power_.load(std::memory_order_acquire); }
    std::uint32_t index() const { return index_; }
    GuestRegs& regs() { return regs_; }
    /// Exits by kind; kMmio counts every data abort, whether a device answered it or not.
    ExitStats stats() const;
    /// Accesses answered by the bus entry with this index (MmioBus::Entry::index).
    std::uint64_t mmio_hits(std::uint32_t entry) const { return mmio_hits_[entry]; }
    RunNode& run_node() { return node_; }

private:
    enum class Step : std::uint8_t { kContinue, kYield, kDeferredMmio, kStop, kBlock };
    /// What to do after an exit, in one byte (returned in w0 on the trap path): the step, and
    /// whether the trapped instruction is complete so the PC moves past it.
    class Outcome {
    public:
        constexpr Outcome(Step step, bool advance_pc)
            : bits_(static_cast<std::uint8_t>((static_cast<unsigned>(step) << 1) |
                                              (advance_pc ? 1u : 0u))) {}
        constexpr Step step() const { return static_cast<Step>(bits_ >> 1); }
        constexpr bool advance_pc() const { return (bits_ & 1) != 0; }
        constexpr bool is_continue() const { return (bits_ >> 1) == 0; }

    private:
        std::uint8_t bits_;
    };

    void load();
    Outcome run_until_event();
    Outcome handle_exit(ExitKind kind, Esr esr);
    Outcome handle_other_exit(ExitKind kind, Esr esr);
    Outcome apply_psci_action(PsciAction action, bool advance);
    Outcome handle_data_abort(Esr esr);
    Outcome mmio_unusual(DataAbortIss iss);
    Outcome mmio_not_done(MmioResult r);
    Outcome access_device(DataAbortIss iss, const MmioBus::Entry& e, std::uint64_t ipa);
    Outcome access_device_locked(DataAbortIss iss, const MmioBus::Entry& e, std::uint64_t ipa);
    Outcome access_device_body(DataAbortIss iss, const MmioBus::Entry& e, std::uint64_t ipa);
    Outcome handle_psci(Esr esr, bool smc);
    Outcome handle_unemulated(Esr esr);
    Outcome undef_hidden();
    Outcome handle_other_sysreg(SysRegIss iss);
    Outcome stop_on_serror(Esr esr);
    Outcome handle_irq_exit();
    Outcome handle_wfx(Esr esr);
    Outcome handle_sysreg(Esr esr);
    void prepare_irqs();
    void sync_lrs();
    void check_timer_levels();
    Outcome handle_fetch_fault(Esr esr);
    Outcome inject_data_abort(bool write, std::uint64_t ipa, std::uint64_t far, const char* why);
    // Inside the fast loop (`live_`) the guest's PC/PSTATE are in ELR_EL2/SPSR_EL2 and its
    // x19..x26 in the registers themselves: code that reads or changes them goes through these.
    std::uint64_t guest_reg(unsigned n) { return n < 19 ? regs_.x[n] : guest_reg_slow(n); }
    void set_guest_reg(unsigned n, std::uint64_t value) {
        if (n < 19) {
            regs_.x[n] = value;
        } else {
            set_guest_reg_slow(n, value);
        }
    }
    std::uint64_t guest_reg_slow(unsigned n);
    void set_guest_reg_slow(unsigned n, std::uint64_t value);
    void save_pc_state() {
        if (live_) {
            arch_save_pc_state(regs_);
        }
    }
    void load_pc_state() {
        if (live_) {
            arch_load_pc_state(regs_);
        }
    }
    void complete_mmio_read(DataAbortIss iss, std::uint64_t value);

    // Aligned first: the vectors store into it.
    GuestRegs regs_{};
    VcpuSysRegs sysregs_{};
    Vm* vm_ = nullptr;
    const MmioBus* bus_ = nullptr;
    const IdRegisterFile* id_regs_ = nullptr;    // the guest's offer (trapped ID reads)
    const MmioBus::Entry* mmio_hint_ = nullptr;  // last device region this vCPU touched
    std::uint32_t index_ = 0;
    std::atomic<VcpuPower> power_{VcpuPower::kOff};
    std::uint32_t home_ = 0;  // the pCPU it runs on
    bool lock_devices_ = false;
    std::uint32_t reset_seen_ = 0;  // the guest's last reset this vCPU has parked for
    std::uint64_t hcr_alone_ = 0;
    std::uint64_t hcr_shared_ = 0;
    Vcpu* next_on_pcpu_ = nullptr;  // CpuLocal::vcpu_list
    bool counted_on_ = false;       // counted in its pCPU's vcpus_on
    bool placed_ = false;           // in its pCPU's list
    /// Count this vCPU on its pCPU as on or off as its power state says, and decide WFI trapping
    /// for that pCPU's vCPUs again if the count crossed one. On its own pCPU only.
    void account_power();
    std::uint64_t pending_entry_ = 0;
    std::uint64_t pending_context_ = 0;
    bool advance_on_entry_ = false;  // a deferred access completed: step past it on re-entry
    // Interrupt delivery: nonzero when the list registers need work before the next entry
    // (bits 0..15: LRs in use, to read back after another vCPU ran; kAttentionNotify: the model
    // has something new for them).
    // Owned by the vCPU's pCPU (a plain word: the fast loop tests it with one load). Other pCPUs
    // set remote_attention_ instead and kick this pCPU; the run loop folds it in before it
    // enters the fast loop, which every kick leads to (a waiting vCPU is posted, a running one
    // exits and yields).
    std::uint32_t irq_attention_ = 0;
    std::atomic<std::uint32_t> remote_attention_{0};
    void attend(std::uint32_t bits) { irq_attention_ |= bits; }
    void attend_from_anywhere(std::uint32_t bits);
    void take_remote_attention() {
        if (remote_attention_.load(std::memory_order_relaxed) != 0) [[unlikely]] {
            irq_attention_ |= remote_attention_.exchange(0, std::memory_order_acquire);
        }
    }
    // SGIs posted from other pCPUs (post_sgi): bit i Group 1 SGI i, bit 16 + i Group 0 SGI i.
    std::atomic<std::uint32_t> sgi_mail_{0};
    /// Into the vGIC; `loaded`: in the fast loop, this vCPU's LRs are the ones in hardware.
    void take_sgi_mail(bool loaded) {
        if (sgi_mail_.load(std::memory_order_relaxed) != 0) [[unlikely]] {
            take_sgi_mail_slow(loaded);
        }
    }
    void take_sgi_mail_slow(bool loaded);
    bool post_remote_sgi(std::uint64_t icc_sgi1r, bool group1);
    Vgic* vgic_ = nullptr;
    Vgic* direct_vgic_ = nullptr;  // vgic_ if direct injection may read it unlocked (not shared)
    ListRegisterFile lrs_{};
    bool lrs_fresh_ = false;  // LRs read back since the last entry (sync_lrs)
    // Bit 0: virtual, bit 1: physical timer PPI injected; bits 4/5: fired since the guest ran.
    std::uint32_t timers_in_flight_ = 0;
    bool has_deadline_ = false;  // a blocked WFI wakes at block_deadline_ at the latest
    // The life (Vm::start_count) whose stop this vCPU has counted (vcpu_exited); none yet.
    std::uint32_t stopped_life_ = ~0u;
    bool deadline_deferred_ = false;  // blocked, loaded: its timers' PPIs will wake it
    bool deadline_armed_ = false;     // blocked: the hypervisor timer wakes it (platform_timer)
    std::uint64_t block_deadline_ = 0;
    void wait_for_deadline();
    bool live_ = false;
    ExitStats stats_;  // kMmio here: data aborts no device answered (see mmio_hits_)
    std::array<std::uint64_t, MmioBus::kCapacity> mmio_hits_{};
    Event wake_;
    RunNode node_;
    std::array<SgiRoute, kMaxVcpus> sgi_routes_{};  // by target vCPU (build_sgi_routes)
    const SgiRoute* sgi_table_ = nullptr;  // sgi_routes_ if any is set (what load() publishes)

    // A deferred MMIO access in flight: what to do with its result.
    Task<MmioOutcome> mmio_task_;
    // ... and in a spread guest, what runs it under the device strand (start_mmio_in_strand):
    // declared after the task, which it awaits, so destroyed before it.
    bool start_mmio_in_strand();
    /// Runs mmio_task_ to its answer, into mmio_answer_, then sets mmio_done_. (A member: clang
    /// 14's -fsanitize=function cannot lay out a free coroutine's prologue data under
    /// -fsanitize=fuzzer, "Cannot represent a difference across sections".)
    Task<void> drive_mmio();
    Task<void> mmio_driver_;
    MmioOutcome mmio_answer_{};
    Event mmio_done_;
    DataAbortIss mmio_iss_{0};
    std::uint64_t mmio_ipa_ = 0;
    std::uint64_t mmio_far_ = 0;
};

}  // namespace corvisor
