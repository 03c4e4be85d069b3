// EL1 context switch, list registers, EL1 timers, stage-2 TLB maintenance and exception
// injection: the system-register half of the vCPU model (arch/arch.hpp).
#include "arch/arch.hpp"
#include "arch/exception.hpp"
#include "el2/gic.hpp"
#include "el2/sysreg.hpp"

// Q0..Q31 in pairs at FPSIMD_Q(n) bytes from VcpuSysRegs::q.
#define CV_FOR_EACH_QPAIR(X) \
    X(0, 1)                  \
    X(2, 3)                  \
    X(4, 5)                  \
    X(6, 7)                  \
    X(8, 9)                  \
    X(10, 11)                \
    X(12, 13)                \
    X(14, 15) X(16, 17) X(18, 19) X(20, 21) X(22, 23) X(24, 25) X(26, 27) X(28, 29) X(30, 31)
#define CV_QPAIR_LOAD(a, b) "ldp q" #a ", q" #b ", [%0, #" CV_ASM_STR(FPSIMD_Q(a)) "]\n"
#define CV_QPAIR_STORE(a, b) "stp q" #a ", q" #b ", [%0, #" CV_ASM_STR(FPSIMD_Q(a)) "]\n"
static_assert(sizeof(corvisor::VcpuSysRegs::q) == FPSIMD_Q(32));

// The two tables of EL2 vectors (src/el2/vectors.S).
extern "C" const char el2_vectors[];
extern "C" const char el2_vectors_spread[];

