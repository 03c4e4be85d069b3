// libFuzzer target: the virtual PL011 (src/vdev/pl011.cpp) driven by its guest's register
// accesses (any offset, size, value) and by console input, with resets between. Its interrupt
// line must always equal the masked interrupt status the guest can read (UARTMIS).
#include "../host/fake_device_host.hpp"
#include "fuzz_input.hpp"
#include "vdev/pl011.hpp"

using namespace corvisor;

namespace {
constexpr std::uint32_t kIntid = 33;
constexpr std::uint64_t kMis = 0x040;  // UARTMIS
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    test::FakeDeviceHost host;
    Pl011 uart(host, host.irq_line(kIntid));
    constexpr std::uint8_t kSizes[4] = {1, 2, 4, 8};
    while (!in.empty()) {
        const std::uint8_t op = in.u8();
        switch (op % 4) {
            case 0:
            case 1: {
                const std::uint8_t sz = kSizes[in.u8() % 4];
                std::uint64_t offset = in.u16() % Pl011::kWindowSize;
                offset &= ~std::uint64_t{sz - 1u};
                const bool write = op % 4 == 1;
                (void)uart.mmio(MmioAccess(0, offset, sz, write, in.u64(), 0));
                break;
            }
            case 2:
                (void)uart.receive(in.u8());
                break;
            default:
                if ((in.u8() & 7) == 0) {
                    uart.reset();
                }
                break;
        }
        const MmioResult mis = uart.mmio(MmioAccess(0, kMis, 4, false, 0, 0));
        const auto it = host.levels.find(kIntid);
        const bool level = it != host.levels.end() && it->second;
        if (mis.kind() != MmioResult::Kind::kDone || (mis.value() != 0) != level) {
            fuzz::fail();
        }
    }
    return 0;
}
