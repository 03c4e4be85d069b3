// virtio-blk through the device test kit: a small driver in the kit's guest RAM, requests of
// every type, what lasts across a guest reset, and the ways a hostile driver can break requests.
#include <catch2/catch.hpp>
#include <corvisor/testing/device_kit.hpp>

#include "test_ram.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using corvisor::testing::DeviceKit;
using corvisor::virtio::testing::peek;
using corvisor::virtio::testing::poke;

namespace {

constexpr std::uint32_t kIntid = 49;
constexpr std::uint64_t kRam = 0x40000000;
constexpr std::uint64_t kDesc = kRam + 0x1000;
constexpr std::uint64_t kAvail = kRam + 0x2000;
constexpr std::uint64_t kUsed = kRam + 0x3000;
constexpr std::uint64_t kHeaders = kRam + 0x4000;  // 16 bytes per request slot
constexpr std::uint64_t kStatus = kRam + 0x5000;   // one byte per request slot
constexpr std::uint64_t kBuffers = kRam + 0x10000;
constexpr std::uint16_t kSize = 64;
constexpr std::size_t kSectors = 64;  // a 32 KiB disk

std::uint8_t pattern(std::size_t byte) {
    return static_cast<std::uint8_t>(byte % 251);
}

/// The node with a disk of kSectors sectors holding pattern() (or `extra` properties).
std::string node(const std::string& extra = "") {
    std::string hex;
    hex.reserve(kSectors * 512 * 3);
    char b[4];
    for (std::size_t i = 0; i < kSectors * 512; ++i) {
        std::snprintf(b, sizeof b, "%02x ", pattern(i));
        hex += b;
    }
    return "disk@a000200 {\n"
           "    compatible = \"corvisor,virtio-blk\", \"virtio,mmio\";\n"
           "    reg = <0x0 0x0a000200 0x0 0x200>;\n"
           "    interrupts = <0 17 4>;\n"
           "    corvisor,image = [" +
           hex + "];\n" + extra + "};";
}

struct Piece {
    std::uint64_t addr;
    std::uint32_t len;
    bool device_writes;
};

/// The driver side, as Linux's virtio_mmio and virtio_blk do it (one request queue).
struct Driver {
    DeviceKit& kit;
    std::uint16_t avail = 0;
    std::uint16_t next_desc = 0;

    std::uint32_t reg(std::uint64_t offset) {
        return static_cast<std::uint32_t>(*kit.read(offset));
    }
    void set(std::uint64_t offset, std::uint32_t v) { REQUIRE(kit.write(offset, v)); }

    void start() {
        set(0x070, 1 | 2);
        set(0x014, 0);
        const std::uint32_t low = reg(0x010);
        set(0x024, 0);
        set(0x020, low);  // take every feature offered
        set(0x024, 1);
        set(0x020, 1);  // VERSION_1
        set(0x070, 1 | 2 | 8);
        REQUIRE((reg(0x070) & 8) != 0);
        set(0x030, 0);
        CHECK(reg(0x034) >= kSize);
        set(0x038, kSize);
        set(0x080, static_cast<std::uint32_t>(kDesc));
        set(0x090, static_cast<std::uint32_t>(kAvail));
        set(0x0a0, static_cast<std::uint32_t>(kUsed));
        set(0x044, 1);
        set(0x070, 1 | 2 | 8 | 4);
    }
    void desc(std::uint16_t i, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
              std::uint16_t next) {
        const std::uint64_t at = kDesc + 16 * std::uint64_t{i};
        poke(kit, at, addr);
        poke(kit, at + 8, len);
        poke(kit, at + 12, flags);
        poke(kit, at + 14, next);
    }
    /// Chain the pieces into descriptors and make the chain available; its head.
    std::uint16_t chain(const std::vector<Piece>& pieces) {
        const std::uint16_t head = next_desc;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            const bool last = i + 1 == pieces.size();
            const auto at = static_cast<std::uint16_t>((next_desc + i) % kSize);
            desc(at, pieces[i].addr, pieces[i].len,
                 static_cast<std::uint16_t>((last ? 0 : 1) | (pieces[i].device_writes ? 2 : 0)),
                 static_cast<std::uint16_t>((at + 1) % kSize));
        }
        next_desc = static_cast<std::uint16_t>((next_desc + pieces.size()) % kSize);
        poke(kit, kAvail + 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(avail % kSize)}, head);
        ++avail;
        poke(kit, kAvail + 2, avail);
        return head;
    }
    void notify() { set(0x050, 0); }

    /// A request in slot `slot`: its header, `data` buffers, its status byte.
    std::uint16_t request(unsigned slot, std::uint32_t type, std::uint64_t sector,
                          std::vector<Piece> data) {
        const std::uint64_t h = kHeaders + 16 * std::uint64_t{slot};
        poke(kit, h, type);
        poke(kit, h + 4, std::uint32_t{0});
        poke(kit, h + 8, sector);
        poke(kit, kStatus + slot, std::uint8_t{0xee});
        std::vector<Piece> pieces{{h, 16, false}};
        pieces.insert(pieces.end(), data.begin(), data.end());
        pieces.push_back({kStatus + slot, 1, true});
        return chain(pieces);
    }
    std::uint8_t status(unsigned slot) { return peek<std::uint8_t>(kit, kStatus + slot); }
    std::uint16_t used_idx() { return peek<std::uint16_t>(kit, kUsed + 2); }
    std::uint32_t used_len(std::uint16_t i) {
        return peek<std::uint32_t>(
            kit, kUsed + 4 + 8 * std::uint64_t{static_cast<std::uint16_t>(i % kSize)} + 4);
    }
};

