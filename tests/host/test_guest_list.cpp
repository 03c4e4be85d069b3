#include <libfdt.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "dtc.hpp"
#include "vm/guest_list.hpp"

using namespace corvisor;
using corvisor::test::compile_dts;
using corvisor::test::read_text;

namespace {

struct Report {
    std::string node;
    std::string property;
    std::string reason;
};

class RecordingDiagnostics final : public Diagnostics {
public:
    void report(std::string_view node, std::string_view property,
                std::string_view reason) override {
        reports.push_back({std::string(node), std::string(property), std::string(reason)});
    }
    std::vector<Report> reports;
};

bool test_compatible_known(std::string_view c) {
    return c == "arm,pl011" || c == "virtio,mmio" || c == "corvisor,test-dev";
}

GuestListLimits test_limits(std::uint32_t pcpus = 2) {
    GuestListLimits limits;
    limits.pcpus = pcpus;
    limits.compatible_known = test_compatible_known;
    return limits;
}

// A list holding one good guest, then `bad` (the body of a further guest list entry).
std::string list_with(const std::string& bad) {
    return "/dts-v1/;\n/ { chosen { corvisor {\n"
           "  compatible = \"corvisor,guest-list\";\n"
           "  good {\n"
           "    compatible = \"corvisor,guest\";\n"
           "    memory = <0x0 0x40000000 0x0 0x04000000>;\n"
           "    cpus = <1>;\n"
           "    kernel = /incbin/(\"hello.bin\");\n"
           "    uart@9000000 { compatible = \"arm,pl011\"; reg = <0x0 0x09000000 0x0 0x1000>;\n"
           "                   interrupts = <0 1 4>; };\n"
           "  };\n" +
           bad + "\n}; }; };\n";
}

// A guest entry named `bad` whose body is `guest_props` + `extra`.
std::string bad_guest(const std::string& props, const std::string& node = "bad") {
    return "  " + node + " {\n    compatible = \"corvisor,guest\";\n" + props + "\n  };";
}

constexpr const char* kMem = "memory = <0x0 0x40000000 0x0 0x04000000>;";
constexpr const char* kCpus = "cpus = <1>;";
constexpr const char* kKernel = "kernel = /incbin/(\"hello.bin\");";

// Eight devices of four regions each: 32 regions, which with the GIC's two overflow the bus.
std::string many_regions() {
    std::string s;
    for (int d = 0; d < 8; ++d) {
        const unsigned base = 0x10000000u + static_cast<unsigned>(d) * 0x10000u;
        char node[200];
        std::snprintf(node, sizeof node,
                      "dev%d@%x { compatible = \"arm,pl011\"; reg = <0x0 0x%x 0x0 0x1000 0x0 0x%x "
                      "0x0 0x1000 0x0 0x%x 0x0 0x1000 0x0 0x%x 0x0 0x1000>; };",
                      d, base, base, base + 0x1000, base + 0x2000, base + 0x3000);
        s += node;
    }
    return s;
}

std::string good_props(const std::string& more = "") {
    return std::string(kMem) + kCpus + kKernel + more;
}

}  // namespace

