#include <libfdt.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "dtc.hpp"
#include "vm/guest_dtb.hpp"
#include "vm/guest_list.hpp"
#include "vm/image.hpp"

using namespace corvisor;

namespace {

// The test guest list as a blob; /incbin/ paths resolve in tests/host/data.
std::vector<std::uint8_t> compile_guest_list() {
    return test::compile_dts_file(std::string(CORVISOR_TEST_DATA) + "/guest_list.dts");
}

class FailingDiagnostics final : public Diagnostics {
public:
    void report(std::string_view node, std::string_view property,
                std::string_view reason) override {
        FAIL(std::string(node) << " " << std::string(property) << ": " << std::string(reason));
    }
};

bool any_compatible(std::string_view) {
    return true;
}

struct Parsed {
    std::vector<std::uint8_t> blob = compile_guest_list();
    std::array<GuestConfig, 2> guests{};

    Parsed() {
        GuestListLimits limits;
        limits.pcpus = 2;
        limits.compatible_known = any_compatible;
        FailingDiagnostics diag;
        REQUIRE(parse_guest_list(blob.data(), blob.size(), guests, diag, limits) == 2);
    }
};

// A kernel with the arm64 Image header (booting.rst): text_offset, image_size, magic at 0x38.
std::array<std::uint8_t, 0x40> arm64_header(std::uint64_t text_offset, std::uint64_t image_size) {
    std::array<std::uint8_t, 0x40> h{};
    for (std::size_t i = 0; i < 8; ++i) {
        h[0x08 + i] = static_cast<std::uint8_t>(text_offset >> (8 * i));
        h[0x10 + i] = static_cast<std::uint8_t>(image_size >> (8 * i));
    }
    h[0x18] = 0x0a;  // little-endian, 4K pages, placeable anywhere
    h[0x38] = 'A';
    h[0x39] = 'R';
    h[0x3a] = 'M';
    h[0x3b] = 0x64;
    return h;
}

GuestConfig guest_with(std::uint64_t ram_base, std::uint64_t ram_size, const void* kernel,
                       std::uint64_t kernel_size) {
    GuestConfig g;
    g.ram_base = ram_base;
    g.ram_size = ram_size;
    g.vcpus = 1;
    g.kernel = ImageRef{kernel, kernel_size, 0};
    return g;
}

std::string_view prop_string(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    REQUIRE(p != nullptr);
    REQUIRE(len > 0);
    return {p, static_cast<std::size_t>(len - 1)};  // a list keeps its inner NULs
}

std::vector<std::uint32_t> prop_cells(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, name, &len));
    REQUIRE(p != nullptr);
    REQUIRE(len % 4 == 0);
    std::vector<std::uint32_t> cells;
    cells.reserve(static_cast<std::size_t>(len / 4));
    for (int i = 0; i < len / 4; ++i) {
        cells.push_back(fdt32_to_cpu(p[i]));
    }
    return cells;
}

std::uint64_t prop_u64(const void* fdt, int node, const char* name) {
    const auto c = prop_cells(fdt, node, name);
    REQUIRE(c.size() == 2);
    return (std::uint64_t{c[0]} << 32) | c[1];
}

using Cells = std::vector<std::uint32_t>;

}  // namespace

TEST_CASE("layout: firmware in flash starts at IPA 0, with its DTB at the start of RAM", "[vm]") {
    std::array<std::uint8_t, 256> fw{};
    auto h = arm64_header(0, 0x100000);
    SECTION("flash alone, and an initrd at the top") {
        GuestConfig g = guest_with(0x40000000, 0x4000000, nullptr, 0);
        g.flash = ImageRef{fw.data(), fw.size(), 0};
        g.initrd = ImageRef{fw.data(), 0x600, 0};
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->entry_ipa == 0);
        CHECK(l->kernel_size == 0);
        CHECK(l->dtb_ipa == 0x40000000);
        CHECK(l->initrd_ipa == 0x43fff000);
    }
    SECTION("flash and a kernel in RAM for it to boot") {
        GuestConfig g = guest_with(0x40000000, 0x4000000, h.data(), h.size());
        g.flash = ImageRef{fw.data(), fw.size(), 0};
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->entry_ipa == 0);
        CHECK(l->kernel_ipa == 0x40200000);
        CHECK(l->dtb_ipa == 0x40000000);
    }
}

