// The hardware seam of the vCPU model: everything the portable trap path needs from EL2 system
// registers. Defined in src/el2 (arch_vcpu.cpp) for the image and by tests/host/fake_arch.cpp.
#pragma once

#include <cstdint>

#include "el2/esr.hpp"
#include "el2/guest_regs.hpp"

namespace corvisor {

/// Guest EL1/EL0 state that lives in system registers while the vCPU is loaded on a pCPU and in
/// this structure otherwise. Switched only when another vCPU is loaded, never per trap.
struct alignas(16) VcpuSysRegs {
    std::uint64_t sctlr_el1, actlr_el1, cpacr_el1, ttbr0_el1, ttbr1_el1, tcr_el1, mair_el1,
        amair_el1, vbar_el1, contextidr_el1, tpidr_el0, tpidrro_el0, tpidr_el1, sp_el0, sp_el1,
        elr_el1, spsr_el1, esr_el1, far_el1, afsr0_el1, afsr1_el1, par_el1, cntkctl_el1, csselr_el1,
        mdscr_el1, cntv_ctl_el0, cntv_cval_el0;
    std::uint64_t vmpidr_el2;
    std::uint64_t vttbr_el2;
    // FP/SIMD: the hypervisor is built with -mgeneral-regs-only, so these change only when
    // another vCPU is loaded.
    std::uint64_t fpsr, fpcr;
    alignas(16) std::uint64_t q[64];
};

/// The reset values an EL1 guest starts with (MMU and caches off, Arm ARM D17.2.118 RES1 bits).
inline void reset_sysregs(VcpuSysRegs& s, std::uint64_t vmpidr, std::uint64_t vttbr) {
    s = VcpuSysRegs{};
    s.sctlr_el1 = 0x30d00800;  // RES1 bits; MMU, caches and alignment checks off
    s.vmpidr_el2 = vmpidr;
    s.vttbr_el2 = vttbr;
}

/// Load `s` into the pCPU's registers (EL1 state, FP/SIMD, VTTBR_EL2, VMPIDR_EL2).
void arch_load_vcpu(const VcpuSysRegs& s);
/// Save the pCPU's registers into `s`.
void arch_save_vcpu(VcpuSysRegs& s);
/// Invalidate every stage-1 and stage-2 TLB entry of the VMID in `vttbr` (after a remap).
void arch_flush_guest_tlb(std::uint64_t vttbr);

/// The faulting IPA of the last data or instruction abort exit (HPFAR_EL2 + FAR_EL2 offset),
/// and FAR_EL2 itself. Valid until the next exit: read them before anything can suspend.
#if defined(CORVISOR_EL2)
inline std::uint64_t arch_fault_far() {
    std::uint64_t far;
    asm volatile("mrs %0, far_el2" : "=r"(far));
    return far;
}
inline std::uint64_t arch_fault_ipa() {
    std::uint64_t hpfar;
    asm volatile("mrs %0, hpfar_el2" : "=r"(hpfar));
    return fault_ipa(hpfar, arch_fault_far());
}
#else
std::uint64_t arch_fault_ipa();
std::uint64_t arch_fault_far();
#endif

/// The guest's PC and PSTATE live in ELR_EL2/SPSR_EL2 while the run loop's fast path runs:
/// load them from `regs` before entering it, save them back when leaving it (or before any code
/// that reads or changes regs.elr/spsr), and advance the PC in place.
#if defined(CORVISOR_EL2)
inline void arch_load_pc_state(const GuestRegs& regs) {
    asm volatile("msr elr_el2, %0\n\tmsr spsr_el2, %1" ::"r"(regs.elr), "r"(regs.spsr));
}
inline void arch_save_pc_state(GuestRegs& regs) {
    asm volatile("mrs %0, elr_el2\n\tmrs %1, spsr_el2" : "=r"(regs.elr), "=r"(regs.spsr));
}
inline void arch_advance_pc(GuestRegs&) {
    std::uint64_t elr;
    asm volatile("mrs %0, elr_el2\n\tadd %0, %0, #4\n\tmsr elr_el2, %0" : "=&r"(elr));
}
#else
// The host fake keeps the PC in GuestRegs itself.
inline void arch_load_pc_state(const GuestRegs&) {}
inline void arch_save_pc_state(GuestRegs&) {}
inline void arch_advance_pc(GuestRegs& regs) {
    regs.elr += 4;
}
#endif

/// Deliver a synchronous exception to the loaded vCPU's EL1 (Arm ARM D1.10.2): ELR_EL1/SPSR_EL1
/// take the interrupted PC/PSTATE, ESR_EL1/FAR_EL1 the syndrome; `regs` then resumes at the
/// vector. Needs the vCPU loaded (VBAR_EL1 and friends are live) and its PC state saved into
/// `regs` (arch_save_pc_state).
void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1);

}  // namespace corvisor