bool buffer_holds_disk(DeviceKit& kit, std::uint64_t ipa, std::size_t disk_offset, std::size_t n) {
    std::span<std::byte> b = kit.ram_at(ipa, n);
    for (std::size_t i = 0; i < n; ++i) {
        if (std::to_integer<std::uint8_t>(b[i]) != pattern(disk_offset + i)) {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("virtio-blk: identifies as a virtio 1.x block device with its capacity", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    CHECK(kit.read(0x000) == 0x74726976);
    CHECK(kit.read(0x008) == 2);
    const std::uint32_t features = static_cast<std::uint32_t>(*kit.read(0x010));
    CHECK((features & (1u << 2)) != 0);  // SEG_MAX
    CHECK((features & (1u << 9)) != 0);  // FLUSH
    CHECK((features & (1u << 5)) == 0);  // not read-only
    CHECK(kit.read(0x100) == kSectors);  // capacity, in 512-byte sectors, read in halves
    CHECK(kit.read(0x104) == 0);
    CHECK(kit.read(0x100, 8) == kSectors);  // or at once
    CHECK(kit.read(0x10c) == 14);           // seg_max: the header and status take two of 16
    CHECK(kit.read(0x114) == 512);          // blk_size
    CHECK(kit.read(0x200 - 4) == 0);        // beyond the configuration fields

    DeviceKit ro;
    REQUIRE(ro.create(node("    corvisor,read-only;\n")) != nullptr);
    CHECK((*ro.read(0x010) & (1u << 5)) != 0);
}

TEST_CASE("virtio-blk: refuses a node without a usable image, naming the property",
          "[virtio-blk]") {
    DeviceKit kit;
    CHECK(kit.create(R"(disk@a000200 {
        compatible = "corvisor,virtio-blk", "virtio,mmio";
        reg = <0x0 0x0a000200 0x0 0x200>;
        interrupts = <0 17 4>;
    };)") == nullptr);
    CHECK(kit.error().find("corvisor,image") != std::string::npos);
    DeviceKit odd;
    CHECK(odd.create(R"(disk@a000200 {
        compatible = "corvisor,virtio-blk", "virtio,mmio";
        reg = <0x0 0x0a000200 0x0 0x200>;
        interrupts = <0 17 4>;
        corvisor,image = [00 01 02];
    };)") == nullptr);
    CHECK(odd.error().find("multiple of 512") != std::string::npos);
    DeviceKit oom;
    oom.fail_allocations = true;
    CHECK(oom.create(node()) == nullptr);
}

TEST_CASE("virtio-blk: a read is served after the notifying store, not in it", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    d.request(0, 0, 3, {{kBuffers, 1024, true}});
    d.notify();
    CHECK(d.used_idx() == 0);  // the vCPU went back to its guest; the work is queued
    CHECK(kit.timers_armed() == 1);
    kit.advance(0);
    CHECK(d.used_idx() == 1);
    CHECK(d.used_len(0) == 1024 + 1);
    CHECK(d.status(0) == 0);
    CHECK(buffer_holds_disk(kit, kBuffers, 3 * 512, 1024));
    CHECK(kit.irq(kIntid).level);
    CHECK(kit.read(0x060) == 1);
    REQUIRE(kit.write(0x064, 1));
    CHECK_FALSE(kit.irq(kIntid).level);
    CHECK(kit.counter_value("disk@a000200", "reads") == 1);
    CHECK(kit.counter_value("disk@a000200", "bytes-read") == 1024);
}

TEST_CASE(
    "virtio-blk: the framing is the driver's: a header split across buffers, data in "
    "several",
    "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    poke(kit, kHeaders, std::uint32_t{0});  // IN
    poke(kit, kHeaders + 4, std::uint32_t{0});
    poke(kit, kHeaders + 8, std::uint64_t{10});
    // Header in 5 + 11 bytes; 1024 bytes of data in 3 pieces, the last holding the status too.
    d.chain({{kHeaders, 5, false},
             {kHeaders + 5, 11, false},
             {kBuffers, 100, true},
             {kBuffers + 0x1000, 412, true},
             {kBuffers + 0x2000, 513, true}});
    d.notify();
    kit.advance(0);
    REQUIRE(d.used_idx() == 1);
    CHECK(d.used_len(0) == 1025);
    CHECK(buffer_holds_disk(kit, kBuffers, 10 * 512, 100));
    CHECK(buffer_holds_disk(kit, kBuffers + 0x1000, 10 * 512 + 100, 412));
    CHECK(buffer_holds_disk(kit, kBuffers + 0x2000, 10 * 512 + 512, 512));
    CHECK(peek<std::uint8_t>(kit, kBuffers + 0x2000 + 512) == 0);  // the status byte
}

TEST_CASE("virtio-blk: writes land on the disk and last across a guest reset", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    {
        Driver d{kit};
        d.start();
        std::memset(kit.ram_at(kBuffers, 512).data(), 0x5a, 512);
        d.request(0, 1, 7, {{kBuffers, 512, false}});
        d.request(1, 4, 0, {});  // FLUSH
        d.notify();
        kit.advance(0);
        REQUIRE(d.used_idx() == 2);
        CHECK(d.status(0) == 0);
        CHECK(d.used_len(0) == 1);  // only the status byte was written into the chain
        CHECK(d.status(1) == 0);
        CHECK(kit.counter_value("disk@a000200", "bytes-written") == 512);
    }
    kit.reset_guest();
    CHECK(kit.read(0x070) == 0);
    std::memset(kit.ram().data(), 0, 0x20000);  // the guest's RAM is zeroed on reset
    Driver d{kit};
    d.start();
    d.request(0, 0, 6, {{kBuffers, 1536, true}});
    d.notify();
    kit.advance(0);
    REQUIRE(d.used_idx() == 1);
    CHECK(buffer_holds_disk(kit, kBuffers, 6 * 512, 512));
    for (std::size_t i = 512; i < 1024; ++i) {
        REQUIRE(std::to_integer<int>(kit.ram_at(kBuffers + i, 1)[0]) == 0x5a);
    }
    CHECK(buffer_holds_disk(kit, kBuffers + 1024, 8 * 512, 512));
}

TEST_CASE("virtio-blk: what the device cannot do gets an error status", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    d.request(0, 0, kSectors - 1, {{kBuffers, 1024, true}});  // runs past the end
    d.request(1, 0, ~0ull, {{kBuffers, 512, true}});          // sector * 512 overflows
    d.request(2, 0, 0, {{kBuffers, 100, true}});              // not whole sectors
    d.request(3, 11, 0, {{kBuffers, 16, false}});             // DISCARD: not offered
    d.request(4, 8, 0, {{kBuffers + 0x1000, 20, true}});      // GET_ID
    d.notify();
    kit.advance(0);
    REQUIRE(d.used_idx() == 5);
    CHECK(d.status(0) == 1);
    CHECK(d.used_len(0) == 1);
    CHECK(d.status(1) == 1);
    CHECK(d.status(2) == 1);
    CHECK(d.status(3) == 2);  // UNSUPP
    CHECK(d.status(4) == 0);
    CHECK(d.used_len(4) == 21);
    const std::span<std::byte> id = kit.ram_at(kBuffers + 0x1000, 20);
    CHECK(std::string(reinterpret_cast<const char*>(id.data()), 20) ==
          std::string("corvisor-disk@a00020", 20));
    CHECK(kit.counter_value("disk@a000200", "errors") == 3);
    CHECK(kit.events.empty());  // none of this is the driver breaking the protocol
    CHECK((*kit.read(0x070) & 64) == 0);
}

TEST_CASE("virtio-blk: a read-only disk refuses writes and still reads", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node("    corvisor,read-only;\n")) != nullptr);
    Driver d{kit};
    d.start();
    std::memset(kit.ram_at(kBuffers, 512).data(), 0x5a, 512);
    d.request(0, 1, 0, {{kBuffers, 512, false}});
    d.request(1, 0, 0, {{kBuffers + 0x1000, 512, true}});
    d.notify();
    kit.advance(0);
    REQUIRE(d.used_idx() == 2);
    CHECK(d.status(0) == 1);
    CHECK(d.status(1) == 0);
    CHECK(buffer_holds_disk(kit, kBuffers + 0x1000, 0, 512));
}

TEST_CASE("virtio-blk: hostile requests make it need reset or fail, never fault", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    std::string expect;
    SECTION("no status byte: every buffer is the driver's") {
        d.chain({{kHeaders, 16, false}, {kBuffers, 512, false}});
        expect = "without its header or its status byte";
    }
    SECTION("a header shorter than 16 bytes") {
        d.chain({{kHeaders, 8, false}, {kStatus, 1, true}});
        expect = "without its header or its status byte";
    }
    SECTION("a driver buffer after a device buffer") {
        d.chain({{kStatus, 1, true}, {kHeaders, 16, false}});
        expect = "without its header or its status byte";
    }
    SECTION("a header outside RAM") {
        d.chain({{0x08000000, 16, false}, {kStatus, 1, true}});
        expect = "a buffer outside the guest's RAM";
    }
    SECTION("a status byte outside RAM") {
        d.request(0, 4, 0, {});
        d.desc(1, kRam + kit.ram().size(), 1, 2, 0);
        expect = "a buffer outside the guest's RAM";
    }
    SECTION("a chain that loops") {
        d.desc(0, kHeaders, 16, 1, 1);
        d.desc(1, kBuffers, 512, 1 | 2, 0);
        d.chain({});  // makes descriptor 0 available as written above
        // On a 64-entry queue the chain passes the 16 segments the device takes first.
        expect = "longer than the device takes";
    }
    SECTION("more segments than seg_max allows") {
        std::vector<Piece> data;
        data.reserve(15);
        for (int i = 0; i < 15; ++i) {
            data.push_back({kBuffers + 0x200 * static_cast<std::uint64_t>(i), 512, true});
        }
        d.request(0, 0, 0, data);
        expect = "longer than the device takes";
    }
    d.notify();
    kit.advance(0);
    REQUIRE(kit.events.size() == 1);
    INFO(kit.events[0]);
    CHECK(kit.events[0].find(expect) != std::string::npos);
    CHECK((*kit.read(0x070) & 64) != 0);  // DEVICE_NEEDS_RESET
    CHECK(kit.irq(kIntid).level);
    REQUIRE(kit.write(0x070, 0));
    CHECK(kit.read(0x070) == 0);
}

TEST_CASE("virtio-blk: a data buffer outside RAM fails that request only", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    d.request(0, 0, 0, {{kRam + kit.ram().size() - 256, 512, true}});
    d.request(1, 0, 1, {{kBuffers, 512, true}});
    d.notify();
    kit.advance(0);
    REQUIRE(d.used_idx() == 2);
    CHECK(d.status(0) == 1);
    CHECK(d.status(1) == 0);
    CHECK(buffer_holds_disk(kit, kBuffers, 512, 512));
}

TEST_CASE("virtio-blk: a guest reset with requests in flight cancels them", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    d.request(0, 0, 0, {{kBuffers, 512, true}});
    d.notify();
    REQUIRE(kit.timers_armed() == 1);
    kit.reset_guest();
    CHECK(kit.timers_armed() == 0);
    kit.advance(62'500'000);
    CHECK(d.used_idx() == 0);
    CHECK(d.status(0) == 0xee);  // nothing was written into the guest after its reset
    CHECK(kit.read(0x070) == 0);
    // The driver's own reset (Status = 0) cancels too.
    Driver again{kit};
    again.start();
    again.request(0, 0, 0, {{kBuffers, 512, true}});
    again.notify();
    REQUIRE(kit.write(0x070, 0));
    CHECK(kit.timers_armed() == 0);
    kit.advance(62'500'000);
    CHECK(again.used_idx() == 0);
    // And it works after either.
    Driver third{kit};
    third.start();
    third.request(0, 0, 2, {{kBuffers, 512, true}});
    third.notify();
    kit.advance(0);
    CHECK(third.used_idx() == 1);
    CHECK(buffer_holds_disk(kit, kBuffers, 1024, 512));
}

TEST_CASE("virtio-blk: a long queue is served in bounded runs", "[virtio-blk]") {
    DeviceKit kit;
    REQUIRE(kit.create(node()) != nullptr);
    Driver d{kit};
    d.start();
    // 20 reads of 16 KiB: 320 KiB, more than one run's 256 KiB.
    for (unsigned i = 0; i < 20; ++i) {
        d.request(i, 0, 0, {{kBuffers + 0x4000 * std::uint64_t{i}, 0x4000, true}});
    }
    d.notify();
    kit.run();
    CHECK(d.used_idx() == 0);
    // A run serves 16 of them (256 KiB) and arms the timer again, a tick later, for the rest.
    kit.advance(0);
    CHECK(d.used_idx() == 16);
    CHECK(kit.timers_armed() == 1);
    CHECK(kit.irq(kIntid).level);  // the first run's requests are announced at once
    kit.advance(1);
    CHECK(d.used_idx() == 20);
    CHECK(kit.timers_armed() == 0);
    CHECK(kit.counter_value("disk@a000200", "reads") == 20);
    CHECK(buffer_holds_disk(kit, kBuffers + 0x4000 * 19, 0, 0x4000));
}