TEST_CASE("layout: load-addr and dtb-addr place a raw image and the DTB where a node says",
          "[vm]") {
    std::array<std::uint8_t, 256> raw{};
    GuestConfig g = guest_with(0x40000000, 0x4000000, raw.data(), raw.size());
    SECTION("a raw image above the start of RAM: the DTB goes below it") {
        g.load_addr = 0x40200000;
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->kernel_ipa == 0x40200000);
        CHECK(l->entry_ipa == 0x40200000);
        CHECK(l->dtb_ipa == 0x40000000);
    }
    SECTION("a DTB just above the image, and the initrd just below the DTB") {
        g.dtb_addr = 0x40100000;
        g.initrd = ImageRef{raw.data(), 0x600, 0};
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->kernel_ipa == 0x40000000);
        CHECK(l->dtb_ipa == 0x40100000);
        CHECK(l->initrd_ipa == 0x400ff000);
    }
    SECTION("a DTB over the image is refused, naming both") {
        g.load_addr = 0x40200000;
        g.dtb_addr = 0x40200000;
        LayoutProblem problem;
        auto l = plan_guest_layout(g, kGuestDtbMaxSize, &problem);
        REQUIRE_FALSE(l.ok());
        CHECK(problem.part == LayoutPart::kDtb);
        CHECK(problem.reason.view() ==
              "DTB at 0x40200000 overlaps the kernel at 0x40200000..0x40200100");
    }
}

TEST_CASE("layout: raw binary at the start of RAM, DTB and initrd at the top", "[vm]") {
    std::array<std::uint8_t, 256> raw{};
    GuestConfig g = guest_with(0x40000000, 0x4000000, raw.data(), raw.size());
    g.initrd = ImageRef{raw.data(), 0x600, 0};
    auto l = plan_guest_layout(g, kGuestDtbMaxSize);
    REQUIRE(l.ok());
    CHECK(!l->arm64_header);
    CHECK(l->kernel_ipa == 0x40000000);
    CHECK(l->entry_ipa == 0x40000000);
    CHECK(l->kernel_size == 256);
    CHECK(l->dtb_ipa == 0x43ff0000);
    CHECK(l->dtb_size_max == kGuestDtbMaxSize);
    CHECK(l->initrd_ipa == 0x43fef000);
    CHECK(l->initrd_size == 0x600);

    // RAM ending off a 2 MiB boundary: the DTB moves below it rather than straddle it.
    g.ram_size = 0x2208000;
    auto straddle = plan_guest_layout(g, kGuestDtbMaxSize);
    REQUIRE(straddle.ok());
    CHECK(straddle->dtb_ipa == 0x421f0000);

    // A raw image reaching into the DTB's room.
    g.ram_size = 0x4000000;
    g.kernel.size = 0x3ff1000;
    LayoutProblem problem;
    auto big = plan_guest_layout(g, kGuestDtbMaxSize, &problem);
    REQUIRE(!big.ok());
    CHECK(big.error() == Error::kOutOfRange);
    CHECK(problem.part == LayoutPart::kKernel);
    CHECK(problem.reason.view() ==
          "image of 0x3ff1000 bytes at 0x40000000 overlaps the DTB at 0x43ff0000");
}

