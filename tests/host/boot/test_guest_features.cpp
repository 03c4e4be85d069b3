// The feature offer (boot/guest_features.cpp): what a guest's ID registers show, per CPU model.
#include <catch2/catch.hpp>

#include "boot/guest_features.hpp"
#include "boot/guest_hw.hpp"
#include "fake_arch.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t field(std::uint64_t reg, unsigned lsb) {
    return (reg >> lsb) & 0xf;
}

/// ID registers as QEMU 7.2 gives `-cpu max` (the fields this test looks at).
IdRegisterFile max_ids() {
    IdRegisterFile ids;
    // ID_AA64PFR0: EL0..EL3 AArch64+AArch32, FP, AdvSIMD, GIC, RAS 1, SVE 1, SEL2 1, DIT 1,
    // CSV2 2, CSV3 1.
    ids.set(4, 0, 0x1201'1011'1111'2222ull);
    // ID_AA64PFR1: BT 1, SSBS 2, MTE 3, SME 1.
    ids.set(4, 1, 0x0000'0000'0100'0321ull);
    ids.set(4, 4, 0x0110'1100'0001'0011ull);  // ID_AA64ZFR0 (SVE features)
    ids.set(4, 5, 0x80f1'0000'0000'0000ull);  // ID_AA64SMFR0
    // ID_AA64DFR0: DebugVer 9, TraceVer 0, PMUVer 6, BRPs 5, WRPs 3, CTX_CMPs 1, PMSVer 1.
    ids.set(5, 0, 0x0000'0001'1030'5619ull);
    // ID_AA64ISAR1: DPB 2, APA 5, API 0, JSCVT 1, FCMA 1, LRCPC 3, GPA 1, GPI 0, FRINTTS 1.
    ids.set(6, 1, 0x0000'0001'0131'1052ull);
    ids.set(6, 2, 0x0000'0000'0000'5001ull);  // ID_AA64ISAR2: WFxT 1, APA3 5
    ids.set(7, 0, 0x1000'0000'0000'1125ull);  // ID_AA64MMFR0: PARange 48 bits, ..., ECV 1
    ids.set(7, 1,
            0x0000'0000'0021'1122ull);  // ID_AA64MMFR1: HAFDBS 2, VMIDBits 2, VH 1, LO 1, PAN 2
    ids.set(7, 2, 0x0000'0001'0100'1011ull);  // ID_AA64MMFR2: CnP 1, UAO 1, NV 1, ...
    return ids;
}

}  // namespace

TEST_CASE("QEMU cortex-a57: guests see its features, minus the PMU, EL2, EL3", "[boot]") {
    const IdRegisterFile host = fake::cpu_features().ids;
    const IdRegisterFile g = offered_id_registers(host, 2);
    const std::uint64_t pfr0 = g.get(4, 0);
    CHECK(field(pfr0, 0) == 2);          // EL0: AArch64 and AArch32
    CHECK(field(pfr0, 4) == 1);          // EL1: AArch64 only
    CHECK(field(pfr0, 8) == 0);          // no EL2
    CHECK(field(pfr0, 12) == 0);         // no EL3
    CHECK(field(pfr0, 16) == 0);         // FP (0 = implemented)
    CHECK(field(g.get(5, 0), 8) == 0);   // PMUVer: hidden
    CHECK(field(g.get(5, 0), 0) == 6);   // DebugVer kept
    CHECK(field(g.get(5, 0), 12) == 5);  // BRPs kept
    CHECK(g.get(6, 0) == 0x00011120);    // ISAR0: AES, SHA1, SHA2, CRC32 all kept
    CHECK(g.get(7, 0) == 0x00001122);    // MMFR0: PARange is the guest's IPA size (40 bits)
    CHECK(field(g.get(1, 2), 24) == 0);  // AArch32 ID_DFR0.PerfMon hidden too
    CHECK(g.get(1, 0) == 0x00000131);    // ID_PFR0 passes through
    const HostFeatures hf = host_features(host);
    CHECK((hf.pmu && !hf.sve && !hf.sme && !hf.pauth && !hf.mte && !hf.ras && !hf.lor));
}

TEST_CASE(
    "QEMU max CPU: SVE, SME, PAuth, MTE, PMU, RAS, LOR, profiling and EL2 features are hidden",
    "[boot]") {
    const IdRegisterFile host = max_ids();
    const HostFeatures hf = host_features(host);
    CHECK((hf.sve && hf.sme && hf.pauth && hf.mte && hf.pmu && hf.ras && hf.lor));
    const IdRegisterFile g = offered_id_registers(host, 5);
    const std::uint64_t pfr0 = g.get(4, 0);
    CHECK(field(pfr0, 28) == 0);  // RAS
    CHECK(field(pfr0, 32) == 0);  // SVE
    CHECK(field(pfr0, 36) == 0);  // SEL2
    CHECK(field(pfr0, 48) == 1);  // DIT kept
    CHECK(field(pfr0, 56) == 2);  // CSV2 kept
    CHECK(field(pfr0, 4) == 1);   // EL1 capped at AArch64 only
    const std::uint64_t pfr1 = g.get(4, 1);
    CHECK(field(pfr1, 0) == 1);   // BT kept
    CHECK(field(pfr1, 4) == 2);   // SSBS kept
    CHECK(field(pfr1, 8) == 0);   // MTE
    CHECK(field(pfr1, 24) == 0);  // SME
    CHECK(g.get(4, 4) == 0);      // ZFR0
    CHECK(g.get(4, 5) == 0);      // SMFR0
    const std::uint64_t dfr0 = g.get(5, 0);
    CHECK(field(dfr0, 8) == 0);   // PMUVer
    CHECK(field(dfr0, 32) == 0);  // PMSVer
    CHECK(field(dfr0, 0) == 9);   // DebugVer kept
    const std::uint64_t isar1 = g.get(6, 1);
    CHECK(field(isar1, 4) == 0);         // APA
    CHECK(field(isar1, 24) == 0);        // GPA
    CHECK(field(isar1, 0) == 2);         // DPB kept
    CHECK(field(isar1, 20) == 3);        // LRCPC kept
    CHECK(g.get(6, 2) == 0);             // ISAR2: WFxT and APA3 hidden
    CHECK(field(g.get(7, 0), 60) == 0);  // ECV
    CHECK(field(g.get(7, 0), 0) == 5);   // PARange 48 bits
    const std::uint64_t mmfr1 = g.get(7, 1);
    CHECK(field(mmfr1, 0) == 2);         // HAFDBS kept
    CHECK(field(mmfr1, 4) == 0);         // VMIDBits (EL2)
    CHECK(field(mmfr1, 8) == 0);         // VH (EL2)
    CHECK(field(mmfr1, 16) == 0);        // LO
    CHECK(field(mmfr1, 20) == 2);        // PAN kept
    CHECK(field(g.get(7, 2), 24) == 0);  // NV
    // Reserved encodings stay zero whatever the hardware had there.
    CHECK(g.get(4, 7) == 0);
}

TEST_CASE("QEMU max CPU: the traps that exist only with a feature are set", "[boot]") {
    CpuFeatures f = fake::cpu_features();
    f.ids = max_ids();
    Result<GuestHardware> hw = guest_hardware(f);
    REQUIRE(hw);
    const HcrEl2 hcr(hw->hcr_alone);
    CHECK((hcr.terr() && hcr.tlor() && hcr.tid3()));
    CHECK_FALSE((hcr.api() || hcr.apk()));
    CHECK((hw->controls.cptr.tz() && hw->controls.cptr.tsm()));
    CHECK(field(hw->guest_ids.get(4, 0), 32) == 0);
}
