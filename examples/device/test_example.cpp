// The example device through the kit: the model for a device's own tests (docs/devices.md).
#include <catch2/catch.hpp>
#include <corvisor/testing/device_kit.hpp>

using corvisor::testing::DeviceKit;

namespace {
constexpr const char* kNode = R"(delay@a000000 {
    compatible = "corvisor,example-delay";
    reg = <0x0 0x0a000000 0x0 0x1000>;
    interrupts = <0 5 4>;
    delay-us = <250>;
};)";
constexpr std::uint32_t kIntid = 37;  // SPI 5
}  // namespace

TEST_CASE("example: registers, and the delay from the node", "[example]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    CHECK(kit.read(0x00) == 0x434f5256);
    CHECK(kit.read(0x04) == 250);
    CHECK(kit.write(0x04, 10));
    CHECK(kit.read(0x04) == 10);
    CHECK_FALSE(kit.read(0x00, 8).has_value());
}

TEST_CASE("example: a slow read is deferred until its delay has passed", "[example]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    auto pending = kit.start(corvisor::MmioAccess(0, 0x08, 4, false, 0, 0));
    CHECK(pending.deferred());
    CHECK_FALSE(pending.done());
    CHECK(kit.timers_armed() == 1);
    kit.advance(kit.ticks_from_ns(250'000) - 1);
    CHECK_FALSE(pending.done());
    kit.advance(1);
    REQUIRE(pending.done());
    CHECK_FALSE(pending.outcome().abort);
    CHECK(pending.outcome().value == 1);
    CHECK(kit.read(0x08) == 2);  // read runs it to completion, advancing the clock
    CHECK(kit.now() == 2 * kit.ticks_from_ns(250'000));
    CHECK(kit.counter_value("delay@a000000", "slow-reads") == 2);
    CHECK(kit.largest_frame() <= corvisor::kMaxFrameSize);
    CHECK_FALSE(kit.frame_too_large());
}

TEST_CASE("example: a reset during a slow read answers it with an abort", "[example]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    auto pending = kit.start(corvisor::MmioAccess(0, 0x08, 4, false, 0, 0));
    REQUIRE_FALSE(pending.done());
    kit.reset_guest();
    REQUIRE(pending.done());
    CHECK(pending.outcome().abort);
    CHECK(kit.timers_armed() == 0);
    CHECK(kit.counter_value("delay@a000000", "slow-reads") == 0);
}

TEST_CASE("example: the doorbell raises the line after the delay, with no access", "[example]") {
    DeviceKit kit;
    REQUIRE(kit.create(kNode) != nullptr);
    REQUIRE(kit.write(0x0c, 1));
    kit.advance(kit.ticks_from_ns(250'000) - 1);
    CHECK_FALSE(kit.irq(kIntid).level);
    kit.advance(1);
    CHECK(kit.irq(kIntid).level);
    CHECK(kit.read(0x10) == 1);
    REQUIRE(kit.write(0x10, 1));
    CHECK_FALSE(kit.irq(kIntid).level);
    CHECK(kit.irq(kIntid).history.size() == 2);
}

TEST_CASE("example: a malformed delay-us is refused by name", "[example]") {
    DeviceKit kit;
    CHECK(kit.create(R"(delay@0 { compatible = "corvisor,example-delay";
                          reg = <0 0 0 0x1000>; delay-us = "soon"; };)") == nullptr);
    CHECK(kit.error() == "property \"delay-us\": expected one 32-bit cell (4 bytes), got 5 bytes");
}
