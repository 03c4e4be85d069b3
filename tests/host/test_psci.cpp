#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "vdev/psci.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kRamBase = 0x4000'0000;
constexpr std::uint64_t kRamSize = 0x1000'0000;
constexpr std::uint64_t kEntry = 0x4008'0000;
constexpr std::uint64_t kNotSupported = 0xFFFF'FFFF'FFFF'FFFF;

using Kind = PsciAction::Kind;
using Fn = SmcccFunction;

class FakeVm final : public PsciTarget {
public:
    struct Vcpu {
        std::uint64_t mpidr;
        VcpuPower power;
    };
    std::vector<Vcpu> vcpus = {{0x0, VcpuPower::kOn},
                               {0x1, VcpuPower::kOff},
                               {0x100, VcpuPower::kOnPending},
                               {0x12'0001'0203, VcpuPower::kOff}};

    std::uint32_t vcpu_count() const override { return static_cast<std::uint32_t>(vcpus.size()); }
    std::optional<std::uint32_t> vcpu_by_mpidr(std::uint64_t mpidr) const override {
        constexpr std::uint64_t kAff = 0xFF'00FF'FFFF;
        for (std::size_t i = 0; i < vcpus.size(); ++i) {
            if ((vcpus[i].mpidr & kAff) == (mpidr & kAff)) {
                return static_cast<std::uint32_t>(i);
            }
        }
        return std::nullopt;
    }
    VcpuPower vcpu_power(std::uint32_t index) const override { return vcpus.at(index).power; }
    bool ipa_is_ram(std::uint64_t ipa) const override {
        return ipa >= kRamBase && ipa - kRamBase < kRamSize;
    }
};

PsciResult call(const FakeVm& vm, std::uint64_t x0, std::uint64_t x1 = 0, std::uint64_t x2 = 0,
                std::uint64_t x3 = 0, std::uint32_t caller = 0, bool smc64 = true) {
    const std::uint64_t regs[4] = {x0, x1, x2, x3};
    return handle_psci_call(regs, smc64, caller, vm);
}

std::uint64_t id(Fn f) {
    return static_cast<std::uint64_t>(f);
}

}  // namespace

