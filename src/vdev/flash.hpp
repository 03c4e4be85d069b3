// A guest's flash at IPA 0 (QEMU virt's two 64 MiB banks): read-only memory mapped by stage 2
// (reads and fetches never trap), with this device on the bus for what does trap: writes. They
// are ignored, as a ROM ignores them. Not a CFI flash: firmware that probes one (U-Boot's CFI
// driver, if the guest DTB described the flash) finds none, and its saved environment does not
// persist; what a guest may change stays in its RAM, and no write of one guest reaches memory
// another guest maps (the erased banks are shared, read-only). docs/guest-list.md, `flash`.
#pragma once

#include "corvisor/device.hpp"

namespace corvisor {

class Flash final : public Device {
public:
    std::string_view name() const override { return "flash"; }
    MmioResult mmio(MmioAccess access) override {
        if (access.write()) {
            return MmioResult::done();  // a ROM ignores writes
        }
        // Reads are mapped and do not trap; one that does (no syndrome to map it) reads as
        // erased flash.
        return MmioResult::done(~std::uint64_t{0});
    }
};

}  // namespace corvisor
