#include "boot/guest_features.hpp"

#include "arch/bitfield.hpp"

namespace corvisor {

namespace {

constexpr std::uint64_t kAny = ~std::uint64_t{0};

/// A field of an AArch64 ID register (CRm 4..7) that guests see: the hardware's value, at most
/// `max`. Every field of those registers that is not here reads as 0 ("not implemented").
struct Keep {
    unsigned crm;
    unsigned op2;
    unsigned lsb;
    std::uint64_t max;
};

// clang-format off
constexpr Keep kOffer[] = {
    // ID_AA64PFR0_EL1. Hidden: RAS, SVE, SEL2, MPAM, AMU, RME; EL2 and EL3 (a guest has neither).
    {4, 0, 0, kAny},    // EL0: AArch64, and AArch32 where the CPU has it
    {4, 0, 4, 1},       // EL1: AArch64 only (HCR_EL2.RW)
    {4, 0, 16, kAny},   // FP (switched with the vCPU)
    {4, 0, 20, kAny},   // AdvSIMD (switched with the vCPU)
    {4, 0, 24, kAny},   // GIC system-register interface (the virtual one)
    {4, 0, 48, kAny},   // DIT (PSTATE, switched)
    {4, 0, 56, kAny},   // CSV2
    {4, 0, 60, kAny},   // CSV3
    // ID_AA64PFR1_EL1. Hidden: MTE, SME, RAS_frac, MPAM_frac, NMI, GCS and the rest.
    {4, 1, 0, kAny},    // BT (BTI: no state)
    {4, 1, 4, kAny},    // SSBS (PSTATE, switched)
    {4, 1, 32, kAny},   // CSV2_frac
    // ID_AA64DFR0_EL1. Hidden: the PMU, trace, statistical profiling, trace buffer, BRBE.
    {5, 0, 0, kAny},    // DebugVer
    {5, 0, 12, kAny},   // BRPs
    {5, 0, 20, kAny},   // WRPs
    {5, 0, 28, kAny},   // CTX_CMPs
    {5, 0, 36, kAny},   // DoubleLock
    // ID_AA64ISAR0_EL1: instructions with no state of their own; hidden: TME.
    {6, 0, 4, kAny},  {6, 0, 8, kAny},  {6, 0, 12, kAny}, {6, 0, 16, kAny},  // AES SHA1 SHA2 CRC32
    {6, 0, 20, kAny}, {6, 0, 28, kAny}, {6, 0, 32, kAny}, {6, 0, 36, kAny},  // Atomic RDM SHA3 SM3
    {6, 0, 40, kAny}, {6, 0, 44, kAny}, {6, 0, 48, kAny}, {6, 0, 52, kAny},  // SM4 DP FHM TS
    {6, 0, 56, kAny}, {6, 0, 60, kAny},                                      // TLB RNDR
    // ID_AA64ISAR1_EL1. Hidden: pointer authentication (APA, API, GPA, GPI: keys not switched),
    // LS64 (needs HCRX_EL2).
    {6, 1, 0, kAny},  {6, 1, 12, kAny}, {6, 1, 16, kAny}, {6, 1, 20, kAny},  // DPB JSCVT FCMA LRCPC
    {6, 1, 32, kAny}, {6, 1, 36, kAny}, {6, 1, 40, kAny}, {6, 1, 44, kAny},  // FRINTTS SB SPECRES BF16
    {6, 1, 48, kAny}, {6, 1, 52, kAny}, {6, 1, 56, kAny},                    // DGH I8MM XS
    // ID_AA64ISAR2_EL1. Hidden: WFxT, MOPS (needs HCRX_EL2), APA3/GPA3, the rest.
    {6, 2, 4, kAny},  {6, 2, 20, kAny}, {6, 2, 28, kAny},                    // RPRES BC CLRBHB
    // ID_AA64MMFR0_EL1 (PARange is the guest's IPA size, set apart). Hidden: stage-2 granule
    // fields (a guest has no EL2), FGT, ECV.
    {7, 0, 4, kAny},  {7, 0, 8, kAny},  {7, 0, 12, kAny}, {7, 0, 16, kAny},  // ASIDBits BigEnd SNSMem BigEndEL0
    {7, 0, 20, kAny}, {7, 0, 24, kAny}, {7, 0, 28, kAny}, {7, 0, 44, kAny},  // TGran16 TGran64 TGran4 ExS
    // ID_AA64MMFR1_EL1. Hidden: VMIDBits, VH, LO (LORegions), XNX, TWED, HCX, TIDCP1, CMOW.
    {7, 1, 0, kAny},  {7, 1, 12, kAny}, {7, 1, 20, kAny}, {7, 1, 24, kAny},  // HAFDBS HPDS PAN SpecSEI
    {7, 1, 36, kAny}, {7, 1, 44, kAny},                                      // ETS AFP
    // ID_AA64MMFR2_EL1. Hidden: NV, FWB, EVT (EL2 features).
    {7, 2, 0, kAny},  {7, 2, 4, kAny},  {7, 2, 8, kAny},  {7, 2, 12, kAny},  // CnP UAO LSM IESB
    {7, 2, 16, kAny}, {7, 2, 20, kAny}, {7, 2, 28, kAny}, {7, 2, 32, kAny},  // VARange CCIDX ST AT
    {7, 2, 36, kAny}, {7, 2, 48, kAny}, {7, 2, 52, kAny}, {7, 2, 60, kAny},  // IDS TTL BBM E0PD
};

/// AArch32 ID registers (CRm 1..3) describe a guest's AArch32 EL0 and pass through, except the
/// fields of features hidden on AArch64 too.
struct Hide {
    unsigned crm;
    unsigned op2;
    unsigned lsb;
};
constexpr Hide kAa32Hidden[] = {
    {1, 0, 20},  // ID_PFR0_EL1.AMU
    {1, 0, 28},  // ID_PFR0_EL1.RAS
    {1, 1, 12},  // ID_PFR1_EL1.Virtualization
    {1, 2, 0},   // ID_DFR0_EL1.CopTrc
    {1, 2, 8},   // ID_DFR0_EL1.MMapTrc
    {1, 2, 24},  // ID_DFR0_EL1.PerfMon
    {1, 2, 28},  // ID_DFR0_EL1.TraceFilt
    {3, 4, 8},   // ID_PFR2_EL1.RAS_frac
    {3, 5, 0},   // ID_DFR1_EL1.MTPMU
};
// clang-format on

constexpr std::uint64_t field_mask(unsigned lsb) {
    return std::uint64_t{0xf} << lsb;
}
constexpr std::uint64_t field(std::uint64_t reg, unsigned lsb) {
    return (reg >> lsb) & 0xf;
}

}  // namespace

IdRegisterFile offered_id_registers(const IdRegisterFile& host, unsigned ipa_pa_range) {
    IdRegisterFile guest;
    for (unsigned crm = 1; crm <= 3; ++crm) {
        for (unsigned op2 = 0; op2 < 8; ++op2) {
            guest.set(crm, op2, host.get(crm, op2));
        }
    }
    for (const Hide& h : kAa32Hidden) {
        guest.set(h.crm, h.op2, guest.get(h.crm, h.op2) & ~field_mask(h.lsb));
    }
    for (const Keep& k : kOffer) {
        std::uint64_t v = field(host.get(k.crm, k.op2), k.lsb);
        v = v < k.max ? v : k.max;
        guest.set(k.crm, k.op2, guest.get(k.crm, k.op2) | (v << k.lsb));
    }
    // The guest's "physical" address size is its IPA size.
    const unsigned host_pa = static_cast<unsigned>(field(host.get(7, 0), 0));
    const unsigned pa = host_pa < ipa_pa_range ? host_pa : ipa_pa_range;
    guest.set(7, 0, guest.get(7, 0) | pa);
    return guest;
}

HostFeatures host_features(const IdRegisterFile& host) {
    const std::uint64_t pfr0 = host.get(4, 0);
    const std::uint64_t pfr1 = host.get(4, 1);
    const std::uint64_t dfr0 = host.get(5, 0);
    const std::uint64_t isar1 = host.get(6, 1);
    const std::uint64_t isar2 = host.get(6, 2);
    const std::uint64_t mmfr1 = host.get(7, 1);
    const std::uint64_t pmu = field(dfr0, 8);
    HostFeatures f{};
    f.ras = field(pfr0, 28) != 0;
    f.sve = field(pfr0, 32) != 0;
    f.amu = field(pfr0, 44) != 0;
    f.mte = field(pfr1, 8) >= 2;
    f.sme = field(pfr1, 24) != 0;
    f.pmu = pmu != 0 && pmu != 0xf;
    f.lor = field(mmfr1, 16) != 0;
    f.pauth = field(isar1, 4) != 0 || field(isar1, 8) != 0 || field(isar1, 24) != 0 ||
              field(isar1, 28) != 0 || field(isar2, 12) != 0 || field(isar2, 8) != 0;
    return f;
}

}  // namespace corvisor
