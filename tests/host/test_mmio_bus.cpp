#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>

#include "vdev/mmio_bus.hpp"

using namespace corvisor;

namespace {

class RecordingDevice final : public Device {
public:
    explicit RecordingDevice(std::uint64_t answer) : answer_(answer) {}
    std::string_view name() const override { return "recording"; }
    MmioResult mmio(MmioAccess access) override {
        last = access;
        ++accesses;
        return MmioResult::done(answer_);
    }
    void reset() override { ++resets; }

    MmioAccess last;
    int accesses = 0;
    int resets = 0;

private:
    std::uint64_t answer_;
};

}  // namespace

TEST_CASE("mmio bus rejects empty and wrapping ranges", "[vdev]") {
    MmioBus bus;
    RecordingDevice dev(0);
    CHECK(bus.add(0x1000, 0, dev, 0).error() == Error::kInvalidArgument);
    CHECK(bus.add(std::numeric_limits<std::uint64_t>::max(), 2, dev, 0).error() ==
          Error::kInvalidArgument);
    // Ending exactly at the top of the address space does not wrap.
    CHECK(bus.add(std::numeric_limits<std::uint64_t>::max() - 0xFFF, 0x1000, dev, 0).ok());
    CHECK(bus.entry_count() == 1);
}

TEST_CASE("mmio bus rejects every kind of overlap and allows adjacency", "[vdev]") {
    MmioBus bus;
    RecordingDevice dev(0);
    REQUIRE(bus.add(0x1000, 0x1000, dev, 0).ok());
    CHECK(bus.add(0x1000, 0x1000, dev, 1).error() == Error::kOverlap);  // exact
    CHECK(bus.add(0x800, 0x1000, dev, 1).error() == Error::kOverlap);   // partial, below
    CHECK(bus.add(0x1800, 0x1000, dev, 1).error() == Error::kOverlap);  // partial, above
    CHECK(bus.add(0x1400, 0x100, dev, 1).error() == Error::kOverlap);   // contained
    CHECK(bus.add(0x0, 0x10000, dev, 1).error() == Error::kOverlap);    // containing
    CHECK(bus.add(0x1FFF, 1, dev, 1).error() == Error::kOverlap);       // last byte
    CHECK(bus.add(0x0, 0x1000, dev, 1).ok());                           // adjacent below
    CHECK(bus.add(0x2000, 0x1000, dev, 2).ok());                        // adjacent above
    CHECK(bus.entry_count() == 3);
}

TEST_CASE("mmio bus reports a full table", "[vdev]") {
    MmioBus bus;
    RecordingDevice dev(0);
    for (std::uint64_t i = 0; i < MmioBus::kCapacity; ++i) {
        // Insert in descending order so that every add shifts the table.
        REQUIRE(bus.add((MmioBus::kCapacity - i) * 0x1000, 0x1000, dev, 0).ok());
    }
    CHECK(bus.add(0x100000, 0x1000, dev, 0).error() == Error::kOutOfMemory);
    // An overlapping range is still reported as an overlap, not as a full table.
    CHECK(bus.add(0x1000, 0x1000, dev, 0).error() == Error::kOverlap);
    for (std::uint64_t i = 1; i <= MmioBus::kCapacity; ++i) {
        CHECK(bus.find(i * 0x1000 + 0x10, 4).has_value());
    }
}

