// virtio-console through the device test kit: a small driver in the kit's guest RAM, then the
// ways a hostile driver can break the queue.
#include <catch2/catch.hpp>
#include <corvisor/testing/device_kit.hpp>

#include "test_ram.hpp"

#include <cstring>
#include <string>

using corvisor::testing::DeviceKit;
using corvisor::virtio::testing::peek;
using corvisor::virtio::testing::poke;

namespace {

constexpr const char* kNode = R"(hvc@a000000 {
    compatible = "corvisor,virtio-console", "virtio,mmio";
    reg = <0x0 0x0a000000 0x0 0x200>;
    interrupts = <0 16 4>;
};)";
constexpr std::uint32_t kIntid = 48;
constexpr std::uint64_t kRam = 0x40000000;
constexpr std::uint64_t kDesc = kRam + 0x1000;
constexpr std::uint64_t kAvail = kRam + 0x2000;
constexpr std::uint64_t kUsed = kRam + 0x3000;
constexpr std::uint64_t kBuffers = kRam + 0x10000;
constexpr std::uint16_t kSize = 8;

/// The driver side, as Linux's virtio_mmio and virtio_console do it.
struct Driver {
    DeviceKit& kit;
    std::uint16_t avail = 0;

    std::uint32_t reg(std::uint64_t offset) {
        return static_cast<std::uint32_t>(*kit.read(offset));
    }
    void set(std::uint64_t offset, std::uint32_t v) { REQUIRE(kit.write(offset, v)); }

    bool negotiate(std::uint32_t high_features = 1) {
        set(0x070, 1 | 2);  // ACKNOWLEDGE | DRIVER
        set(0x014, 1);
        CHECK((reg(0x010) & 1) == 1);  // VIRTIO_F_VERSION_1 offered
        set(0x024, 1);
        set(0x020, high_features);
        set(0x070, 1 | 2 | 8);
        return (reg(0x070) & 8) != 0;  // FEATURES_OK stuck
    }
    void setup_queue(std::uint32_t q) {
        set(0x030, q);
        CHECK(reg(0x034) >= kSize);
        set(0x038, kSize);
        const std::uint64_t base = q * 0x100;
        set(0x080, static_cast<std::uint32_t>(kDesc + base));
        set(0x084, 0);
        set(0x090, static_cast<std::uint32_t>(kAvail + base));
        set(0x094, 0);
        set(0x0a0, static_cast<std::uint32_t>(kUsed + base));
        set(0x0a4, 0);
        set(0x044, 1);
    }
    void start() {
        REQUIRE(negotiate());
        setup_queue(0);
        setup_queue(1);
        set(0x070, 1 | 2 | 8 | 4);  // DRIVER_OK
    }
    /// Descriptor `i` of the transmit queue.
    void desc(std::uint16_t i, std::uint64_t addr, std::uint32_t len, std::uint16_t flags = 0,
              std::uint16_t next = 0) {
        const std::uint64_t at = kDesc + 0x100 + 16 * std::uint64_t{i};
        poke(kit, at, addr);
        poke(kit, at + 8, len);
        poke(kit, at + 12, flags);
        poke(kit, at + 14, next);
    }
    /// Make chain `head` available on the transmit queue and notify.
    void send(std::uint16_t head) {
        poke(kit, kAvail + 0x100 + 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(avail % kSize)},
             head);
        ++avail;
        poke(kit, kAvail + 0x100 + 2, avail);
        set(0x050, 1);
    }
    std::uint16_t used_idx() { return peek<std::uint16_t>(kit, kUsed + 0x100 + 2); }

    // The receive queue (0): buffers the device writes typed input into.
    std::uint16_t rx_avail = 0;
    void rx_desc(std::uint16_t i, std::uint64_t addr, std::uint32_t len, std::uint16_t flags = 2) {
        const std::uint64_t at = kDesc + 16 * std::uint64_t{i};
        poke(kit, at, addr);
        poke(kit, at + 8, len);
        poke(kit, at + 12, flags);  // 2: VIRTQ_DESC_F_WRITE
        poke(kit, at + 14, std::uint16_t{0});
    }
    void rx_give(std::uint16_t head) {
        poke(kit, kAvail + 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(rx_avail % kSize)},
             head);
        ++rx_avail;
        poke(kit, kAvail + 2, rx_avail);
        set(0x050, 0);
    }
    std::uint16_t rx_used_idx() { return peek<std::uint16_t>(kit, kUsed + 2); }
    std::uint32_t rx_used_len(std::uint16_t n) {
        return peek<std::uint32_t>(kit, kUsed + 4 + 8 * std::uint64_t{n} + 4);
    }
};

