// The EL2 controls every guest runs under, decided from the CPU's features: one place for the
// trap policy (HCR_EL2, CPTR_EL2, MDCR_EL2, CNTHCTL_EL2) and the stage-2 geometry. Portable:
// the values are host-tested; src/el2 writes them (arch_write_el2_controls).
#pragma once

#include <cstdint>

#include "arch/arch.hpp"
#include "arch/id_registers.hpp"
#include "corvisor/result.hpp"
#include "mm/stage2.hpp"

namespace corvisor {

struct GuestHardware {
    Stage2Geometry geometry;
    El2Controls controls;      ///< written once at boot; HCR_EL2 here is hcr_shared
    std::uint64_t hcr_shared;  ///< HCR_EL2 for vCPUs that share their pCPU: WFI/WFE trap
    std::uint64_t hcr_alone;   ///< ... for a vCPU alone on its pCPU: WFI waits in hardware
    std::uint32_t list_registers;
    IdRegisterFile guest_ids;   ///< what a guest's trapped ID register reads return
    std::uint64_t cpacr_force;  ///< VcpuSysRegs::cpacr_force for every vCPU
};

/// The controls for a CPU with `features`; an error if it cannot run guests (stage 2).
Result<GuestHardware> guest_hardware(const CpuFeatures& features);

/// MDCR_EL2 for guests: what of the debug, PMU, profiling and trace registers a guest may
/// touch. The one place that policy lives.
MdcrEl2 guest_mdcr(const CpuFeatures& features);

}  // namespace corvisor
