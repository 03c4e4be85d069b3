#include "vm/vcpu.hpp"

#include <type_traits>

#include "arch/exception.hpp"
#include "arch/gic.hpp"
#include "exec/cpu.hpp"
#include "vm/platform.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

// A vCPU's time slice while others wait for its pCPU: 1 ms of the 62.5 MHz counter on QEMU virt
// (a vCPU that never traps is preempted by the hypervisor timer's interrupt).
constexpr std::uint64_t kSliceTicks = 62'500;

void begin_slice() {
    platform_slice_begin(kSliceTicks);
}

constexpr std::uint64_t kNotSupported = ~0ull;  // SMCCC NOT_SUPPORTED (-1)

constexpr std::uint32_t kAttentionNotify = 1u << 31;

// GIC SGI generation registers (IHI 0069 12.2): trapped to EL2 with HCR_EL2.IMO/FMO set.
constexpr std::uint32_t kIccSgi1r = SysRegIss::encode(3, 0, 12, 11, 5);
constexpr std::uint32_t kIccAsgi1r = SysRegIss::encode(3, 1, 12, 11, 6);
constexpr std::uint32_t kIccSgi0r = SysRegIss::encode(3, 2, 12, 11, 7);
constexpr std::uint32_t kActlrEl1 = SysRegIss::encode(3, 0, 1, 0, 1);
constexpr std::uint32_t kCpacrEl1 = SysRegIss::encode(3, 0, 1, 0, 2);

// A timer PPI's bit in Vcpu::timers_in_flight_ (its "fresh" bit is this one shifted by 4).
constexpr std::uint32_t timer_bit(std::uint32_t intid) {
    return intid == kIntidVirtTimer ? 1u : 2u;
}

std::uint64_t size_mask(std::uint8_t size) {
    return size >= 8 ? ~0ull : (1ull << (size * 8u)) - 1;
}

}  // namespace

void Vcpu::init(Vm& vm, std::uint32_t index, std::uint64_t hcr_alone, std::uint64_t hcr_shared,
                std::uint64_t cntvoff, std::uint64_t cpacr_force, std::uint64_t mdcr) {
    vm_ = &vm;
    bus_ = &vm.bus();
    id_regs_ = &vm.id_registers();
    index_ = index;
    // MPIDR Aff0 = vCPU index; bit 31 is RES1 (Arm ARM D17.2.101).
    hcr_alone_ = hcr_alone;
    hcr_shared_ = hcr_shared;
    sysregs_.hcr_el2 = hcr_alone;  // alone until another vCPU on its pCPU is on
    sysregs_.cntvoff_el2 = cntvoff;
    sysregs_.cpacr_force = cpacr_force;
    sysregs_.mdcr_el2 = mdcr;
    reset_sysregs(sysregs_, Mpidr::for_vcpu(index), vm.vttbr());
}

bool Vcpu::power_on(std::uint64_t entry, std::uint64_t context) {
    // The entry travels with the power state: written before the state is published, read by
    // the run loop after it sees kOnPending.
    VcpuPower expected = VcpuPower::kOff;
    if (power_.load(std::memory_order_relaxed) != VcpuPower::kOff) {
        return false;
    }
    pending_entry_ = entry;
    pending_context_ = context;
    if (!power_.compare_exchange_strong(expected, VcpuPower::kOnPending,
                                        std::memory_order_acq_rel)) {
        return false;
    }
    kick();
    return true;
}

void Vcpu::power_off() {
    power_.store(VcpuPower::kOff, std::memory_order_release);
    mmio_task_.reset();
    account_power();
}

void Vcpu::place(std::uint32_t pcpu, bool lock_devices) {
    home_ = pcpu;
    lock_devices_ = lock_devices;
    // Before its loop first runs there (the post to that pCPU's executor publishes it).
    CpuLocal& cpu = cpu_local(pcpu);
    next_on_pcpu_ = cpu.vcpu_list;
    cpu.vcpu_list = this;
    placed_ = true;
}

Vcpu::~Vcpu() {
    if (!placed_) {
        return;
    }
    CpuLocal& cpu = cpu_local(home_);
    for (Vcpu** link = &cpu.vcpu_list; *link != nullptr; link = &(*link)->next_on_pcpu_) {
        if (*link == this) {
            *link = next_on_pcpu_;
            break;
        }
    }
    if (counted_on_) {
        --cpu.vcpus_on;
    }
}

void Vcpu::account_power() {
    const bool on = power() != VcpuPower::kOff;
    if (on == counted_on_) {
        return;
    }
    counted_on_ = on;
    CpuLocal& cpu = this_cpu();
    cpu.vcpus_on = on ? cpu.vcpus_on + 1 : cpu.vcpus_on - 1;
    const bool trap = cpu.vcpus_on > 1;
    if (trap == cpu.wfi_trapped) {
        return;
    }
    cpu.wfi_trapped = trap;
    for (Vcpu* v = cpu.vcpu_list; v != nullptr; v = v->next_on_pcpu_) {
        v->sysregs_.hcr_el2 = trap ? v->hcr_shared_ : v->hcr_alone_;
    }
    if (Vcpu* loaded = cpu.loaded_vcpu; loaded != nullptr) {
        arch_set_hcr(
            loaded->sysregs_.hcr_el2);  // it is in the register, not reloaded until a switch
    }
}

ExitStats Vcpu::stats() const {
    ExitStats s = stats_;
    for (std::uint64_t hits : mmio_hits_) {
        s.counts[static_cast<std::size_t>(ExitCounter::kMmio)] += hits;
    }
    return s;
}