TEST_CASE("guest list: two good guests", "[vm]") {
    const auto blob = compile_dts(read_text(std::string(CORVISOR_TEST_DATA) + "/guest_list.dts"));
    std::array<GuestConfig, 4> out{};
    RecordingDiagnostics diag;
    const std::uint32_t n = parse_guest_list(blob.data(), blob.size(), out, diag, test_limits());
    for (const Report& r : diag.reports) {
        UNSCOPED_INFO(r.node << " " << r.property << ": " << r.reason);
    }
    REQUIRE(diag.reports.empty());
    REQUIRE(n == 2);

    const GuestConfig& a = out[0];
    CHECK(a.name_view() == "hello-a");
    CHECK(a.ram_base == 0x40000000);
    CHECK(a.ram_size == 0x04000000);
    CHECK(a.vcpus == 2);
    CHECK(a.affinity[0] == 0);
    CHECK(a.affinity[1] == 1);
    CHECK(!a.kernel_is_host_addr);
    REQUIRE(a.kernel.size == 256);
    CHECK(std::string_view(static_cast<const char*>(a.kernel.data), 29) ==
          "corvisor test image hello.bin");
    CHECK(a.kernel.data > static_cast<const void*>(blob.data()));
    CHECK(a.kernel.data < static_cast<const void*>(blob.data() + blob.size()));
    CHECK(a.initrd.size == 0x600);
    CHECK(!a.initrd_is_host_addr);
    CHECK(std::string_view(a.bootargs) == "console=ttyAMA0 earlycon");
    CHECK(a.conduit == PsciConduit::kHvc);
    REQUIRE(a.device_count == 1);
    const DeviceConfig& uart = a.devices[0];
    CHECK(uart.name() == "uart@9000000");
    CHECK(std::string_view(uart.compatible) == "arm,pl011");
    REQUIRE(uart.reg_count == 1);
    CHECK(uart.regs[0].base == 0x09000000);
    CHECK(uart.regs[0].size == 0x1000);
    REQUIRE(uart.irq_count == 1);
    CHECK(uart.irqs[0] == 33);
    CHECK(std::string_view(fdt_get_name(blob.data(), uart.node_offset, nullptr)) == "uart@9000000");
    CHECK(std::string_view(fdt_get_name(blob.data(), a.node_offset, nullptr)) == "guest-a");

    const GuestConfig& b = out[1];
    CHECK(b.name_view() == "guest-b");  // no name property: the node name
    CHECK(b.ram_base == 0x40000000);    // guests have separate guest-physical spaces
    CHECK(b.ram_size == 0x08000000);
    CHECK(b.vcpus == 1);
    CHECK(b.affinity[0] == 0);
    CHECK(b.kernel_is_host_addr);
    CHECK(b.kernel.host_addr == 0x50000000);
    CHECK(b.kernel.size == 0x200000);
    CHECK(b.kernel.data == nullptr);  // no host_memory hook: recorded, never read
    CHECK(b.initrd_is_host_addr);
    CHECK(b.initrd.host_addr == 0x51000000);
    CHECK(b.initrd.size == 0x100000);
    CHECK(b.bootargs == nullptr);
    CHECK(b.conduit == PsciConduit::kSmc);
    REQUIRE(b.device_count == 2);
    CHECK(std::string_view(b.devices[0].compatible) == "arm,pl011");  // the known entry
    const DeviceConfig& virtio = b.devices[1];
    CHECK(std::string_view(virtio.compatible) == "virtio,mmio");
    REQUIRE(virtio.reg_count == 2);
    CHECK(virtio.regs[1].base == 0x0a001000);
    CHECK(virtio.regs[1].size == 0x200);
    REQUIRE(virtio.irq_count == 2);
    CHECK(virtio.irqs[0] == 48);  // SPI 16
    CHECK(virtio.irqs[1] == 19);  // PPI 3

    // The trusting entry point (boot DTB) agrees.
    std::array<GuestConfig, 4> again{};
    CHECK(parse_guest_list(blob.data(), again, diag, test_limits()) == 2);
    CHECK(diag.reports.empty());
}

