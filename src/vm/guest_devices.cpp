// The guest node's children: virtual devices, matched to the device registry by compatible.
#include <libfdt.h>

#include <array>
#include <limits>
#include <optional>

#include "corvisor/device.hpp"
#include "vgic/vgic.hpp"
#include "vm/guest_list_internal.hpp"

namespace corvisor::guest_list {

Path device_path(const Path& guest_path, std::string_view device_name) {
    Path path;
    path.add(guest_path.view()).add("/").add(device_name);
    return path;
}

namespace {

constexpr std::uint32_t kIrqCells = 3;  // the GICv3 binding's <type number flags>
constexpr std::uint32_t kSpiBase = 32;
constexpr std::uint32_t kPpiBase = 16;
// The vGIC models kVgicMaxSpis SPIs (INTIDs 32..287); a higher one would be silently dropped.
constexpr std::uint32_t kMaxSpi = kVgicMaxSpis - 1;
constexpr std::uint32_t kMaxPpi = 15;
// The architected timer's PPIs as the guest DTB's timer node gives them (secure, non-secure,
// virtual, hypervisor physical): a device may not take them.
constexpr std::array<std::uint32_t, 4> kTimerPpis = {13, 14, 11, 10};

// Names the guest-DTB builder gives its own nodes (guest_dtb.cpp); a device may not take them.
bool name_taken_by_guest_dtb(std::string_view name) {
    return name == "chosen" || name == "cpus" || name == "psci" || name == "timer" ||
           name == "apb-pclk" || name.starts_with("memory@") || name.starts_with("intc@");
}

bool known_compatible(const GuestListLimits& limits, std::string_view compatible) {
    if (limits.compatible_known != nullptr) {
        return limits.compatible_known(compatible);
    }
    return find_device_factory(compatible) != nullptr;
}

bool parse_device_compatible(GuestContext& c, const Path& path, int node, DeviceConfig& d) {
    int error = 0;
    const std::optional<Prop> p = get_property(c.fdt, node, "compatible", &error);
    if (!p || error != 0) {
        c.problem.at(path, "compatible").add(p ? fdt_strerror(error) : "missing");
        return false;
    }
    if (!is_string_list(*p)) {
        c.problem.at(path, "compatible").add("not a list of NUL-terminated strings");
        return false;
    }
    const auto known = [&](std::string_view s) { return known_compatible(c.limits, s); };
    d.compatible = find_string(*p, known);
    if (d.compatible == nullptr) {
        const auto first = [](std::string_view) { return true; };
        c.problem.at(path, "compatible")
            .add("unknown device compatible ")
            .quoted(find_string(*p, first));
        return false;
    }
    return true;
}

bool parse_device_reg(GuestContext& c, const Path& path, int node, DeviceConfig& d) {
    int error = 0;
    const std::optional<Prop> p = get_property(c.fdt, node, "reg", &error);
    if (!p || error != 0) {
        c.problem.at(path, "reg").add(p ? fdt_strerror(error) : "missing");
        return false;
    }
    constexpr std::uint32_t kRegBytes = kRegCells * kCellBytes;
    if (p->len % kRegBytes != 0 || p->len == 0) {
        c.problem.at(path, "reg")
            .add("expected a non-zero multiple of 4 cells, got ")
            .dec(p->len / kCellBytes)
            .add(p->len % kCellBytes != 0 ? " and a fraction" : "");
        return false;
    }
    if (p->len / kRegBytes > kMaxDeviceRegs) {
        c.problem.at(path, "reg")
            .dec(p->len / kRegBytes)
            .add(" regions, at most ")
            .dec(kMaxDeviceRegs)
            .add(" are supported");
        return false;
    }
    d.reg_count = p->len / kRegBytes;
    for (std::uint32_t i = 0; i < d.reg_count; ++i) {
        const MmioRegion r{p->cell64(i * kRegCells), p->cell64(i * kRegCells + 2)};
        if (r.size == 0) {
            c.problem.at(path, "reg").add("region ").dec(i).add(" has size 0");
            return false;
        }
        if (!fits_ipa(r.base, r.size, c.limits.ipa_bits)) {
            c.problem.at(path, "reg")
                .add("region ")
                .dec(i)
                .add(" ends beyond the ")
                .dec(c.limits.ipa_bits)
                .add("-bit guest-physical address space");
            return false;
        }
        d.regs[i] = r;
    }
    return true;
}

bool parse_device_interrupts(GuestContext& c, const Path& path, int node, DeviceConfig& d) {
    int error = 0;
    const std::optional<Prop> p = get_property(c.fdt, node, "interrupts", &error);
    if (!p) {
        return true;  // a device without interrupts
    }
    if (error != 0) {
        c.problem.at(path, "interrupts").add(fdt_strerror(error));
        return false;
    }
    constexpr std::uint32_t kIrqBytes = kIrqCells * kCellBytes;
    if (p->len % kIrqBytes != 0) {
        c.problem.at(path, "interrupts")
            .add("expected a multiple of 3 cells, got ")
            .dec(p->len / kCellBytes)
            .add(p->len % kCellBytes != 0 ? " and a fraction" : "");
        return false;
    }
    if (p->len / kIrqBytes > kMaxDeviceIrqs) {
        c.problem.at(path, "interrupts")
            .dec(p->len / kIrqBytes)
            .add(" interrupts, at most ")
            .dec(kMaxDeviceIrqs)
            .add(" are supported");
        return false;
    }
    const std::uint32_t count = p->len / kIrqBytes;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t type = p->cell(i * kIrqCells);
        const std::uint32_t number = p->cell(i * kIrqCells + 1);
        std::uint32_t intid = 0;
        if (type == 0 && number <= kMaxSpi) {
            intid = kSpiBase + number;
        } else if (type == 1 && number <= kMaxPpi) {
            for (std::uint32_t timer_ppi : kTimerPpis) {
                if (number == timer_ppi) {
                    c.problem.at(path, "interrupts")
                        .add("PPI ")
                        .dec(number)
                        .add(" belongs to the timer");
                    return false;
                }
            }
            intid = kPpiBase + number;
        } else {
            Reason& why = c.problem.at(path, "interrupts");
            if (type == 0) {
                why.add("SPI ")
                    .dec(number)
                    .add(" is beyond the vGIC's SPIs 0..")
                    .dec(kMaxSpi)
                    .add(" (INTIDs 32..")
                    .dec(kSpiBase + kMaxSpi)
                    .add(")");
            } else if (type == 1) {
                why.add("PPI ").dec(number).add(" does not exist (0..15)");
            } else {
                why.add("interrupt type ").dec(type).add(" is neither SPI (0) nor PPI (1)");
            }
            return false;
        }
        for (const DeviceConfig& other : c.guest.device_list()) {
            for (std::uint32_t used : other.irq_list()) {
                if (used == intid) {
                    c.problem.at(path, "interrupts")
                        .add("INTID ")
                        .dec(intid)
                        .add(" is also used by ")
                        .add(other.name());
                    return false;
                }
            }
        }
        for (std::uint32_t j = 0; j < i; ++j) {
            if (d.irqs[j] == intid) {
                c.problem.at(path, "interrupts").add("INTID ").dec(intid).add(" is listed twice");
                return false;
            }
        }
        d.irqs[i] = intid;
    }
    d.irq_count = count;
    return true;
}

/// `corvisor,image-addr = <base size>`: the device's image, placed in host memory by the loader
/// (QEMU's `-device loader`), instead of `corvisor,image = /incbin/(...)`. Checked as
/// `kernel-addr` is (host_memory); the device reads it as `corvisor,image`.
bool parse_device_host_image(GuestContext& c, const Path& path, int node, DeviceConfig& d) {
    constexpr const char* kName = "corvisor,image-addr";
    int error = 0;
    const std::optional<Prop> p = get_property(c.fdt, node, kName, &error);
    if (!p) {
        return true;
    }
    if (error != 0) {
        c.problem.at(path, kName).add(fdt_strerror(error));
        return false;
    }
    if (fdt_getprop(c.fdt, node, "corvisor,image", nullptr) != nullptr) {
        c.problem.at(path, kName).add("both corvisor,image and corvisor,image-addr are given");
        return false;
    }
    if (p->len != kRegCells * kCellBytes) {
        c.problem.at(path, kName)
            .add("expected ")
            .dec(kRegCells)
            .add(" cells (a 64-bit base and size), got ")
            .dec(static_cast<std::uint64_t>(p->len))
            .add(" bytes");
        return false;
    }
    if (p->cell64(2) > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
        c.problem.at(path, kName).add("an image larger than 2 GiB - 1 byte");  // DeviceNode::bytes
        return false;
    }
    const std::optional<ImageRef> range =
        host_image_range(c.limits, *p, [&]() -> Reason& { return c.problem.at(path, kName); });
    if (!range) {
        return false;
    }
    d.host_image = *range;
    return true;
}

bool parse_device(GuestContext& c, int node, std::string_view name) {
    const Path path = device_path(c.path, name);
    if (c.guest.device_count == kMaxDevices) {
        c.problem.at(path, "").add("more than ").dec(kMaxDevices).add(" devices");
        return false;
    }
    if (name.size() > kMaxNameLength) {
        c.problem.at(path, "").add("node name is longer than 31 characters");
        return false;
    }
    if (name_taken_by_guest_dtb(name)) {
        c.problem.at(path, "").add("node name is taken by the guest DTB's own nodes");
        return false;
    }
    for (const DeviceConfig& other : c.guest.device_list()) {
        if (other.name() == name) {
            c.problem.at(path, "").add("duplicate device node name");
            return false;
        }
    }
    DeviceConfig& d = c.guest.devices[c.guest.device_count];
    d = DeviceConfig{};
    copy_name(d.node_name, name);
    d.node_offset = node;
    if (!parse_device_compatible(c, path, node, d) || !parse_device_reg(c, path, node, d) ||
        !parse_device_interrupts(c, path, node, d) || !parse_device_host_image(c, path, node, d)) {
        return false;
    }
    ++c.guest.device_count;
    return true;
}

}  // namespace

bool parse_guest_devices(GuestContext& c) {
    int node = 0;
    fdt_for_each_subnode(node, c.fdt, c.node) {
        int len = 0;
        const char* name = fdt_get_name(c.fdt, node, &len);
        if (name == nullptr || len < 0) {
            c.problem.at(c.path, "").add("unreadable device node: ").add(fdt_strerror(len));
            return false;
        }
        if (!parse_device(c, node, std::string_view(name, static_cast<std::size_t>(len)))) {
            return false;
        }
    }
    if (node != -FDT_ERR_NOTFOUND) {
        c.problem.at(c.path, "").add(fdt_strerror(node));
        return false;
    }
    return true;
}

}  // namespace corvisor::guest_list