void Vcpu::kick() {
    if (wake_.set()) {
        return;  // it waited: posted to its executor (which its pCPU is kicked to look at)
    }
    if (home_ != this_cpu().id) {
        arch_kick_pcpu(home_);  // it may be in its guest there: make it exit and look
    }
}

void Vcpu::attach_vgic(Vgic& vgic, std::uint32_t lr_count) {
    vgic_ = &vgic;
    direct_vgic_ = vgic.shared() ? nullptr : &vgic;
    lrs_.count = lr_count < kMaxListRegisters ? lr_count : kMaxListRegisters;
    // The EL1 timers' PPIs reach the guest through hardware-linked list registers: its
    // deactivation deactivates the physical PPI, which the hypervisor left active.
    vgic.map_hardware(index_, kIntidVirtTimer, kIntidVirtTimer);
    vgic.map_hardware(index_, kIntidPhysTimer, kIntidPhysTimer);
}

// The vectors set the wake Event through its one state word.
static_assert(std::is_standard_layout_v<Event> && sizeof(Event) == sizeof(std::uintptr_t));

void Vcpu::build_sgi_routes() {
    sgi_routes_ = {};
    sgi_table_ = nullptr;
    if (vgic_ == nullptr || direct_vgic_ != nullptr) {
        return;  // not shared: its SGIs go through the model, on its own pCPU (handle_sysreg)
    }
    for (std::uint32_t t = 0; t < vm_->vcpu_count(); ++t) {
        Vcpu& target = vm_->vcpu(t);
        if (t == index_ || target.home_ == home_) {
            continue;  // itself, or one that waits on this pCPU's executor: the run loop's
        }
        sgi_routes_[t] = SgiRoute{&target.sgi_mail_,
                                  reinterpret_cast<std::atomic<std::uintptr_t>*>(&target.wake_),
                                  arch_kick_value(target.home_)};
        sgi_table_ = sgi_routes_.data();
    }
}

void Vcpu::attend_from_anywhere(std::uint32_t bits) {
    if (home_ == this_cpu().id) {
        attend(bits);
    } else {
        remote_attention_.fetch_or(bits, std::memory_order_release);
    }
}

void Vcpu::take_sgi_mail_slow(bool loaded) {
    const std::uint32_t mail = sgi_mail_.exchange(0, std::memory_order_acquire);
    if (vgic_ == nullptr || mail == 0) {
        return;
    }
    // Its LRs are in hardware only inside the fast loop (`loaded`): then ELRSR says which the
    // guest has emptied, and an SGI still in one of them is written there again.
    const std::uint32_t empty = loaded ? arch_lr_empty() : 0;
    if ((mail & (mail - 1)) == 0) [[likely]] {  // one SGI: the usual IPI
        const std::uint32_t n =
            vgic_->take_sgi(index_, static_cast<std::uint32_t>(__builtin_ctz(mail)), empty, lrs_);
        if (n != Vgic::kNoLr) {
            arch_write_lr(n, lrs_.lr[n]);
        }
        return;
    }
    for (std::uint32_t w = vgic_->take_sgis(index_, mail, empty, lrs_); w != 0; w &= w - 1) {
        const auto n = static_cast<std::uint32_t>(__builtin_ctz(w));
        arch_write_lr(n, lrs_.lr[n]);
    }
}

bool Vcpu::post_remote_sgi(std::uint64_t icc_sgi1r, bool group1) {
    // One target named by TargetList (Aff3.Aff2.Aff1 = 0, RS = 0, no IRM) that is another vCPU
    // of this guest: its mailbox. Anything else (a broadcast, several targets, itself, a vCPU
    // that does not exist) goes through the model.
    if ((icc_sgi1r & (Vgic::kSgiIrm | Vgic::kSgiNotAff0Below16)) != 0) {
        return false;
    }
    const auto targets = static_cast<std::uint32_t>(icc_sgi1r & 0xffffu);
    if (targets == 0 || (targets & (targets - 1)) != 0) {
        return false;
    }
    const auto t = static_cast<std::uint32_t>(__builtin_ctz(targets));
    if (t == index_ || t >= vm_->vcpu_count()) {
        return false;
    }
    vm_->vcpu(t).post_sgi(static_cast<std::uint32_t>(icc_sgi1r >> Vgic::kSgiIntidShift) & 0xfu,
                          group1);
    return true;
}

void Vcpu::notify_irq() {
    attend_from_anywhere(kAttentionNotify);
    kick();
}

void Vcpu::timer_fired(std::uint32_t intid) {
    if (vgic_ != nullptr) {
        // In flight from now on, and "fresh" (bits 4/5) until the next entry: its level is known
        // high until the guest has run again, so that entry's check_timer_levels skips it.
        const std::uint32_t bit = timer_bit(intid);
        timers_in_flight_ |= bit | (bit << 4);
        attend(kAttentionNotify);  // that entry runs prepare_irqs, which clears "fresh"
        vgic_->set_level(index_, intid, true);
    }
}

