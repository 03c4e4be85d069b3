#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "fake_device_host.hpp"
#include "vdev/pl011.hpp"

using namespace corvisor;
using corvisor::test::FakeDeviceHost;
using corvisor::test::mmio_read;
using corvisor::test::mmio_write;

namespace {

constexpr std::uint32_t kIntid = 33;

// Offsets, bits and reset values written out from DDI 0183 rather than taken from the model.
constexpr std::uint64_t kDr = 0x000, kRsr = 0x004, kFr = 0x018, kIlpr = 0x020, kIbrd = 0x024,
                        kFbrd = 0x028, kLcrH = 0x02C, kCr = 0x030, kIfls = 0x034, kImsc = 0x038,
                        kRis = 0x03C, kMis = 0x040, kIcr = 0x044, kDmacr = 0x048;
constexpr std::uint32_t kFrRxfe = 0x10, kFrRxff = 0x40, kFrTxfe = 0x80;
constexpr std::uint32_t kRxim = 0x10, kTxim = 0x20, kRtim = 0x40, kOeim = 0x400;
constexpr std::uint32_t kLcrHFen = 0x10;
constexpr std::uint32_t kCrEnabled = 0x301;  // UARTEN | TXE | RXE

struct Fixture {
    FakeDeviceHost host;
    Pl011 uart{host, host.irq_line(kIntid)};

    std::uint64_t read(std::uint64_t offset, std::uint8_t size = 4) {
        MmioResult r = uart.mmio(mmio_read(offset, size));
        REQUIRE(r.kind() == MmioResult::Kind::kDone);
        return r.value();
    }
    void write(std::uint64_t offset, std::uint64_t value, std::uint8_t size = 4) {
        MmioResult r = uart.mmio(mmio_write(offset, value, size));
        REQUIRE(r.kind() == MmioResult::Kind::kDone);
    }
    void put(std::string_view s) {
        for (char c : s) {
            write(kDr, static_cast<std::uint8_t>(c), 1);
        }
    }
    bool irq() const { return uart.irq().level(); }
};

}  // namespace

TEST_CASE("pl011 registers hold their reset values", "[vdev]") {
    Fixture f;
    CHECK(f.read(kDr) == 0);
    CHECK(f.read(kRsr) == 0);
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxfe));
    CHECK(f.read(kIlpr) == 0);
    CHECK(f.read(kIbrd) == 0);
    CHECK(f.read(kFbrd) == 0);
    CHECK(f.read(kLcrH) == 0);
    CHECK(f.read(kCr) == 0x300);
    CHECK(f.read(kIfls) == 0x12);
    CHECK(f.read(kImsc) == 0);
    CHECK(f.read(kRis) == kTxim);  // the empty transmit FIFO is below its trigger level
    CHECK(f.read(kMis) == 0);
    CHECK(f.read(kIcr) == 0);
    CHECK(f.read(kDmacr) == 0);
    CHECK_FALSE(f.irq());
    CHECK(f.uart.name() == "pl011");
}

TEST_CASE("pl011 identifies itself as an ARM PrimeCell PL011", "[vdev]") {
    Fixture f;
    const std::array<std::uint32_t, 8> expected = {0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(f.read(0xFE0 + 4 * i) == expected[i]);
        CHECK(f.read(0xFE0 + 4 * i, 1) == expected[i]);
    }
    f.write(0xFE0, 0xFF);  // read-only: WI
    CHECK(f.read(0xFE0) == 0x11);
}

