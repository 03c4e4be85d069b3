#include <catch2/catch.hpp>

#include "arch/esr.hpp"
#include "arch/exception.hpp"

using namespace corvisor;

TEST_CASE("ESR decodes exception class, IL and ISS", "[arch]") {
    // hvc #0 from EL1: EC 0x16, IL=1, ISS=0.
    Esr hvc(0x5a000000);
    CHECK(hvc.ec() == ExceptionClass::kHvc64);
    CHECK(hvc.il());
    CHECK(hvc.iss() == 0);
    Esr smc(0x5e000007);
    CHECK(smc.ec() == ExceptionClass::kSmc64);
    CHECK(HvcIss(smc.iss()).imm16() == 7);
}

TEST_CASE("data abort syndrome: size, register, direction, sign extension", "[arch]") {
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

TEST_CASE("fault IPA combines HPFAR_EL2.FIPA with FAR's page offset", "[arch]") {
    // IPA 0x09000018: HPFAR holds IPA[47:12] at [43:4].
    std::uint64_t hpfar = (0x09000018ull >> 12) << 4;
    CHECK(HpfarEl2(hpfar).ipa(0xffff000009000018ull) == 0x09000018ull);
    CHECK(HpfarEl2((0xfffffffffull) << 4).ipa(0x123) == 0xfffffffff123ull);
}

TEST_CASE("sysreg ISS decodes direction, Rt and the register encoding", "[arch]") {
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

TEST_CASE("Syndromes are written with the fields they are read with", "[arch]") {
    const DataAbortIss d =
        DataAbortIss{}.set_isv(true).set_access_size(4).set_srt(1).set_write(true).set_fsc(
            DataAbortIss::kFscTranslationL3);
    CHECK(d.raw() == ((1u << 24) | (2u << 22) | (1u << 16) | (1u << 6) | 0x07));
    for (std::uint8_t size : {std::uint8_t{1}, std::uint8_t{2}, std::uint8_t{4}, std::uint8_t{8}}) {
        CHECK(DataAbortIss{}.set_access_size(size).access_size() == size);
    }
    const Esr e = Esr{}.set_ec(ExceptionClass::kDataAbortLower).set_il(true).set_iss(d.raw());
    CHECK(e.raw() == ((0x24ull << 26) | (1ull << 25) | d.raw()));
    CHECK(Esr(e.raw()) == e);
    // What the guest is given: external aborts keep WnR, UNDEF is EC 0 with IL.
    CHECK(external_data_abort_esr(0x3c5, true) == 0x96000050);  // from EL1h: EC 0x25
    CHECK(external_data_abort_esr(0x0, false) == 0x92000010);   // from EL0t: EC 0x24
    CHECK(external_inst_abort_esr(0x3c5) == 0x86000010);
    CHECK(kUndefinedEsr == 0x02000000);
    // A system register's table key, from its name and from a trapped access's ISS.
    constexpr std::uint32_t kIdAa64Pfr0 = SysRegIss::encode(3, 0, 0, 4, 0);
    CHECK(SysRegIss((3u << 20) | (4u << 1) | (7u << 5) | 1u).encoding() == kIdAa64Pfr0);
}
