#include "vm/guest_list.hpp"

#include <libfdt.h>

#include "vdev/mmio_bus.hpp"
#include "vm/guest_list_internal.hpp"
#include "vm/image.hpp"

namespace corvisor {
namespace guest_list {
namespace {

// "region 1 " for devices with several regions; nothing for the usual single one.
Reason& region_prefix(Reason& why, const DeviceConfig& d, std::uint32_t region) {
    if (d.reg_count > 1) {
        why.add("region ").dec(region).add(" ");
    }
    return why;
}

// Every device region, the GIC's two and the flash take one entry of the guest's MMIO bus: a
// guest needing more is refused here, naming the region that does not fit, rather than at its
// creation.
bool check_bus_capacity(GuestContext& c) {
    const GuestConfig& g = c.guest;
    std::size_t used = 2 + (g.has_flash() ? 1 : 0);
    for (std::uint32_t i = 0; i < g.device_count; ++i) {
        const DeviceConfig& d = g.devices[i];
        for (std::uint32_t r = 0; r < d.reg_count; ++r) {
            if (++used > MmioBus::kCapacity) {
                region_prefix(c.problem.at(device_path(c.path, d.name()), "reg"), d, r)
                    .add("does not fit: a guest's MMIO bus holds ")
                    .dec(MmioBus::kCapacity)
                    .add(" regions, the GIC's and the flash's included");
                return false;
            }
        }
    }
    return true;
}

// Two things at one guest-physical address would make stage 2 ambiguous: RAM, the GIC and
// every device region must be disjoint.
bool check_guest_overlaps(GuestContext& c) {
    const GuestConfig& g = c.guest;
    struct Fixed {
        std::uint64_t base;
        std::uint64_t size;
        const char* what;
    };
    // The GIC, and the flash where the guest has one (size 0 otherwise: overlaps nothing).
    const std::array<Fixed, 3> gic = {{
        {g.gic_dist_base, kGicDistSize, "the GIC distributor at "},
        {g.gic_redist_base, g.gic_redist_size(), "the GIC redistributors at "},
        {kVirtFlashBase, g.has_flash() ? kVirtFlashSize : 0, "the flash at "},
    }};
    for (const Fixed& f : gic) {
        if (ranges_overlap(g.ram_base, g.ram_size, f.base, f.size)) {
            c.problem.at(c.path, "memory").add("memory overlaps ").add(f.what).hex(f.base);
            return false;
        }
    }
    for (std::uint32_t i = 0; i < g.device_count; ++i) {
        const DeviceConfig& d = g.devices[i];
        for (std::uint32_t r = 0; r < d.reg_count; ++r) {
            const MmioRegion& region = d.regs[r];
            if (ranges_overlap(g.ram_base, g.ram_size, region.base, region.size)) {
                c.problem.at(c.path, "memory").add("memory overlaps device ").add(d.name());
                return false;
            }
            const Path path = device_path(c.path, d.name());
            for (const Fixed& f : gic) {
                if (ranges_overlap(region.base, region.size, f.base, f.size)) {
                    region_prefix(c.problem.at(path, "reg"), d, r)
                        .add("overlaps ")
                        .add(f.what)
                        .hex(f.base);
                    return false;
                }
            }
            for (std::uint32_t s = 0; s < r; ++s) {
                if (ranges_overlap(region.base, region.size, d.regs[s].base, d.regs[s].size)) {
                    c.problem.at(path, "reg").add("region ").dec(r).add(" overlaps region ").dec(s);
                    return false;
                }
            }
            for (std::uint32_t j = 0; j < i; ++j) {
                for (const MmioRegion& other : g.devices[j].region_list()) {
                    if (ranges_overlap(region.base, region.size, other.base, other.size)) {
                        region_prefix(c.problem.at(path, "reg"), d, r)
                            .add("overlaps device ")
                            .add(g.devices[j].name());
                        return false;
                    }
                }
            }
        }
    }
    return true;
}

bool parse_guest(GuestContext& c, std::string_view node_name) {
    if (!parse_guest_properties(c)) {
        return false;
    }
    if (c.guest.name[0] == '\0') {
        if (const char* why = name_problem(node_name)) {
            c.property = "";
            c.fail()
                .add("node name ")
                .quoted(node_name)
                .add(" ")
                .add(why)
                .add("; give a guest-name property");
            return false;
        }
        copy_name(c.guest.name, node_name);
    }
    if (!parse_guest_devices(c) || !check_guest_overlaps(c) || !check_bus_capacity(c)) {
        return false;
    }
    LayoutProblem layout_problem;
    if (!plan_guest_layout(c.guest, c.limits.dtb_size_max, &layout_problem)) {
        switch (layout_problem.part) {
            case LayoutPart::kKernel:
                c.property = c.guest.kernel_is_host_addr ? "kernel-addr" : "kernel";
                break;
            case LayoutPart::kInitrd:
                c.property = c.guest.initrd_is_host_addr ? "initrd-addr" : "initrd";
                break;
            case LayoutPart::kDtb:
                c.property = c.guest.dtb_addr ? "dtb-addr" : "memory";
                break;
            case LayoutPart::kMemory:
                c.property = "memory";
                break;
        }
        c.fail().add(layout_problem.reason.view());
        return false;
    }
    return true;
}

/// The images a guest reads from host memory (`kernel-addr`, `initrd-addr`, `flash-addr`).
struct HostImage {
    const char* property;
    std::uint64_t base;
    std::uint64_t size;
};

/// `kernel-addr`, `initrd-addr`, `flash-addr` and each device's `corvisor,image-addr`.
constexpr std::uint32_t kMaxHostImages = 3 + kMaxDevices;

std::uint32_t host_images(const GuestConfig& g, HostImage (&out)[kMaxHostImages]) {
    std::uint32_t n = 0;
    const std::pair<const ImageRef*, const char*> images[] = {
        {&g.kernel, "kernel-addr"}, {&g.initrd, "initrd-addr"}, {&g.flash, "flash-addr"}};
    for (const auto& [image, property] : images) {
        if (image->host_addr != 0 && image->size != 0) {
            out[n++] = HostImage{property, image->host_addr, image->size};
        }
    }
    for (const DeviceConfig& d : g.device_list()) {
        if (d.host_image.host_addr != 0 && d.host_image.size != 0) {
            out[n++] = HostImage{"corvisor,image-addr", d.host_image.host_addr, d.host_image.size};
        }
    }
    return n;
}

/// Host images of `guest` that overlap another of its own or one of an earlier guest's in part
/// (the same range twice is one image read twice, and fine; a partial overlap is a wrong address
/// or size): reported against `guest`'s property.
bool check_host_images(Problem& problem, const Path& path, const GuestConfig& guest,
                       std::span<const GuestConfig> earlier) {
    HostImage mine[kMaxHostImages];
    const std::uint32_t n = host_images(guest, mine);
    auto clash = [](const HostImage& a, const HostImage& b) {
        const bool same = a.base == b.base && a.size == b.size;
        return !same && a.base < b.base + b.size && b.base < a.base + a.size;
    };
    for (std::uint32_t i = 0; i < n; ++i) {
        for (std::uint32_t j = 0; j < i; ++j) {
            if (clash(mine[i], mine[j])) {
                problem.at(path, mine[i].property)
                    .add("overlaps its ")
                    .add(mine[j].property)
                    .add(" image at ")
                    .hex(mine[j].base);
                return false;
            }
        }
        for (const GuestConfig& other : earlier) {
            HostImage theirs[kMaxHostImages];
            const std::uint32_t m = host_images(other, theirs);
            for (std::uint32_t j = 0; j < m; ++j) {
                if (clash(mine[i], theirs[j])) {
                    problem.at(path, mine[i].property)
                        .add("overlaps guest ")
                        .add(other.name_view())
                        .add("'s ")
                        .add(theirs[j].property)
                        .add(" image at ")
                        .hex(theirs[j].base)
                        .add(" in part (one image may be shared, at the same address and size)");
                    return false;
                }
            }
        }
    }
    return true;
}

/// Every tag of the structure block, from the start to FDT_END, ends past where it begins (so a
/// walk over them ends); an error libfdt reports is left to fdt_check_full.
bool tags_advance(const void* fdt) {
    int offset = 0;
    for (;;) {
        int next = 0;
        const std::uint32_t tag = fdt_next_tag(fdt, offset, &next);
        if (next < 0 || tag == FDT_END) {
            return true;
        }
        if (next <= offset) {
            return false;
        }
        offset = next;
    }
}

std::uint32_t parse_checked(const void* fdt, std::span<GuestConfig> out, Diagnostics& diag,
                            const GuestListLimits& limits) {
    const int list = fdt_path_offset(fdt, "/chosen/corvisor");
    if (list < 0) {
        diag.report(kGuestListPath, "",
                    list == -FDT_ERR_NOTFOUND ? "no guest list" : fdt_strerror(list));
        return 0;
    }
    const int compat = fdt_node_check_compatible(fdt, list, "corvisor,guest-list");
    if (compat != 0) {
        diag.report(kGuestListPath, "compatible",
                    compat == 1 ? "expected \"corvisor,guest-list\"" : "missing");
        return 0;
    }

    std::uint32_t count = 0;
    bool any = false;
    int node = 0;
    fdt_for_each_subnode(node, fdt, list) {
        any = true;
        Path path;
        path.add(kGuestListPath).add("/");
        int len = 0;
        const char* name = fdt_get_name(fdt, node, &len);
        if (name == nullptr || len < 0) {
            diag.report(path.view(), "", fdt_strerror(len));
            continue;
        }
        const std::string_view node_name(name, static_cast<std::size_t>(len));
        path.add(node_name);
        if (count == out.size()) {
            Reason why;
            why.add("too many guests: there is room for ").dec(out.size());
            diag.report(path.view(), "", why.view());
            continue;
        }
        GuestConfig& guest = out[count];
        guest = GuestConfig{};
        guest.node_offset = node;
        Problem problem;
        GuestContext c{fdt, node, path, limits, guest, problem};
        bool ok = parse_guest(c, node_name);
        for (std::uint32_t i = 0; ok && i < count; ++i) {
            if (out[i].name_view() == guest.name_view()) {
                const bool named = fdt_getprop(fdt, node, "guest-name", nullptr) != nullptr;
                problem.at(path, named ? "guest-name" : "").add("duplicate guest name");
                ok = false;
            }
        }
        if (ok) {
            ok = check_host_images(problem, path, guest, out.first(count));
        }
        if (!ok) {
            diag.report(problem.node.view(), problem.property, problem.reason.view());
            guest = GuestConfig{};
            continue;
        }
        ++count;
    }
    if (node != -FDT_ERR_NOTFOUND) {
        diag.report(kGuestListPath, "", fdt_strerror(node));
    } else if (!any) {
        diag.report(kGuestListPath, "", "the guest list has no guests");
    }
    return count;
}

}  // namespace
}  // namespace guest_list

std::uint32_t parse_guest_list(const void* fdt, std::size_t fdt_size, std::span<GuestConfig> out,
                               Diagnostics& diag, const GuestListLimits& limits) {
    if (fdt == nullptr || fdt_size < sizeof(fdt_header)) {
        diag.report("/", "", "not a DTB: too short");
        return 0;
    }
    int error = fdt_check_header(fdt);
    if (error != 0) {
        Reason why;
        why.add("not a DTB: ").add(fdt_strerror(error));
        diag.report("/", "", why.view());
        return 0;
    }
    // Versions before 16 store node names as full paths; libfdt's fdt_check_full dereferences a
    // null name on some of them (found by tests/fuzz/fuzz_guest_list). dtc and QEMU write 17.
    if (fdt_version(fdt) < kMinDtbVersion) {
        Reason why;
        why.add("DTB version ").dec(fdt_version(fdt)).add(" is too old (").dec(kMinDtbVersion);
        why.add(" or later)");
        diag.report("/", "", why.view());
        return 0;
    }
    if (fdt_totalsize(fdt) > fdt_size) {
        Reason why;
        why.add("truncated DTB: its header says ")
            .hex(fdt_totalsize(fdt))
            .add(" bytes, there are ")
            .hex(fdt_size);
        diag.report("/", "", why.view());
        return 0;
    }
    // libfdt 1.6's fdt_check_full loops for ever on some structure blocks whose tags do not move
    // forward (found by tests/fuzz/fuzz_guest_list): walk the tags first, bounded, and refuse a
    // tag that does not end past where it began.
    if (!guest_list::tags_advance(fdt)) {
        diag.report("/", "", "malformed DTB: a structure-block tag does not advance");
        return 0;
    }
    // After this full walk every offset libfdt hands out stays inside the blob.
    error = fdt_check_full(fdt, fdt_size);
    if (error != 0) {
        Reason why;
        why.add("malformed DTB: ").add(fdt_strerror(error));
        diag.report("/", "", why.view());
        return 0;
    }
    return guest_list::parse_checked(fdt, out, diag, limits);
}

std::uint32_t parse_guest_list(const void* fdt, std::span<GuestConfig> out, Diagnostics& diag,
                               const GuestListLimits& limits) {
    if (fdt == nullptr || fdt_check_header(fdt) != 0) {
        diag.report("/", "", "not a DTB: bad header");
        return 0;
    }
    return parse_guest_list(fdt, fdt_totalsize(fdt), out, diag, limits);
}

}  // namespace corvisor