TEST_CASE("pl011 read/write registers keep their implemented bits", "[vdev]") {
    Fixture f;
    f.write(kIbrd, 0xFFFF'FFFF);
    f.write(kFbrd, 0xFFFF'FFFF);
    f.write(kLcrH, 0xFFFF'FFFF);
    f.write(kIlpr, 0xFFFF'FFFF);
    f.write(kCr, 0xFFFF'FFFF);
    f.write(kIfls, 0xFFFF'FFFF);
    f.write(kDmacr, 0xFFFF'FFFF);
    CHECK(f.read(kIbrd) == 0xFFFF);
    CHECK(f.read(kFbrd) == 0x3F);
    CHECK(f.read(kLcrH) == 0xFF);
    CHECK(f.read(kIlpr) == 0xFF);
    CHECK(f.read(kCr) == 0xFF87);
    CHECK(f.read(kIfls) == 0x3F);
    CHECK(f.read(kDmacr) == 0x7);
    // A narrow store changes only its own byte lane.
    f.write(kIbrd + 1, 0x12, 1);
    CHECK(f.read(kIbrd) == 0x12FF);
    CHECK(f.read(kIbrd + 1, 1) == 0x12);
    CHECK(f.read(kIbrd, 2) == 0x12FF);
    // Read-only registers ignore stores.
    f.write(kFr, 0);
    f.write(kRis, 0);
    f.write(kMis, 0xFFFF);
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxfe));
    CHECK(f.read(kRis) == kTxim);
}

TEST_CASE("pl011 reads undefined offsets as zero and ignores stores to them", "[vdev]") {
    Fixture f;
    for (const std::uint64_t offset : std::array<std::uint64_t, 9>{
             0x008, 0x00C, 0x014, 0x01C, 0x04C, 0x080, 0x800, 0xFDC, 0x1000}) {
        f.write(offset, 0xFFFF'FFFF);
        CHECK(f.read(offset) == 0);
    }
    CHECK(f.host.lines.empty());
    CHECK(f.read(kCr) == 0x300);
}

TEST_CASE("pl011 aborts accesses wider than 32 bits", "[vdev]") {
    Fixture f;
    CHECK(f.uart.mmio(mmio_read(kDr, 8)).kind() == MmioResult::Kind::kAbort);
    CHECK(f.uart.mmio(mmio_write(kDr, 'x', 8)).kind() == MmioResult::Kind::kAbort);
    CHECK(f.uart.mmio(mmio_read(kFr + 1, 2)).kind() == MmioResult::Kind::kAbort);
    f.put("\n");
    CHECK(f.host.lines == std::vector<std::string>{""});
}

TEST_CASE("pl011 sends whole lines to the console", "[vdev]") {
    Fixture f;
    f.put("hello, ");
    CHECK(f.host.lines.empty());
    f.put("world\r\n");
    f.write(kDr, 'x' | 0x100);  // 32-bit store: only bits [7:0] are the character
    f.write(kDr + 1, 'y', 1);   // another byte lane of DR carries no character
    f.put("\n\n");
    CHECK(f.host.lines == std::vector<std::string>{"hello, world", "x", ""});
}

TEST_CASE("pl011 drops control characters but keeps tabs and UTF-8", "[vdev]") {
    Fixture f;
    f.put("\x1b[2Jcls\x07\x08\x7f\tend\n");
    f.put("caf\xc3\xa9 \xe2\x82\xac\n");
    f.put("a\xc2\x9b[31mb\xc2\xa0z\n");  // U+009B (C1 CSI) dropped, U+00A0 kept
    CHECK(f.host.lines ==
          std::vector<std::string>{"[2Jcls\tend", "caf\xc3\xa9 \xe2\x82\xac", "a[31mb\xc2\xa0z"});
}

TEST_CASE("pl011 splits a long line at its capacity", "[vdev]") {
    Fixture f;
    f.put(std::string(Pl011::kLineCapacity, 'a'));
    CHECK(f.host.lines.empty());  // exactly full, no newline yet: nothing lost, nothing split
    f.put("b");
    REQUIRE(f.host.lines.size() == 1);
    CHECK(f.host.lines[0] == std::string(Pl011::kLineCapacity, 'a'));
    f.put(std::string(Pl011::kLineCapacity - 2, 'c'));
    f.put("\xe2\x82\xac");  // a euro sign across the boundary moves to the next line whole
    f.put("\n");
    REQUIRE(f.host.lines.size() == 3);
    CHECK(f.host.lines[1] == "b" + std::string(Pl011::kLineCapacity - 2, 'c'));
    CHECK(f.host.lines[2] == "\xe2\x82\xac");
}

TEST_CASE("pl011 flushes a partial line on reset and returns to reset values", "[vdev]") {
    Fixture f;
    f.write(kCr, kCrEnabled);
    f.write(kLcrH, kLcrHFen);
    f.write(kImsc, kTxim | kRxim);
    REQUIRE(f.uart.receive('q'));
    f.put("partial");
    REQUIRE(f.irq());
    f.uart.reset();
    CHECK(f.host.lines == std::vector<std::string>{"partial"});
    CHECK_FALSE(f.irq());
    CHECK(f.host.levels.at(kIntid) == false);
    CHECK(f.read(kCr) == 0x300);
    CHECK(f.read(kLcrH) == 0);
    CHECK(f.read(kImsc) == 0);
    CHECK(f.read(kRis) == kTxim);
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxfe));
    f.uart.reset();
    CHECK(f.host.lines.size() == 1);  // nothing pending: no empty line
}

TEST_CASE("pl011 transmit interrupt follows IMSC, RIS, MIS and ICR", "[vdev]") {
    Fixture f;
    CHECK_FALSE(f.irq());
    f.write(kImsc, kTxim);
    CHECK(f.read(kMis) == kTxim);
    CHECK(f.irq());
    CHECK(f.host.levels.at(kIntid));
    f.write(kIcr, kTxim);
    CHECK(f.read(kRis) == 0);
    CHECK(f.read(kMis) == 0);
    CHECK_FALSE(f.irq());
    f.put("x");  // the FIFO drains past its trigger level again
    CHECK(f.read(kRis) == kTxim);
    CHECK(f.irq());
    f.write(kImsc, 0);
    CHECK(f.read(kRis) == kTxim);
    CHECK(f.read(kMis) == 0);
    CHECK_FALSE(f.irq());
    // The line is only driven when its level changes.
    const int changes = f.host.level_changes;
    f.put("yz");
    f.write(kImsc, 0);
    CHECK(f.host.level_changes == changes);
}

TEST_CASE("pl011 receive FIFO keeps order and reports its state", "[vdev]") {
    Fixture f;
    // CR.RXE gates reception (UARTEN does not, as on QEMU's PL011: guests written for virt
    // receive with the reset value of CR, TXE|RXE).
    CHECK(f.uart.can_receive());
    f.write(kCr, 0);
    CHECK_FALSE(f.uart.can_receive());
    CHECK_FALSE(f.uart.receive('a'));
    f.write(kCr, kCrEnabled);
    f.write(kLcrH, kLcrHFen);
    f.write(kImsc, kRxim | kRtim);
    CHECK(f.uart.receive('a'));
    CHECK(f.uart.receive('b'));
    CHECK(f.read(kFr) == kFrTxfe);
    // One byte is below the 1/2 trigger: only the receive timeout is raised.
    CHECK(f.read(kRis) == (kTxim | kRtim));
    CHECK(f.irq());
    CHECK(f.read(kDr) == 'a');
    CHECK(f.read(kDr, 1) == 'b');
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxfe));
    CHECK(f.read(kRis) == kTxim);
    CHECK_FALSE(f.irq());
    CHECK(f.read(kDr) == 0);  // empty FIFO
}

TEST_CASE("pl011 receive interrupt fires at the trigger level", "[vdev]") {
    Fixture f;
    f.write(kCr, kCrEnabled);
    f.write(kLcrH, kLcrHFen);
    f.write(kIfls, 0x08);  // RXIFLSEL = 1/4: 8 of 32
    f.write(kImsc, kRxim);
    for (int i = 0; i < 7; ++i) {
        REQUIRE(f.uart.receive(static_cast<std::uint8_t>('0' + i)));
    }
    CHECK_FALSE(f.irq());
    REQUIRE(f.uart.receive('7'));
    CHECK(f.irq());
    CHECK((f.read(kMis) & kRxim) != 0);
    CHECK(f.read(kDr) == '0');  // 7 left: below the trigger again
    CHECK_FALSE(f.irq());
    REQUIRE(f.uart.receive('8'));
    f.write(kIcr, kRxim);  // clearing by ICR works too
    CHECK_FALSE(f.irq());
}

TEST_CASE("pl011 receive overrun keeps the FIFO and flags the next byte", "[vdev]") {
    Fixture f;
    f.write(kCr, kCrEnabled);
    f.write(kLcrH, kLcrHFen);
    f.write(kImsc, kOeim);
    for (std::size_t i = 0; i < Pl011::kRxFifoDepth; ++i) {
        REQUIRE(f.uart.receive(static_cast<std::uint8_t>(i)));
    }
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxff));
    CHECK_FALSE(f.uart.can_receive());
    CHECK_FALSE(f.irq());
    CHECK_FALSE(f.uart.receive(0xEE));  // lost
    CHECK(f.irq());
    CHECK(f.read(kRsr) == 0x8);  // OE
    CHECK(f.read(kDr) == 0);
    CHECK(f.uart.can_receive());
    REQUIRE(f.uart.receive(0x55));
    for (std::size_t i = 1; i < Pl011::kRxFifoDepth; ++i) {
        CHECK(f.read(kDr) == i);
    }
    CHECK(f.read(kDr) == (0x55 | 0x800));  // DR.OE marks the first byte after the loss
    f.write(kRsr, 0);                      // UARTECR clears the status
    CHECK(f.read(kRsr) == 0);
    f.write(kIcr, 0x7FF);
    CHECK_FALSE(f.irq());
}

