#include "vm/guest_dtb.hpp"

#include "corvisor/device.hpp"

#include <libfdt.h>

#include <array>
#include <limits>
#include <string_view>

namespace corvisor {
namespace {

// String lists are written as one literal with inner NULs; `sv` keeps them (and its size).
using namespace std::string_view_literals;

using NodeName = FixedText<64>;

// A device node may have sub-nodes (a bus, a port); deeper than this is a config error.
constexpr std::uint32_t kMaxCopyDepth = 8;
constexpr std::uint32_t kApbClockHz = 24000000;  // QEMU virt's apb-pclk

constexpr std::uint32_t hi(std::uint64_t v) {
    return static_cast<std::uint32_t>(v >> 32);
}
constexpr std::uint32_t lo(std::uint64_t v) {
    return static_cast<std::uint32_t>(v);
}

// libfdt's sequential-write calls, remembering the first error so the tree reads straight.
class Writer {
public:
    Writer(void* buf, std::uint32_t size) : fdt_(buf) {
        const std::uint32_t max = std::numeric_limits<int>::max();
        note(fdt_create(buf, static_cast<int>(size < max ? size : max)));
        if (ok()) {
            note(fdt_finish_reservemap(fdt_));
        }
    }

    bool ok() const { return error_ == 0; }
    int error() const { return error_; }
    void note(int rc) {
        if (rc < 0 && error_ == 0) {
            error_ = rc;
        }
    }

