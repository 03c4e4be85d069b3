// The PL031 through the device test kit: what a guest's driver sees.
#include <catch2/catch.hpp>
#include <corvisor/testing/device_kit.hpp>

using corvisor::testing::DeviceKit;

namespace {

constexpr const char* kNode = R"(rtc@9010000 {
    compatible = "arm,pl031", "arm,primecell";
    reg = <0x0 0x09010000 0x0 0x1000>;
    interrupts = <0 2 4>;
};)";
constexpr std::uint32_t kIntid = 34;  // SPI 2
constexpr std::uint64_t kHz = 62'500'000;
constexpr std::uint32_t kEpoch = 1'767'225'600;  // the kit's wall clock: 2026-01-01, tick 0

}  // namespace

TEST_CASE("pl031: counts seconds from the host's wall clock", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    CHECK(kit.read(0x000) == kEpoch);
    kit.advance(kHz - 1);
    CHECK(kit.read(0x000) == kEpoch);
    kit.advance(1);
    CHECK(kit.read(0x000) == kEpoch + 1);
    kit.advance(59 * kHz);
    CHECK(kit.read(0x000) == kEpoch + 60);
    CHECK(kit.counter_value("rtc@9010000", "reads") == 4);
}

TEST_CASE("pl031: the load register sets the time", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    kit.advance(kHz / 2);
    REQUIRE(kit.write(0x008, 1000));
    CHECK(kit.read(0x008) == 1000);
    CHECK(kit.read(0x000) == 1000);
    kit.advance(kHz);
    CHECK(kit.read(0x000) == 1001);
}

TEST_CASE("pl031: PrimeCell IDs and its DTB needs", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    const std::uint8_t ids[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
    for (unsigned i = 0; i < 8; ++i) {
        CHECK(kit.read(0xfe0 + 4 * i) == ids[i]);
    }
    CHECK(kit.dtb_needs().primecell);
    CHECK(std::string_view(kit.dtb_needs().clocks) == "apb_pclk");
    CHECK(kit.read(0x00c) == 1);                  // started
    CHECK(kit.read(0x100) == 0);                  // reserved: reads as zero
    CHECK_FALSE(kit.read(0x000, 1).has_value());  // 32-bit registers only
    CHECK_FALSE(kit.write(0x000, 0, 2));
}

TEST_CASE("pl031: the match interrupt fires with no access pending", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    REQUIRE(kit.write(0x010, 1));           // unmask
    REQUIRE(kit.write(0x004, kEpoch + 3));  // match in 3 s
    CHECK(kit.timers_armed() == 1);
    kit.advance(3 * kHz - 1);
    CHECK_FALSE(kit.irq(kIntid).level);
    kit.advance(1);
    CHECK(kit.irq(kIntid).level);
    CHECK(kit.irq(kIntid).history.back().time == 3 * kHz);
    CHECK(kit.read(0x014) == 1);
    CHECK(kit.read(0x018) == 1);
    REQUIRE(kit.write(0x01c, 1));  // clear
    CHECK_FALSE(kit.irq(kIntid).level);
    CHECK(kit.irq(kIntid).rising_edges == 1);
    CHECK(kit.counter_value("rtc@9010000", "alarms") == 1);
}

TEST_CASE("pl031: a masked match sets only the raw status; a match now fires now", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    REQUIRE(kit.write(0x004, kEpoch));  // the count is there already
    CHECK(kit.read(0x014) == 1);
    CHECK(kit.read(0x018) == 0);
    CHECK_FALSE(kit.irq(kIntid).level);
    REQUIRE(kit.write(0x010, 1));  // unmasking a pending match raises the line
    CHECK(kit.irq(kIntid).level);
}

TEST_CASE("pl031: a guest reset cancels the alarm and keeps the time", "[pl031]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    REQUIRE(kit.write(0x010, 1));
    REQUIRE(kit.write(0x004, kEpoch + 10));
    kit.advance(2 * kHz);
    kit.reset_guest();
    CHECK(kit.timers_armed() == 0);
    kit.advance(20 * kHz);
    CHECK_FALSE(kit.irq(kIntid).level);
    CHECK(kit.read(0x014) == 0);
    CHECK(kit.read(0x010) == 0);
    CHECK(kit.read(0x000) == kEpoch + 22);
}

TEST_CASE("pl031: bad nodes are refused with the property named", "[pl031]") {
    DeviceKit kit;
    CHECK(kit.create(R"(rtc@0 { compatible = "arm,pl031"; reg = <0 0 0 0x100>; };)") == nullptr);
    CHECK(kit.error() == "property \"reg\": a PL031 has one region of at least 4 KiB");
    kit.fail_allocations = true;
    CHECK(kit.create(kNode) == nullptr);
    CHECK(kit.error() == "out of memory");
}
