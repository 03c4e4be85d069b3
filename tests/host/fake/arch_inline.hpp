// The host fake's definitions of the calls arch/arch.hpp declares `inline` (the EL2 image's are
// in src/el2/inline/arch_inline.hpp). They forward to tests/host/fake_arch.cpp, which plays the
// hardware; the fake keeps every guest register in GuestRegs, so the live-register calls do
// nothing.
#pragma once

#include <cstdint>
#include <thread>

namespace corvisor {

namespace fake_hw {
std::uint32_t irq_ack();
void irq_priority_drop(std::uint32_t intid);
std::uint32_t lr_empty();
void write_lr(std::uint32_t n, ListRegister lr);
std::uint64_t fault_ipa();
std::uint64_t fault_far();
}  // namespace fake_hw

/// Runs the next step of the scripted guest (tests/host/fake_arch.cpp).
extern "C" ExitKind arch_enter_guest(GuestRegs* regs);

inline std::uint32_t arch_irq_ack() {
    return fake_hw::irq_ack();
}
inline void arch_irq_priority_drop(std::uint32_t intid) {
    fake_hw::irq_priority_drop(intid);
}
inline void arch_irq_deactivate(std::uint32_t) {}
inline std::uint32_t arch_lr_empty() {
    return fake_hw::lr_empty();
}
inline void arch_write_lr(std::uint32_t n, ListRegister lr) {
    fake_hw::write_lr(n, lr);
}
inline std::uint64_t arch_fault_ipa() {
    return fake_hw::fault_ipa();
}
namespace fake_hw {
void* cpu_data();  // the calling thread's CpuLocal (src/exec/host_platform.cpp)
}  // namespace fake_hw
inline void* arch_cpu_data() {
    return fake_hw::cpu_data();
}

// Host threads play pCPUs: a lock waiter gives its core away instead of WFE.
inline void arch_wait_event() {
    std::this_thread::yield();
}
inline void arch_send_event() {}
// The host's guest RAM is a buffer the test reads after the device: a compiler barrier is all
// the ordering there is to keep (and ThreadSanitizer takes no fences).
inline void arch_dma_barrier() {
    asm volatile("" ::: "memory");
}

inline std::uint64_t arch_fault_far() {
    return fake_hw::fault_far();
}
inline GuestExit enter_guest(GuestRegs* regs) {
    ExitKind kind = arch_enter_guest(regs);
    return GuestExit{kind, regs->esr};
}
inline void arch_enter_fast_path(GuestRegs&, std::uint64_t (&)[8]) {}
inline void arch_leave_fast_path(GuestRegs&, std::uint64_t (&)[8]) {}
inline void arch_spill_live_regs(GuestRegs&) {}
inline void arch_fill_live_regs(const GuestRegs&) {}
inline void arch_load_pc_state(const GuestRegs&) {}
inline void arch_save_pc_state(GuestRegs&) {}
inline void arch_advance_pc(GuestRegs& regs) {
    regs.elr += 4;
}

}  // namespace corvisor
