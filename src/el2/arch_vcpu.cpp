// EL1 context switch, stage-2 TLB maintenance and exception injection: the system-register half
// of the vCPU model (src/el2/arch.hpp).
#include "el2/arch.hpp"

#include "el2/esr.hpp"
#include "el2/gic.hpp"
#include "el2/sysreg.hpp"
#include "vm/inject.hpp"

namespace corvisor {

void arch_load_vcpu(const VcpuSysRegs& s) {
    CV_WRITE_SYSREG(sctlr_el1, s.sctlr_el1);
    CV_WRITE_SYSREG(actlr_el1, s.actlr_el1);
    CV_WRITE_SYSREG(cpacr_el1, s.cpacr_el1);
    CV_WRITE_SYSREG(ttbr0_el1, s.ttbr0_el1);
    CV_WRITE_SYSREG(ttbr1_el1, s.ttbr1_el1);
    CV_WRITE_SYSREG(tcr_el1, s.tcr_el1);
    CV_WRITE_SYSREG(mair_el1, s.mair_el1);
    CV_WRITE_SYSREG(amair_el1, s.amair_el1);
    CV_WRITE_SYSREG(vbar_el1, s.vbar_el1);
    CV_WRITE_SYSREG(contextidr_el1, s.contextidr_el1);
    CV_WRITE_SYSREG(tpidr_el0, s.tpidr_el0);
    CV_WRITE_SYSREG(tpidrro_el0, s.tpidrro_el0);
    CV_WRITE_SYSREG(tpidr_el1, s.tpidr_el1);
    CV_WRITE_SYSREG(sp_el0, s.sp_el0);
    CV_WRITE_SYSREG(sp_el1, s.sp_el1);
    CV_WRITE_SYSREG(elr_el1, s.elr_el1);
    CV_WRITE_SYSREG(spsr_el1, s.spsr_el1);
    CV_WRITE_SYSREG(esr_el1, s.esr_el1);
    CV_WRITE_SYSREG(far_el1, s.far_el1);
    CV_WRITE_SYSREG(afsr0_el1, s.afsr0_el1);
    CV_WRITE_SYSREG(afsr1_el1, s.afsr1_el1);
    CV_WRITE_SYSREG(par_el1, s.par_el1);
    CV_WRITE_SYSREG(cntkctl_el1, s.cntkctl_el1);
    CV_WRITE_SYSREG(csselr_el1, s.csselr_el1);
    CV_WRITE_SYSREG(mdscr_el1, s.mdscr_el1);
    CV_WRITE_SYSREG(cntvoff_el2, s.cntvoff_el2);
    CV_WRITE_SYSREG(cntv_cval_el0, s.cntv_cval_el0);
    CV_WRITE_SYSREG(cntv_ctl_el0, s.cntv_ctl_el0);
    CV_WRITE_SYSREG(cntp_cval_el0, s.cntp_cval_el0);
    CV_WRITE_SYSREG(cntp_ctl_el0, s.cntp_ctl_el0);
    gic_set_ppi_active(kIntidVirtTimer, s.vtimer_active);
    gic_set_ppi_active(kIntidPhysTimer, s.ptimer_active);
    CV_WRITE_SYSREG(ich_vmcr_el2, s.ich_vmcr_el2);
    CV_WRITE_SYSREG(ich_ap0r0_el2, s.ich_ap0r0_el2);
    CV_WRITE_SYSREG(ich_ap1r0_el2, s.ich_ap1r0_el2);
    CV_WRITE_SYSREG(hcr_el2, s.hcr_el2);
    CV_WRITE_SYSREG(vmpidr_el2, s.vmpidr_el2);
    CV_WRITE_SYSREG(vttbr_el2, s.vttbr_el2);
    // FP/SIMD: this file is built without -mgeneral-regs-only only for these instructions.
    asm volatile(
        "ldp q0, q1, [%0, #0]\n ldp q2, q3, [%0, #32]\n ldp q4, q5, [%0, #64]\n"
        "ldp q6, q7, [%0, #96]\n ldp q8, q9, [%0, #128]\n ldp q10, q11, [%0, #160]\n"
        "ldp q12, q13, [%0, #192]\n ldp q14, q15, [%0, #224]\n ldp q16, q17, [%0, #256]\n"
        "ldp q18, q19, [%0, #288]\n ldp q20, q21, [%0, #320]\n ldp q22, q23, [%0, #352]\n"
        "ldp q24, q25, [%0, #384]\n ldp q26, q27, [%0, #416]\n ldp q28, q29, [%0, #448]\n"
        "ldp q30, q31, [%0, #480]\n" ::"r"(s.q)
        : "memory");
    CV_WRITE_SYSREG(fpsr, s.fpsr);
    CV_WRITE_SYSREG(fpcr, s.fpcr);
    isb();
}

void arch_save_vcpu(VcpuSysRegs& s) {
    s.sctlr_el1 = CV_READ_SYSREG(sctlr_el1);
    s.actlr_el1 = CV_READ_SYSREG(actlr_el1);
    s.cpacr_el1 = CV_READ_SYSREG(cpacr_el1);
    s.ttbr0_el1 = CV_READ_SYSREG(ttbr0_el1);
    s.ttbr1_el1 = CV_READ_SYSREG(ttbr1_el1);
    s.tcr_el1 = CV_READ_SYSREG(tcr_el1);
    s.mair_el1 = CV_READ_SYSREG(mair_el1);
    s.amair_el1 = CV_READ_SYSREG(amair_el1);
    s.vbar_el1 = CV_READ_SYSREG(vbar_el1);
    s.contextidr_el1 = CV_READ_SYSREG(contextidr_el1);
    s.tpidr_el0 = CV_READ_SYSREG(tpidr_el0);
    s.tpidrro_el0 = CV_READ_SYSREG(tpidrro_el0);
    s.tpidr_el1 = CV_READ_SYSREG(tpidr_el1);
    s.sp_el0 = CV_READ_SYSREG(sp_el0);
    s.sp_el1 = CV_READ_SYSREG(sp_el1);
    s.elr_el1 = CV_READ_SYSREG(elr_el1);
    s.spsr_el1 = CV_READ_SYSREG(spsr_el1);
    s.esr_el1 = CV_READ_SYSREG(esr_el1);
    s.far_el1 = CV_READ_SYSREG(far_el1);
    s.afsr0_el1 = CV_READ_SYSREG(afsr0_el1);
    s.afsr1_el1 = CV_READ_SYSREG(afsr1_el1);
    s.par_el1 = CV_READ_SYSREG(par_el1);
    s.cntkctl_el1 = CV_READ_SYSREG(cntkctl_el1);
    s.csselr_el1 = CV_READ_SYSREG(csselr_el1);
    s.mdscr_el1 = CV_READ_SYSREG(mdscr_el1);
    s.cntv_ctl_el0 = CV_READ_SYSREG(cntv_ctl_el0);
    s.cntv_cval_el0 = CV_READ_SYSREG(cntv_cval_el0);
    s.cntp_ctl_el0 = CV_READ_SYSREG(cntp_ctl_el0);
    s.cntp_cval_el0 = CV_READ_SYSREG(cntp_cval_el0);
    // Stop this vCPU's timers from firing on behalf of the next one (its own state is loaded
    // over them; ENABLE=0 until then).
    CV_WRITE_SYSREG(cntv_ctl_el0, 0);
    CV_WRITE_SYSREG(cntp_ctl_el0, 0);
    s.vtimer_active = gic_ppi_active(kIntidVirtTimer);
    s.ptimer_active = gic_ppi_active(kIntidPhysTimer);
    s.ich_vmcr_el2 = CV_READ_SYSREG(ich_vmcr_el2);
    s.ich_ap0r0_el2 = CV_READ_SYSREG(ich_ap0r0_el2);
    s.ich_ap1r0_el2 = CV_READ_SYSREG(ich_ap1r0_el2);
    s.vmpidr_el2 = CV_READ_SYSREG(vmpidr_el2);
    s.vttbr_el2 = CV_READ_SYSREG(vttbr_el2);
    asm volatile(
        "stp q0, q1, [%0, #0]\n stp q2, q3, [%0, #32]\n stp q4, q5, [%0, #64]\n"
        "stp q6, q7, [%0, #96]\n stp q8, q9, [%0, #128]\n stp q10, q11, [%0, #160]\n"
        "stp q12, q13, [%0, #192]\n stp q14, q15, [%0, #224]\n stp q16, q17, [%0, #256]\n"
        "stp q18, q19, [%0, #288]\n stp q20, q21, [%0, #320]\n stp q22, q23, [%0, #352]\n"
        "stp q24, q25, [%0, #384]\n stp q26, q27, [%0, #416]\n stp q28, q29, [%0, #448]\n"
        "stp q30, q31, [%0, #480]\n" ::"r"(s.q)
        : "memory");
    s.fpsr = CV_READ_SYSREG(fpsr);
    s.fpcr = CV_READ_SYSREG(fpcr);
}

void arch_flush_guest_tlb(std::uint64_t vttbr) {
    // TLBI VMALLS12E1IS acts on the VMID in VTTBR_EL2 (Arm ARM D8.13): switch to it briefly.
    std::uint64_t old = CV_READ_SYSREG(vttbr_el2);
    CV_WRITE_SYSREG(vttbr_el2, vttbr);
    isb();
    asm volatile("dsb ishst\n tlbi vmalls12e1is\n dsb ish\n" ::: "memory");
    CV_WRITE_SYSREG(vttbr_el2, old);
    isb();
}

void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1) {
    CV_WRITE_SYSREG(elr_el1, regs.elr);
    CV_WRITE_SYSREG(spsr_el1, regs.spsr);
    CV_WRITE_SYSREG(esr_el1, esr_el1);
    CV_WRITE_SYSREG(far_el1, far_el1);
    regs.elr = CV_READ_SYSREG(vbar_el1) + sync_vector_offset(regs.spsr);
    regs.spsr = kSpsrEl1hMasked;
}

}  // namespace corvisor

