// Dispatch of the hypervisor's own interrupts and the idle loop.
#include "boot/irq_dispatch.hpp"

#include "arch/arch.hpp"
#include "boot/console_input.hpp"
#include "exec/cpu.hpp"
#include "vm/platform.hpp"
#include "vm/vcpu.hpp"

namespace corvisor {

bool platform_irq(std::uint32_t intid) {
    bool woke = false;
    if (intid == kIntidHypTimer) {
        woke = expire_timers();
    } else if (intid == kIntidKick) {
        woke = true;  // another pCPU posted here, or has news for the vCPU that ran
    } else {
        woke = console_input_irq(intid);
    }
    // kIntidMaintenance needs nothing here: the vCPU's next entry syncs and refills its LRs.
    arch_irq_priority_drop(intid);
    arch_irq_deactivate(intid);
    return woke;
}

void idle_wait() {
    const std::uint64_t since = arch_now();
    arch_wait_for_interrupt();
    this_cpu().idle_ticks += arch_now() - since;
    for (;;) {
        std::uint32_t intid = arch_irq_ack();
        if (intid >= kIntidSpurious) {
            return;
        }
        Vcpu* loaded = this_cpu().loaded_vcpu;
        if ((intid == kIntidVirtTimer || intid == kIntidPhysTimer) && loaded != nullptr) {
            // The loaded vCPU's timer fired while it waited in WFI.
            arch_irq_priority_drop(intid);
            loaded->timer_fired(intid);
        } else {
            platform_irq(intid);
        }
    }
}

}  // namespace corvisor