TEST_CASE("psci reports versions 1.1 and migration not required", "[vdev]") {
    FakeVm vm;
    CHECK(call(vm, id(Fn::kPsciVersion)).x0 == 0x10001);
    CHECK(call(vm, id(Fn::kSmcccVersion)).x0 == 0x10001);
    CHECK(call(vm, id(Fn::kMigrateInfoType)).x0 == 2);
    CHECK(call(vm, id(Fn::kPsciVersion)).action.kind == Kind::kNone);
    // The function identifier is W0: garbage in the upper half of X0 is ignored.
    CHECK(call(vm, 0xDEAD'BEEF'0000'0000 | id(Fn::kPsciVersion)).x0 == 0x10001);
    CHECK(psci_x0(PsciStatus::kInvalidAddress) == 0xFFFF'FFFF'FFFF'FFF7);
}

TEST_CASE("psci CPU_ON starts an off vCPU in guest RAM", "[vdev]") {
    FakeVm vm;
    PsciResult r = call(vm, id(Fn::kCpuOn64), 0x1, kEntry, 0x1234'5678'9ABC'DEF0);
    CHECK(r.x0 == 0);
    CHECK(r.action.kind == Kind::kCpuOn);
    CHECK(r.action.target == 1);
    const std::uint64_t on64[4] = {id(Fn::kCpuOn64), 0x1, kEntry, 0x1234'5678'9ABC'DEF0};
    CHECK(psci_cpu_on_args(on64).entry == kEntry);
    CHECK(psci_cpu_on_args(on64).context_id == 0x1234'5678'9ABC'DEF0);
    // Aff3 only reaches the SMC64 form.
    r = call(vm, id(Fn::kCpuOn64), 0x12'0001'0203, kEntry, 0);
    CHECK(r.x0 == 0);
    CHECK(r.action.target == 3);
}

TEST_CASE("psci CPU_ON error codes", "[vdev]") {
    FakeVm vm;
    const auto on = [&](std::uint64_t mpidr, std::uint64_t entry, std::uint32_t caller = 0) {
        PsciResult r = call(vm, id(Fn::kCpuOn64), mpidr, entry, 0, caller);
        if (r.x0 != 0) {
            CHECK(r.action.kind == Kind::kNone);
        }
        return r.x0;
    };
    CHECK(on(0x7, kEntry) == psci_x0(PsciStatus::kInvalidParameters));          // no such MPIDR
    CHECK(on(0x8000'0001, kEntry) == psci_x0(PsciStatus::kInvalidParameters));  // bit 31 set
    CHECK(on(0x100'0000'0001, kEntry) == psci_x0(PsciStatus::kInvalidParameters));
    CHECK(on(0x0, kEntry, 1) == psci_x0(PsciStatus::kAlreadyOn));  // on, called by another
    CHECK(on(0x1, kEntry, 1) == psci_x0(PsciStatus::kAlreadyOn));  // the caller itself
    CHECK(on(0x100, kEntry) == psci_x0(PsciStatus::kOnPending));
    CHECK(on(0x1, 0x1000) == psci_x0(PsciStatus::kInvalidAddress));  // below RAM
    CHECK(on(0x1, kRamBase + kRamSize) == psci_x0(PsciStatus::kInvalidAddress));
    CHECK(on(0x1, kEntry + 2) == psci_x0(PsciStatus::kInvalidAddress));  // misaligned
    CHECK(on(0x1, kRamBase) == 0);
}

TEST_CASE("psci SMC32 calls use only the W registers", "[vdev]") {
    FakeVm vm;
    PsciResult r = call(vm, id(Fn::kCpuOn32), 0xFFFF'FFFF'0000'0001, 0xFFFF'FFFF'4008'0000,
                        0xAAAA'AAAA'5555'5555);
    CHECK(r.x0 == 0);
    CHECK(r.action.kind == Kind::kCpuOn);
    CHECK(r.action.target == 1);
    const std::uint64_t on32[4] = {id(Fn::kCpuOn32), 0xFFFF'FFFF'0000'0001, 0xFFFF'FFFF'4008'0000,
                                   0xAAAA'AAAA'5555'5555};
    CHECK(psci_cpu_on_args(on32).entry == kEntry);
    CHECK(psci_cpu_on_args(on32).context_id == 0x5555'5555);
    // The same upper bits matter to the SMC64 form.
    r = call(vm, id(Fn::kCpuOn64), 0xFFFF'FFFF'0000'0001, kEntry, 0);
    CHECK(r.x0 == psci_x0(PsciStatus::kInvalidParameters));
    CHECK(call(vm, id(Fn::kAffinityInfo32), 0x1'0000'0100, 0x1'0000'0000).x0 == 2);
    CHECK(call(vm, id(Fn::kPsciFeatures), 0xFFFF'FFFF'0000'0000 | id(Fn::kCpuOff)).x0 == 0);
    CHECK(call(vm, id(Fn::kSmcccArchFeatures), 0x1'8000'0000).x0 == 0);
}

TEST_CASE("psci AFFINITY_INFO reports power states", "[vdev]") {
    FakeVm vm;
    for (const Fn fn : {Fn::kAffinityInfo32, Fn::kAffinityInfo64}) {
        CHECK(call(vm, id(fn), 0x0, 0).x0 == 0);    // ON
        CHECK(call(vm, id(fn), 0x1, 0).x0 == 1);    // OFF
        CHECK(call(vm, id(fn), 0x100, 0).x0 == 2);  // ON_PENDING
        CHECK(call(vm, id(fn), 0x2, 0).x0 == psci_x0(PsciStatus::kInvalidParameters));
        CHECK(call(vm, id(fn), 0x0, 1).x0 == psci_x0(PsciStatus::kInvalidParameters));
        CHECK(call(vm, id(fn), 0x0, 0).action.kind == Kind::kNone);
    }
    CHECK(call(vm, id(Fn::kAffinityInfo64), 0x12'0001'0203, 0).x0 == 1);
}

TEST_CASE("psci CPU_OFF, CPU_SUSPEND, SYSTEM_OFF and SYSTEM_RESET ask the VM to act", "[vdev]") {
    FakeVm vm;
    PsciResult r = call(vm, id(Fn::kCpuOff), 0, 0, 0, 2);
    CHECK(r.action.kind == Kind::kCpuOff);
    CHECK(r.action.target == 2);
    CHECK(r.x0 == psci_x0(PsciStatus::kDenied));  // seen only if the vCPU is not powered off

    r = call(vm, id(Fn::kCpuSuspend64), 0x1'0000, kEntry, 7, 1);
    CHECK(r.action.kind == Kind::kCpuSuspend);
    CHECK(r.action.target == 1);
    CHECK(r.x0 == 0);
    CHECK(call(vm, id(Fn::kCpuSuspend32), 0).action.kind == Kind::kCpuSuspend);
    CHECK(call(vm, id(Fn::kCpuSuspend64), 0x0100'0000).action.kind ==
          Kind::kCpuSuspend);  // cluster
    // Reserved bits, a power level beyond the cluster: INVALID_PARAMETERS.
    for (std::uint64_t bad : {0xffff'ffffull, 0x0002'0000ull, 0x0400'0000ull, 0x0200'0000ull}) {
        r = call(vm, id(Fn::kCpuSuspend64), bad);
        CHECK(r.action.kind == Kind::kNone);
        CHECK(r.x0 == psci_x0(PsciStatus::kInvalidParameters));
    }

    r = call(vm, id(Fn::kSystemOff));
    CHECK(r.action.kind == Kind::kSystemOff);
    CHECK(r.x0 == psci_x0(PsciStatus::kInternalFailure));
    r = call(vm, id(Fn::kSystemReset));
    CHECK(r.action.kind == Kind::kSystemReset);
    CHECK(r.x0 == psci_x0(PsciStatus::kInternalFailure));
}

TEST_CASE("psci PSCI_FEATURES lists exactly what is implemented", "[vdev]") {
    FakeVm vm;
    const auto features = [&](std::uint64_t fid, bool smc64 = true) {
        return call(vm, id(Fn::kPsciFeatures), fid, 0, 0, 0, smc64).x0;
    };
    for (const Fn fn :
         {Fn::kPsciVersion, Fn::kCpuSuspend32, Fn::kCpuSuspend64, Fn::kCpuOff, Fn::kCpuOn32,
          Fn::kCpuOn64, Fn::kAffinityInfo32, Fn::kAffinityInfo64, Fn::kMigrateInfoType,
          Fn::kSystemOff, Fn::kSystemReset, Fn::kPsciFeatures, Fn::kSmcccVersion}) {
        CHECK(features(id(fn)) == 0);
    }
    CHECK(features(id(Fn::kSmcccArchFeatures)) == kNotSupported);  // not a PSCI function
    CHECK(features(0x8400'0005) == kNotSupported);                 // MIGRATE
    CHECK(features(0x8400'0007) == kNotSupported);                 // MIGRATE_INFO_UP_CPU
    CHECK(features(0x8400'0012) == kNotSupported);                 // SYSTEM_RESET2
    CHECK(features(0xC400'000E) == kNotSupported);                 // SYSTEM_SUSPEND
    CHECK(features(0xC400'0000) == kNotSupported);                 // no SMC64 PSCI_VERSION
    // An AArch32 caller has no SMC64 functions.
    CHECK(features(id(Fn::kCpuOn64), false) == kNotSupported);
    CHECK(features(id(Fn::kCpuOn32), false) == 0);
}

TEST_CASE("smccc ARCH_FEATURES reports only the mandatory calls", "[vdev]") {
    FakeVm vm;
    const auto arch = [&](std::uint64_t fid) {
        return call(vm, id(Fn::kSmcccArchFeatures), fid).x0;
    };
    CHECK(arch(id(Fn::kSmcccVersion)) == 0);
    CHECK(arch(id(Fn::kSmcccArchFeatures)) == 0);
    CHECK(arch(0x8000'8000) == kNotSupported);  // SMCCC_ARCH_WORKAROUND_1
    CHECK(arch(0x8000'7FFF) == kNotSupported);  // SMCCC_ARCH_WORKAROUND_2
    CHECK(arch(0x8000'3FFF) == kNotSupported);  // SMCCC_ARCH_WORKAROUND_3
    CHECK(arch(0x8000'0002) == kNotSupported);  // SMCCC_ARCH_SOC_ID
    CHECK(arch(id(Fn::kPsciVersion)) == kNotSupported);
}

TEST_CASE("unknown function identifiers answer NOT_SUPPORTED in every range", "[vdev]") {
    FakeVm vm;
    const std::array<std::uint64_t, 14> unknown = {
        0x8000'0002,  // Arm Architecture: SOC_ID
        0x8000'8000,  // Arm Architecture: WORKAROUND_1 (not implemented)
        0xC000'0000,  // Arm Architecture, SMC64
        0x8100'0000,  // CPU service
        0x8200'0000,  // SiP service
        0x8300'0000,  // OEM service
        0x8400'0005,  // Standard: MIGRATE
        0x8400'0012,  // Standard: SYSTEM_RESET2
        0x8400'FF00,  // Standard: past PSCI
        0xC400'0000,  // Standard SMC64 with no such function
        0x8600'0000,  // Vendor hypervisor service
        0x86FF'FF01,  // Vendor hypervisor: UID query
        0xB000'0000,  // Trusted application
        0x0400'0000,  // yielding call (bit 31 clear)
    };
    for (const std::uint64_t fid : unknown) {
        PsciResult r = call(vm, fid, 0x1, kEntry, 0);
        CHECK(r.x0 == kNotSupported);
        CHECK(r.action.kind == Kind::kNone);
    }
    // SMC64 functions from an AArch32 caller are unknown too.
    PsciResult r = call(vm, id(Fn::kCpuOn64), 0x1, kEntry, 0, 0, false);
    CHECK(r.x0 == kNotSupported);
    CHECK(r.action.kind == Kind::kNone);
}