TEST_CASE("guest list: each bad guest is reported precisely and skipped", "[vm]") {
    struct Case {
        std::string guest;  // the bad guest entry
        const char* node;
        const char* property;
        const char* reason;
    };
    const std::string b = "/chosen/corvisor/bad";
    const std::string dev9 =
        "uart@9000000 { compatible = \"arm,pl011\"; reg = <0x0 0x09000000 0x0 0x1000>; };";
    const std::string dev9_spi1 =
        "uart@9000000 { compatible = \"arm,pl011\"; reg = <0x0 0x09000000 0x0 0x1000>; "
        "interrupts = <0 1 4>; };";
    const std::vector<Case> cases = {
        {bad_guest("memory = <0x0 0x40000000 0x04000000>; cpus = <1>;" + std::string(kKernel)), "",
         "memory", "expected 4 cells, got 3"},
        {bad_guest("memory = [00 01 02]; cpus = <1>;" + std::string(kKernel)), "", "memory",
         "length 3 is not a whole number of cells"},
        {bad_guest("memory = <0x0 0x40000000 0x0 0x1000>; cpus = <1>;" + std::string(kKernel)), "",
         "memory", "size 0x1000 is below 1 MiB"},
        {bad_guest("memory = <0x0 0x40000800 0x0 0x400000>; cpus = <1>;" + std::string(kKernel)),
         "", "memory", "base 0x40000800 is not 4 KiB aligned"},
        {bad_guest("memory = <0x0 0x40000000 0x0 0x100800>; cpus = <1>;" + std::string(kKernel)),
         "", "memory", "size 0x100800 is not 4 KiB aligned"},
        {bad_guest("memory = <0x100 0x0 0x0 0x100000>; cpus = <1>;" + std::string(kKernel)), "",
         "memory", "memory ends beyond the 40-bit guest-physical address space"},
        {bad_guest("memory = <0x0 0x08000000 0x0 0x100000>; cpus = <1>;" + std::string(kKernel)),
         "", "memory", "memory overlaps the GIC distributor at 0x8000000"},
        {bad_guest(std::string(kCpus) + kKernel), "", "memory", "missing"},
        {bad_guest(std::string(kMem) + "cpus = <0>;" + kKernel), "", "cpus", "cpus is 0"},
        {bad_guest(std::string(kMem) + "cpus = <9>;" + kKernel), "", "cpus",
         "cpus is 9, at most 8 are supported"},
        {bad_guest(std::string(kMem) + "cpus = <2>; cpu-affinity = <0 3>;" + kKernel), "",
         "cpu-affinity", "cpu-affinity names pCPU 3 but there are 2"},
        {bad_guest(std::string(kMem) + "cpus = <2>; cpu-affinity = <0>;" + kKernel), "",
         "cpu-affinity", "expected 2 cells (one per vCPU), got 1"},
        {bad_guest(std::string(kMem) + kCpus), "", "", "missing kernel, kernel-addr or flash"},
        {bad_guest(std::string(kMem) + kCpus + "kernel;"), "", "kernel", "image is empty"},
        {bad_guest(good_props("kernel-addr = <0x0 0x50000000 0x0 0x1000>;")), "", "kernel-addr",
         "both kernel and kernel-addr are given"},
        {bad_guest(std::string(kMem) + kCpus + "kernel-addr = <0x0 0x50000000 0x0 0x0>;"), "",
         "kernel-addr", "size is 0"},
        {bad_guest(std::string(kMem) + kCpus + "kernel-addr = <0x0 0x50000000 0x0 0x5000000>;"), "",
         "kernel-addr", "image of 0x5000000 bytes does not fit in 0x4000000 of RAM"},
        {bad_guest(good_props("initrd-addr = <0x0 0x50000000 0x0 0x4000000>;")), "", "initrd-addr",
         "initrd of 0x4000000 bytes does not fit between 0x40000100 and "
         "0x43ff0000"},
        {bad_guest(good_props("bootargs = [41 42];")), "", "bootargs",
         "not a NUL-terminated string"},
        {bad_guest(good_props("firmware-bootcmd = [41 42];")), "", "firmware-bootcmd",
         "not a NUL-terminated string"},
        {bad_guest(good_props("load-addr = <0x0 0x40000800>;")), "", "load-addr",
         "0x40000800 is not 4 KiB aligned"},
        {bad_guest(good_props("load-addr = <0x0 0x50000000>;")), "", "load-addr",
         "0x50000000 is outside the guest's RAM 0x40000000..0x44000000"},
        {bad_guest(good_props("dtb-addr = <0x40000000>;")), "", "dtb-addr",
         "expected 2 cells, got 1"},
        {bad_guest(good_props("dtb-addr = <0x0 0x43ffc000>;")), "", "dtb-addr",
         "DTB room of 0x10000 bytes at 0x43ffc000 runs past the end of RAM at 0x44000000"},
        {bad_guest(good_props("flash = [];")), "", "flash", "image is empty"},
        {bad_guest(std::string(kMem) + kCpus + "flash-addr = <0x0 0x50000000 0x0 0x8000001>;"), "",
         "flash-addr",
         "image of 0x8000001 bytes is larger than the flash (0x8000000 bytes at IPA 0)"},
        {bad_guest("memory = <0x0 0x07000000 0x0 0x1000000>; cpus = <1>; flash = [00];"), "",
         "memory", "memory overlaps the flash at 0x0"},
        {bad_guest(good_props("bootargs = \"a\", \"b\";")), "", "bootargs",
         "not a NUL-terminated string"},
        {bad_guest(good_props("psci-method = \"foo\";")), "", "psci-method",
         "expected \"hvc\" or \"smc\", got \"foo\""},
        {bad_guest(good_props("memroy = <0>;")), "", "memroy", "unknown property"},
        {bad_guest(good_props("#address-cells = <1>;")), "", "#address-cells",
         "must be 2: memory and reg always use 2+2 cells"},
        {bad_guest(good_props("guest-name = \"good\";")), "", "guest-name", "duplicate guest name"},
        {bad_guest(good_props("guest-name = \"a b\";")), "", "guest-name",
         "name \"a b\" has characters outside [A-Za-z0-9_-]"},
        {bad_guest(good_props("guest-name = \"abcdefghijklmnopqrstuvwxyz0123456\";")), "",
         "guest-name", "name \"abcdefghijklmnopqrstuvwxyz0123456\" is longer than 31 characters"},
        {bad_guest(good_props(), "bad@1"), "@1", "",
         "node name \"bad@1\" has characters outside [A-Za-z0-9_-]; give a guest-name property"},
        {"  bad { compatible = \"corvisor,other\"; };", "", "compatible",
         "expected \"corvisor,guest\""},
        {"  bad { memory = <0x0 0x40000000 0x0 0x04000000>; };", "", "compatible", "missing"},
        {bad_guest(good_props("dev@9000000 { compatible = \"foo,bar\", \"foo,baz\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; };")),
         "/dev@9000000", "compatible", "unknown device compatible \"foo,bar\""},
        {bad_guest(good_props("dev@9000000 { reg = <0x0 0x09000000 0x0 0x1000>; };")),
         "/dev@9000000", "compatible", "missing"},
        {bad_guest(good_props("dev@9000000 { compatible = \"arm,pl011\"; };")), "/dev@9000000",
         "reg", "missing"},
        {bad_guest(good_props("dev@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x1000>; };")),
         "/dev@9000000", "reg", "expected a non-zero multiple of 4 cells, got 3"},
        {bad_guest(good_props("dev@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x0>; };")),
         "/dev@9000000", "reg", "region 0 has size 0"},
        {bad_guest(good_props("uart@40001000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x40001000 0x0 0x1000>; };")),
         "", "memory", "memory overlaps device uart@40001000"},
        {bad_guest(good_props(dev9 + "uart@9000800 { compatible = \"arm,pl011\"; "
                                     "reg = <0x0 0x09000800 0x0 0x1000>; };")),
         "/uart@9000800", "reg", "overlaps device uart@9000000"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>, <0x0 0x09000100 0x0 0x10>; };")),
         "/uart@9000000", "reg", "region 1 overlaps region 0"},
        {bad_guest(good_props("dev@8010000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x08010000 0x0 0x1000>, <0x0 0x080b0000 0x0 0x10>; };")),
         "/dev@8010000", "reg", "region 1 overlaps the GIC redistributors at 0x80a0000"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; interrupts = <2 1 4>; };")),
         "/uart@9000000", "interrupts", "interrupt type 2 is neither SPI (0) nor PPI (1)"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; interrupts = <0 988 4>; };")),
         "/uart@9000000", "interrupts",
         "SPI 988 is beyond the vGIC's SPIs 0..255 (INTIDs 32..287)"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; interrupts = <0 256 4>; };")),
         "/uart@9000000", "interrupts",
         "SPI 256 is beyond the vGIC's SPIs 0..255 (INTIDs 32..287)"},
        {bad_guest(good_props(many_regions())), "/dev7@10070000", "reg",
         "region 2 does not fit: a guest's MMIO bus holds 32 regions, the GIC's and the flash's "
         "included"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; interrupts = <1 11 4>; };")),
         "/uart@9000000", "interrupts", "PPI 11 belongs to the timer"},
        {bad_guest(good_props("uart@9000000 { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; interrupts = <0 1 4 0>; };")),
         "/uart@9000000", "interrupts", "expected a multiple of 3 cells, got 4"},
        {bad_guest(good_props(dev9_spi1 + "virtio@a000000 { compatible = \"virtio,mmio\"; "
                                          "reg = <0x0 0x0a000000 0x0 0x200>; "
                                          "interrupts = <0 1 4>; };")),
         "/virtio@a000000", "interrupts", "INTID 33 is also used by uart@9000000"},
        {bad_guest(good_props("timer { compatible = \"arm,pl011\"; "
                              "reg = <0x0 0x09000000 0x0 0x1000>; };")),
         "/timer", "", "node name is taken by the guest DTB's own nodes"},
    };
    for (const Case& c : cases) {
        const auto blob = compile_dts(list_with(c.guest));
        std::array<GuestConfig, 4> out{};
        RecordingDiagnostics diag;
        const std::uint32_t n =
            parse_guest_list(blob.data(), blob.size(), out, diag, test_limits());
        const std::string node = c.node == std::string("@1") ? b + "@1" : b + c.node;
        INFO(c.guest);
        REQUIRE(diag.reports.size() == 1);
        CHECK(diag.reports[0].node == node);
        CHECK(diag.reports[0].property == c.property);
        CHECK(diag.reports[0].reason == c.reason);
        REQUIRE(n == 1);
        CHECK(out[0].name_view() == "good");
        CHECK(out[0].device_count == 1);
        CHECK(out[1].name[0] == '\0');  // the skipped guest leaves nothing behind
    }
}

