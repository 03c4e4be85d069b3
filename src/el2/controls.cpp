// The EL2 controls and ID registers behind arch_cpu_features / arch_write_el2_controls: the
// values themselves are computed by the portable boot code (boot/guest_hw.cpp).
#include "arch/arch.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

CpuFeatures arch_cpu_features() {
    CpuFeatures f{};
    f.mmfr0 = IdAa64Mmfr0(CV_READ_SYSREG(id_aa64mmfr0_el1));
    f.dfr0 = IdAa64Dfr0(CV_READ_SYSREG(id_aa64dfr0_el1));
    // PMCR_EL0 exists only with a PMU (reading it otherwise is UNDEFINED).
    f.pmcr = f.dfr0.has_pmuv3() ? PmcrEl0(CV_READ_SYSREG(pmcr_el0)) : PmcrEl0{};
    f.midr = CV_READ_SYSREG(midr_el1);
    f.ich_vtr = IchVtrEl2(CV_READ_SYSREG(ich_vtr_el2));
    return f;
}

void arch_write_el2_controls(const El2Controls& c) {
    CV_WRITE_SYSREG(hcr_el2, c.hcr.value());
    CV_WRITE_SYSREG(vtcr_el2, c.vtcr.value());
    CV_WRITE_SYSREG(cptr_el2, c.cptr.value());
    CV_WRITE_SYSREG(cnthctl_el2, c.cnthctl.value());
    CV_WRITE_SYSREG(mdcr_el2, c.mdcr.value());
    CV_WRITE_SYSREG(vpidr_el2, c.vpidr);
    isb();
}

}  // namespace corvisor
