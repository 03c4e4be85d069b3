// The physical GIC's pieces only src/el2 uses (the rest is the arch interface: arch_gic_init,
// arch_irq_*): the active state of this pCPU's timer PPIs, which travels with the vCPU whose
// timer fired, since the guest deactivates it through a hardware-linked list register.
#pragma once

#include <cstdint>

namespace corvisor {

bool gic_ppi_active(std::uint32_t intid);
void gic_set_ppi_active(std::uint32_t intid, bool active);

}  // namespace corvisor