TEST_CASE("guest list: limits on devices and guests", "[vm]") {
    std::string devices;
    for (int i = 0; i < 9; ++i) {
        char addr[16];
        std::snprintf(addr, sizeof(addr), "%x", 0x0a000000 + i * 0x1000);
        devices += std::string("d@") + addr +
                   " { compatible = \"corvisor,test-dev\"; reg = <0x0 0x" + addr +
                   " 0x0 0x100>; };";
    }
    const auto blob = compile_dts(list_with(bad_guest(good_props(devices))));
    std::array<GuestConfig, 4> out{};
    RecordingDiagnostics diag;
    CHECK(parse_guest_list(blob.data(), blob.size(), out, diag, test_limits()) == 1);
    REQUIRE(diag.reports.size() == 1);
    CHECK(diag.reports[0].node == "/chosen/corvisor/bad/d@a008000");
    CHECK(diag.reports[0].reason == "more than 8 devices");

    // Room for one guest: the second good one is reported, not written.
    const auto two = compile_dts(read_text(std::string(CORVISOR_TEST_DATA) + "/guest_list.dts"));
    std::array<GuestConfig, 1> one{};
    RecordingDiagnostics diag2;
    CHECK(parse_guest_list(two.data(), two.size(), one, diag2, test_limits()) == 1);
    REQUIRE(diag2.reports.size() == 1);
    CHECK(diag2.reports[0].node == "/chosen/corvisor/guest-b");
    CHECK(diag2.reports[0].property.empty());
    CHECK(diag2.reports[0].reason == "too many guests: there is room for 1");
}