namespace corvisor {

void arch_write_lrs(const ListRegisterFile& lrs) {
    // One MSR per register (ICH_LR<n>_EL2 is not indexable); only implemented LRs are written.
    const std::uint32_t n = lrs.count;
#define CV_LR_WRITE(i, reg)                      \
    if ((i) < n) {                               \
        CV_WRITE_SYSREG(reg, lrs.lr[(i)].raw()); \
    }
    CV_LR_WRITE(0, ich_lr0_el2)
    CV_LR_WRITE(1, ich_lr1_el2)
    CV_LR_WRITE(2, ich_lr2_el2)
    CV_LR_WRITE(3, ich_lr3_el2)
    CV_LR_WRITE(4, ich_lr4_el2)
    CV_LR_WRITE(5, ich_lr5_el2)
    CV_LR_WRITE(6, ich_lr6_el2)
    CV_LR_WRITE(7, ich_lr7_el2)
    CV_LR_WRITE(8, ich_lr8_el2)
    CV_LR_WRITE(9, ich_lr9_el2)
    CV_LR_WRITE(10, ich_lr10_el2)
    CV_LR_WRITE(11, ich_lr11_el2)
    CV_LR_WRITE(12, ich_lr12_el2)
    CV_LR_WRITE(13, ich_lr13_el2)
    CV_LR_WRITE(14, ich_lr14_el2)
    CV_LR_WRITE(15, ich_lr15_el2)
#undef CV_LR_WRITE
    CV_WRITE_SYSREG(ich_hcr_el2, lrs.hcr);
}

void arch_read_lrs(ListRegisterFile& lrs) {
    const std::uint32_t used = lrs.in_use;
#define CV_LR_READ(i, reg)                               \
    if ((used & (1u << (i))) != 0) {                     \
        lrs.lr[(i)] = ListRegister(CV_READ_SYSREG(reg)); \
    }
    CV_LR_READ(0, ich_lr0_el2)
    CV_LR_READ(1, ich_lr1_el2)
    CV_LR_READ(2, ich_lr2_el2)
    CV_LR_READ(3, ich_lr3_el2)
    CV_LR_READ(4, ich_lr4_el2)
    CV_LR_READ(5, ich_lr5_el2)
    CV_LR_READ(6, ich_lr6_el2)
    CV_LR_READ(7, ich_lr7_el2)
    CV_LR_READ(8, ich_lr8_el2)
    CV_LR_READ(9, ich_lr9_el2)
    CV_LR_READ(10, ich_lr10_el2)
    CV_LR_READ(11, ich_lr11_el2)
    CV_LR_READ(12, ich_lr12_el2)
    CV_LR_READ(13, ich_lr13_el2)
    CV_LR_READ(14, ich_lr14_el2)
    CV_LR_READ(15, ich_lr15_el2)
#undef CV_LR_READ
}

namespace {
// CNTx_CTL_EL0 (Arm ARM D11.2): ENABLE, IMASK, ISTATUS.
constexpr std::uint64_t kCtlEnable = 1u << 0;
constexpr std::uint64_t kCtlImask = 1u << 1;
constexpr std::uint64_t kCtlIstatus = 1u << 2;

TimerStatus status_of(std::uint64_t ctl, std::uint64_t cval_physical) {
    bool armed = (ctl & kCtlEnable) != 0 && (ctl & kCtlImask) == 0;
    return TimerStatus{armed, armed && (ctl & kCtlIstatus) != 0, cval_physical};
}
}  // namespace

TimerStatus arch_vtimer_status() {
    // The virtual counter is the physical one minus CNTVOFF_EL2: deadline in physical ticks.
    return status_of(CV_READ_SYSREG(cntv_ctl_el0),
                     CV_READ_SYSREG(cntv_cval_el0) + CV_READ_SYSREG(cntvoff_el2));
}

TimerStatus arch_ptimer_status() {
    return status_of(CV_READ_SYSREG(cntp_ctl_el0), CV_READ_SYSREG(cntp_cval_el0));
}

std::uint64_t arch_now() {
    isb();
    return CV_READ_SYSREG(cntpct_el0);
}

void arch_hyp_timer_arm(std::uint64_t deadline) {
    CV_WRITE_SYSREG(cnthp_cval_el2, deadline);
    CV_WRITE_SYSREG(cnthp_ctl_el2, kCtlEnable);
    isb();
}

void arch_hyp_timer_disarm() {
    CV_WRITE_SYSREG(cnthp_ctl_el2, 0);
    isb();
}

}  // namespace corvisor
