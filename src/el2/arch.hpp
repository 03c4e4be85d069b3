// The hardware seam of the vCPU model: everything the portable trap path needs from EL2 system
// registers. Defined in src/el2 (arch_vcpu.cpp) for the image and by tests/host/fake_arch.cpp.
#pragma once

#include <cstdint>

#include "el2/esr.hpp"
#include "el2/guest_regs.hpp"
#include "vgic/list_register.hpp"

namespace corvisor {

/// Guest EL1/EL0 state that lives in system registers while the vCPU is loaded on a pCPU and in
/// this structure otherwise. Switched only when another vCPU is loaded, never per trap.
struct alignas(16) VcpuSysRegs {
    std::uint64_t sctlr_el1, actlr_el1, cpacr_el1, ttbr0_el1, ttbr1_el1, tcr_el1, mair_el1,
        amair_el1, vbar_el1, contextidr_el1, tpidr_el0, tpidrro_el0, tpidr_el1, sp_el0, sp_el1,
        elr_el1, spsr_el1, esr_el1, far_el1, afsr0_el1, afsr1_el1, par_el1, cntkctl_el1, csselr_el1,
        mdscr_el1, cntv_ctl_el0, cntv_cval_el0, cntp_ctl_el0, cntp_cval_el0;
    std::uint64_t vmpidr_el2;
    std::uint64_t vttbr_el2;
    std::uint64_t hcr_el2;      ///< per vCPU: WFI/WFE trap only when the pCPU is shared
    std::uint64_t cntvoff_el2;  ///< per guest: its virtual counter starts at 0 when it boots
    // The virtual CPU interface's own state (IHI 0069 12.5: ICH_VMCR_EL2, ICH_AP<n>R0_EL2);
    // the list registers travel in the vCPU's ListRegisterFile.
    std::uint64_t ich_vmcr_el2, ich_ap0r0_el2, ich_ap1r0_el2;
    /// The timer PPIs' physical active state: a forwarded timer interrupt stays active until
    /// the guest deactivates it, so that state belongs to the vCPU, not the pCPU.
    bool vtimer_active, ptimer_active;
    // FP/SIMD: the hypervisor is built with -mgeneral-regs-only, so these change only when
    // another vCPU is loaded.
    std::uint64_t fpsr, fpcr;
    alignas(16) std::uint64_t q[64];
};

/// The reset values an EL1 guest starts with (MMU and caches off, Arm ARM D17.2.118 RES1
/// bits); HCR_EL2 and CNTVOFF_EL2 are kept (they belong to the guest's placement, not its state).
inline void reset_sysregs(VcpuSysRegs& s, std::uint64_t vmpidr, std::uint64_t vttbr) {
    std::uint64_t hcr = s.hcr_el2;
    std::uint64_t cntvoff = s.cntvoff_el2;
    s = VcpuSysRegs{};
    s.sctlr_el1 = 0x30d00800;  // RES1 bits; MMU, caches and alignment checks off
    s.vmpidr_el2 = vmpidr;
    s.vttbr_el2 = vttbr;
    s.hcr_el2 = hcr;
    s.cntvoff_el2 = cntvoff;
}

/// Load `s` into the pCPU's registers (EL1 state, FP/SIMD, VTTBR_EL2, VMPIDR_EL2).
void arch_load_vcpu(const VcpuSysRegs& s);
/// Save the pCPU's registers into `s`.
void arch_save_vcpu(VcpuSysRegs& s);
/// Copy the vGIC's list-register image into ICH_LR<n>_EL2 and ICH_HCR_EL2 / read back the LRs
/// marked in use. (A vCPU's LR image is also what travels with it across vCPU switches.)
void arch_write_lrs(const ListRegisterFile& lrs);
void arch_read_lrs(ListRegisterFile& lrs);

/// EL1 timer state of the loaded vCPU, for WFI: whether its virtual or physical timer is
/// armed (enabled, not masked), whether it has fired, and when it fires in physical counter
/// ticks (CNTPCT).
struct TimerStatus {
    bool armed;
    bool fired;
    std::uint64_t deadline;
};
TimerStatus arch_vtimer_status();
TimerStatus arch_ptimer_status();

/// The physical counter (CNTPCT_EL0) and the hypervisor's own timer (CNTHP, PPI 26).
std::uint64_t arch_now();
void arch_hyp_timer_arm(std::uint64_t deadline);
void arch_hyp_timer_disarm();

/// Physical interrupts while a guest runs (its IRQ exit): acknowledge the highest-priority one,
/// and drop its priority. (The timer PPIs stay active until the guest deactivates them through
/// a hardware-linked list register.)
/// arch_lr_empty: the loaded vCPU's empty list registers (ICH_ELRSR_EL2, IHI 0069 12.5.6): bit n
/// is set when LR n holds no interrupt, neither pending nor active nor awaiting an EOI
/// maintenance interrupt. arch_write_lr: one list register written alone (direct injection).
void arch_irq_deactivate(std::uint32_t intid);
#if !defined(CORVISOR_EL2)
std::uint32_t arch_irq_ack();
void arch_irq_priority_drop(std::uint32_t intid);
std::uint32_t arch_lr_empty();
void arch_write_lr(std::uint32_t n, ListRegister lr);
#else
// The trap path's GIC accesses, inline: each is one system-register instruction.
inline std::uint32_t arch_irq_ack() {
    std::uint64_t iar;
    asm volatile("mrs %0, icc_iar1_el1" : "=r"(iar));
    return static_cast<std::uint32_t>(iar & 0xffffff);
}
inline void arch_irq_priority_drop(std::uint32_t intid) {
    asm volatile("msr icc_eoir1_el1, %0" ::"r"(std::uint64_t{intid}));
}
inline std::uint32_t arch_lr_empty() {
    std::uint64_t elrsr;
    asm volatile("mrs %0, ich_elrsr_el2" : "=r"(elrsr));
    return static_cast<std::uint32_t>(elrsr);
}
inline void arch_write_lr(std::uint32_t n, ListRegister lr) {
    // ICH_LR<n>_EL2 is not indexable: one MSR per register, picked by a jump table.
    switch (n) {
#define CV_LR_CASE(i)                                                        \
    case i:                                                                  \
        asm volatile("msr ich_lr" #i "_el2, %0" ::"r"(lr.raw()) : "memory"); \
        break;
        CV_LR_CASE(0)
        CV_LR_CASE(1)
        CV_LR_CASE(2)
        CV_LR_CASE(3)
        CV_LR_CASE(4)
        CV_LR_CASE(5)
        CV_LR_CASE(6)
        CV_LR_CASE(7)
        CV_LR_CASE(8)
        CV_LR_CASE(9)
        CV_LR_CASE(10)
        CV_LR_CASE(11)
        CV_LR_CASE(12)
        CV_LR_CASE(13)
        CV_LR_CASE(14)
        CV_LR_CASE(15)
#undef CV_LR_CASE
        default:
            break;
    }
}
#endif

class Vcpu;

/// Handle a physical interrupt that is not the loaded vCPU's timer (maintenance, the
/// hypervisor timer, console input, ...): priority drop and deactivation included. True if it
/// made some vCPU runnable, so the caller should let the executor run.
bool platform_irq(std::uint32_t intid);
/// Wake `vcpu` at `deadline` (physical counter ticks) unless cancelled first.
void platform_timer_wait(Vcpu& vcpu, std::uint64_t deadline);
void platform_timer_cancel(Vcpu& vcpu);
/// Time slicing: while other vCPUs wait for this pCPU, the hypervisor timer ends the running
/// vCPU's slice after `ticks` (the interrupt then makes it yield). End it when the vCPU leaves.
void platform_slice_begin(std::uint64_t ticks);
void platform_slice_end();

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