TEST_CASE("guest list: missing, foreign or empty list", "[vm]") {
    struct Case {
        const char* dts;
        const char* property;
        const char* reason;
    };
    const std::vector<Case> cases = {
        {"/dts-v1/; / { chosen { bootargs = \"x\"; }; };", "", "no guest list"},
        {"/dts-v1/; / { };", "", "no guest list"},
        {"/dts-v1/; / { chosen { corvisor { compatible = \"xen,list\"; }; }; };", "compatible",
         "expected \"corvisor,guest-list\""},
        {"/dts-v1/; / { chosen { corvisor { }; }; };", "compatible", "missing"},
        {"/dts-v1/; / { chosen { corvisor { compatible = \"corvisor,guest-list\"; }; }; };", "",
         "the guest list has no guests"},
    };
    for (const Case& c : cases) {
        const auto blob = compile_dts(c.dts);
        std::array<GuestConfig, 2> out{};
        RecordingDiagnostics diag;
        INFO(c.dts);
        CHECK(parse_guest_list(blob.data(), blob.size(), out, diag, test_limits()) == 0);
        REQUIRE(diag.reports.size() == 1);
        CHECK(diag.reports[0].node == "/chosen/corvisor");
        CHECK(diag.reports[0].property == c.property);
        CHECK(diag.reports[0].reason == c.reason);
    }
}

