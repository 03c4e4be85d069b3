// libFuzzer target: the vCPU's exit dispatch (src/vm/vcpu.cpp) on the fake hardware seam. A guest
// of 2 vCPUs with a vGIC and a device takes exits the input chooses: synchronous ones with any
// syndrome (the usual exception classes most of the time: data aborts, trapped system registers,
// HVC and SMC with PSCI-like function ids, WFI/WFE, instruction aborts; any class otherwise),
// any registers and fault address, and IRQ exits with any INTID. Whatever it does, the
// hypervisor must not fault, the vGIC's bookkeeping must stay consistent, and a stop must end
// every vCPU loop (it parks) with no deferred access left in flight.
#include "boot/null_platform.hpp"
#include "corvisor/device.hpp"
#include "exec/cpu.hpp"
#include "fake_arch.hpp"
#include "fuzz_input.hpp"
#include "vgic/vgic.hpp"
#include "vm/vm.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kRamBase = 0x40000000;
constexpr std::uint64_t kRamSize = 0x4000000;
constexpr std::uint64_t kDevBase = 0x09000000;
constexpr std::uint64_t kDistBase = 0x08000000;
constexpr std::uint64_t kRedistBase = 0x080a0000;
constexpr int kMaxExits = 256;

/// Answers reads with the offset, takes writes; defers every fourth access to a later step. Each
/// vCPU may have one access in flight, so each waits on its own event (an Event has one waiter:
/// two vCPUs deferred on one event was the first thing this target found in its own device).
class Device1 final : public Device {
public:
    std::string_view name() const override { return "fuzzdev"; }
    MmioResult mmio(MmioAccess a) override {
        if ((++accesses & 3) == 0) {
            return MmioResult::deferred(later(a.vcpu() % 2, a.offset()));
        }
        return a.write() ? MmioResult::done() : MmioResult::done(a.offset());
    }
    Task<MmioOutcome> later(std::uint32_t vcpu, std::uint64_t offset) {
        co_await ready[vcpu].wait();
        ready[vcpu].reset();
        co_return MmioOutcome{cancelled, offset};
    }
    void complete() {
        ready[0].set();
        ready[1].set();
    }
    void reset() override {
        cancelled = true;
        complete();
    }
    Event ready[2];
    bool cancelled = false;
    std::uint32_t accesses = 0;
};

/// An exception class: the ones the dispatch knows, mostly.
std::uint64_t pick_ec(fuzz::Input& in) {
    static constexpr std::uint8_t kCommon[] = {0x24, 0x24, 0x18, 0x18, 0x16, 0x17,
                                               0x01, 0x20, 0x00, 0x07, 0x0e, 0x2f};
    const std::uint8_t b = in.u8();
    return (b & 0x80) != 0 ? (b & 0x3f) : kCommon[b % sizeof kCommon];
}

std::uint64_t pick_address(fuzz::Input& in) {
    switch (in.u8() % 6) {
        case 0:
            return kDevBase + (in.u16() & 0xfff);
        case 1:
            return kDistBase + (in.u16() & 0xfffc);
        case 2:
            return kRedistBase + (in.u32() & 0x3fffc);
        case 3:
            return kRamBase + (in.u32() % kRamSize);
        default:
            return in.u64() & 0xffffffffffull;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    fake::reset();
    test::NullPlatform platform;
    Vm::Config c;
    c.name = "fuzz";
    c.id = 1;
    c.vcpus = 2;
    c.ram_base = kRamBase;
    c.ram_size = kRamSize;
    Vm vm(platform, c);
    Vgic vgic(Vgic::Config{2, 64});
    vm.attach_vgic(vgic, 4);
    Device1 dev;
    if (!vm.bus().add(kDistBase, kGicDistSize, vgic.distributor(), 0) ||
        !vm.bus().add(kRedistBase, std::uint64_t{kGicRedistStride} * 2, vgic.redistributors(), 0) ||
        !vm.bus().add(kDevBase, 0x1000, dev, 0)) {
        fuzz::fail();
    }

    int exits = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (++exits > kMaxExits || in.empty()) {
            r.x[0] = 0x84000008;  // SYSTEM_OFF
            r.esr = fake::kHvcEsr;
            return ExitKind::kSync;
        }
        const std::uint8_t what = in.u8();
        if ((what & 7) == 0) {
            static constexpr std::uint32_t kIntids[] = {27, 30, 26, 25, 1, 1023, 1022};
            const std::uint8_t i = in.u8();
            fake::guest().next_irq = (i & 0x80) != 0 ? in.u16() % 1024 : kIntids[i % 7];
            return ExitKind::kIrq;
        }
        if ((what & 7) == 1) {
            dev.complete();  // deferred accesses complete before the next exit
        }
        for (int i = 0; i < 4; ++i) {
            r.x[i] = (in.u8() & 1) != 0 ? in.u64() : in.u8();
        }
        if ((what & 0x10) != 0) {
            // A PSCI function id, and often an entry inside RAM for CPU_ON.
            r.x[0] = 0x84000000u | ((what & 0x20) != 0 ? 0x40000000u : 0u) | (in.u8() & 0x1f);
            r.x[2] = kRamBase + (in.u32() % kRamSize);
        }
        r.x[in.u8() % 31] = in.u64();
        const std::uint64_t ec = pick_ec(in);
        std::uint64_t iss = in.u32() & 0x1ffffff;
        if (ec == 0x24 && (what & 0x40) != 0) {
            iss |= 1u << 24;  // ISV: a decodable access, the common case
        }
        r.esr = fake::esr_of(ec, iss);
        fake::guest().fault_ipa = pick_address(in) & ~0xfffull;
        fake::guest().fault_far = pick_address(in);
        return ExitKind::kSync;
    };

    if (!vm.start_loops()) {
        fuzz::fail();
    }
    vm.boot(kRamBase + 0x200000, kRamBase);
    Executor& executor = current_executor();
    executor.run_until_idle();
    if (!vgic.consistent()) {
        fuzz::fail();
    }
    // Whatever state it is left in (asleep in WFI, awaiting the device, off, stopped), a stop
    // ends it: every loop parks, nothing stays in flight.
    vm.stop(StopReason::kMonitor);
    executor.run_until_idle();
    if (vm.state() != VmState::kStopped || !vgic.consistent()) {
        fuzz::fail();
    }
    return 0;
}
