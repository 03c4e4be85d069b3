// Console input routing (boot/console_input.cpp) on the fake hardware: bytes the physical UART
// receives reach the guest in focus, Ctrl-A three times moves the focus, and nothing is lost
// while a guest's UART is full.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "boot/console_input.hpp"
#include "boot/null_platform.hpp"
#include "fake_arch.hpp"
#include "vdev/pl011.hpp"
#include "vm/vm.hpp"

using namespace corvisor;
using test::NullPlatform;

namespace {

constexpr std::uint32_t kUartIntid = 33;

Vm::Config config(std::string_view name, std::uint32_t id) {
    Vm::Config c;
    c.name = name;
    c.id = id;
    c.vcpus = 1;
    c.ram_base = 0x40000000;
    c.ram_size = 0x4000000;
    return c;
}

/// A guest with a console PL011, and what it has received so far (drained through UARTDR).
struct Guest {
    NullPlatform platform;
    Vm vm;
    Pl011 uart;
    Guest(std::string_view name, std::uint32_t id)
        : vm(platform, config(name, id)), uart(vm, vm.irq_line(kUartIntid)) {
        vm.set_console_uart(uart);
    }
    /// Read the UART as the guest would, until it is empty. The UART's FIFO is off (a one-byte
    /// holding register), so each read makes room for the next queued byte: the image's
    /// console_space hook drains the queue then, as this does.
    std::string received() {
        std::string s;
        // UARTFR.RXFE (bit 4) set: nothing to read.
        while ((uart.mmio(MmioAccess(0, 0x018, 4, false, 0, 0)).value() & 0x10) == 0) {
            s.push_back(static_cast<char>(uart.mmio(MmioAccess(0, 0x000, 4, false, 0, 0)).value()));
            console_input_drain(vm);
        }
        return s;
    }
};

/// A device's console channel (Vm::add_console_input), as the virtio console's hvc0 is.
struct FakeChannel final : ConsoleInput {
    std::string got;
    bool receive(std::uint8_t byte) override {
        got.push_back(static_cast<char>(byte));
        return true;
    }
};

}  // namespace

TEST_CASE("Console input goes to the guest in focus, and Ctrl-A three times moves the focus",
          "[boot]") {
    Guest a("alpha", 1);
    Guest b("beta", 2);
    Guest c("gamma", 3);
    FakeChannel hvc;
    REQUIRE(c.vm.add_console_input(hvc, "hvc0"));
    FakeChannel second;
    CHECK_FALSE(c.vm.add_console_input(second, "hvc1"));  // one per guest
    console_input_add(a.vm);
    console_input_add(b.vm);
    console_input_add(c.vm);
    fake::console_output().clear();
    console_input_start(kUartIntid);
    CHECK(fake::console_output().find("console focus: alpha") != std::string::npos);

    // Not the console's interrupt: not taken.
    CHECK_FALSE(console_input_irq(kUartIntid + 1));

    fake::console_input() = "hi";
    CHECK(console_input_irq(kUartIntid));
    CHECK(a.received() == "hi");
    CHECK(b.received().empty());

    // Two Ctrl-A and a letter are ordinary input; the third Ctrl-A in a row switches.
    fake::console_input() = std::string("\x01\x01x") + "\x01\x01\x01" + "to-b";
    fake::console_output().clear();
    CHECK(console_input_irq(kUartIntid));
    CHECK(a.received() == "\x01\x01x");
    CHECK(b.received() == "to-b");
    CHECK(fake::console_output().find("console focus: beta") != std::string::npos);

    // What the guest cannot take yet waits in its queue, in order, until it reads.
    std::string burst;
    for (int i = 0; i < 100; ++i) {
        burst.push_back(static_cast<char>('a' + i % 26));
    }
    for (std::size_t off = 0; off < burst.size(); off += 50) {
        fake::console_input() = burst.substr(off, 50);
        REQUIRE(console_input_irq(kUartIntid));
    }
    CHECK(a.received().empty());
    const std::string got = b.received();
    CHECK(got == burst);

    // A guest with a second channel has the focus twice: its UART, then guest:hvc0. What its
    // UART has not taken yet goes there first, in order, before the channel gets what follows.
    fake::console_output().clear();
    fake::console_input() = std::string("\x01\x01\x01") + "abc" + "\x01\x01\x01" + "xyz";
    REQUIRE(console_input_irq(kUartIntid));
    CHECK(fake::console_output().find("console focus: gamma (") != std::string::npos);
    CHECK(fake::console_output().find("console focus: gamma:hvc0 (") != std::string::npos);
    CHECK(hvc.got.empty());  // behind "bc", which the UART holds back
    CHECK(c.received() == "abc");
    CHECK(hvc.got == "xyz");
    // Then the monitor, then the first guest again; the next visit starts at gamma's UART.
    fake::console_output().clear();
    fake::console_input() = std::string("\x01\x01\x01") + "\x01\x01\x01" + "back";
    REQUIRE(console_input_irq(kUartIntid));
    CHECK(fake::console_output().find("console focus: monitor") != std::string::npos);
    CHECK(a.received() == "back");
    fake::console_input() = std::string(6, '\x01') + "u";
    REQUIRE(console_input_irq(kUartIntid));
    CHECK(c.received() == "u");
    CHECK(hvc.got == "xyz");
}