TEST_CASE("guest list: host_memory hook resolves or rejects loader-placed images", "[vm]") {
    static std::array<std::uint8_t, 0x200000> image{};
    GuestListLimits limits = test_limits();
    limits.host_memory = [](std::uint64_t base, std::uint64_t size) -> const void* {
        return base == 0x50000000 && size <= image.size() ? image.data() : nullptr;
    };
    const auto blob = compile_dts(list_with(bad_guest(
        std::string(kMem) + kCpus + "kernel-addr = <0x0 0x60000000 0x0 0x1000>;", "elsewhere")));
    std::array<GuestConfig, 2> out{};
    RecordingDiagnostics diag;
    CHECK(parse_guest_list(blob.data(), blob.size(), out, diag, limits) == 1);
    REQUIRE(diag.reports.size() == 1);
    CHECK(diag.reports[0].property == "kernel-addr");
    CHECK(diag.reports[0].reason ==
          "host range 0x60000000..0x60001000 is not memory a guest image may come from");

    const auto good = compile_dts(read_text(std::string(CORVISOR_TEST_DATA) + "/guest_list.dts"));
    RecordingDiagnostics diag2;
    limits.host_memory = [](std::uint64_t, std::uint64_t) -> const void* { return image.data(); };
    CHECK(parse_guest_list(good.data(), good.size(), out, diag2, limits) == 2);
    CHECK(out[1].kernel.data == image.data());
    CHECK(out[1].kernel.host_addr == 0x50000000);
}

TEST_CASE("guest list: garbage, truncated and corrupted blobs do not crash", "[vm]") {
    const auto good = compile_dts(read_text(std::string(CORVISOR_TEST_DATA) + "/guest_list.dts"));
    std::array<GuestConfig, 4> out{};
    RecordingDiagnostics diag;

    CHECK(parse_guest_list(nullptr, 0, out, diag, test_limits()) == 0);
    std::vector<std::uint8_t> garbage(512);
    std::uint32_t x = 12345;
    for (auto& byte : garbage) {
        x = x * 1103515245 + 12345;
        byte = static_cast<std::uint8_t>(x >> 16);
    }
    CHECK(parse_guest_list(garbage.data(), garbage.size(), out, diag, test_limits()) == 0);

    // Every truncation, each in a buffer of exactly that size so ASan sees any overread.
    for (std::size_t len = 0; len < good.size(); ++len) {
        std::vector<std::uint8_t> cut(good.begin(),
                                      good.begin() + static_cast<std::ptrdiff_t>(len));
        CHECK(parse_guest_list(cut.data(), cut.size(), out, diag, test_limits()) == 0);
    }
    // Every byte flipped a few ways: whatever happens, no crash and no overread.
    std::size_t survivors = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (const std::uint8_t flip : std::array<std::uint8_t, 3>{0x01, 0x80, 0xff}) {
            std::vector<std::uint8_t> bad = good;
            bad[i] ^= flip;
            survivors += parse_guest_list(bad.data(), bad.size(), out, diag, test_limits());
        }
    }
    CHECK(survivors > 0);  // flips inside images or strings still parse
    CHECK(!diag.reports.empty());
}

// Found by tests/fuzz/fuzz_guest_list: a version-4 DTB (node names as full paths) made libfdt's
// fdt_check_full dereference a null name (a SEGV, at EL2 a hypervisor fault).
TEST_CASE("A DTB older than version 17 is refused before libfdt walks it", "[guest_list]") {
    alignas(8) static const std::uint8_t kOld[] = {
        0xd0, 0x0d, 0xfe, 0xed, 0x00, 0x00, 0x00, 0x97, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00,
        0x00, 0x8c, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x54, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x63, 0x68,
        0x6f, 0x73, 0x65, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x63, 0x6f, 0x72, 0x76,
        0x69, 0x73, 0x6f, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x9a, 0x90, 0x72, 0x76, 0x69, 0x73, 0x6f, 0x72,
        0x2c, 0x67, 0x75, 0x65, 0x73, 0x74, 0x2d, 0x6c, 0x69, 0x73, 0x74, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09,
        0x63, 0x6f, 0x6d, 0x70, 0x61, 0x74, 0x69, 0x62, 0x6c, 0x65, 0x00,
    };
    std::array<GuestConfig, 2> out{};
    RecordingDiagnostics diag;
    GuestListLimits limits;
    CHECK(parse_guest_list(kOld, sizeof kOld, out, diag, limits) == 0);
    REQUIRE(diag.reports.size() == 1);
    CHECK(diag.reports[0].reason == "DTB version 4 is too old (17 or later)");
}