TEST_CASE("layout: arm64 Image header places by the boot protocol", "[vm]") {
    SECTION("text_offset 0: base + 2 MiB, DTB at the start of RAM, initrd at the top") {
        auto h = arm64_header(0, 0x2010000);
        GuestConfig g = guest_with(0x40000000, 0x8000000, h.data(), h.size());
        g.initrd = ImageRef{h.data(), 0x1800, 0};
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->arm64_header);
        CHECK(l->kernel_ipa == 0x40200000);
        CHECK(l->kernel_footprint == 0x2010000);
        CHECK(l->kernel_size == 0x40);
        CHECK(l->dtb_ipa == 0x40000000);
        CHECK(l->initrd_ipa == 0x47ffe000);
    }
    SECTION("RAM off a 2 MiB boundary: the base is aligned up first") {
        auto h = arm64_header(0, 0x100000);
        GuestConfig g = guest_with(0x40100000, 0x8000000, h.data(), h.size());
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->kernel_ipa == 0x40400000);
        CHECK(l->dtb_ipa == 0x40100000);
    }
    SECTION("old kernel: text_offset 0x80000, image_size 0 means the file size") {
        auto h = arm64_header(0x80000, 0);
        GuestConfig g = guest_with(0x40000000, 0x1000000, h.data(), h.size());
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->kernel_ipa == 0x40080000);
        CHECK(l->kernel_footprint == 0x40);
        CHECK(l->dtb_ipa == 0x40000000);
    }
    SECTION("text_offset smaller than the DTB's room: the DTB goes to the top") {
        auto h = arm64_header(0x8000, 0x100000);
        GuestConfig g = guest_with(0x40000000, 0x1000000, h.data(), h.size());
        auto l = plan_guest_layout(g, kGuestDtbMaxSize);
        REQUIRE(l.ok());
        CHECK(l->kernel_ipa == 0x40008000);
        CHECK(l->dtb_ipa == 0x40ff0000);
    }
    SECTION("too big for RAM") {
        auto h = arm64_header(0, 0x5000000);
        GuestConfig g = guest_with(0x40000000, 0x4000000, h.data(), h.size());
        LayoutProblem problem;
        auto l = plan_guest_layout(g, kGuestDtbMaxSize, &problem);
        REQUIRE(!l.ok());
        CHECK(l.error() == Error::kOutOfRange);
        CHECK(problem.reason.view() == "image of 0x5000000 bytes does not fit in 0x4000000 of RAM");
    }
    SECTION("fits RAM but not after the 2 MiB load offset") {
        auto h = arm64_header(0, 0x3f00000);
        GuestConfig g = guest_with(0x40000000, 0x4000000, h.data(), h.size());
        LayoutProblem problem;
        REQUIRE(!plan_guest_layout(g, kGuestDtbMaxSize, &problem).ok());
        CHECK(problem.reason.view() ==
              "image of 0x3f00000 bytes at 0x40200000 runs past the end of RAM at 0x44000000");
    }
    SECTION("bad arguments") {
        auto h = arm64_header(0, 0x100000);
        GuestConfig g = guest_with(0x40000000, 0x4000000, h.data(), h.size());
        CHECK(plan_guest_layout(g, 0x200001).error() == Error::kInvalidArgument);
        CHECK(plan_guest_layout(g, 0).error() == Error::kInvalidArgument);
        g.ram_base = 0xfffffffffff00000;
        CHECK(plan_guest_layout(g, kGuestDtbMaxSize).error() == Error::kInvalidArgument);
    }
}

