// EL1 context switch, stage-2 TLB maintenance and exception injection: the system-register half
// of the vCPU model (src/el2/arch.hpp).
#include "el2/arch.hpp"

#include "el2/esr.hpp"
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
    CV_WRITE_SYSREG(cntv_cval_el0, s.cntv_cval_el0);
    CV_WRITE_SYSREG(cntv_ctl_el0, s.cntv_ctl_el0);
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
