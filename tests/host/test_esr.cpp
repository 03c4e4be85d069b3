#include <catch2/catch.hpp>

#include "el2/esr.hpp"

using namespace corvisor;

TEST_CASE("ESR decodes exception class, IL and ISS", "[el2]") {
    // hvc #0 from EL1: EC 0x16, IL=1, ISS=0.
    Esr hvc(0x5a000000);
    CHECK(hvc.ec() == ExceptionClass::kHvc64);
    CHECK(hvc.il());
    CHECK(hvc.iss() == 0);
    Esr smc(0x5e000007);
    CHECK(smc.ec() == ExceptionClass::kSmc64);
    CHECK(hvc_immediate(smc.iss()) == 7);
}

TEST_CASE("data abort syndrome: size, register, direction, sign extension", "[el2]") {
    // str w1, [x0] to an unmapped IPA: ISV=1, SAS=2 (word), SRT=1, WnR=1, DFSC=translation L3.
    std::uint32_t iss = (1u << 24) | (2u << 22) | (1u << 16) | (1u << 6) | 0x07;
    DataAbortIss d(iss);
    CHECK(d.isv());
    CHECK(d.access_size() == 4);
    CHECK(d.srt() == 1);
    CHECK(d.write());
    CHECK_FALSE(d.sign_extend());
    CHECK(d.translation_fault());
    // ldrsh x5: SAS=1, SSE=1, SF=1, WnR=0.
    DataAbortIss l((1u << 24) | (1u << 22) | (1u << 21) | (5u << 16) | (1u << 15) | 0x06);
    CHECK(l.access_size() == 2);
    CHECK(l.sign_extend());
    CHECK(l.sixty_four());
    CHECK(l.srt() == 5);
    CHECK_FALSE(l.write());
    // ldp: no syndrome.
    CHECK_FALSE(DataAbortIss(0x07).isv());
    // Permission fault is not a translation fault.
    CHECK_FALSE(DataAbortIss((1u << 24) | 0x0f).translation_fault());
}

TEST_CASE("fault IPA combines HPFAR_EL2.FIPA with FAR's page offset", "[el2]") {
    // IPA 0x09000018: HPFAR holds IPA[47:12] at [43:4].
    std::uint64_t hpfar = (0x09000018ull >> 12) << 4;
    CHECK(fault_ipa(hpfar, 0xffff000009000018ull) == 0x09000018ull);
    CHECK(fault_ipa((0xfffffffffull) << 4, 0x123) == 0xfffffffff123ull);
}

TEST_CASE("sysreg ISS decodes direction, Rt and the register encoding", "[el2]") {
    // mrs x3, ID_AA64PFR0_EL1: op0=3 op1=0 CRn=0 CRm=4 op2=0.
    std::uint32_t iss =
        (3u << 20) | (0u << 17) | (0u << 14) | (0u << 10) | (3u << 5) | (4u << 1) | 1;
    SysRegIss s(iss);
    CHECK(s.read());
    CHECK(s.rt() == 3);
    CHECK(s.op0() == 3);
    CHECK(s.crm() == 4);
    CHECK(s.encoding() == (iss & ~((0x1fu << 5) | 1u)));
    CHECK(WfxIss(1).is_wfe());
    CHECK_FALSE(WfxIss(0).is_wfe());
}