TEST_CASE("A DTB whose structure-block tags do not advance is refused, not walked for ever",
          "[guest_list]") {
    // Found by fuzz_guest_list (tests/fuzz/corpus/guest_list/regress_tag_loop): libfdt 1.6's
    // fdt_check_full never returns on it.
    alignas(8) static const std::uint8_t kLoop[] = {
        0xd0, 0x0d, 0xfe, 0xed, 0x00, 0x00, 0x02, 0x72, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x02,
        0x3c, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x63, 0x68, 0x6f, 0x73, 0x65, 0x6e, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x63, 0x6f, 0x72, 0x76, 0x69, 0x73, 0x6f, 0x72, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x63,
        0x6f, 0x72, 0x76, 0x69, 0x73, 0x6f, 0x72, 0x2c, 0x67, 0x75, 0x65, 0x73, 0x74, 0x2d, 0x6c,
        0x69, 0x73, 0x74, 0x00, 0x00, 0x00, 0x00, 0x01, 0x68, 0x6f, 0x73, 0x74, 0x69, 0x6c, 0x65,
        0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x63, 0x6f,
        0x72, 0x76, 0x69, 0x73, 0x6f, 0x72, 0x2c, 0x67, 0x75, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00,
        0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x17, 0xde, 0xad, 0xbe, 0xef, 0x00,
        0x00, 0x00, 0x01, 0x75, 0x61, 0x72, 0x74, 0x40, 0x34, 0x35, 0x30, 0x30, 0x30, 0x30, 0x30,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
        0x00, 0x61, 0x72, 0x6d, 0x2c, 0x70, 0x6c, 0x30, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x09,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x03,
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
        0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x63, 0x6f, 0x72, 0x76, 0x69, 0x73, 0x6f, 0x72,
        0x2c, 0x67, 0x75, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x10, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
        0x00, 0x00, 0x00, 0x17, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0xff,
        0xf4, 0x00, 0x00, 0x00, 0x2d, 0x6e, 0x61, 0x6d, 0x65, 0x3d, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
        0x21, 0x00, 0x00, 0x00, 0x00, 0x01, 0x75, 0x61, 0x72, 0x74, 0x40, 0x39, 0x30, 0x30, 0x30,
        0x30, 0x30, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a,
        0x00, 0x00, 0x00, 0x00, 0x61, 0x72, 0x6d, 0x2c, 0x01, 0x00, 0x00, 0x08, 0x31, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x00,
        0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
        0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x09, 0x63, 0x6f, 0x6d, 0x70, 0x61, 0x74, 0x69, 0x62, 0x6c, 0x65, 0x00, 0x6d, 0x65,
        0x6d, 0x6f, 0x72, 0x79, 0x00, 0x63, 0x70, 0x75, 0x73, 0x00, 0x6b, 0x65, 0x72, 0x6e, 0x65,
        0x6c, 0x00, 0x72, 0x65, 0x67, 0x00, 0x69, 0x6e, 0x74, 0x65, 0x72, 0x72, 0x75, 0x70, 0x74,
        0x73, 0x00, 0x62, 0x6f, 0x6f, 0x74, 0x61, 0x72, 0x67, 0x73, 0x00,
    };
    std::array<GuestConfig, 2> out{};
    RecordingDiagnostics diag;
    GuestListLimits limits;
    CHECK(parse_guest_list(kLoop, sizeof kLoop, out, diag, limits) == 0);
    REQUIRE(diag.reports.size() == 1);
    CHECK(diag.reports[0].reason == "malformed DTB: a structure-block tag does not advance");
}

TEST_CASE("guest list: loader-placed images may be shared, not overlap in part", "[vm]") {
    const std::string a =
        bad_guest(std::string(kMem) + kCpus + "kernel-addr = <0x0 0x50000000 0x0 0x200000>;", "a");
    const std::string same = bad_guest(
        std::string(kMem) + kCpus + "kernel-addr = <0x0 0x50000000 0x0 0x200000>;", "same");
    const std::string part = bad_guest(
        std::string(kMem) + kCpus + "kernel-addr = <0x0 0x50100000 0x0 0x200000>;", "part");
    const std::string own = bad_guest(std::string(kMem) + kCpus +
                                          "kernel-addr = <0x0 0x60000000 0x0 0x200000>; "
                                          "initrd-addr = <0x0 0x60100000 0x0 0x1000>;",
                                      "own");
    const auto blob = compile_dts(list_with(a + same + part + own));
    std::array<GuestConfig, 5> out{};
    RecordingDiagnostics diag;
    CHECK(parse_guest_list(blob.data(), blob.size(), out, diag, test_limits()) == 3);
    CHECK(out[1].name_view() == "a");     // after list_with's own good guest
    CHECK(out[2].name_view() == "same");  // the same image, read by two guests
    REQUIRE(diag.reports.size() == 2);
    CHECK(diag.reports[0].node == "/chosen/corvisor/part");
    CHECK(diag.reports[0].property == "kernel-addr");
    CHECK(diag.reports[0].reason ==
          "overlaps guest a's kernel-addr image at 0x50000000 in part (one image may be shared, "
          "at the same address and size)");
    CHECK(diag.reports[1].node == "/chosen/corvisor/own");
    CHECK(diag.reports[1].property == "initrd-addr");
    CHECK(diag.reports[1].reason == "overlaps its kernel-addr image at 0x60000000");
}

