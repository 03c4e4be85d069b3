// The device registry's checks (src/vdev/registry.cpp): a device built against another major
// version of the device API, and a second registration of a compatible, are refused with a
// message naming them; the image's own registry passes.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include "corvisor/device.hpp"

using namespace corvisor;

namespace {

Result<Device*> factory_a(const DeviceNode&, DeviceHost&) {
    return Error::kUnsupported;
}
Result<Device*> factory_b(const DeviceNode&, DeviceHost&) {
    return Error::kUnsupported;
}

void collect(void* ctx, std::string_view line) {
    static_cast<std::vector<std::string>*>(ctx)->emplace_back(line);
}

}  // namespace

TEST_CASE("The device registry refuses another major API version and duplicate compatibles",
          "[vdev]") {
    const std::uint16_t major = CORVISOR_DEVICE_API_VERSION_MAJOR;
    const std::array<DeviceRegistration, 5> all = {{
        {"vendor,a", factory_a, major, 0, "a.cpp:10"},
        {"vendor,b", factory_b, static_cast<std::uint16_t>(major + 1), 2, "b.cpp:20"},
        {"vendor,a", factory_b, major, 7, "other.cpp:30"},  // a newer minor: still a duplicate
        {"vendor,c", factory_a, major, 99, "c.cpp:40"},     // any minor of this major is fine
        {"vendor,b", factory_a, major, 0, "b2.cpp:50"},     // the refused one does not count
    }};
    std::vector<std::string> lines;
    CHECK(check_device_registry(all, collect, &lines) == 2);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "device \"vendor,b\" (b.cpp:20) was built against device API " +
                          std::to_string(major + 1) + ".2, this corvisor has " +
                          CORVISOR_DEVICE_API_VERSION "; refused");
    CHECK(lines[1] ==
          "device \"vendor,a\" is registered twice: at a.cpp:10 and at other.cpp:30; the "
          "second is refused");
    CHECK(device_registration_usable(all[0], all));
    CHECK(device_registration_usable(all[3], all));
    CHECK(device_registration_usable(all[4], all));
}

TEST_CASE("The image's own devices carry this API version and pass the registry's checks",
          "[vdev]") {
    std::vector<std::string> lines;
    CHECK(check_device_registry(device_registry(), collect, &lines) == 0);
    CHECK(lines.empty());
    bool pl011 = false;
    for (const DeviceRegistration& r : device_registry()) {
        CHECK(r.api_major == CORVISOR_DEVICE_API_VERSION_MAJOR);
        CHECK(r.api_minor == CORVISOR_DEVICE_API_VERSION_MINOR);
        CHECK(std::string(r.where).find(".cpp:") != std::string::npos);
        pl011 = pl011 || std::string_view(r.compatible) == "arm,pl011";
    }
    CHECK(pl011);
    CHECK(find_device_factory("arm,pl011") != nullptr);
    CHECK(find_device_factory("vendor,nothing") == nullptr);
}
