// GICv3 facts both sides of the seam need: the interrupt IDs the platform uses (Arm BSA, QEMU
// virt) and the architected sizes of the GIC's memory-mapped frames (IHI 0069 12.8).
#pragma once

#include <cstdint>

namespace corvisor {

/// PPIs and special INTIDs the hypervisor takes.
/// The physical SGI one pCPU sends another to make it look at its executor's inbox.
inline constexpr std::uint32_t kIntidKick = 1;
inline constexpr std::uint32_t kIntidMaintenance = 25;  ///< GIC virtual CPU interface
inline constexpr std::uint32_t kIntidHypTimer = 26;     ///< CNTHP: the hypervisor's own timer
inline constexpr std::uint32_t kIntidVirtTimer = 27;    ///< CNTV: the loaded vCPU's timer
inline constexpr std::uint32_t kIntidPhysTimer = 30;    ///< CNTP: the loaded vCPU's EL1 timer
inline constexpr std::uint32_t kIntidFirstSpi = 32;
inline constexpr std::uint32_t kIntidSpurious = 1023;

/// The distributor's frame, and one redistributor: an RD_base frame and an SGI_base frame.
inline constexpr std::uint64_t kGicDistSize = 0x10000;
inline constexpr std::uint64_t kGicRedistFrameSize = 0x10000;
inline constexpr std::uint64_t kGicRedistStride = 2 * kGicRedistFrameSize;
/// Where a redistributor's SGI_base frame starts (its banked SGI/PPI registers).
inline constexpr std::uint64_t kGicRedistSgiBase = kGicRedistFrameSize;

}  // namespace corvisor
