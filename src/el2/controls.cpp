// The EL2 controls and ID registers behind arch_cpu_features / arch_write_el2_controls: the
// values themselves are computed by the portable boot code (boot/guest_hw.cpp).
#include "arch/arch.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

CpuFeatures arch_cpu_features() {
    CpuFeatures f{};
    // Every encoding of the group, reserved ones included (they read as zero): by the generic
    // S3_0_C0_C<m>_<op2> names.
#define CV_ID_READ(crm, op2) f.ids.set(crm, op2, CV_READ_SYSREG(s3_0_c0_c##crm##_##op2));
#define CV_ID_ROW(crm) \
    CV_ID_READ(crm, 0) \
    CV_ID_READ(crm, 1) \
    CV_ID_READ(crm, 2) \
    CV_ID_READ(crm, 3) CV_ID_READ(crm, 4) CV_ID_READ(crm, 5) CV_ID_READ(crm, 6) CV_ID_READ(crm, 7)
    CV_ID_ROW(1)
    CV_ID_ROW(2)
    CV_ID_ROW(3)
    CV_ID_ROW(4)
    CV_ID_ROW(5)
    CV_ID_ROW(6)
    CV_ID_ROW(7)
#undef CV_ID_ROW
#undef CV_ID_READ
    // PMCR_EL0 exists only with a PMU (reading it otherwise is UNDEFINED).
    f.pmcr = f.dfr0().has_pmuv3() ? PmcrEl0(CV_READ_SYSREG(pmcr_el0)) : PmcrEl0{};
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
