// What of the CPU a guest is shown and may use: the one table of features corvisor offers.
// Every feature is either switched with the vCPU (FP/SIMD, the EL1 timers, the EL1 system
// registers) or hidden: its ID register fields read as "not implemented" (HCR_EL2.TID3 traps
// the ID registers, which the vCPU answers from this table) and its registers trap and answer
// with an UNDEF. What the table does not name is hidden, so a CPU model with features newer
// than this code shows guests none of them. docs/architecture.md, "Features".
#pragma once

#include <cstdint>

#include "arch/id_registers.hpp"

namespace corvisor {

/// The ID registers guests are shown, from the hardware's (`host`), for guests whose IPA size
/// is `ipa_pa_range` in ID_AA64MMFR0_EL1.PARange encoding.
IdRegisterFile offered_id_registers(const IdRegisterFile& host, unsigned ipa_pa_range);

/// The host features whose trap controls exist only when the feature does.
struct HostFeatures {
    bool ras;    ///< FEAT_RAS: HCR_EL2.TERR traps the error record registers
    bool lor;    ///< FEAT_LOR: HCR_EL2.TLOR traps the LORegion registers
    bool amu;    ///< FEAT_AMUv1: CPTR_EL2.TAM traps the activity monitors
    bool pmu;    ///< PMUv3: MDCR_EL2.TPM/TPMCR trap the PMU
    bool mte;    ///< FEAT_MTE2: HCR_EL2.ATA clear traps the tag registers (nothing to set)
    bool sve;    ///< FEAT_SVE: CPTR_EL2.TZ traps it
    bool sme;    ///< FEAT_SME: CPTR_EL2.TSM traps it
    bool pauth;  ///< FEAT_PAuth: HCR_EL2.API/APK clear trap it
};
HostFeatures host_features(const IdRegisterFile& host);

}  // namespace corvisor
