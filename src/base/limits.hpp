// The hypervisor's build-time limits, each written once. Tables are sized by them (no heap), and
// the guest-list parser rejects a guest that exceeds one (docs/guest-list.md).
#pragma once

#include <cstdint>

namespace corvisor {

inline constexpr std::uint32_t kMaxPcpus = 8;        ///< physical CPUs the image can run on
inline constexpr std::uint32_t kMaxGuests = 32;      ///< guests in one guest list
inline constexpr std::uint32_t kMaxVcpus = 8;        ///< vCPUs of one guest
inline constexpr std::uint32_t kMaxDevices = 8;      ///< devices of one guest
inline constexpr std::uint32_t kMaxDeviceRegs = 4;   ///< `reg` regions of one device
inline constexpr std::uint32_t kMaxDeviceIrqs = 4;   ///< `interrupts` of one device
inline constexpr std::uint32_t kMaxNameLength = 31;  ///< guest and device node names
/// Coroutine frames that live as long as their guest: each vCPU's run loop, each console pump.
inline constexpr std::uint32_t kLongLivedFrames = kMaxGuests * (kMaxVcpus + 1);

}  // namespace corvisor