TEST_CASE("mmio bus dispatch picks the device, region and offset", "[vdev]") {
    MmioBus bus;
    RecordingDevice uart(0x11);
    RecordingDevice gic(0x22);
    REQUIRE(bus.add(0x0900'0000, 0x1000, uart, 0).ok());
    REQUIRE(bus.add(0x0800'0000, 0x10000, gic, 0).ok());
    REQUIRE(bus.add(0x080A'0000, 0x20000, gic, 1).ok());

    MmioResult r = bus.dispatch(0x0900'0018, 4, false, 0xdead, 3);
    CHECK(r.kind() == MmioResult::Kind::kDone);
    CHECK(r.value() == 0x11);
    CHECK(uart.last.region() == 0);
    CHECK(uart.last.offset() == 0x18);
    CHECK(uart.last.size() == 4);
    CHECK_FALSE(uart.last.write());
    CHECK(uart.last.data() == 0);  // loads carry no data
    CHECK(uart.last.vcpu() == 3);

    r = bus.dispatch(0x080A'FFF8, 8, true, 0x1234'5678'9ABC'DEF0, 1);
    CHECK(r.value() == 0x22);
    CHECK(gic.last.region() == 1);
    CHECK(gic.last.offset() == 0xFFF8);
    CHECK(gic.last.size() == 8);
    CHECK(gic.last.write());
    CHECK(gic.last.data() == 0x1234'5678'9ABC'DEF0);
    CHECK(gic.last.vcpu() == 1);

    r = bus.dispatch(0x0800'0000, 1, false, 0, 0);
    CHECK(gic.last.region() == 0);
    CHECK(gic.last.offset() == 0);
    CHECK(uart.accesses == 1);
    CHECK(gic.accesses == 2);
}

TEST_CASE("mmio bus dispatch enforces width and alignment", "[vdev]") {
    MmioBus bus;
    RecordingDevice dev(7);
    REQUIRE(bus.add(0x1000, 0x1000, dev, 0).ok());
    for (const std::uint8_t size : std::array<std::uint8_t, 4>{1, 2, 4, 8}) {
        CHECK(bus.dispatch(0x1000 + 8u * size, size, false, 0, 0).kind() ==
              MmioResult::Kind::kDone);
    }
    for (const std::uint8_t size : std::array<std::uint8_t, 4>{0, 3, 5, 16}) {
        CHECK(bus.dispatch(0x1000, size, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    }
    CHECK(bus.dispatch(0x1001, 2, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(bus.dispatch(0x1002, 4, true, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(bus.dispatch(0x1004, 8, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(bus.dispatch(0x1003, 1, false, 0, 0).kind() == MmioResult::Kind::kDone);
    CHECK(dev.accesses == 5);
}

TEST_CASE("mmio bus aborts unmapped and straddling accesses", "[vdev]") {
    MmioBus bus;
    RecordingDevice a(1);
    RecordingDevice b(2);
    REQUIRE(bus.add(0x1000, 0x6, a, 0).ok());  // odd size: [0x1000, 0x1006)
    REQUIRE(bus.add(0x1006, 0x2, b, 0).ok());
    REQUIRE(bus.add(0x3000, 0x1000, b, 1).ok());
    CHECK(bus.dispatch(0x0FFC, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // below all
    CHECK(bus.dispatch(0x2000, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // gap
    CHECK(bus.dispatch(0x4000, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // above all
    // Aligned, but running past the end of `a` into `b`: no single device owns it.
    CHECK(bus.dispatch(0x1004, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(bus.dispatch(0x1000, 8, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    // Running past the end of the last region into unmapped space.
    CHECK(bus.dispatch(0x3FFC, 8, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(bus.dispatch(0x1004, 2, false, 0, 0).kind() == MmioResult::Kind::kDone);
    CHECK(bus.dispatch(0x1006, 2, false, 0, 0).kind() == MmioResult::Kind::kDone);
    CHECK(a.accesses == 1);
    CHECK(b.accesses == 1);
    CHECK_FALSE(bus.find(0x0FFF, 1).has_value());
    CHECK_FALSE(bus.find(std::numeric_limits<std::uint64_t>::max(), 8).has_value());
}

TEST_CASE("mmio bus resets each device once", "[vdev]") {
    MmioBus bus;
    RecordingDevice a(1);
    RecordingDevice b(2);
    REQUIRE(bus.add(0x1000, 0x1000, a, 0).ok());
    REQUIRE(bus.add(0x3000, 0x1000, b, 0).ok());
    REQUIRE(bus.add(0x5000, 0x1000, a, 1).ok());
    REQUIRE(bus.add(0x7000, 0x1000, a, 2).ok());
    bus.reset_all();
    CHECK(a.resets == 1);
    CHECK(b.resets == 1);
}
