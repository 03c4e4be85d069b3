#include "vm/guest_list.hpp"

#include <libfdt.h>

#include <limits>
#include <optional>

#include "vm/image.hpp"

namespace corvisor {
namespace {

using Path = FixedText<160>;

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t kMinRam = 0x100000;
constexpr std::uint32_t kCellBytes = 4;
constexpr std::uint32_t kRegCells = 4;  // 2 address + 2 size cells, always
constexpr std::uint32_t kIrqCells = 3;  // the GICv3 binding's <type number flags>
constexpr std::uint32_t kSpiBase = 32;
constexpr std::uint32_t kPpiBase = 16;
constexpr std::uint32_t kMaxSpi = 1019 - kSpiBase;  // INTIDs 1020..1023 are special (GICv3 2.2)
constexpr std::uint32_t kMaxPpi = 15;
// The architected timer's PPIs as the guest DTB's timer node gives them (secure, non-secure,
// virtual, hypervisor physical): a device may not take them.
constexpr std::array<std::uint32_t, 4> kTimerPpis = {13, 14, 11, 10};

// What is wrong and where; filled by the first check that fails.
struct Problem {
    Path node;
    std::string_view property;  // a literal or a property name inside the DTB
    Reason reason;

    Reason& at(const Path& where, std::string_view prop) {
        if (&where != &node) {
            node.clear();
            node.add(where.view());
        }
        property = prop;
        reason.clear();
        return reason;
    }
};

struct Prop {
    const unsigned char* data = nullptr;
    std::uint32_t len = 0;

    std::uint32_t cell(std::uint32_t i) const {
        const unsigned char* p = data + std::size_t{i} * kCellBytes;
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }
    std::uint64_t cell64(std::uint32_t i) const {
        return (std::uint64_t{cell(i)} << 32) | cell(i + 1);
    }
    std::string_view bytes() const { return {reinterpret_cast<const char*>(data), len}; }
};

// A property that holds exactly one string: NUL-terminated, no NUL inside.
std::optional<std::string_view> one_string(Prop p) {
    if (p.len == 0 || p.data[p.len - 1] != 0) {
        return std::nullopt;
    }
    const std::string_view s = p.bytes().substr(0, p.len - 1);
    if (s.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    return s;
}

// The first entry of a string list (whose last byte the caller checked is NUL) that `pred`
// accepts, or nullptr. The entry is NUL-terminated inside the property.
template <class Pred>
const char* find_string(Prop p, Pred pred) {
    std::uint32_t pos = 0;
    while (pos < p.len) {
        std::uint32_t n = 0;
        while (pos + n < p.len && p.data[pos + n] != 0) {
            ++n;
        }
        const auto* s = reinterpret_cast<const char*>(p.data + pos);
        if (pred(std::string_view(s, n))) {
            return s;
        }
        pos += n + 1;
    }
    return nullptr;
}

bool is_string_list(Prop p) {
    return p.len != 0 && p.data[p.len - 1] == 0;
}

// Why `s` is no valid guest name, or nullptr.
const char* name_problem(std::string_view s) {
    if (s.empty()) {
        return "is empty";
    }
    if (s.size() > kMaxNameLength) {
        return "is longer than 31 characters";
    }
    for (char ch : s) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok) {
            return "has characters outside [A-Za-z0-9_-]";
        }
    }
    return nullptr;
}

template <std::size_t N>
void copy_name(std::array<char, N>& to, std::string_view from) {
    std::size_t i = 0;
    for (; i < from.size() && i + 1 < N; ++i) {
        to[i] = from[i];
    }
    to[i] = '\0';
}

bool ranges_overlap(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size) {
    return a < b + b_size && b < a + a_size;  // no wrap: every range was checked to fit
}

// [base, base + size) inside the guest-physical address space, without wrapping.
bool fits_ipa(std::uint64_t base, std::uint64_t size, std::uint32_t ipa_bits) {
    const std::uint64_t limit =
        ipa_bits >= 64 ? std::numeric_limits<std::uint64_t>::max() : std::uint64_t{1} << ipa_bits;
    return size <= limit && base <= limit - size;
}

struct GuestContext {
    const void* fdt;
    int node;
    const Path& path;
    const GuestListLimits& limits;
    GuestConfig& guest;
    Problem& problem;
    std::string_view property = {};  // the one being parsed

