// The physical GICv3, owned by the hypervisor (Arm IHI 0069): distributor, this pCPU's
// redistributor and the system-register CPU interface. Guests never reach it: they see a vGIC.
#pragma once

#include <cstdint>

namespace corvisor {

/// PPIs and SPIs the hypervisor takes (INTIDs, Arm BSA / QEMU virt).
inline constexpr std::uint32_t kIntidMaintenance = 25;  ///< GIC virtual CPU interface
inline constexpr std::uint32_t kIntidHypTimer = 26;     ///< CNTHP: the hypervisor's own timer
inline constexpr std::uint32_t kIntidVirtTimer = 27;    ///< CNTV: the loaded vCPU's timer
inline constexpr std::uint32_t kIntidPhysTimer = 30;    ///< CNTP: the loaded vCPU's EL1 timer
inline constexpr std::uint32_t kIntidSpurious = 1023;

struct GicInfo {
    std::uintptr_t dist = 0;
    std::uintptr_t redist_region = 0;
    std::uint64_t redist_size = 0;
};

/// Bring up the distributor, this pCPU's redistributor and the CPU interface (EOImode 1: the
/// hypervisor drops priority with EOIR and deactivates separately, so a forwarded timer PPI can
/// stay active until the guest deactivates it through a hardware-linked list register).
/// False if no redistributor matches this pCPU.
bool gic_init(const GicInfo& info);

/// Enable a PPI of this pCPU / an SPI routed to this pCPU, as group 1 with `priority`.
void gic_enable_ppi(std::uint32_t intid, std::uint8_t priority);
void gic_enable_spi(std::uint32_t intid, std::uint8_t priority, bool edge);

/// Acknowledge the highest-priority pending interrupt (kIntidSpurious if none).
std::uint32_t gic_ack();
/// Priority drop (EOIR) and deactivation (DIR), separately because of EOImode 1.
void gic_priority_drop(std::uint32_t intid);
void gic_deactivate(std::uint32_t intid);

/// The active state of one of this pCPU's PPIs (the timer PPIs travel with their vCPU when
/// another vCPU is loaded, since the guest deactivates them through a hardware-linked LR).
bool gic_ppi_active(std::uint32_t intid);
void gic_set_ppi_active(std::uint32_t intid, bool active);

/// Number of list registers (ICH_VTR_EL2.ListRegs + 1).
std::uint32_t gic_list_registers();

}  // namespace corvisor