void text(DeviceKit& kit, std::uint64_t ipa, const std::string& s) {
    std::memcpy(kit.ram_at(ipa, s.size()).data(), s.data(), s.size());
}

}  // namespace

TEST_CASE("virtio-console: identifies as a virtio 1.x console", "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    CHECK(kit.read(0x000) == 0x74726976);
    CHECK(kit.read(0x004) == 2);
    CHECK(kit.read(0x008) == 3);
    CHECK_FALSE(kit.read(0x000, 2).has_value());  // transport registers are 32-bit
    kit.write(0x030, 2);
    CHECK(kit.read(0x034) == 0);  // no third queue
}

TEST_CASE("virtio-console: what the driver transmits becomes lines with the hvc0 prefix",
          "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    Driver d{kit};
    d.start();
    text(kit, kBuffers, "hello ");
    text(kit, kBuffers + 0x100, "hvc\r\nsecond line\n");
    d.desc(0, kBuffers, 6, 1, 1);  // two buffers in one chain
    d.desc(1, kBuffers + 0x100, 17);
    d.send(0);
    CHECK(kit.device_lines == std::vector<std::string>{"hvc0: hello hvc", "hvc0: second line"});
    CHECK(d.used_idx() == 1);
    CHECK(peek<std::uint32_t>(kit, kUsed + 0x100 + 4) == 0);  // the head's id
    CHECK(kit.read(0x060) == 1);
    CHECK(kit.irq(kIntid).level);
    REQUIRE(kit.write(0x064, 1));
    CHECK_FALSE(kit.irq(kIntid).level);
    CHECK(kit.counter_value("hvc@a000000", "bytes-out") == 23);
    // The ring wraps: many more chains, one at a time.
    for (int i = 0; i < 20; ++i) {
        text(kit, kBuffers, "x\n");
        d.desc(2, kBuffers, 2);
        d.send(2);
    }
    CHECK(d.used_idx() == 21);
    CHECK(kit.device_lines.size() == 22);
}

TEST_CASE("virtio-console: a driver without VERSION_1 is refused FEATURES_OK", "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    Driver d{kit};
    CHECK_FALSE(d.negotiate(0));
    CHECK(kit.write(0x070, 0));  // reset
    CHECK(kit.read(0x070) == 0);
    CHECK(d.negotiate(1));
}

TEST_CASE("virtio-console: hostile queues make it need reset, never fault", "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    Driver d{kit};
    d.start();
    std::string expect;
    SECTION("a chain that loops") {
        d.desc(0, kBuffers, 4, 1, 1);
        d.desc(1, kBuffers, 4, 1, 0);
        expect = "loops";
    }
    SECTION("a buffer outside RAM") {
        d.desc(0, 0x100000000ull, 4);
        expect = "a buffer outside the guest's RAM";
    }
    SECTION("a buffer that runs past the end of RAM") {
        d.desc(0, kRam + kit.ram().size() - 2, 4);
        expect = "a buffer outside the guest's RAM";
    }
    SECTION("a next index beyond the queue") {
        d.desc(0, kBuffers, 4, 1, kSize);
        expect = "beyond the queue size";
    }
    SECTION("a head beyond the queue") {
        d.desc(0, kBuffers, 4);
        poke(kit, kAvail + 0x100 + 4, std::uint16_t{200});
        poke(kit, kAvail + 0x100 + 2, std::uint16_t{1});
        REQUIRE(kit.write(0x050, 1));
        expect = "beyond the queue size";
    }
    SECTION("an available index far ahead") {
        poke(kit, kAvail + 0x100 + 2, std::uint16_t{1000});
        REQUIRE(kit.write(0x050, 1));
        expect = "ahead";
    }
    SECTION("a descriptor table outside RAM") {
        REQUIRE(kit.write(0x070, 0));
        d.avail = 0;
        REQUIRE(d.negotiate());
        d.setup_queue(0);
        REQUIRE(kit.write(0x030, 1));
        REQUIRE(kit.write(0x038, kSize));
        REQUIRE(kit.write(0x080, 0));  // the descriptor table at 0x0: not RAM
        REQUIRE(kit.write(0x090, static_cast<std::uint32_t>(kAvail + 0x100)));
        REQUIRE(kit.write(0x0a0, static_cast<std::uint32_t>(kUsed + 0x100)));
        REQUIRE(kit.write(0x044, 1));
        REQUIRE(kit.write(0x070, 1 | 2 | 8 | 4));
        expect = "a ring or descriptor outside the guest's RAM";
    }
    SECTION("an indirect descriptor") {
        d.desc(0, kBuffers, 16, 4);
        expect = "indirect";
    }
    if (kit.events.empty()) {
        d.send(0);
    }
    REQUIRE(kit.events.size() == 1);
    CHECK(kit.events[0].find(expect) != std::string::npos);
    CHECK((*kit.read(0x070) & 64) != 0);  // DEVICE_NEEDS_RESET
    CHECK((*kit.read(0x060) & 2) != 0);   // a configuration change
    CHECK(kit.irq(kIntid).level);
    CHECK(kit.counter_value("hvc@a000000", "errors") == 1);
    // Until the driver resets it, the device does nothing more.
    d.desc(0, kBuffers, 1);
    d.send(0);
    CHECK(kit.device_lines.empty());
    REQUIRE(kit.write(0x070, 0));
    CHECK(kit.read(0x070) == 0);
    CHECK_FALSE(kit.irq(kIntid).level);
}