TEST_CASE("guest DTB: every node and property an unmodified guest needs", "[vm]") {
    Parsed parsed;
    const GuestConfig& a = parsed.guests[0];
    auto layout = plan_guest_layout(a, kGuestDtbMaxSize);
    REQUIRE(layout.ok());
    std::vector<std::uint8_t> buf(kGuestDtbMaxSize);
    auto size = build_guest_dtb(a, *layout, parsed.blob.data(), buf.data(),
                                static_cast<std::uint32_t>(buf.size()), 3);
    REQUIRE(size.ok());
    const void* fdt = buf.data();
    CHECK(*size == fdt_totalsize(fdt));
    REQUIRE(fdt_check_full(fdt, *size) == 0);

    CHECK(prop_cells(fdt, 0, "#address-cells") == Cells{2});
    CHECK(prop_cells(fdt, 0, "#size-cells") == Cells{2});
    CHECK(prop_string(fdt, 0, "compatible") == "linux,dummy-virt");
    CHECK(prop_string(fdt, 0, "model") == "corvisor guest hello-a");
    CHECK(prop_cells(fdt, 0, "interrupt-parent") == Cells{kGuestGicPhandle});

    const int memory = fdt_path_offset(fdt, "/memory@40000000");
    REQUIRE(memory >= 0);
    CHECK(prop_string(fdt, memory, "device_type") == "memory");
    CHECK(prop_cells(fdt, memory, "reg") == Cells{0, 0x40000000, 0, 0x04000000});

    const int cpus = fdt_path_offset(fdt, "/cpus");
    REQUIRE(cpus >= 0);
    CHECK(prop_cells(fdt, cpus, "#address-cells") == Cells{1});
    CHECK(prop_cells(fdt, cpus, "#size-cells") == Cells{0});
    int cpu_count = 0;
    int cpu = 0;
    fdt_for_each_subnode(cpu, fdt, cpus) {
        CHECK(prop_string(fdt, cpu, "device_type") == "cpu");
        CHECK(prop_string(fdt, cpu, "compatible") == "arm,cortex-a57");
        CHECK(prop_cells(fdt, cpu, "reg") == Cells{static_cast<std::uint32_t>(cpu_count)});
        CHECK(prop_string(fdt, cpu, "enable-method") == "psci");
        ++cpu_count;
    }
    CHECK(cpu_count == 2);
    CHECK(fdt_path_offset(fdt, "/cpus/cpu@1") >= 0);

    const int psci = fdt_path_offset(fdt, "/psci");
    REQUIRE(psci >= 0);
    CHECK(prop_string(fdt, psci, "compatible") ==
          std::string_view("arm,psci-1.0\0arm,psci-0.2", 25));
    CHECK(prop_string(fdt, psci, "method") == "hvc");

    const int gic = fdt_path_offset(fdt, "/intc@8000000");
    REQUIRE(gic >= 0);
    CHECK(prop_string(fdt, gic, "compatible") == "arm,gic-v3");
    CHECK(prop_cells(fdt, gic, "#interrupt-cells") == Cells{3});
    CHECK(prop_cells(fdt, gic, "#address-cells") == Cells{2});
    CHECK(prop_cells(fdt, gic, "#size-cells") == Cells{2});
    CHECK(fdt_getprop(fdt, gic, "interrupt-controller", nullptr) != nullptr);
    CHECK(prop_cells(fdt, gic, "reg") ==
          Cells{0, 0x08000000, 0, 0x10000, 0, 0x080a0000, 0, 0x40000});
    CHECK(fdt_node_offset_by_phandle(fdt, kGuestGicPhandle) == gic);

    const int timer = fdt_path_offset(fdt, "/timer");
    REQUIRE(timer >= 0);
    CHECK(prop_string(fdt, timer, "compatible") == "arm,armv8-timer");
    CHECK(prop_cells(fdt, timer, "interrupts") == Cells{1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4});
    CHECK(fdt_getprop(fdt, timer, "always-on", nullptr) != nullptr);

    const int clock = fdt_path_offset(fdt, "/apb-pclk");
    REQUIRE(clock >= 0);
    CHECK(prop_string(fdt, clock, "compatible") == "fixed-clock");
    CHECK(prop_cells(fdt, clock, "#clock-cells") == Cells{0});
    CHECK(prop_cells(fdt, clock, "clock-frequency") == Cells{24000000});
    CHECK(prop_string(fdt, clock, "clock-output-names") == "clk24mhz");

    const int uart = fdt_path_offset(fdt, "/uart@9000000");
    REQUIRE(uart >= 0);
    CHECK(prop_string(fdt, uart, "compatible") == std::string_view("arm,pl011\0arm,primecell", 23));
    CHECK(prop_cells(fdt, uart, "reg") == Cells{0, 0x09000000, 0, 0x1000});
    CHECK(prop_cells(fdt, uart, "interrupts") == Cells{0, 1, 4});
    CHECK(prop_cells(fdt, uart, "current-speed") == Cells{115200});  // copied as is
    CHECK(fdt_getprop(fdt, uart, "phandle", nullptr) == nullptr);    // the boot DTB's numbering
    const Cells clocks = prop_cells(fdt, uart, "clocks");
    REQUIRE(clocks.size() == 2);
    CHECK(fdt_node_offset_by_phandle(fdt, clocks[0]) == clock);
    CHECK(fdt_node_offset_by_phandle(fdt, clocks[1]) == clock);
    CHECK(prop_string(fdt, uart, "clock-names") == std::string_view("uartclk\0apb_pclk", 16));

    const int chosen = fdt_path_offset(fdt, "/chosen");
    REQUIRE(chosen >= 0);
    CHECK(prop_string(fdt, chosen, "stdout-path") == "/uart@9000000");
    CHECK(fdt_path_offset(fdt, prop_string(fdt, chosen, "stdout-path").data()) == uart);
    CHECK(prop_string(fdt, chosen, "bootargs") == "console=ttyAMA0 earlycon");
    CHECK(prop_u64(fdt, chosen, "linux,initrd-start") == layout->initrd_ipa);
    CHECK(prop_u64(fdt, chosen, "linux,initrd-end") == layout->initrd_ipa + 0x600);
    CHECK(prop_cells(fdt, chosen, "corvisor,boot-count") == Cells{3});
}

