// libFuzzer target: PSCI and SMCCC calls (src/vdev/psci.cpp) with any function id and arguments,
// from any vCPU of a VM whose vCPUs are in any power state. Each answer must be one DEN0022
// allows: a status code, or a value only for the calls that return one; an action only on
// success, naming a vCPU that exists and is off (CPU_ON), or the caller's own state changes.
#include "fuzz_input.hpp"
#include "vdev/psci.hpp"

using namespace corvisor;

namespace {

class FakeVm final : public PsciTarget {
public:
    std::uint32_t vcpus = 1;
    VcpuPower power[8] = {};
    std::uint64_t ram_base = 0x40000000;
    std::uint64_t ram_size = 0x4000000;

    std::uint32_t vcpu_count() const override { return vcpus; }
    std::optional<std::uint32_t> vcpu_by_mpidr(std::uint64_t mpidr) const override {
        const std::uint64_t aff = mpidr & 0xff00ffffffull;
        return aff < vcpus ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(aff))
                           : std::nullopt;
    }
    VcpuPower vcpu_power(std::uint32_t index) const override {
        return index < vcpus ? power[index] : VcpuPower::kOff;
    }
    bool ipa_is_ram(std::uint64_t ipa) const override {
        return ipa >= ram_base && ipa - ram_base < ram_size;
    }
};

bool is_status(std::uint64_t x0) {
    const auto v = static_cast<std::int64_t>(x0);
    return v <= 0 && v >= -9;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    FakeVm vm;
    vm.vcpus = in.u8() % 8 + 1;
    for (std::uint32_t i = 0; i < vm.vcpus; ++i) {
        vm.power[i] = static_cast<VcpuPower>(in.u8() % 3);
    }
    while (!in.empty()) {
        std::uint64_t regs[4];
        // Function ids near the real ones most of the time, anything otherwise.
        const std::uint8_t how = in.u8();
        regs[0] = (how & 3) != 0
                      ? (0x84000000u | ((how & 0x40) != 0 ? 0x40000000u : 0u) | (in.u8() & 0x1f))
                      : in.u64();
        if ((how & 0x80) != 0) {
            regs[0] = 0x80000000u | in.u8();  // SMCCC_VERSION, SMCCC_ARCH_FEATURES, ...
        }
        for (int i = 1; i < 4; ++i) {
            regs[i] = (in.u8() & 1) != 0 ? in.u64() : in.u8();
        }
        if ((how & 0x20) != 0) {
            regs[2] = vm.ram_base + (in.u32() % vm.ram_size);  // an entry inside RAM
        }
        const std::uint32_t caller = in.u8() % vm.vcpus;
        const PsciResult r = handle_psci_call(regs, (how & 0x10) == 0, caller, vm);
        // Calls that return (CPU_ON, CPU_SUSPEND) act only on success; SYSTEM_OFF, SYSTEM_RESET
        // and CPU_OFF never return, so their X0 means nothing.
        if ((r.action.kind == PsciAction::Kind::kCpuOn ||
             r.action.kind == PsciAction::Kind::kCpuSuspend) &&
            r.x0 != 0) {
            fuzz::fail();  // an action with an error
        }
        switch (r.action.kind) {
            case PsciAction::Kind::kCpuOn:
                if (r.action.target >= vm.vcpus || r.action.target == caller ||
                    vm.power[r.action.target] != VcpuPower::kOff) {
                    fuzz::fail();
                }
                vm.power[r.action.target] = VcpuPower::kOnPending;
                break;
            case PsciAction::Kind::kCpuOff:
                vm.power[caller] = VcpuPower::kOff;
                break;
            default:
                break;
        }
        if (r.action.kind == PsciAction::Kind::kNone && !is_status(r.x0)) {
            // Values are for the calls that return one: the versions, AFFINITY_INFO,
            // MIGRATE_INFO_TYPE, PSCI_FEATURES flags.
            const std::uint32_t fid = static_cast<std::uint32_t>(regs[0]);
            const bool returns_value = fid == 0x84000000u || fid == 0x80000000u ||
                                       fid == 0x84000004u || fid == 0xc4000004u ||
                                       fid == 0x84000006u || fid == 0x8400000au;
            if (!returns_value) {
                fuzz::fail();
            }
        }
        if ((in.u8() & 7) == 0) {
            const std::uint32_t v = in.u8() % vm.vcpus;
            vm.power[v] = static_cast<VcpuPower>(in.u8() % 3);  // the vCPUs move on meanwhile
        }
    }
    return 0;
}