namespace corvisor {

namespace {

// The debug registers: DBGBCR<n>/DBGBVR<n> for n < BRPs, DBGWCR<n>/DBGWVR<n> for n < WRPs
// (ID_AA64DFR0_EL1); a register past the count is UNDEFINED even at EL2.
#define CV_FOR_EACH_DBG(X) \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

void load_debug(const VcpuSysRegs& s) {
    const IdAa64Dfr0 dfr0(CV_READ_SYSREG(id_aa64dfr0_el1));
    const std::uint64_t nb = dfr0.brps() + 1;
    const std::uint64_t nw = dfr0.wrps() + 1;
#define CV_LOAD_DBG(i)                                   \
    if ((i) < nb) {                                      \
        CV_WRITE_SYSREG(dbgbvr##i##_el1, s.dbgbvr[(i)]); \
        CV_WRITE_SYSREG(dbgbcr##i##_el1, s.dbgbcr[(i)]); \
    }                                                    \
    if ((i) < nw) {                                      \
        CV_WRITE_SYSREG(dbgwvr##i##_el1, s.dbgwvr[(i)]); \
        CV_WRITE_SYSREG(dbgwcr##i##_el1, s.dbgwcr[(i)]); \
    }
    CV_FOR_EACH_DBG(CV_LOAD_DBG)
#undef CV_LOAD_DBG
}

/// Save the loaded vCPU's breakpoints and watchpoints and disable them all (E = 0), so that the
/// next vCPU runs with none of them.
void save_and_clear_debug(VcpuSysRegs& s) {
    const IdAa64Dfr0 dfr0(CV_READ_SYSREG(id_aa64dfr0_el1));
    const std::uint64_t nb = dfr0.brps() + 1;
    const std::uint64_t nw = dfr0.wrps() + 1;
#define CV_SAVE_DBG(i)                                   \
    if ((i) < nb) {                                      \
        s.dbgbvr[(i)] = CV_READ_SYSREG(dbgbvr##i##_el1); \
        s.dbgbcr[(i)] = CV_READ_SYSREG(dbgbcr##i##_el1); \
        CV_WRITE_SYSREG(dbgbcr##i##_el1, 0);             \
    }                                                    \
    if ((i) < nw) {                                      \
        s.dbgwvr[(i)] = CV_READ_SYSREG(dbgwvr##i##_el1); \
        s.dbgwcr[(i)] = CV_READ_SYSREG(dbgwcr##i##_el1); \
        CV_WRITE_SYSREG(dbgwcr##i##_el1, 0);             \
    }
    CV_FOR_EACH_DBG(CV_SAVE_DBG)
#undef CV_SAVE_DBG
}

}  // namespace

void arch_debug_take(VcpuSysRegs& s) {
    s.debug_live = true;
    s.mdcr_el2 = MdcrEl2(s.mdcr_el2).set_tda(false).set_tdosa(false).set_tdra(false).value();
    load_debug(s);
    CV_WRITE_SYSREG(mdcr_el2, s.mdcr_el2);
    isb();
}

void arch_select_vectors(bool sgi_routes) {
    CV_WRITE_SYSREG(vbar_el2,
                    reinterpret_cast<std::uint64_t>(sgi_routes ? el2_vectors_spread : el2_vectors));
    isb();
}

void arch_load_vcpu(const VcpuSysRegs& s) {
    CV_WRITE_SYSREG(sctlr_el1, s.sctlr_el1);
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
    CV_WRITE_SYSREG(mdcr_el2, s.mdcr_el2);
    if (s.debug_live) {
        load_debug(s);
    }
    CV_WRITE_SYSREG(vmpidr_el2, s.vmpidr_el2);
    CV_WRITE_SYSREG(vttbr_el2, s.vttbr_el2);
    // FP/SIMD: this file is built without -mgeneral-regs-only only for these instructions.
    asm volatile(CV_FOR_EACH_QPAIR(CV_QPAIR_LOAD)::"r"(s.q) : "memory");
    CV_WRITE_SYSREG(fpsr, s.fpsr);
    CV_WRITE_SYSREG(fpcr, s.fpcr);
    isb();
}

void arch_save_vcpu(VcpuSysRegs& s) {
    s.sctlr_el1 = CV_READ_SYSREG(sctlr_el1);
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
    if (s.debug_live) {
        save_and_clear_debug(s);
    }
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
    asm volatile(CV_FOR_EACH_QPAIR(CV_QPAIR_STORE)::"r"(s.q) : "memory");
    s.fpsr = CV_READ_SYSREG(fpsr);
    s.fpcr = CV_READ_SYSREG(fpcr);
}

std::uint64_t arch_cpacr_el1() {
    return CV_READ_SYSREG(cpacr_el1);
}

void arch_set_cpacr_el1(std::uint64_t value) {
    CV_WRITE_SYSREG(cpacr_el1, value);
    isb();
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
    // Only implemented LRs are written (ICH_LR<n>_EL2 is not indexable: one MSR each).
    const std::uint32_t n = lrs.count;
#define CV_LR_WRITE(i)                                       \
    if ((i) < n) {                                           \
        CV_WRITE_SYSREG(ich_lr##i##_el2, lrs.lr[(i)].raw()); \
    }
    CV_FOR_EACH_LR(CV_LR_WRITE)
#undef CV_LR_WRITE
    CV_WRITE_SYSREG(ich_hcr_el2, lrs.hcr);
}

void arch_read_lrs(ListRegisterFile& lrs) {
    const std::uint32_t used = lrs.in_use;
#define CV_LR_READ(i)                                                \
    if ((used & (1u << (i))) != 0) {                                 \
        lrs.lr[(i)] = ListRegister(CV_READ_SYSREG(ich_lr##i##_el2)); \
    }
    CV_FOR_EACH_LR(CV_LR_READ)
#undef CV_LR_READ
}

namespace {
TimerStatus status_of(TimerCtl ctl, std::uint64_t cval_physical) {
    bool armed = ctl.enable() && !ctl.imask();
    return TimerStatus{armed, armed && ctl.istatus(), cval_physical};
}
}  // namespace

TimerStatus arch_vtimer_status() {
    // The virtual counter is the physical one minus CNTVOFF_EL2: deadline in physical ticks.
    return status_of(TimerCtl(CV_READ_SYSREG(cntv_ctl_el0)),
                     CV_READ_SYSREG(cntv_cval_el0) + CV_READ_SYSREG(cntvoff_el2));
}

TimerStatus arch_ptimer_status() {
    return status_of(TimerCtl(CV_READ_SYSREG(cntp_ctl_el0)), CV_READ_SYSREG(cntp_cval_el0));
}

std::uint64_t arch_now() {
    isb();
    return CV_READ_SYSREG(cntpct_el0);
}

void arch_set_hcr(std::uint64_t hcr) {
    CV_WRITE_SYSREG(hcr_el2, hcr);
    isb();
}

std::uint64_t arch_counter_frequency() {
    return CV_READ_SYSREG(cntfrq_el0);
}

std::uint32_t arch_device_read32(std::uint64_t pa) {
    return *reinterpret_cast<const volatile std::uint32_t*>(pa);
}

void arch_hyp_timer_arm(std::uint64_t deadline) {
    CV_WRITE_SYSREG(cnthp_cval_el2, deadline);
    CV_WRITE_SYSREG(cnthp_ctl_el2, TimerCtl{}.set_enable(true).value());
    isb();
}

void arch_hyp_timer_disarm() {
    CV_WRITE_SYSREG(cnthp_ctl_el2, 0);
    isb();
}

}  // namespace corvisor