TEST_CASE("guest list: a device's image placed by the loader is checked like kernel-addr", "[vm]") {
    static std::array<std::uint8_t, 0x1000> disk{};
    GuestListLimits limits = test_limits();
    limits.host_memory = [](std::uint64_t base, std::uint64_t size) -> const void* {
        return base == 0x60000000 && size <= disk.size() ? disk.data() : nullptr;
    };
    const auto device = [](const std::string& props) {
        return std::string(kMem) + kCpus + kKernel +
               "disk@a000000 { compatible = \"virtio,mmio\"; reg = <0x0 0x0a000000 0x0 0x200>;"
               " interrupts = <0 16 4>; " +
               props + " };";
    };
    struct Case {
        std::string props;
        std::string reason;
    };
    const Case cases[] = {
        {"corvisor,image-addr = <0x0 0x70000000 0x0 0x1000>;",
         "host range 0x70000000..0x70001000 is not memory a guest image may come from"},
        {"corvisor,image-addr = <0x0 0x60000000 0x0 0x0>;", "size is 0"},
        {"corvisor,image-addr = <0xffffffff 0xfffff000 0x0 0x2000>;",
         "range wraps around the address space"},
        {"corvisor,image-addr = <0x0 0x60000000>;",
         "expected 4 cells (a 64-bit base and size), got 8 bytes"},
        {"corvisor,image-addr = <0x0 0x60000000 0x0 0x1000>; corvisor,image = [00 01];",
         "both corvisor,image and corvisor,image-addr are given"},
        {"corvisor,image-addr = <0x0 0x60000000 0x0 0x80000000>;",
         "an image larger than 2 GiB - 1 byte"},
    };
    for (const Case& c : cases) {
        const auto blob = compile_dts(list_with(bad_guest(device(c.props))));
        std::array<GuestConfig, 2> out{};
        RecordingDiagnostics diag;
        INFO(c.props);
        CHECK(parse_guest_list(blob.data(), blob.size(), out, diag, limits) == 1);  // the good one
        REQUIRE(diag.reports.size() == 1);
        CHECK(diag.reports[0].node == "/chosen/corvisor/bad/disk@a000000");
        CHECK(diag.reports[0].property == "corvisor,image-addr");
        CHECK(diag.reports[0].reason == c.reason);
    }
    // A good one: resolved through the hook, recorded for the boot to keep out of guest RAM.
    const auto blob = compile_dts(list_with(
        bad_guest(device("corvisor,image-addr = <0x0 0x60000000 0x0 0x1000>;"), "withdisk")));
    std::array<GuestConfig, 2> out{};
    RecordingDiagnostics diag;
    REQUIRE(parse_guest_list(blob.data(), blob.size(), out, diag, limits) == 2);
    const DeviceConfig& d = out[1].device_list().back();
    CHECK(d.host_image.data == disk.data());
    CHECK(d.host_image.host_addr == 0x60000000);
    CHECK(d.host_image.size == 0x1000);
    // Two guests' images overlapping in part: the second is refused.
    const auto clash = compile_dts(
        "/dts-v1/;\n/ { chosen { corvisor {\n  compatible = \"corvisor,guest-list\";\n" +
        bad_guest(device("corvisor,image-addr = <0x0 0x60000000 0x0 0x1000>;"), "a") + "\n" +
        bad_guest(device("corvisor,image-addr = <0x0 0x60000800 0x0 0x800>;"), "b") +
        "\n}; }; };\n");
    limits.host_memory = [](std::uint64_t, std::uint64_t) -> const void* { return disk.data(); };
    RecordingDiagnostics diag3;
    CHECK(parse_guest_list(clash.data(), clash.size(), out, diag3, limits) == 1);
    REQUIRE(diag3.reports.size() == 1);
    CHECK(diag3.reports[0].property == "corvisor,image-addr");
}