    void begin(const char* name) {
        if (ok()) {
            note(fdt_begin_node(fdt_, name));
        }
    }
    void end() {
        if (ok()) {
            note(fdt_end_node(fdt_));
        }
    }
    void property(const char* name, const void* data, int len) {
        if (ok()) {
            note(fdt_property(fdt_, name, data, len));
        }
    }
    void empty(const char* name) {
        void* value = nullptr;
        if (ok()) {
            note(fdt_property_placeholder(fdt_, name, 0, &value));
        }
    }
    template <class... Cells>
    void cells(const char* name, Cells... values) {
        const std::array<fdt32_t, sizeof...(Cells)> raw = {
            cpu_to_fdt32(static_cast<std::uint32_t>(values))...};
        property(name, raw.data(), static_cast<int>(sizeof(raw)));
    }
    void u64(const char* name, std::uint64_t value) {
        if (ok()) {
            note(fdt_property_u64(fdt_, name, value));
        }
    }
    /// One string, or a string list written with its inner NULs ("a\0b"); the final NUL is added.
    void string(const char* name, std::string_view s) {
        void* value = nullptr;
        if (ok()) {
            note(fdt_property_placeholder(fdt_, name, static_cast<int>(s.size() + 1), &value));
        }
        if (ok()) {
            auto* out = static_cast<char*>(value);
            for (std::size_t i = 0; i < s.size(); ++i) {
                out[i] = s[i];
            }
            out[s.size()] = '\0';
        }
    }
    void finish() {
        if (ok()) {
            note(fdt_finish(fdt_));
        }
    }

private:
    void* fdt_;
    int error_ = 0;
};

bool is_pl011(const void* boot_fdt, const DeviceConfig& d) {
    return fdt_node_check_compatible(boot_fdt, d.node_offset, "arm,pl011") == 0;
}

bool skip_property(std::string_view name, const DeviceDtbNeeds& needs) {
    // Phandles are the boot DTB's numbering, meaningless (or clashing) in the guest's;
    // "corvisor,..." properties configure the device's host side (a disk image) and are not the
    // guest's business.
    if (name == "phandle" || name == "linux,phandle" || name == "interrupt-parent" ||
        name.starts_with("corvisor,")) {
        return true;
    }
    return (needs.primecell && name == "compatible") ||
           (needs.clocks != nullptr && (name == "clocks" || name == "clock-names"));
}

/// What the registration of the device at `node` says its guest node needs: that of the first
/// of its `compatible` strings with a registration (none for sub-nodes).
DeviceDtbNeeds needs_of(const void* src, int node) {
    int len = 0;
    const auto* raw = static_cast<const char*>(fdt_getprop(src, node, "compatible", &len));
    if (raw == nullptr || len <= 0 || raw[len - 1] != '\0') {
        return {};
    }
    for (int at = 0; at < len;) {
        const std::string_view one(raw + at);
        if (const DeviceRegistration* r = find_device_registration(one); r != nullptr) {
            return r->dtb_needs;
        }
        at += static_cast<int>(one.size()) + 1;
    }
    return {};
}

/// `compatible` as the guest list has it, with "arm,primecell" appended if it is not there.
void write_primecell_compatible(Writer& w, const void* src, int node) {
    int len = 0;
    const auto* raw = static_cast<const char*>(fdt_getprop(src, node, "compatible", &len));
    FixedText<256> list;
    bool has = false;
    if (raw != nullptr && len > 0 && raw[len - 1] == '\0') {
        for (int at = 0; at < len;) {
            const std::string_view one(raw + at);
            has = has || one == "arm,primecell";
            list.add(at == 0 ? ""sv : "\0"sv).add(one);
            at += static_cast<int>(one.size()) + 1;
        }
    }
    if (!has) {
        list.add(list.empty() ? ""sv : "\0"sv).add("arm,primecell"sv);
    }
    w.string("compatible", list.view());
}

/// `clocks` and `clock-names` for the names in `names` ("uartclk apb_pclk"): each the guest's
/// fixed clock.
void write_clocks(Writer& w, const char* names) {
    FixedText<128> list;
    std::array<fdt32_t, 8> phandles{};
    std::size_t count = 0;
    for (std::string_view rest(names); !rest.empty();) {
        const std::size_t space = rest.find(' ');
        const std::string_view name(rest.data(),
                                    space == std::string_view::npos ? rest.size() : space);
        rest = space == std::string_view::npos
                   ? std::string_view()
                   : std::string_view(rest.data() + space + 1, rest.size() - space - 1);
        if (name.empty() || count == phandles.size()) {
            continue;
        }
        list.add(count == 0 ? ""sv : "\0"sv).add(name);
        phandles[count++] = cpu_to_fdt32(kGuestClockPhandle);
    }
    if (count != 0) {
        w.property("clocks", phandles.data(), static_cast<int>(count * sizeof(fdt32_t)));
        w.string("clock-names", list.view());
    }
}

void copy_node(Writer& w, const void* src, int node, std::uint32_t depth,
               const DeviceDtbNeeds& needs) {
    if (depth > kMaxCopyDepth) {
        w.note(-FDT_ERR_BADSTRUCTURE);
        return;
    }
    int len = 0;
    const char* name = fdt_get_name(src, node, &len);
    if (name == nullptr) {
        w.note(len < 0 ? len : -FDT_ERR_BADSTRUCTURE);
        return;
    }
    w.begin(name);
    int prop = 0;
    fdt_for_each_property_offset(prop, src, node) {
        const char* prop_name = nullptr;
        int prop_len = 0;
        const void* data = fdt_getprop_by_offset(src, prop, &prop_name, &prop_len);
        if (data == nullptr || prop_name == nullptr) {
            w.note(prop_len < 0 ? prop_len : -FDT_ERR_BADSTRUCTURE);
            return;
        }
        if (!skip_property(prop_name, needs)) {
            w.property(prop_name, data, prop_len);
        }
    }
    if (prop != -FDT_ERR_NOTFOUND) {
        w.note(prop);
        return;
    }
    // What the device's registration asks for (DeviceDtbNeeds): Linux binds a PL011 through
    // the AMBA bus, which needs "arm,primecell" and both clocks, or it prints "unable to open an
    // initial console" (docs/platform.md).
    if (needs.primecell) {
        write_primecell_compatible(w, src, node);
    }
    if (needs.clocks != nullptr) {
        write_clocks(w, needs.clocks);
    }
    int child = 0;
    fdt_for_each_subnode(child, src, node) {
        copy_node(w, src, child, depth + 1, DeviceDtbNeeds{});
    }
    if (child != -FDT_ERR_NOTFOUND) {
        w.note(child);
        return;
    }
    w.end();
}

void write_chosen(Writer& w, const GuestConfig& guest, const GuestLayout& layout,
                  const DeviceConfig* console, std::uint32_t boot_count) {
    w.begin("chosen");
    if (console != nullptr) {
        NodeName path;
        path.add("/").add(console->name());
        w.string("stdout-path", path.view());
    }
    if (guest.bootargs != nullptr) {
        w.string("bootargs", guest.bootargs);
    }
    if (layout.initrd_size != 0) {
        w.u64("linux,initrd-start", layout.initrd_ipa);
        w.u64("linux,initrd-end", layout.initrd_ipa + layout.initrd_size);
    }
    w.cells("corvisor,boot-count", boot_count);
    w.end();
}

void write_cpus(Writer& w, const GuestConfig& guest) {
    w.begin("cpus");
    w.cells("#address-cells", 1);
    w.cells("#size-cells", 0);
    for (std::uint32_t i = 0; i < guest.vcpus; ++i) {
        NodeName name;
        name.add("cpu@").hex(i, false);
        w.begin(name.c_str());
        w.string("device_type", "cpu");
        w.string("compatible", "arm,cortex-a57");
        w.cells("reg", i);  // = MPIDR_EL1.Aff0 of the vCPU
        w.string("enable-method", "psci");
        w.end();
    }
    w.end();
}

void write_platform(Writer& w, const GuestConfig& guest) {
    NodeName memory;
    memory.add("memory@").hex(guest.ram_base, false);
    w.begin(memory.c_str());
    w.string("device_type", "memory");
    w.cells("reg", hi(guest.ram_base), lo(guest.ram_base), hi(guest.ram_size), lo(guest.ram_size));
    w.end();

    write_cpus(w, guest);

    w.begin("psci");
    w.string("compatible", "arm,psci-1.0\0arm,psci-0.2"sv);
    w.string("method", guest.conduit == PsciConduit::kSmc ? "smc" : "hvc");
    w.end();

    NodeName gic;
    gic.add("intc@").hex(guest.gic_dist_base, false);
    w.begin(gic.c_str());
    w.string("compatible", "arm,gic-v3");
    w.cells("#interrupt-cells", 3);
    w.cells("#address-cells", 2);
    w.cells("#size-cells", 2);
    w.empty("interrupt-controller");
    const std::uint64_t redist_size = guest.gic_redist_size();
    w.cells("reg", hi(guest.gic_dist_base), lo(guest.gic_dist_base), hi(kGicDistSize),
            lo(kGicDistSize), hi(guest.gic_redist_base), lo(guest.gic_redist_base), hi(redist_size),
            lo(redist_size));
    w.cells("phandle", kGuestGicPhandle);
    w.end();

    // Secure, non-secure physical, virtual and hypervisor timer PPIs, level high (the
    // arm,armv8-timer binding's order); Linux uses the virtual one.
    w.begin("timer");
    w.string("compatible", "arm,armv8-timer");
    w.cells("interrupts", 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4);
    w.empty("always-on");
    w.end();

    w.begin("apb-pclk");
    w.string("compatible", "fixed-clock");
    w.cells("#clock-cells", 0);
    w.cells("clock-frequency", kApbClockHz);
    w.string("clock-output-names", "clk24mhz");
    w.cells("phandle", kGuestClockPhandle);
    w.end();
}

}  // namespace

Result<std::uint32_t> build_guest_dtb(const GuestConfig& guest, const GuestLayout& layout,
                                      const void* boot_fdt, void* buf, std::uint32_t buf_size,
                                      std::uint32_t boot_count) {
    if (buf == nullptr || boot_fdt == nullptr || guest.device_count > kMaxDevices ||
        guest.vcpus > kMaxVcpus) {
        return Error::kInvalidArgument;
    }
    const DeviceConfig* console = nullptr;
    for (const DeviceConfig& d : guest.device_list()) {
        if (console == nullptr && is_pl011(boot_fdt, d)) {
            console = &d;
        }
    }

    Writer w(buf, buf_size);
    w.begin("");
    w.cells("#address-cells", 2);
    w.cells("#size-cells", 2);
    w.string("compatible", "linux,dummy-virt");
    NodeName model;
    model.add("corvisor guest ").add(guest.name_view());
    w.string("model", model.view());
    w.cells("interrupt-parent", kGuestGicPhandle);

    write_chosen(w, guest, layout, console, boot_count);
    if (guest.firmware_bootcmd != nullptr) {
        // U-Boot takes /config/bootcmd over its environment's (doc/develop/devicetree).
        w.begin("config");
        w.string("bootcmd", guest.firmware_bootcmd);
        w.end();
    }
    write_platform(w, guest);
    for (const DeviceConfig& d : guest.device_list()) {
        copy_node(w, boot_fdt, d.node_offset, 0, needs_of(boot_fdt, d.node_offset));
    }
    w.end();
    w.finish();
    if (!w.ok()) {
        return w.error() == -FDT_ERR_NOSPACE ? Error::kOutOfMemory : Error::kMalformed;
    }
    const std::uint32_t size = fdt_totalsize(buf);
    if (layout.dtb_size_max != 0 && size > layout.dtb_size_max) {
        return Error::kOutOfRange;
    }
    return size;
}

}  // namespace corvisor
