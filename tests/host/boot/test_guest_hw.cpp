// The EL2 controls guests run under (boot/guest_hw.cpp), as values: what each register traps.
#include <catch2/catch.hpp>

#include "boot/guest_hw.hpp"
#include "fake_arch.hpp"

using namespace corvisor;

TEST_CASE("Guest EL2 controls on a cortex-a57: the trap policy as register values", "[boot]") {
    Result<GuestHardware> hw = guest_hardware(fake::cpu_features());
    REQUIRE(hw);
    const HcrEl2 alone(hw->hcr_alone);
    const HcrEl2 shared(hw->hcr_shared);
    CHECK((alone.vm() && alone.imo() && alone.fmo() && alone.amo() && alone.tsc() && alone.rw()));
    CHECK((alone.swio() && alone.fb() && alone.bsu() == HcrEl2::kBsuInner));
    CHECK_FALSE((alone.twi() || alone.twe() || alone.tge() || alone.e2h()));
    CHECK((shared.twi() && shared.twe()));
    CHECK((alone.tid3() && alone.tidcp() && alone.tacr()));  // features: the offer
    CHECK_FALSE((alone.terr() || alone.tlor()));             // cortex-a57 has neither
    CHECK_FALSE((alone.api() || alone.apk()));               // pointer authentication hidden
    CHECK(hw->controls.hcr == shared);
    // SVE and SME trap, FP/SIMD does not: RES1 bits plus TZ and TSM, the value corvisor has
    // always written.
    const CptrEl2 cptr = hw->controls.cptr;
    CHECK((cptr.tz() && cptr.tsm() && !cptr.tfp() && !cptr.tcpac()));
    CHECK(cptr.value() == 0x33ff);
    CHECK(hw->controls.cnthctl.value() == 0x3);
    CHECK(hw->list_registers == 4);
    CHECK(hw->geometry.ipa_bits == 44);
    CHECK(hw->controls.vtcr.ps() == 4);
    CHECK(hw->controls.vpidr == 0x411fd070);
}

TEST_CASE("MDCR_EL2: the PMU traps, EL2 stays invisible where it can", "[boot]") {
    CpuFeatures f = fake::cpu_features();
    MdcrEl2 m = guest_mdcr(f);
    CHECK(m.hpmn() == 6);
    CHECK((m.tpm() && m.tpmcr()));
    CHECK_FALSE((m.tde() || m.tda()));
    CHECK_FALSE(m.hpmd());  // PMUv3 (v8.0) has no EL2 filter: the bit is RES0 there
    CHECK(m.value() == (6 | 1u << 5 | 1u << 6));
    // As -cpu max has it: PMUv3p5, statistical profiling, trace filter.
    f.ids.set(5, 0,
              IdAa64Dfr0(f.ids.get(5, 0)).set_pmu_ver(6).set_pms_ver(1).set_trace_filt(1).value());
    m = guest_mdcr(f);
    CHECK((m.hpmd() && m.tpms() && m.ttrf()));
    CHECK((m.e2pb() == 0 && m.e2tb() == 0));
}
