#include "fake_arch.hpp"

#include "vm/inject.hpp"

namespace corvisor::fake {

namespace {
Guest g_guest;
}

Guest& guest() {
    return g_guest;
}
void reset() {
    g_guest = Guest{};
}

}  // namespace corvisor::fake

namespace corvisor {

extern "C" ExitKind arch_enter_guest(GuestRegs* regs) {
    auto& g = fake::guest();
    ++g.entries;
    return g.step(*regs);
}

void arch_load_vcpu(const VcpuSysRegs&) {
    ++fake::guest().loads;
}
void arch_save_vcpu(VcpuSysRegs&) {}
void arch_flush_guest_tlb(std::uint64_t) {}
std::uint64_t arch_fault_ipa() {
    return fake::guest().fault_ipa;
}
std::uint64_t arch_fault_far() {
    return fake::guest().fault_far;
}

void arch_write_lrs(const ListRegisterFile& lrs) {
    auto& g = fake::guest();
    g.last_lrs = lrs;
    for (std::uint32_t n = 0; n < lrs.count && n < kMaxListRegisters; ++n) {
        g.hw_lrs[n] = lrs.lr[n];
    }
    ++g.lr_writes;
}
void arch_read_lrs(ListRegisterFile& lrs) {
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        if ((lrs.in_use & (1u << n)) != 0) {
            lrs.lr[n] = fake::guest().hw_lrs[n];
        }
    }
}
std::uint32_t arch_lr_empty() {
    // ICH_ELRSR_EL2: invalid, and no EOI maintenance interrupt owed (HW, or EOI clear).
    std::uint32_t empty = 0;
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        const ListRegister lr = fake::guest().hw_lrs[n];
        if (lr.state() == LrState::kInvalid && (lr.hw() || !lr.eoi_maintenance())) {
            empty |= 1u << n;
        }
    }
    return empty;
}
void arch_write_lr(std::uint32_t n, ListRegister lr) {
    auto& g = fake::guest();
    g.hw_lrs[n % kMaxListRegisters] = lr;
    g.last_lrs.lr[n % kMaxListRegisters] = lr;
    ++g.single_lr_writes;
}
TimerStatus arch_vtimer_status() {
    return fake::guest().vtimer;
}
TimerStatus arch_ptimer_status() {
    return TimerStatus{false, false, 0};
}
std::uint64_t arch_now() {
    return 0;
}
void arch_hyp_timer_arm(std::uint64_t) {}
void arch_hyp_timer_disarm() {}
std::uint32_t arch_irq_ack() {
    return fake::guest().next_irq;
}
void arch_irq_priority_drop(std::uint32_t) {}
void arch_irq_deactivate(std::uint32_t) {}
void platform_slice_begin(std::uint64_t) {
    ++fake::guest().slices;
}
void platform_slice_end() {}
bool platform_irq(std::uint32_t) {
    return fake::guest().irq_wakes;
}
void platform_timer_wait(Vcpu& v, std::uint64_t deadline) {
    fake::guest().timer_waiter = &v;
    fake::guest().timer_deadline = deadline;
}
void platform_timer_cancel(Vcpu&) {
    ++fake::guest().timer_cancels;
    fake::guest().timer_waiter = nullptr;
}

void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1) {
    auto& g = fake::guest();
    g.injected.push_back({esr_el1, far_el1, regs.elr});
    regs.elr = g.vbar + sync_vector_offset(regs.spsr);
    regs.spsr = kSpsrEl1hMasked;
}

}  // namespace corvisor