void Vcpu::load() {
    CpuLocal& cpu = this_cpu();
    if (cpu.loaded_vcpu == this) {
        return;
    }
    if (Vcpu* old = cpu.loaded_vcpu; old != nullptr) {
        if (old->lrs_.in_use != 0) {
            arch_read_lrs(old->lrs_);
            old->attend(old->lrs_.in_use);  // sync them when it runs again
        }
        arch_save_vcpu(old->sysregs_);
        if (old->deadline_deferred_) {
            // It sleeps in WFI waiting for its timers, which stop firing here now.
            old->deadline_deferred_ = false;
            platform_timer_wait(*old, old->block_deadline_);
            old->deadline_armed_ = true;
        }
    }
    arch_load_vcpu(sysregs_);
    arch_write_lrs(lrs_);
    cpu.loaded_vcpu = this;
    cpu.id_regs = id_regs_->value.data();
    cpu.id_reads = &stats_.counts[static_cast<std::size_t>(ExitCounter::kSysReg)];
    if (cpu.sgi_routes != sgi_table_) [[unlikely]] {  // both null between vCPUs of unspread guests
        if ((sgi_table_ != nullptr) != (cpu.sgi_routes != nullptr)) {
            arch_select_vectors(sgi_table_ != nullptr);  // only when the kind changes
        }
        cpu.sgi_routes = sgi_table_;
    }
}

void Vcpu::wait_for_deadline() {
    // While this vCPU stays loaded, its own timers' PPIs fire at their deadlines and wake it
    // (idle_wait -> timer_fired): no hypervisor timer is needed, unless a PPI is still active
    // (injected and not deactivated yet: it cannot fire again). Another vCPU's load() saves
    // these timers, and arms the hypervisor timer for this deadline then.
    if (this_cpu().loaded_vcpu == this && (timers_in_flight_ & 3u) == 0) {
        deadline_deferred_ = true;
        return;
    }
    platform_timer_wait(*this, block_deadline_);
    deadline_armed_ = true;
}

Task<void> Vcpu::run() {
    Executor& executor = current_executor();
    for (;;) {
        const VmState state = vm_->state();
        if (state >= VmState::kStopping) [[unlikely]] {
            // Stopped: off for good, unless the monitor starts the guest again (Vm::start).
            // The loop parks here, on its own pCPU, so a start needs no new coroutine.
            // Once per life: a stop right after a start may come before this loop saw it run.
            if (const std::uint32_t life = vm_->start_count(); stopped_life_ != life) {
                stopped_life_ = life;
                power_off();
                vm_->vcpu_exited();
            }
            wake_.reset();
            if (vm_->state() >= VmState::kStopping) {
                co_await wake_.wait(executor);
            }
            continue;
        }
        if (state == VmState::kPaused) [[unlikely]] {
            // The monitor paused the guest: wait here, state kept, until resumed (or stopped).
            wake_.reset();
            if (vm_->state() == VmState::kPaused) {
                co_await wake_.wait(executor);
            }
            continue;
        }
        if (state == VmState::kResetting) [[unlikely]] {
            // SYSTEM_RESET by some vCPU: every vCPU parks here (on its own pCPU, so whatever it
            // awaited is released here) before the last one reloads the guest.
            wake_.reset();
            if (const std::uint32_t gen = vm_->reset_generation(); gen != reset_seen_) {
                reset_seen_ = gen;
                power_off();
                vm_->vcpu_parked();
            }
            if (vm_->resetting()) {
                co_await wake_.wait(executor);
            }
            continue;
        }
        if (power() == VcpuPower::kOnPending) {
            // Architected CPU_ON / boot state (PSCI DEN0022 6.4.3): EL1h, interrupts masked,
            // MMU off, x0 = context id.
            regs_ = GuestRegs{};
            regs_.x[0] = pending_context_;
            regs_.elr = pending_entry_;
            regs_.spsr = kSpsrEl1hMasked;
            if (this_cpu().loaded_vcpu == this) {
                // Save (and so clear: its breakpoints, its timers) the old life's state from
                // the hardware, then reload the reset state below.
                arch_save_vcpu(sysregs_);
                this_cpu().loaded_vcpu = nullptr;
            }
            reset_sysregs(sysregs_, Mpidr::for_vcpu(index_), vm_->vttbr());
            power_.store(VcpuPower::kOn, std::memory_order_release);
            account_power();
        }
        if (power() != VcpuPower::kOn) {
            wake_.reset();
            if (power() == VcpuPower::kOff && !vm_->stopping() && !vm_->resetting()) {
                co_await wake_.wait(executor);
            }
            continue;
        }

        load();
        Outcome o = run_until_event();
        switch (o.step()) {
            case Step::kContinue:
                break;
            case Step::kYield:
                co_await executor.yield();
                break;
            case Step::kBlock:
                // WFI with nothing to take: sleep until an interrupt for this vCPU, its timer's
                // deadline or a stop wakes it (docs/architecture.md, "The trap path", step 4).
                // handle_wfx unset the wake-up before it looked; a stop or reset since then
                // either shows in the state here or sets the wake-up after that.
                if (vm_->state() != VmState::kRunning) {
                    break;
                }
                if (has_deadline_) {
                    wait_for_deadline();
                }
                co_await wake_.wait(executor);
                if (deadline_armed_) {
                    platform_timer_cancel(*this);
                    deadline_armed_ = false;
                }
                deadline_deferred_ = false;
                break;
            case Step::kDeferredMmio: {
                MmioOutcome r{};
                if (lock_devices_ && start_mmio_in_strand()) {
                    co_await mmio_done_.wait(executor);
                    r = mmio_answer_;
                    mmio_driver_.reset();
                } else {
                    r = co_await mmio_task_;
                }
                mmio_task_.reset();
                if (r.abort) {
                    inject_data_abort(mmio_iss_.write(), mmio_ipa_, mmio_far_,
                                      "device refused the access");
                } else {
                    if (!mmio_iss_.write()) {
                        complete_mmio_read(mmio_iss_, r.value);
                    }
                    advance_on_entry_ = true;  // the access is complete: step past it
                }
                break;
            }
            case Step::kStop:
                break;  // the guest is stopping: parked at the top
        }
    }
}