TEST_CASE("pl011 without FIFOs holds one received character", "[vdev]") {
    Fixture f;
    f.write(kCr, kCrEnabled);
    f.write(kImsc, kRxim);
    REQUIRE(f.uart.receive('x'));
    CHECK(f.irq());  // a single character reaches the trigger when FEN is clear
    CHECK(f.read(kFr) == (kFrTxfe | kFrRxff));
    CHECK_FALSE(f.uart.receive('y'));
    CHECK(f.read(kDr) == 'x');
    CHECK_FALSE(f.irq());
}

TEST_CASE("pl011 factory is registered and validates the node", "[vdev]") {
    DeviceFactory factory = find_device_factory("arm,pl011");
    REQUIRE(factory != nullptr);
    FakeDeviceHost host;
    const std::array<MmioRegion, 1> one{{{0x0900'0000, 0x1000}}};
    const std::array<MmioRegion, 1> small{{{0x0900'0000, 0x100}}};
    const std::array<MmioRegion, 2> two{{{0x0900'0000, 0x1000}, {0x0a00'0000, 0x1000}}};
    const std::array<std::uint32_t, 1> interrupts{kIntid};

    DeviceNode node;
    node.node_name = "pl011@9000000";
    node.compatible = "arm,pl011";
    node.regs = small;
    CHECK(factory(node, host).error() == Error::kInvalidArgument);
    node.regs = two;
    CHECK(factory(node, host).error() == Error::kInvalidArgument);
    node.regs = {};
    CHECK(factory(node, host).error() == Error::kInvalidArgument);

    node.regs = one;
    host.fail_allocations = true;
    CHECK(factory(node, host).error() == Error::kOutOfMemory);
    host.fail_allocations = false;

    node.interrupts = interrupts;
    Result<Device*> dev = factory(node, host);
    REQUIRE(dev.ok());
    CHECK((*dev)->name() == "pl011");
    MmioAccess imsc = mmio_write(kImsc, kTxim);
    CHECK((*dev)->mmio(imsc).kind() == MmioResult::Kind::kDone);
    CHECK(host.levels.at(kIntid));
    MmioAccess dr = mmio_write(kDr, '\n', 1);
    CHECK((*dev)->mmio(dr).kind() == MmioResult::Kind::kDone);
    CHECK(host.lines.size() == 1);
}

TEST_CASE("pl011 says when a line is left unfinished and hands it over as a partial line",
          "[vdev]") {
    Fixture f;
    f.put("=> ");
    CHECK(f.host.partial_pending == 1);  // at the line's first byte, once
    CHECK(f.host.lines.empty());
    f.uart.flush_partial();
    REQUIRE(f.host.partials.size() == 1);
    CHECK(f.host.partials[0] == "=> ");
    f.put("ls\n");  // continues as a new buffer, ended by the newline
    CHECK(f.host.partial_pending == 2);
    REQUIRE(f.host.lines.size() == 1);
    CHECK(f.host.lines[0] == "ls");
    f.uart.flush_partial();  // nothing buffered: nothing handed over
    CHECK(f.host.partials.size() == 1);
}
