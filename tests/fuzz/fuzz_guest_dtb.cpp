// libFuzzer target: the guest DTB builder (src/vm/guest_dtb.cpp), fed what the parser accepts.
// Boot-DTB bytes go through parse_guest_list; for every guest it accepts, the layout is planned
// and the guest's DTB built from the same boot DTB. The result must be a well-formed DTB that
// says what the configuration says: its RAM, one cpu node per vCPU, its bootargs.
#include <libfdt.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "vm/guest_dtb.hpp"
#include "vm/guest_list.hpp"
#include "vm/image.hpp"

using namespace corvisor;

namespace {

GuestConfig g_configs[kMaxGuests];
alignas(8) std::uint8_t g_dtb[kGuestDtbMaxSize];

std::uint64_t read_cells(const fdt32_t* p, int cells) {
    std::uint64_t v = 0;
    for (int i = 0; i < cells; ++i) {
        v = (v << 32) | fdt32_to_cpu(p[i]);
    }
    return v;
}

void check(const GuestConfig& g, const void* dtb) {
    if (fdt_check_full(dtb, fdt_totalsize(dtb)) != 0) {
        fuzz::fail();  // not well formed
    }
    const int root = fdt_path_offset(dtb, "/");
    const int ac = fdt_address_cells(dtb, root);
    const int sc = fdt_size_cells(dtb, root);
    // Its RAM: the one memory node's reg.
    const int mem = fdt_node_offset_by_prop_value(dtb, -1, "device_type", "memory", 7);
    int len = 0;
    const auto* reg =
        mem >= 0 ? static_cast<const fdt32_t*>(fdt_getprop(dtb, mem, "reg", &len)) : nullptr;
    if (reg == nullptr || ac < 1 || ac > 2 || sc < 1 || sc > 2 || len < (ac + sc) * 4 ||
        read_cells(reg, ac) != g.ram_base || read_cells(reg + ac, sc) != g.ram_size) {
        fuzz::fail();
    }
    // One cpu node per vCPU.
    const int cpus = fdt_path_offset(dtb, "/cpus");
    std::uint32_t n = 0;
    int node = 0;
    fdt_for_each_subnode(node, dtb, cpus) {
        const char* type = static_cast<const char*>(fdt_getprop(dtb, node, "device_type", &len));
        n += type != nullptr && std::string_view(type) == "cpu" ? 1 : 0;
    }
    if (cpus < 0 || n != g.vcpus) {
        fuzz::fail();
    }
    // Its bootargs, as given.
    const int chosen = fdt_path_offset(dtb, "/chosen");
    const char* args = chosen >= 0
                           ? static_cast<const char*>(fdt_getprop(dtb, chosen, "bootargs", &len))
                           : nullptr;
    if ((g.bootargs == nullptr) != (args == nullptr) ||
        (args != nullptr && std::string_view(args) != std::string_view(g.bootargs))) {
        fuzz::fail();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint64_t> blob;
    const std::uint32_t count = fuzz::parse_boot_dtb(data, size, blob, g_configs);
    for (std::uint32_t i = 0; i < count; ++i) {
        Result<GuestLayout> layout = plan_guest_layout(g_configs[i], kGuestDtbMaxSize);
        if (!layout) {
            continue;  // the loader reports and skips it
        }
        const Result<std::uint32_t> built = build_guest_dtb(
            g_configs[i], *layout, blob.data(), g_dtb, static_cast<std::uint32_t>(sizeof g_dtb), 0);
        if (built) {
            check(g_configs[i], g_dtb);
        } else if (built.error() != Error::kOutOfMemory && built.error() != Error::kOutOfRange) {
            fuzz::fail();  // a parsed guest's DTB fails only for room
        }
    }
    return 0;
}
