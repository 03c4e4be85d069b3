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

void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1) {
    auto& g = fake::guest();
    g.injected.push_back({esr_el1, far_el1, regs.elr});
    regs.elr = g.vbar + sync_vector_offset(regs.spsr);
    regs.spsr = kSpsrEl1hMasked;
}

}  // namespace corvisor
