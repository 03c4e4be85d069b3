// The virtio tests' typed access to the kit's guest RAM: what a driver writes into its rings and
// reads back from the device's.
#pragma once

#include <corvisor/testing/device_kit.hpp>

#include <cstdint>
#include <cstring>

namespace corvisor::virtio::testing {

template <class T>
void poke(corvisor::testing::DeviceKit& kit, std::uint64_t ipa, T v) {
    std::memcpy(kit.ram_at(ipa, sizeof v).data(), &v, sizeof v);
}
template <class T>
T peek(corvisor::testing::DeviceKit& kit, std::uint64_t ipa) {
    T v{};
    std::memcpy(&v, kit.ram_at(ipa, sizeof v).data(), sizeof v);
    return v;
}

}  // namespace corvisor::virtio::testing