TEST_CASE("virtio-console: a guest reset flushes a partial line and resets the device",
          "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    Driver d{kit};
    d.start();
    text(kit, kBuffers, "no newline");
    d.desc(0, kBuffers, 10);
    d.send(0);
    CHECK(kit.device_lines.empty());
    kit.reset_guest();
    CHECK(kit.device_lines == std::vector<std::string>{"hvc0: no newline"});
    CHECK(kit.read(0x070) == 0);
}

TEST_CASE("virtio-console: typed input goes into the receive queue, one byte per buffer",
          "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    CHECK(kit.console_input_label() == "hvc0");  // the focus stops at guest:hvc0
    CHECK(kit.type("x") == 0);                   // no driver yet: held back
    Driver d{kit};
    d.start();
    CHECK(kit.type("a") == 0);  // no buffer yet
    const std::uint32_t space_before = kit.input_space_calls;
    d.rx_desc(0, kBuffers, 16);
    d.rx_desc(1, kBuffers + 16, 16);
    d.rx_give(0);
    CHECK(kit.input_space_calls == space_before + 1);  // buffers: the host may pass on input
    d.rx_give(1);
    CHECK(kit.input_space_calls == space_before + 1);  // once per refusal
    CHECK(kit.type("abc") == 2);
    CHECK(d.rx_used_idx() == 2);
    CHECK(d.rx_used_len(0) == 1);
    CHECK(d.rx_used_len(1) == 1);
    CHECK(peek<std::uint8_t>(kit, kBuffers) == 'a');
    CHECK(peek<std::uint8_t>(kit, kBuffers + 16) == 'b');
    CHECK(kit.irq(kIntid).level);
    CHECK(kit.counter_value("hvc@a000000", "bytes-in") == 2);
    // A buffer the device may not write into goes back empty; the byte takes the next one.
    d.rx_desc(2, kBuffers + 32, 16, 0);
    d.rx_desc(3, kBuffers + 48, 16);
    d.rx_give(2);
    d.rx_give(3);
    CHECK(kit.type("c") == 1);
    CHECK(d.rx_used_idx() == 4);
    CHECK(d.rx_used_len(2) == 0);
    CHECK(d.rx_used_len(3) == 1);
    CHECK(peek<std::uint8_t>(kit, kBuffers + 48) == 'c');
}

TEST_CASE("virtio-console: a receive buffer outside RAM makes it need reset, and drops the byte",
          "[virtio]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    Driver d{kit};
    d.start();
    d.rx_desc(0, 0x1000, 16);  // not RAM
    d.rx_give(0);
    CHECK(kit.type("z") == 1);          // taken (and dropped), not held forever
    CHECK((d.reg(0x070) & 0x40) != 0);  // DEVICE_NEEDS_RESET
    CHECK(kit.type("y") == 0);          // no driver now: held until it starts again
    CHECK(kit.counter_value("hvc@a000000", "bytes-in") == 0);
}
