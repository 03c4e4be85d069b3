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

// One access routed as the vCPU's trap path routes it: the bus's lookup (with a per-caller
// hint), then the device's mmio() with the offset inside the region; no device: an abort.
MmioResult route(const MmioBus& bus, std::uint64_t ipa, std::uint8_t size, bool write,
                 std::uint64_t data, std::uint32_t vcpu) {
    const MmioBus::Entry* hint = nullptr;
    const MmioBus::Entry* e = bus.lookup(ipa, size, hint);
    if (e == nullptr) {
        return MmioResult::abort();
    }
    return e->device->mmio(MmioAccess::from_parts(MmioAccess::source_bits(e->region, vcpu),
                                                  ipa - e->base, size, write ? 1 : 0,
                                                  write ? data : 0));
}
bool bus_has(const MmioBus& bus, std::uint64_t ipa, std::uint8_t size) {
    const MmioBus::Entry* hint = nullptr;
    return bus.lookup(ipa, size, hint) != nullptr;
}

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
        CHECK(bus_has(bus, i * 0x1000 + 0x10, 4));
    }
}

TEST_CASE("mmio bus routing picks the device, region and offset", "[vdev]") {
    MmioBus bus;
    RecordingDevice uart(0x11);
    RecordingDevice gic(0x22);
    REQUIRE(bus.add(0x0900'0000, 0x1000, uart, 0).ok());
    REQUIRE(bus.add(0x0800'0000, 0x10000, gic, 0).ok());
    REQUIRE(bus.add(0x080A'0000, 0x20000, gic, 1).ok());

    MmioResult r = route(bus, 0x0900'0018, 4, false, 0xdead, 3);
    CHECK(r.kind() == MmioResult::Kind::kDone);
    CHECK(r.value() == 0x11);
    CHECK(uart.last.region() == 0);
    CHECK(uart.last.offset() == 0x18);
    CHECK(uart.last.size() == 4);
    CHECK_FALSE(uart.last.write());
    CHECK(uart.last.data() == 0);  // loads carry no data
    CHECK(uart.last.vcpu() == 3);

    r = route(bus, 0x080A'FFF8, 8, true, 0x1234'5678'9ABC'DEF0, 1);
    CHECK(r.value() == 0x22);
    CHECK(gic.last.region() == 1);
    CHECK(gic.last.offset() == 0xFFF8);
    CHECK(gic.last.size() == 8);
    CHECK(gic.last.write());
    CHECK(gic.last.data() == 0x1234'5678'9ABC'DEF0);
    CHECK(gic.last.vcpu() == 1);

    r = route(bus, 0x0800'0000, 1, false, 0, 0);
    CHECK(gic.last.region() == 0);
    CHECK(gic.last.offset() == 0);
    CHECK(uart.accesses == 1);
    CHECK(gic.accesses == 2);
}

TEST_CASE("mmio bus routes every width a data-abort syndrome reports", "[vdev]") {
    // SAS gives 1, 2, 4 or 8 bytes. Alignment is not the bus's business: an unaligned access to
    // Device memory faults at the guest's own stage 1 (Arm ARM B2.5.2) before it reaches EL2,
    // and a device that sees an offset it does not decode answers it as RAZ/WI.
    MmioBus bus;
    RecordingDevice dev(7);
    REQUIRE(bus.add(0x1000, 0x1000, dev, 0).ok());
    for (const std::uint8_t size : std::array<std::uint8_t, 4>{1, 2, 4, 8}) {
        CHECK(route(bus, 0x1000 + 8u * size, size, false, 0, 0).kind() == MmioResult::Kind::kDone);
        CHECK(dev.last.size() == size);
        CHECK(dev.last.offset() == 8u * size);
    }
    CHECK(dev.accesses == 4);
}

TEST_CASE("mmio bus aborts unmapped and straddling accesses", "[vdev]") {
    MmioBus bus;
    RecordingDevice a(1);
    RecordingDevice b(2);
    REQUIRE(bus.add(0x1000, 0x6, a, 0).ok());  // odd size: [0x1000, 0x1006)
    REQUIRE(bus.add(0x1006, 0x2, b, 0).ok());
    REQUIRE(bus.add(0x3000, 0x1000, b, 1).ok());
    CHECK(route(bus, 0x0FFC, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // below all
    CHECK(route(bus, 0x2000, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // gap
    CHECK(route(bus, 0x4000, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);  // above all
    // Aligned, but running past the end of `a` into `b`: no single device owns it.
    CHECK(route(bus, 0x1004, 4, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(route(bus, 0x1000, 8, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    // Running past the end of the last region into unmapped space.
    CHECK(route(bus, 0x3FFC, 8, false, 0, 0).kind() == MmioResult::Kind::kAbort);
    CHECK(route(bus, 0x1004, 2, false, 0, 0).kind() == MmioResult::Kind::kDone);
    CHECK(route(bus, 0x1006, 2, false, 0, 0).kind() == MmioResult::Kind::kDone);
    CHECK(a.accesses == 1);
    CHECK(b.accesses == 1);
    CHECK_FALSE(bus_has(bus, 0x0FFF, 1));
    CHECK_FALSE(bus_has(bus, std::numeric_limits<std::uint64_t>::max(), 8));
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
