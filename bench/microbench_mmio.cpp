// Host microbenchmarks of the MMIO path: the bus lookup and a device's handler, without the trap.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "corvisor/device.hpp"
#include "vdev/mmio_bus.hpp"
#include "vdev/pl011.hpp"

namespace {

using corvisor::Device;
using corvisor::MmioAccess;
using corvisor::MmioResult;

// The smallest DeviceHost that works: console lines and IRQ edges are counted, not kept.
class BenchHost final : public corvisor::DeviceHost, public corvisor::IrqSink {
public:
    std::string_view guest_name() const override { return "bench"; }
    void console_line(std::string_view text) override { console_bytes += text.size(); }
    void* allocate(std::size_t size, std::size_t align) override {
        blocks_.emplace_back(new (std::align_val_t{align}) std::byte[size], Free{align});
        return blocks_.back().get();
    }
    corvisor::IrqLine irq_line(std::uint32_t intid) override { return {this, intid}; }
    corvisor::IrqLine ppi_line(std::uint32_t intid, std::uint32_t vcpu) override {
        return {this, intid, vcpu};
    }
    void set_level(std::uint32_t, std::uint32_t, bool) override { ++irq_edges; }
    // Time, timers, DMA, device output: not used by the devices benchmarked here.
    std::uint64_t now() const override { return 0; }
    std::uint64_t counter_frequency() const override { return 62'500'000; }
    corvisor::WallClock wall_clock() const override { return {}; }
    void timer_arm(corvisor::TimerNode&, std::uint64_t) override {}
    bool timer_cancel(corvisor::TimerNode&) override { return false; }
    corvisor::Status read_guest(std::uint64_t, std::span<std::byte>) override {
        return corvisor::Error::kOutOfRange;
    }
    corvisor::Status write_guest(std::uint64_t, std::span<const std::byte>) override {
        return corvisor::Error::kOutOfRange;
    }
    void device_line(std::string_view, std::string_view text) override {
        console_bytes += text.size();
    }
    void device_event(std::string_view, std::string_view) override {}
    corvisor::DeviceCounter& counter(std::string_view, std::string_view) override {
        return counter_;
    }

    std::size_t console_bytes = 0;
    std::size_t irq_edges = 0;

private:
    struct Free {
        std::size_t align;
        void operator()(std::byte* p) const { operator delete[](p, std::align_val_t{align}); }
    };
    std::vector<std::unique_ptr<std::byte[], Free>> blocks_;
    corvisor::DeviceCounter counter_;
};

// A trivial device: 32-bit registers that store what is written.
class RegisterFile final : public Device {
public:
    std::string_view name() const override { return "regs"; }
    MmioResult mmio(MmioAccess a) override {
        std::uint32_t& r = regs_[(a.offset() / 4) % regs_.size()];
        if (a.write()) {
            r = static_cast<std::uint32_t>(a.data());
            return MmioResult::done();
        }
        return MmioResult::done(r);
    }

private:
    std::array<std::uint32_t, 64> regs_{};
};

// A bus shaped like a small guest's: eight 4 KiB devices spread over the low 256 MiB.
struct Bus {
    std::array<RegisterFile, 8> devices;
    corvisor::MmioBus bus;
    Bus() {
        for (std::size_t i = 0; i < devices.size(); ++i) {
            if (!bus.add(0x0800'0000 + 0x0010'0000 * i, 0x1000, devices[i], 0)) {
                std::abort();
            }
        }
    }
};

// What the trap path does per access: lookup (with the vCPU's last-hit hint), then the device.
MmioResult lookup_and_call(corvisor::MmioBus& bus, std::uint64_t ipa, bool write,
                           std::uint64_t data) {
    static const corvisor::MmioBus::Entry* hint = nullptr;
    const corvisor::MmioBus::Entry* e = bus.lookup(ipa, 4, hint);
    MmioAccess a;
    a.set_region(e->region);
    a.set_offset(ipa - e->base);
    a.set_write(write);
    a.set_data(data);
    return e->device->mmio(a);
}

// (a) The same register every time: the last-hit entry answers.
void BM_MmioBus_LookupRead_SameRegister(benchmark::State& state) {
    Bus b;
    std::uint64_t ipa = 0x0830'0018;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ipa);
        MmioResult r = lookup_and_call(b.bus, ipa, false, 0);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_MmioBus_LookupRead_SameRegister);

// (a) Alternating between two devices: every lookup misses the cache and binary-searches.
void BM_MmioBus_LookupRead_Alternating(benchmark::State& state) {
    Bus b;
    std::array<std::uint64_t, 2> ipas{0x0810'0004, 0x0860'0008};
    std::size_t i = 0;
    for (auto _ : state) {
        std::uint64_t ipa = ipas[i++ & 1];
        benchmark::DoNotOptimize(ipa);
        MmioResult r = lookup_and_call(b.bus, ipa, false, 0);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_MmioBus_LookupRead_Alternating);

// (b) vPL011 through Device::mmio, as the vCPU calls it (virtual call, not devirtualized).
struct Uart {
    BenchHost host;
    corvisor::Pl011 pl011{host, host.irq_line(33)};
    Device* dev = &pl011;
    Uart() { benchmark::DoNotOptimize(dev); }
};

void BM_Pl011_ReadFR(benchmark::State& state) {
    Uart u;
    MmioAccess a;
    a.set_offset(0x018);  // UARTFR
    for (auto _ : state) {
        benchmark::DoNotOptimize(a);
        MmioResult r = u.dev->mmio(a);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_Pl011_ReadFR);

// One printable byte per write; a console line goes out every 256 bytes (Pl011::kLineCapacity).
void BM_Pl011_WriteDR(benchmark::State& state) {
    Uart u;
    MmioAccess a;
    a.set_offset(0x000);  // UARTDR
    a.set_write(true);
    a.set_data('x');
    for (auto _ : state) {
        benchmark::DoNotOptimize(a);
        MmioResult r = u.dev->mmio(a);
        benchmark::DoNotOptimize(r);
    }
    state.counters["console_bytes"] = static_cast<double>(u.host.console_bytes);
}
BENCHMARK(BM_Pl011_WriteDR);

// A line of 63 characters and a newline: the flush on '\n' included.
void BM_Pl011_WriteDR_Lines(benchmark::State& state) {
    Uart u;
    MmioAccess a;
    a.set_write(true);
    std::uint64_t n = 0;
    for (auto _ : state) {
        a.set_data((++n % 64 == 0) ? '\n' : 'x');
        MmioResult r = u.dev->mmio(a);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_Pl011_WriteDR_Lines);

}  // namespace