[[gnu::always_inline]] inline void Vcpu::complete_mmio_read(DataAbortIss iss, std::uint64_t value) {
    // The common shape first: a 32-bit load into a W register (SAS=2, SSE=0, SF=0).
    if ((iss.raw() & DataAbortIss::kLoadShapeMask) == DataAbortIss::kWordLoadIntoW) {
        set_guest_reg(iss.srt(), static_cast<std::uint32_t>(value));
        return;
    }
    // Otherwise keep the low SAS bytes, sign- or zero-extended (SSE) to 64 bits, then to 32 for
    // a W register (SF=0), which zeroes the upper half (Arm ARM D17.2.37, ISS for data aborts).
    const unsigned shift = 64u - 8u * iss.access_size();
    if (iss.sign_extend()) {
        value = static_cast<std::uint64_t>(static_cast<std::int64_t>(value << shift) >> shift);
    } else {
        value = (value << shift) >> shift;
    }
    if (!iss.sixty_four()) {
        value &= 0xffffffffull;
    }
    set_guest_reg(iss.srt(), value);
}

[[gnu::always_inline]] inline Vcpu::Outcome Vcpu::access_device(DataAbortIss iss,
                                                                const MmioBus::Entry& e,
                                                                std::uint64_t ipa) {
    // A spread guest never has a hint (see mmio_unusual): its accesses all come the cold way,
    // so the fast path needs no test of lock_devices_.
    return access_device_body(iss, e, ipa);
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::access_device_locked(DataAbortIss iss,
                                                                      const MmioBus::Entry& e,
                                                                      std::uint64_t ipa) {
    // The guest's vCPUs run on several pCPUs: one device access at a time (docs/devices.md).
    const StrandGuard guard(vm_->device_strand());
    return access_device_body(iss, e, ipa);
}

[[gnu::always_inline]] inline Vcpu::Outcome Vcpu::access_device_body(DataAbortIss iss,
                                                                     const MmioBus::Entry& e,
                                                                     std::uint64_t ipa) {
    const std::uint8_t size = iss.access_size();
    const std::uint64_t data = iss.write() ? guest_reg(iss.srt()) & size_mask(size) : 0;
    // Only the syndrome is needed after the call, and it crosses it in memory: nothing else of
    // this function stays live (the fast loop has few callee-saved registers to spare).
    mmio_iss_ = iss;
    ++mmio_hits_[e.index];
    MmioResult r = e.device->mmio(MmioAccess::from_parts(
        MmioAccess::source_bits(e.region, index_), ipa - e.base, size, iss.write_bit(), data));
    if (r.kind() != MmioResult::Kind::kDone) [[unlikely]] {
        return mmio_not_done(r);
    }
    if (!mmio_iss_.write()) {
        complete_mmio_read(mmio_iss_, r.value());
    }
    return {Step::kContinue, true};
}

[[gnu::always_inline]] inline Vcpu::Outcome Vcpu::handle_data_abort(Esr esr) {
    // Everything unusual goes to cold functions, which read HPFAR/FAR again (they hold until the
    // next exit), so the common path keeps few values live.
    DataAbortIss iss(esr.iss());
    if (!iss.isv() || iss.s1ptw()) [[unlikely]] {
        return mmio_unusual(iss);
    }
    const std::uint64_t ipa = arch_fault_ipa();
    const MmioBus::Entry* e = mmio_hint_;  // the region this vCPU touched last
    if (e == nullptr || ipa < e->base || ipa + (iss.access_size() - 1u) > e->last) [[unlikely]] {
        return mmio_unusual(iss);
    }
    return access_device(iss, *e, ipa);
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::mmio_unusual(DataAbortIss iss) {
    const std::uint64_t ipa = arch_fault_ipa();
    stats_.count(ExitCounter::kMmio);
    if (!iss.isv()) {
        return inject_data_abort(iss.write(), ipa, arch_fault_far(),
                                 "access with no syndrome (load/store pair or write-back) on MMIO");
    }
    if (iss.s1ptw()) {
        return inject_data_abort(iss.write(), ipa, arch_fault_far(),
                                 "stage-1 table walk outside RAM");
    }
    const MmioBus::Entry* e = bus_->lookup(ipa, iss.access_size(), mmio_hint_);
    if (e != nullptr) {
        --stats_.counts[static_cast<std::size_t>(ExitCounter::kMmio)];  // a device answers it
    }
    if (e == nullptr) {
        return inject_data_abort(iss.write(), ipa, arch_fault_far(),
                                 "no RAM or device at this address");
    }
    if (lock_devices_) {
        mmio_hint_ = nullptr;  // every access of a spread guest comes here, and takes the lock
        return access_device_locked(iss, *e, ipa);
    }
    return access_device(iss, *e, ipa);
}

Task<void> Vcpu::drive_mmio() {
    mmio_answer_ = co_await mmio_task_;
    mmio_done_.set();
}

bool Vcpu::start_mmio_in_strand() {
    // A spread guest's deferred access: the device's coroutine runs under the guest's device
    // strand from its first instruction to its answer (resumed under it after every wait), and
    // the run loop waits for mmio_done_ outside it. Awaiting the task directly would run the
    // coroutine's start unlocked, and its answer's symmetric transfer would run this vCPU on
    // under the device lock.
    mmio_done_.reset();
    mmio_driver_ = drive_mmio();
    if (!mmio_driver_.valid()) {
        return false;  // no frame for the driver: the loop awaits the task itself, unlocked
    }
    const StrandGuard strand(vm_->device_strand());
    mmio_driver_.handle().resume();
    return true;
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::mmio_not_done(MmioResult r) {
    if (r.kind() == MmioResult::Kind::kAbort) {
        return inject_data_abort(mmio_iss_.write(), arch_fault_ipa(), arch_fault_far(),
                                 "device refused the access");
    }
    mmio_task_ = r.take_task();
    mmio_ipa_ = arch_fault_ipa();
    mmio_far_ = arch_fault_far();  // FAR_EL2 changes with the next exit of any vCPU
    return {Step::kDeferredMmio, false};
}

[[gnu::always_inline]] inline Vcpu::Outcome Vcpu::handle_exit(ExitKind kind, Esr esr) {
    // The two hot exception classes are tested first; everything else leaves the fast path.
    if (kind == ExitKind::kSync) [[likely]] {
        if (esr.ec() == ExceptionClass::kDataAbortLower) {
            return handle_data_abort(esr);  // counted per device, in access_device
        }
        if (esr.ec() == ExceptionClass::kHvc64) {
            stats_.count(ExitCounter::kHvc);
            return handle_psci(esr, false);
        }
        if (esr.ec() == ExceptionClass::kSysReg) {
            const SysRegIss iss(esr.iss());
            if (iss.is_id_group_read()) [[likely]] {
                // HCR_EL2.TID3: a guest reads the features it is offered
                // (boot/guest_features.cpp); real guests read them often.
                stats_.count(ExitCounter::kSysReg);
                set_guest_reg(iss.rt(), id_regs_->value[iss.id_index()]);
                return {Step::kContinue, true};
            }
            return handle_sysreg(esr);
        }
    } else if (kind == ExitKind::kIrq) {
        return handle_irq_exit();
    }
    return handle_other_exit(kind, esr);
}

Vcpu::Outcome Vcpu::run_until_event() {
    // The fast path: exits answered at once never leave this loop, so no coroutine machinery
    // runs per trap, and the guest's PC, PSTATE and x19..x26 stay in the registers for the whole
    // run (see enter_guest). While other vCPUs wait for this pCPU, a time slice on the
    // hypervisor timer bounds the run: its interrupt makes this vCPU yield. Alone, it runs
    // unsliced until something else becomes ready: the executor's ready hook then begins the
    // slice at once (a guest spinning for a secondary it just started must not strand it).
    Executor& executor = current_executor();
    const bool sliced = !executor.idle();
    if (sliced) {
        platform_slice_begin(kSliceTicks);
    } else {
        executor.set_ready_hook(&begin_slice);
    }
    take_remote_attention();  // what other pCPUs noted for it (their kick brought it here)
    take_sgi_mail(false);
    std::uint64_t host_regs[8];
    arch_load_pc_state(regs_);
    arch_enter_fast_path(regs_, host_regs);
    live_ = true;
    Outcome o{Step::kContinue, advance_on_entry_};
    advance_on_entry_ = false;
    do {
        if (o.advance_pc()) {
            arch_advance_pc(regs_);  // the one place the PC advances (instructions are 4 bytes)
        }
        if (irq_attention_ != 0) [[unlikely]] {
            prepare_irqs();
        }
        GuestExit exit = enter_guest(&regs_);
        o = handle_exit(exit.kind, Esr(exit.esr));
    } while (o.is_continue());
    if (o.advance_pc()) {
        arch_advance_pc(regs_);
    }
    live_ = false;
    arch_leave_fast_path(regs_, host_regs);
    arch_save_pc_state(regs_);
    const bool slice_begun = sliced || !executor.has_ready_hook();  // the hook clears itself
    executor.set_ready_hook(nullptr);
    if (slice_begun) {
        platform_slice_end();
    }
    return o;
}

[[gnu::cold, gnu::noinline]] std::uint64_t Vcpu::guest_reg_slow(unsigned n) {
    if (live_) {
        arch_spill_live_regs(regs_);
    }
    return regs_.reg(n);
}

[[gnu::cold, gnu::noinline]] void Vcpu::set_guest_reg_slow(unsigned n, std::uint64_t value) {
    if (live_) {
        arch_spill_live_regs(regs_);
    }
    regs_.set_reg(n, value);
    if (live_) {
        arch_fill_live_regs(regs_);
    }
}

[[gnu::noinline]] Vcpu::Outcome Vcpu::handle_other_exit(ExitKind kind, Esr esr) {
    if (kind != ExitKind::kSync) {
        if (kind == ExitKind::kSError) {
            return stop_on_serror(esr);
        }
        return handle_irq_exit();  // FIQ: acknowledged as an IRQ (group 1 only here)
    }
    switch (esr.ec()) {
        case ExceptionClass::kSmc64:
            stats_.count(ExitCounter::kSmc);
            return handle_psci(esr, true);
        case ExceptionClass::kWfx:
            return handle_wfx(esr);
        case ExceptionClass::kSysReg:
            return handle_sysreg(esr);
        case ExceptionClass::kSve:
        case ExceptionClass::kSme:
        case ExceptionClass::kPauth:
            stats_.count(ExitCounter::kOther);
            return undef_hidden();
        case ExceptionClass::kInstAbortLower:
            stats_.count(ExitCounter::kOther);
            return handle_fetch_fault(esr);
        default:
            stats_.count(ExitCounter::kOther);
            return handle_unemulated(esr);
    }
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::stop_on_serror(Esr esr) {
    vm_->fatal_event("SError (esr {}): stopping the guest", hex(esr.raw()));
    vm_->stop(StopReason::kFault);
    return {Step::kStop, false};
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::handle_fetch_fault(Esr esr) {
    // Guest RAM is mapped in full, so a stage-2 fault on a fetch is a jump outside it or into a
    // device region: nothing can execute there. Architecturally that is a synchronous external
    // abort on the fetch (Arm ARM D1.10: the guest takes a Prefetch Abort to EL1, EC 0x20/0x21,
    // IFSC "synchronous external abort", FAR_EL1 = the faulting address), which a guest can
    // handle. If the fault is in the guest's own vector table, the abort would fault again at
    // once: the guest cannot make progress and is stopped.
    save_pc_state();
    const std::uint64_t ipa = arch_fault_ipa();
    const std::uint64_t far = arch_fault_far();
    const std::uint64_t pc = regs_.elr;
    const std::uint64_t spsr = regs_.spsr;
    const MmioBus::Entry* hint = nullptr;
    const char* where =
        bus_->lookup(ipa, 4, hint) != nullptr ? "a device region" : "outside its RAM";
    arch_inject_sync_exception(regs_, external_inst_abort_esr(spsr), far);
    const std::uint64_t vbar = regs_.elr - sync_vector_offset(spsr);
    if (pc >= vbar && pc - vbar < kVectorTableSize) {
        vm_->fatal_event(
            "vCPU {}: instruction fetch at IPA {} ({}) in its own exception vectors "
            "(pc {}, esr {}): cannot make progress, stopping",
            index_, hex(ipa), where, hex(pc), hex(esr.raw()));
        vm_->stop(StopReason::kFault);
        return {Step::kStop, false};
    }
    stats_.count(ExitCounter::kAbortInjected);
    vm_->event("vCPU {}: instruction fetch at IPA {} ({}) (pc {}): prefetch abort injected", index_,
               hex(ipa), where, hex(pc));
    load_pc_state();
    return {Step::kContinue, false};
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::inject_data_abort(bool write, std::uint64_t ipa,
                                                                   std::uint64_t far,
                                                                   const char* why) {
    save_pc_state();
    stats_.count(ExitCounter::kAbortInjected);
    vm_->event("vCPU {}: {} at IPA {} (pc {}): {}, abort injected", index_,
               write ? "store" : "load", hex(ipa), hex(regs_.elr), why);
    arch_inject_sync_exception(regs_, external_data_abort_esr(regs_.spsr, write), far);
    load_pc_state();
    return {Step::kContinue, false};
}

[[gnu::always_inline]] inline Vcpu::Outcome Vcpu::handle_psci(Esr esr, bool smc) {
    // HVC: ELR already points past the instruction. SMC: the preferred return address is the SMC
    // itself (Arm ARM D1.10.2, HCR_EL2.TSC), so it advances.
    if (HvcIss(esr.iss()).imm16() != 0) [[unlikely]] {
        regs_.x[0] = kNotSupported;  // SMCCC uses immediate 0 only
        return {Step::kContinue, smc};
    }
    PsciResult r = handle_psci_call(regs_.x, true, index_, *vm_);
    regs_.x[0] = r.x0;
    if (r.action.kind == PsciAction::Kind::kNone) [[likely]] {
        return {Step::kContinue, smc};
    }
    return apply_psci_action(r.action, smc);
}

[[gnu::noinline]] Vcpu::Outcome Vcpu::apply_psci_action(PsciAction action, bool advance) {
    switch (action.kind) {
        case PsciAction::Kind::kNone:
            return {Step::kContinue, advance};
        case PsciAction::Kind::kCpuSuspend:
            // Standby, as a WFI: give way to the other vCPUs, then return from the call.
            return {Step::kYield, advance};
        case PsciAction::Kind::kCpuOn: {
            PsciCpuOnArgs on = psci_cpu_on_args(regs_.x);
            if (!vm_->vcpu(action.target).power_on(on.entry, on.context_id)) {
                regs_.x[0] = static_cast<std::uint64_t>(  // a racing CPU_ON won
                    static_cast<std::int64_t>(PsciStatus::kAlreadyOn));
            }
            return {Step::kContinue, advance};
        }
        case PsciAction::Kind::kCpuOff: {
            power_off();
            bool any_on = false;
            for (std::uint32_t i = 0; i < vm_->vcpu_count(); ++i) {
                any_on = any_on || vm_->vcpu_power(i) != VcpuPower::kOff;
            }
            if (!any_on) {
                vm_->stop(StopReason::kAllCpusOff);
            }
            return {Step::kYield, false};
        }
        case PsciAction::Kind::kSystemOff:
            vm_->stop(StopReason::kPoweredOff);
            return {Step::kStop, false};
        case PsciAction::Kind::kSystemReset:
            vm_->reset();
            return {Step::kYield, false};
    }
    return {Step::kContinue, advance};
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::undef_hidden() {
    // A feature corvisor does not offer (boot/guest_features.cpp): the architected answer of a
    // CPU without it, and no message (a guest probing its CPU is no event; the summary counts
    // it with the injected aborts).
    save_pc_state();
    stats_.count(ExitCounter::kAbortInjected);
    arch_inject_sync_exception(regs_, kUndefinedEsr, 0);
    load_pc_state();
    return {Step::kContinue, false};
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::handle_unemulated(Esr esr) {
    save_pc_state();
    // Nothing we trap is emulated here yet: answer as hardware without the feature would, with
    // an Undefined Instruction exception (Arm ARM D1.10.2).
    vm_->event("vCPU {}: unhandled trap (ec {}, esr {}) at pc {}: undefined instruction injected",
               index_, hex(esr.ec_raw()), hex(esr.raw()), hex(regs_.elr));
    stats_.count(ExitCounter::kAbortInjected);
    arch_inject_sync_exception(regs_, kUndefinedEsr, 0);
    load_pc_state();
    return {Step::kContinue, false};
}

}  // namespace corvisor

namespace corvisor {

void Vcpu::sync_lrs() {
    // Only the hardware knows what the guest did with its list registers while it ran (took an
    // interrupt, deactivated it): the model must hear of it before anything else changes its
    // state, or a new edge of an interrupt it still believes in an LR would be lost.
    if (vgic_ != nullptr && lrs_.in_use != 0 && !lrs_fresh_ && this_cpu().loaded_vcpu == this) {
        arch_read_lrs(lrs_);
        vgic_->sync(index_, lrs_);
        lrs_fresh_ = true;         // prepare_irqs need not read them again
        attend(kAttentionNotify);  // freed LRs must be rewritten
    }
}

void Vcpu::before_vgic_access(bool write) {
    if (vgic_ == nullptr) {
        return;
    }
    sync_lrs();
    if (timers_in_flight_ != 0) {
        check_timer_levels();  // what the guest reads shows a timer's level as it is now
    }
    if (write) {
        attend(kAttentionNotify);  // what it wrote may change what the LRs hold
    }
}

void Vcpu::prepare_irqs() {
    if (vgic_ == nullptr) {
        irq_attention_ = 0;
        return;
    }
    if (lrs_.in_use != 0 && !lrs_fresh_) {
        arch_read_lrs(lrs_);
        vgic_->sync(index_, lrs_);
    }
    lrs_fresh_ = false;
    if (timers_in_flight_ != 0) [[unlikely]] {
        check_timer_levels();
    }
    if (vgic_->flush(index_, lrs_)) {
        arch_write_lrs(lrs_);
    }
    // The LRs in use are synced lazily: when the model is asked something (a vGIC register
    // access, WFI) or gets new input for one of them (it notifies). While interrupts wait for a
    // free LR (UIE), at every entry, so that one the guest empties is refilled at once.
    irq_attention_ = IchHcrEl2(lrs_.hcr).uie() ? lrs_.in_use : 0;
}

void Vcpu::check_timer_levels() {
    // The timers are level-sensitive: an interrupt the guest has not taken yet is withdrawn
    // once it masks, disables or re-arms its timer into the future. Its physical PPI was left
    // active for the guest to deactivate, so withdrawing it means deactivating it here, or
    // that timer would never fire again.
    // Called with the model in sync with the LRs. A timer that fired since the guest last ran
    // is still high: skipped (its "fresh" bit).
    const std::uint32_t fresh = (timers_in_flight_ >> 4) & 3u;
    timers_in_flight_ &= 3u;
    const std::uint32_t to_check = timers_in_flight_ & ~fresh;
    if (to_check == 0) {
        return;
    }
    for (std::uint32_t intid : {kIntidVirtTimer, kIntidPhysTimer}) {
        const std::uint32_t bit = timer_bit(intid);
        if ((to_check & bit) == 0) {
            continue;
        }
        if (!vgic_->pending(index_, intid) || vgic_->active(index_, intid)) {
            timers_in_flight_ &= ~bit;  // taken (the guest deactivates it) or gone
            continue;
        }
        const TimerStatus t =
            intid == kIntidVirtTimer ? arch_vtimer_status() : arch_ptimer_status();
        if (!t.fired) {
            vgic_->set_level(index_, intid, false);
            arch_irq_deactivate(intid);
            timers_in_flight_ &= ~bit;
        }
    }
}

[[gnu::noinline]] Vcpu::Outcome Vcpu::handle_irq_exit() {
    stats_.count(ExitCounter::kIrq);
    const std::uint32_t intid = arch_irq_ack();
    if (intid == kIntidVirtTimer || intid == kIntidPhysTimer) {
        // This vCPU's timer: forwarded with the physical PPI left active, so it cannot fire
        // again before the guest deactivates it (through the hardware-linked LR).
        arch_irq_priority_drop(intid);
        if (direct_vgic_ != nullptr) {
            // Usually the model still holds it in the LR the guest has emptied since: write
            // that LR again, and nothing else.
            const std::uint32_t n = direct_vgic_->refire(index_, intid, arch_lr_empty(), lrs_);
            if (n != Vgic::kNoLr) [[likely]] {
                arch_write_lr(n, lrs_.lr[n]);
                timers_in_flight_ |= timer_bit(intid);
                return {Step::kContinue, false};
            }
        }
        sync_lrs();
        timer_fired(intid);
        return {Step::kContinue, false};
    }
    if (intid >= kIntidSpurious) {
        return {Step::kContinue, false};
    }
    if (intid == kIntidKick) {
        // Another pCPU has news: interrupts for this vCPU (taken here, and acted on before the
        // re-entry, without leaving the fast loop), a stop or reset of its guest, or work for the
        // executor (for those two the vCPU leaves the fast loop and yields).
        arch_irq_priority_drop(intid);
        arch_irq_deactivate(intid);
        take_remote_attention();
        take_sgi_mail(true);  // in the fast loop: its LRs are in hardware
        const bool stay = this_cpu().executor.idle() && vm_->state() == VmState::kRunning;
        return {stay ? Step::kContinue : Step::kYield, false};
    }
    if (intid == kIntidMaintenance) {
        stats_.count(ExitCounter::kMaintenance);
        attend(kAttentionNotify);  // list registers to sync and refill
    }
    return {platform_irq(intid) ? Step::kYield : Step::kContinue, false};
}

[[gnu::noinline]] Vcpu::Outcome Vcpu::handle_wfx(Esr esr) {
    stats_.count(ExitCounter::kWfx);
    if (vgic_ == nullptr || WfxIss(esr.iss()).is_wfe()) {
        return {Step::kYield, true};  // WFE (or no interrupts at all): give way, then go on
    }
    // Unset the wake-up before looking: an interrupt another pCPU raises from here on sets it
    // again, so the block below cannot miss it (resetting after the look lost such wake-ups).
    wake_.reset();
    take_sgi_mail(false);
    prepare_irqs();  // what the guest did with its list registers decides whether it sleeps
    if (vgic_->deliverable(index_)) {
        return {Step::kContinue, true};
    }
    const TimerStatus vt = arch_vtimer_status();
    const TimerStatus pt = arch_ptimer_status();
    if (vt.fired || pt.fired) {
        return {Step::kContinue, true};  // its PPI fires as soon as the guest runs again
    }
    has_deadline_ = vt.armed || pt.armed;
    block_deadline_ = vt.armed ? vt.deadline : pt.deadline;
    if (vt.armed && pt.armed && pt.deadline < vt.deadline) {
        block_deadline_ = pt.deadline;
    }
    return {Step::kBlock, true};
}

[[gnu::noinline]] Vcpu::Outcome Vcpu::handle_sysreg(Esr esr) {
    stats_.count(ExitCounter::kSysReg);
    const SysRegIss iss(esr.iss());
    const std::uint32_t reg = iss.encoding();
    if (vgic_ != nullptr && !iss.read() &&
        (reg == kIccSgi1r || reg == kIccAsgi1r || reg == kIccSgi0r)) {
        const std::uint64_t value = guest_reg(iss.rt());
        // An SGI to itself that the guest completed since the model put it in an LR: write that
        // LR again (see handle_irq_exit); anything else goes through the model.
        // SGI1R and ASGI1R generate Group 1 SGIs, SGI0R Group 0 ones (DS = 1: sgi.cpp).
        const bool group1 = reg != kIccSgi0r;
        const std::uint32_t n = group1 && direct_vgic_ != nullptr
                                    ? direct_vgic_->sgi_refire(index_, value, arch_lr_empty(), lrs_)
                                    : Vgic::kNoLr;
        if (n != Vgic::kNoLr) [[likely]] {
            arch_write_lr(n, lrs_.lr[n]);
        } else if (direct_vgic_ != nullptr || !post_remote_sgi(value, group1)) {
            vgic_->sgi(index_, value, group1);
        }
        return {Step::kContinue, true};
    }
    return handle_other_sysreg(iss);
}

[[gnu::cold, gnu::noinline]] Vcpu::Outcome Vcpu::handle_other_sysreg(SysRegIss iss) {
    const std::uint32_t reg = iss.encoding();
    if (iss.op0() == 2) {
        // The debug registers (op0 2: breakpoints, watchpoints, MDSCR_EL1, the OS lock, ...)
        // trap until the vCPU first touches one (MDCR_EL2.TDA/TDOSA/TDRA). Then they become its
        // own: loaded, untrapped, switched with it from now on (arch_save_vcpu clears them for
        // the next vCPU), and the access runs again, untrapped. A guest that never uses debug
        // costs nothing at a switch, and none sees another's breakpoints.
        if (!sysregs_.debug_live && this_cpu().loaded_vcpu == this) {
            arch_debug_take(sysregs_);
            return {Step::kContinue, false};
        }
        return undef_hidden();
    }
    if (reg == kCpacrEl1) {
        // CPTR_EL2.TCPAC (where SVE or SME is hidden): the guest reads and writes its CPACR_EL1
        // but the hidden features' enable fields read as 0 and stay set in the hardware, so
        // their accesses keep coming here and get an UNDEF.
        const std::uint64_t force = sysregs_.cpacr_force;
        if (iss.read()) {
            set_guest_reg(iss.rt(), arch_cpacr_el1() & ~force);
        } else {
            arch_set_cpacr_el1((guest_reg(iss.rt()) & ~force) | force);
        }
        return {Step::kContinue, true};
    }
    if (reg == kActlrEl1) {
        // HCR_EL2.TACR: ACTLR_EL1 is IMPLEMENTATION DEFINED; a guest reads zero and its writes
        // are ignored, so no guest changes the core's behaviour for the others.
        if (iss.read()) {
            set_guest_reg(iss.rt(), 0);
        }
        return {Step::kContinue, true};
    }
    // Anything else trapped (ID register writes, IMPLEMENTATION DEFINED registers, the hidden
    // features' registers) is an UNDEF, as on a CPU without them.
    return undef_hidden();
}

}  // namespace corvisor
