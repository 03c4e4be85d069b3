#include "corvisor/device.hpp"

// The linker provides these bounds for the section of CORVISOR_REGISTER_DEVICE entries (GNU ld and
// lld do so for any section whose name is a C identifier); the EL2 link script keeps the section.
// Weak, so that an image with no device at all still links. The names are the linker's, hence
// reserved identifiers.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" [[gnu::weak]] const corvisor::DeviceRegistration __start_corvisor_devices[];
extern "C" [[gnu::weak]] const corvisor::DeviceRegistration __stop_corvisor_devices[];
// NOLINTEND(bugprone-reserved-identifier)

namespace corvisor {

DeviceFactory find_device_factory(std::string_view compatible) {
    for (const DeviceRegistration* r = __start_corvisor_devices; r != __stop_corvisor_devices;
         ++r) {
        if (compatible == r->compatible) {
            return r->factory;
        }
    }
    return nullptr;
}

}  // namespace corvisor
