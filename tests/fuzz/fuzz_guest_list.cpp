// libFuzzer target: the guest-list parser (src/vm/guest_list.cpp) on boot-DTB bytes, which may
// be truncated or garbage. Whatever it accepts must be within the limits the loader relies on.
#include <cstring>
#include <vector>

#include "fuzz_input.hpp"
#include "vm/guest_list.hpp"

using namespace corvisor;

namespace {

GuestConfig g_out[kMaxGuests];

void check(const GuestConfig& g) {
    if (g.vcpus == 0 || g.vcpus > kMaxVcpus || g.ram_size == 0 || g.device_count > kMaxDevices) {
        fuzz::fail();
    }
    if (g.ram_base + g.ram_size < g.ram_base) {
        fuzz::fail();  // RAM that wraps around
    }
    for (std::uint32_t v = 0; g.has_affinity && v < g.vcpus; ++v) {
        if (g.affinity[v] >= 4) {
            fuzz::fail();  // limits.pcpus below
        }
    }
    for (const DeviceConfig& d : g.device_list()) {
        if (d.reg_count > kMaxDeviceRegs || d.irq_count > kMaxDeviceIrqs) {
            fuzz::fail();
        }
        for (std::uint32_t irq : d.irq_list()) {
            if (irq >= 32 + 256) {
                fuzz::fail();  // the vGIC models INTIDs below 288
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint64_t> blob;
    const std::uint32_t n = fuzz::parse_boot_dtb(data, size, blob, g_out);
    if (n > kMaxGuests) {
        fuzz::fail();
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        check(g_out[i]);
    }
    return 0;
}