    Reason& fail() { return problem.at(path, property); }

    bool check_cells(Prop p, std::uint32_t n) {
        if (p.len % kCellBytes != 0) {
            fail().add("length ").dec(p.len).add(" is not a whole number of cells");
            return false;
        }
        if (p.len / kCellBytes != n) {
            fail().add("expected ").dec(n).add(" cells, got ").dec(p.len / kCellBytes);
            return false;
        }
        return true;
    }
};

// ---- guest properties: one parser each, listed in kGuestProperties ----

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
    const std::uint64_t base = p.cell64(0);
    const std::uint64_t size = p.cell64(2);
    if (size == 0) {
        c.fail().add("size is 0");
        return false;
    }
    if (base > std::numeric_limits<std::uint64_t>::max() - size) {
        c.fail().add("range wraps around the address space");
        return false;
    }
    const void* data = nullptr;
    if (c.limits.host_memory != nullptr) {
        data = c.limits.host_memory(base, size);
        if (data == nullptr) {
            c.fail()
                .add("host range ")
                .hex(base)
                .add("..")
                .hex(base + size)
                .add(" is not memory a guest image may come from");
            return false;
        }
    }
    image = ImageRef{data, size, base};
    is_host_addr = true;
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

bool parse_bootargs(GuestContext& c, Prop p) {
    if (!one_string(p)) {
        c.fail().add("not a NUL-terminated string");
        return false;
    }
    c.guest.bootargs = reinterpret_cast<const char*>(p.data);
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
    {"bootargs", false, parse_bootargs},
    {"psci-method", false, parse_psci_method},
    {"#address-cells", false, parse_two_cells},
    {"#size-cells", false, parse_two_cells},
    {"phandle", false, accept},
    {"linux,phandle", false, accept},
};

// nullopt: absent; a Prop with data nullptr: unreadable (reported by the caller).
std::optional<Prop> get_property(const void* fdt, int node, const char* name, int* error) {
    int len = 0;
    const void* data = fdt_getprop(fdt, node, name, &len);
    *error = 0;
    if (data == nullptr) {
        if (len == -FDT_ERR_NOTFOUND) {
            return std::nullopt;
        }
        *error = len < 0 ? len : -FDT_ERR_INTERNAL;
        return Prop{};
    }
    if (len < 0) {
        *error = -FDT_ERR_BADSTRUCTURE;
        return Prop{};
    }
    return Prop{static_cast<const unsigned char*>(data), static_cast<std::uint32_t>(len)};
}

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
    if (c.guest.kernel.size == 0) {
        c.fail().add("missing kernel or kernel-addr");
        return false;
    }
    return true;
}

// ---- devices: the guest node's children ----

Path device_path(const Path& guest_path, std::string_view device_name) {
    Path path;
    path.add(guest_path.view()).add("/").add(device_name);
    return path;
}

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
                why.add("SPI ").dec(number).add(" is beyond INTID 1019");
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
        !parse_device_interrupts(c, path, node, d)) {
        return false;
    }
    ++c.guest.device_count;
    return true;
}

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

// "region 1 " for devices with several regions; nothing for the usual single one.
Reason& region_prefix(Reason& why, const DeviceConfig& d, std::uint32_t region) {
    if (d.reg_count > 1) {
        why.add("region ").dec(region).add(" ");
    }
    return why;
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
    const std::array<Fixed, 2> gic = {{
        {g.gic_dist_base, kGicDistSize, "the GIC distributor at "},
        {g.gic_redist_base, g.gic_redist_size(), "the GIC redistributors at "},
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
    if (!check_guest_compatible(c) || !check_known_properties(c) || !parse_properties(c)) {
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
    if (!parse_guest_devices(c) || !check_guest_overlaps(c)) {
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
            case LayoutPart::kMemory:
                c.property = "memory";
                break;
        }
        c.fail().add(layout_problem.reason.view());
        return false;
    }
    return true;
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
    if (fdt_totalsize(fdt) > fdt_size) {
        Reason why;
        why.add("truncated DTB: its header says ")
            .hex(fdt_totalsize(fdt))
            .add(" bytes, there are ")
            .hex(fdt_size);
        diag.report("/", "", why.view());
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
    return parse_checked(fdt, out, diag, limits);
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
