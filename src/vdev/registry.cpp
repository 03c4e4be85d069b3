#include "corvisor/device.hpp"

#include <array>

#include "vdev/bounded_text.hpp"

// The linker provides these bounds for the section of CORVISOR_REGISTER_DEVICE entries (GNU ld and
// lld do so for any section whose name is a C identifier); the EL2 link script keeps the section.
// Weak, so that an image with no device at all still links. The names are the linker's, hence
// reserved identifiers.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" [[gnu::weak]] const corvisor::DeviceRegistration __start_corvisor_devices[];
extern "C" [[gnu::weak]] const corvisor::DeviceRegistration __stop_corvisor_devices[];
// NOLINTEND(bugprone-reserved-identifier)

namespace corvisor {

namespace {

using Why = BoundedText;

std::string_view text(const char* s) {
    return s != nullptr ? std::string_view(s) : std::string_view("?");
}

}  // namespace

std::span<const DeviceRegistration> device_registry() {
    if (__start_corvisor_devices == nullptr || __stop_corvisor_devices == nullptr) {
        return {};
    }
    return {__start_corvisor_devices,
            static_cast<std::size_t>(__stop_corvisor_devices - __start_corvisor_devices)};
}

bool device_registration_usable(const DeviceRegistration& r,
                                std::span<const DeviceRegistration> all, std::span<char> why) {
    Why w(why.data(), why.size());
    if (r.api_major != CORVISOR_DEVICE_API_VERSION_MAJOR) {
        w.add("device \"").add(text(r.compatible)).add("\" (").add(text(r.where));
        w.add(") was built against device API ").dec(r.api_major).add(".").dec(r.api_minor);
        w.add(", this corvisor has " CORVISOR_DEVICE_API_VERSION "; refused");
        return false;
    }
    if (r.compatible == nullptr || r.factory == nullptr) {
        w.add("device registration at ").add(text(r.where)).add(" has no compatible or factory");
        return false;
    }
    for (const DeviceRegistration& other : all) {
        if (&other == &r) {
            return true;  // the first usable one of its compatible
        }
        if (other.api_major == CORVISOR_DEVICE_API_VERSION_MAJOR && other.compatible != nullptr &&
            other.factory != nullptr && std::string_view(other.compatible) == r.compatible) {
            w.add("device \"").add(r.compatible).add("\" is registered twice: at ");
            w.add(text(other.where)).add(" and at ").add(text(r.where));
            w.add("; the second is refused");
            return false;
        }
    }
    return true;  // not in `all`: nothing to clash with
}

std::size_t check_device_registry(std::span<const DeviceRegistration> all,
                                  void (*report)(void* ctx, std::string_view line), void* ctx) {
    std::size_t refused = 0;
    for (const DeviceRegistration& r : all) {
        std::array<char, 256> why{};
        if (!device_registration_usable(r, all, why)) {
            ++refused;
            if (report != nullptr) {
                report(ctx, why.data());
            }
        }
    }
    return refused;
}

const DeviceRegistration* find_device_registration(std::string_view compatible) {
    const std::span<const DeviceRegistration> all = device_registry();
    for (const DeviceRegistration& r : all) {
        if (r.compatible != nullptr && compatible == r.compatible &&
            device_registration_usable(r, all)) {
            return &r;
        }
    }
    return nullptr;
}

DeviceFactory find_device_factory(std::string_view compatible) {
    const DeviceRegistration* r = find_device_registration(compatible);
    return r != nullptr ? r->factory : nullptr;
}

}  // namespace corvisor
