// Typed registers (arch/registers.hpp, arch/list_register.hpp): every field reads back what was
// written, leaves its neighbours alone, and sits where the Arm ARM puts it.
#include <catch2/catch.hpp>

#include "arch/list_register.hpp"
#include "arch/registers.hpp"

using namespace corvisor;

TEST_CASE("Register fields sit at their architected positions", "[arch]") {
    CHECK(HcrEl2{}.set_vm(true).value() == 1);
    CHECK(HcrEl2{}.set_twi(true).value() == 1ull << 13);
    CHECK(HcrEl2{}.set_tid3(true).value() == 1ull << 18);
    CHECK(HcrEl2{}.set_rw(true).value() == 1ull << 31);
    CHECK(HcrEl2{}.set_api(true).set_apk(true).value() == 3ull << 40);
    CHECK(HcrEl2{}.set_bsu(HcrEl2::kBsuInner).value() == 1ull << 10);
    CHECK(CptrEl2{}.value() == CptrEl2::kRes1);
    CHECK(CptrEl2{}.set_tfp(true).value() == (CptrEl2::kRes1 | 1ull << 10));
    CHECK(MdcrEl2{}.set_tpm(true).set_tda(true).value() == ((1ull << 6) | (1ull << 9)));
    CHECK(MdcrEl2{}.set_hpmn(31).value() == 31);
    CHECK(SctlrEl2{}.set_m(true).set_c(true).set_i(true).value() == (0x30c50830ull | 0x1005));
    CHECK(TimerCtl{}.set_enable(true).value() == 1);
    CHECK(IchHcrEl2{}.set_en(true).set_uie(true).value() == 3);
    CHECK(IchVtrEl2(0x90b80003).list_registers() == 4);  // QEMU's ICH_VTR_EL2
    CHECK(IchVtrEl2(0x90b80003).pri_bits() == 4);        // 5 priority bits
    CHECK(Mpidr::for_vcpu(3).value() == 0x80000003);
    CHECK(Mpidr(0x0000'0001'0002'0304ull).packed_affinity() == 0x01020304);
    CHECK(VtcrEl2{}.value() == 1ull << 31);
}

TEST_CASE("A field's setter changes that field alone, and its getter reads it back", "[arch]") {
    IchVmcrEl2 v(~0ull);
    v.set_vpmr(0x5a);
    CHECK(v.vpmr() == 0x5a);
    CHECK(v.value() == ((~0ull & ~(0xffull << 24)) | (0x5aull << 24)));
    v.set_veng1(false);
    CHECK_FALSE(v.veng1());
    CHECK(v.veng0());
    // Values wider than the field are cut to it, not spilled into the next one.
    CHECK(VtcrEl2{}.set_sl0(0x7).sl0() == 0x3);
    CHECK(VtcrEl2{}.set_sl0(0x7).t0sz() == 0);
    ListRegister lr;
    lr.set_vintid(27).set_pintid(0xffff).set_priority(0xa0).set_state(LrState::kPendingActive);
    CHECK(lr.vintid() == 27);
    CHECK(lr.pintid() == 0x1fff);  // 13 bits
    CHECK(lr.priority() == 0xa0);
    CHECK(lr.state() == LrState::kPendingActive);
    CHECK_FALSE(lr.hw());
    lr.set_state(LrState::kInvalid);
    CHECK(lr.raw() == ((0x1fffull << 32) | (0xa0ull << 48) | 27));
}