TEST_CASE("guest DTB: smc conduit, loader-placed images, non-PL011 devices", "[vm]") {
    Parsed parsed;
    const GuestConfig& b = parsed.guests[1];
    auto layout = plan_guest_layout(b, kGuestDtbMaxSize);
    REQUIRE(layout.ok());
    std::vector<std::uint8_t> buf(kGuestDtbMaxSize);
    auto size = build_guest_dtb(b, *layout, parsed.blob.data(), buf.data(),
                                static_cast<std::uint32_t>(buf.size()), 0);
    REQUIRE(size.ok());
    const void* fdt = buf.data();
    REQUIRE(fdt_check_full(fdt, *size) == 0);
    CHECK(prop_string(fdt, fdt_path_offset(fdt, "/psci"), "method") == "smc");
    CHECK(prop_cells(fdt, fdt_path_offset(fdt, "/intc@8000000"), "reg")[7] == 0x20000);
    const int chosen = fdt_path_offset(fdt, "/chosen");
    CHECK(prop_string(fdt, chosen, "stdout-path") == "/serial@9000000");
    CHECK(fdt_getprop(fdt, chosen, "bootargs", nullptr) == nullptr);
    CHECK(prop_u64(fdt, chosen, "linux,initrd-end") - prop_u64(fdt, chosen, "linux,initrd-start") ==
          0x100000);
    CHECK(prop_cells(fdt, chosen, "corvisor,boot-count") == Cells{0});
    const int serial = fdt_path_offset(fdt, "/serial@9000000");
    // The guest list's strings, and "arm,primecell" from the PL011's DeviceDtbNeeds.
    CHECK(prop_string(fdt, serial, "compatible") ==
          std::string_view("vendor,uart\0arm,pl011\0arm,primecell", 35));
    const int virtio = fdt_path_offset(fdt, "/virtio@a000000");
    REQUIRE(virtio >= 0);
    CHECK(prop_string(fdt, virtio, "compatible") == "virtio,mmio");
    CHECK(fdt_getprop(fdt, virtio, "clocks", nullptr) == nullptr);
    CHECK(prop_cells(fdt, virtio, "reg") ==
          Cells{0, 0x0a000000, 0, 0x200, 0, 0x0a001000, 0, 0x200});
}

TEST_CASE("guest DTB: a buffer too small is an error, never an overflow", "[vm]") {
    Parsed parsed;
    const GuestConfig& a = parsed.guests[0];
    auto layout = plan_guest_layout(a, kGuestDtbMaxSize);
    REQUIRE(layout.ok());
    std::vector<std::uint8_t> full(kGuestDtbMaxSize);
    auto size = build_guest_dtb(a, *layout, parsed.blob.data(), full.data(),
                                static_cast<std::uint32_t>(full.size()), 1);
    REQUIRE(size.ok());

    constexpr std::size_t kGuard = 64;
    for (std::uint32_t n = 0; n < *size; ++n) {
        std::vector<std::uint8_t> buf(n + kGuard, 0xa5);
        auto r = build_guest_dtb(a, *layout, parsed.blob.data(), buf.data(), n, 1);
        REQUIRE(!r.ok());
        CHECK(r.error() == Error::kOutOfMemory);
        for (std::size_t i = n; i < buf.size(); ++i) {
            REQUIRE(buf[i] == 0xa5);
        }
    }
    std::vector<std::uint8_t> exact(*size);
    auto r = build_guest_dtb(a, *layout, parsed.blob.data(), exact.data(), *size, 1);
    REQUIRE(r.ok());
    CHECK(*r == *size);

    // Larger than the room the layout planned for the DTB.
    GuestLayout tight = *layout;
    tight.dtb_size_max = 256;
    CHECK(build_guest_dtb(a, tight, parsed.blob.data(), full.data(),
                          static_cast<std::uint32_t>(full.size()), 1)
              .error() == Error::kOutOfRange);
}
