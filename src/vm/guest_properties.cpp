// The guest node's own properties: one parser each, listed in kGuestProperties.
#include <libfdt.h>

#include <limits>
#include <optional>

#include "vm/guest_list_internal.hpp"

namespace corvisor::guest_list {
namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t kMinRam = 0x100000;

bool accept(GuestContext&, Prop) {
    return true;
}

// dtc treats `name` as the legacy OpenFirmware copy of the node name: it drops it when equal
// and refuses to compile a DTS where it differs, hence `guest-name`.
bool reject_name(GuestContext& c, Prop) {
    c.fail().add("\"name\" is the node name to dtc; use guest-name");
    return false;
}

bool parse_name(GuestContext& c, Prop p) {
    const std::optional<std::string_view> s = one_string(p);
    if (!s) {
        c.fail().add("not a NUL-terminated string");
        return false;
    }
    if (const char* why = name_problem(*s)) {
        c.fail().add("name ").quoted(*s).add(" ").add(why);
        return false;
    }
    copy_name(c.guest.name, *s);
    return true;
}

bool parse_memory(GuestContext& c, Prop p) {
    if (!c.check_cells(p, kRegCells)) {
        return false;
    }
    const std::uint64_t base = p.cell64(0);
    const std::uint64_t size = p.cell64(2);
    if (base % kPage != 0) {
        c.fail().add("base ").hex(base).add(" is not 4 KiB aligned");
        return false;
    }
    if (size < kMinRam) {
        c.fail().add("size ").hex(size).add(" is below 1 MiB");
        return false;
    }
    if (size % kPage != 0) {
        c.fail().add("size ").hex(size).add(" is not 4 KiB aligned");
        return false;
    }
    if (!fits_ipa(base, size, c.limits.ipa_bits)) {
        c.fail()
            .add("memory ends beyond the ")
            .dec(c.limits.ipa_bits)
            .add("-bit guest-physical address space");
        return false;
    }
    c.guest.ram_base = base;
    c.guest.ram_size = size;
    return true;
}

bool parse_cpus(GuestContext& c, Prop p) {
    if (!c.check_cells(p, 1)) {
        return false;
    }
    const std::uint32_t n = p.cell(0);
    if (n == 0) {
        c.fail().add("cpus is 0");
        return false;
    }
    if (n > kMaxVcpus) {
        c.fail().add("cpus is ").dec(n).add(", at most ").dec(kMaxVcpus).add(" are supported");
        return false;
    }
    c.guest.vcpus = n;
    return true;
}

// Runs after parse_cpus (table order), so vcpus is known.
bool parse_cpu_affinity(GuestContext& c, Prop p) {
    if (p.len % kCellBytes != 0) {
        c.fail().add("length ").dec(p.len).add(" is not a whole number of cells");
        return false;
    }
    if (p.len / kCellBytes != c.guest.vcpus) {
        c.fail()
            .add("expected ")
            .dec(c.guest.vcpus)
            .add(" cells (one per vCPU), got ")
            .dec(p.len / kCellBytes);
        return false;
    }
    for (std::uint32_t i = 0; i < c.guest.vcpus; ++i) {
        const std::uint32_t pcpu = p.cell(i);
        if (pcpu >= c.limits.pcpus) {
            c.fail()
                .add("cpu-affinity names pCPU ")
                .dec(pcpu)
                .add(" but there are ")
                .dec(c.limits.pcpus);
            return false;
        }
        c.guest.affinity[i] = pcpu;
    }
    c.guest.has_affinity = true;
    return true;
}

bool parse_embedded_image(GuestContext& c, Prop p, ImageRef& image) {
    if (p.len == 0) {
        c.fail().add("image is empty");
        return false;
    }
    image = ImageRef{p.data, p.len, 0};
    return true;
}

// Runs after the embedded form of the same image (table order).
bool parse_host_image(GuestContext& c, Prop p, ImageRef& image, bool& is_host_addr,
                      std::string_view embedded_name) {
    if (image.size != 0) {
        c.fail().add("both ").add(embedded_name).add(" and ").add(c.property).add(" are given");
        return false;
    }
    if (!c.check_cells(p, kRegCells)) {
        return false;
    }
    const std::optional<ImageRef> range =
        host_image_range(c.limits, p, [&]() -> Reason& { return c.fail(); });
    if (!range) {
        return false;
    }
    image = *range;
    is_host_addr = true;
    return true;
}

bool check_flash_size(GuestContext& c) {
    if (c.guest.flash.size > kVirtFlashSize) {
        c.fail()
            .add("image of ")
            .hex(c.guest.flash.size)
            .add(" bytes is larger than the flash (")
            .hex(kVirtFlashSize)
            .add(" bytes at IPA 0)");
        return false;
    }
    return true;
}

bool parse_kernel(GuestContext& c, Prop p) {
    return parse_embedded_image(c, p, c.guest.kernel);
}
bool parse_initrd(GuestContext& c, Prop p) {
    return parse_embedded_image(c, p, c.guest.initrd);
}

bool parse_kernel_addr(GuestContext& c, Prop p) {
    return parse_host_image(c, p, c.guest.kernel, c.guest.kernel_is_host_addr, "kernel");
}

bool parse_initrd_addr(GuestContext& c, Prop p) {
    return parse_host_image(c, p, c.guest.initrd, c.guest.initrd_is_host_addr, "initrd");
}

bool parse_flash(GuestContext& c, Prop p) {
    if (!parse_embedded_image(c, p, c.guest.flash)) {
        return false;
    }
    return check_flash_size(c);
}

bool parse_flash_addr(GuestContext& c, Prop p) {
    if (!parse_host_image(c, p, c.guest.flash, c.guest.flash_is_host_addr, "flash")) {
        return false;
    }
    return check_flash_size(c);
}

// `load-addr`, `dtb-addr`: one guest-physical address, 4 KiB aligned, inside the guest's RAM
// (`memory` is parsed first). Whether the image fits there is the layout's to say.
bool parse_ram_address(GuestContext& c, Prop p, std::optional<std::uint64_t>& out) {
    if (!c.check_cells(p, 2)) {
        return false;
    }
    const std::uint64_t ipa = p.cell64(0);
    if (ipa % 0x1000 != 0) {
        c.fail().hex(ipa).add(" is not 4 KiB aligned");
        return false;
    }
    if (ipa < c.guest.ram_base || ipa - c.guest.ram_base >= c.guest.ram_size) {
        c.fail()
            .hex(ipa)
            .add(" is outside the guest's RAM ")
            .hex(c.guest.ram_base)
            .add("..")
            .hex(c.guest.ram_base + c.guest.ram_size);
        return false;
    }
    out = ipa;
    return true;
}

bool parse_load_addr(GuestContext& c, Prop p) {
    return parse_ram_address(c, p, c.guest.load_addr);
}
bool parse_dtb_addr(GuestContext& c, Prop p) {
    return parse_ram_address(c, p, c.guest.dtb_addr);
}

bool parse_bootargs(GuestContext& c, Prop p) {
    if (!one_string(p)) {
        c.fail().add("not a NUL-terminated string");
        return false;
    }
    c.guest.bootargs = reinterpret_cast<const char*>(p.data);
    return true;
}

bool parse_firmware_bootcmd(GuestContext& c, Prop p) {
    if (!one_string(p)) {
        c.fail().add("not a NUL-terminated string");
        return false;
    }
    c.guest.firmware_bootcmd = reinterpret_cast<const char*>(p.data);
    return true;
}

bool parse_psci_method(GuestContext& c, Prop p) {
    const std::optional<std::string_view> s = one_string(p);
    if (s == "hvc") {
        c.guest.conduit = PsciConduit::kHvc;
    } else if (s == "smc") {
        c.guest.conduit = PsciConduit::kSmc;
    } else {
        c.fail().add("expected \"hvc\" or \"smc\", got ").quoted(s ? *s : p.bytes());
        return false;
    }
    return true;
}

bool parse_two_cells(GuestContext& c, Prop p) {
    if (!c.check_cells(p, 1)) {
        return false;
    }
    if (p.cell(0) != 2) {
        c.fail().add("must be 2: memory and reg always use 2+2 cells");
        return false;
    }
    return true;
}

struct GuestProperty {
    const char* name;
    bool required;
    bool (*parse)(GuestContext&, Prop);
};

// Every property a guest node may carry, parsed in this order (later parsers may rely on
// earlier ones). A new property is one entry here and one parser above.
constexpr GuestProperty kGuestProperties[] = {
    {"compatible", true, accept},  // checked first of all, by check_guest_compatible
    {"guest-name", false, parse_name},
    {"name", false, reject_name},
    {"memory", true, parse_memory},
    {"cpus", true, parse_cpus},
    {"cpu-affinity", false, parse_cpu_affinity},
    {"kernel", false, parse_kernel},
    {"kernel-addr", false, parse_kernel_addr},
    {"initrd", false, parse_initrd},
    {"initrd-addr", false, parse_initrd_addr},
    {"flash", false, parse_flash},
    {"flash-addr", false, parse_flash_addr},
    {"load-addr", false, parse_load_addr},
    {"dtb-addr", false, parse_dtb_addr},
    {"bootargs", false, parse_bootargs},
    {"firmware-bootcmd", false, parse_firmware_bootcmd},
    {"psci-method", false, parse_psci_method},
    {"#address-cells", false, parse_two_cells},
    {"#size-cells", false, parse_two_cells},
    {"phandle", false, accept},
    {"linux,phandle", false, accept},
};

bool check_guest_compatible(GuestContext& c) {
    c.property = "compatible";
    int error = 0;
    const std::optional<Prop> p = get_property(c.fdt, c.node, "compatible", &error);
    if (!p) {
        c.fail().add("missing");
        return false;
    }
    if (error != 0) {
        c.fail().add(fdt_strerror(error));
        return false;
    }
    const auto is_guest = [](std::string_view s) { return s == "corvisor,guest"; };
    if (!is_string_list(*p) || find_string(*p, is_guest) == nullptr) {
        c.fail().add("expected \"corvisor,guest\"");
        return false;
    }
    return true;
}

bool check_known_properties(GuestContext& c) {
    int prop = 0;
    fdt_for_each_property_offset(prop, c.fdt, c.node) {
        const char* name = nullptr;
        int len = 0;
        if (fdt_getprop_by_offset(c.fdt, prop, &name, &len) == nullptr || name == nullptr) {
            c.fail().add("unreadable property: ").add(fdt_strerror(len));
            return false;
        }
        bool known = false;
        for (const GuestProperty& entry : kGuestProperties) {
            known = known || std::string_view(name) == entry.name;
        }
        if (!known) {
            c.property = name;
            c.fail().add("unknown property");
            return false;
        }
    }
    if (prop != -FDT_ERR_NOTFOUND) {
        c.fail().add(fdt_strerror(prop));
        return false;
    }
    return true;
}

bool parse_properties(GuestContext& c) {
    for (const GuestProperty& entry : kGuestProperties) {
        c.property = entry.name;
        int error = 0;
        const std::optional<Prop> p = get_property(c.fdt, c.node, entry.name, &error);
        if (!p) {
            if (entry.required) {
                c.fail().add("missing");
                return false;
            }
            continue;
        }
        if (error != 0) {
            c.fail().add(fdt_strerror(error));
            return false;
        }
        if (!entry.parse(c, *p)) {
            return false;
        }
    }
    c.property = "";
    if (c.guest.kernel.size == 0 && !c.guest.has_flash()) {
        c.fail().add("missing kernel, kernel-addr or flash");
        return false;
    }
    return true;
}

}  // namespace

bool parse_guest_properties(GuestContext& c) {
    return check_guest_compatible(c) && check_known_properties(c) && parse_properties(c);
}

}  // namespace corvisor::guest_list
