// What a vCPU's run loop asks of the pCPU it runs on, beyond the hardware seam: the hypervisor's
// own interrupts, timed wake-ups and time slices. src/boot implements it for the image
// (irq_dispatch.cpp, timer_service.cpp); host tests script it (tests/host/fake_arch.cpp).
#pragma once

#include <cstdint>

#include "corvisor/time.hpp"

namespace corvisor {

class Vcpu;
class Vm;

/// Handle a physical interrupt that is not the loaded vCPU's timer (maintenance, the
/// hypervisor timer, console input, ...): priority drop and deactivation included. True if it
/// made some vCPU runnable, so the caller should let the executor run.
bool platform_irq(std::uint32_t intid);
/// Wake `vcpu` at `deadline` (physical counter ticks) unless cancelled first.
void platform_timer_wait(Vcpu& vcpu, std::uint64_t deadline);
void platform_timer_cancel(Vcpu& vcpu);
/// Time slicing: while other vCPUs wait for this pCPU, the hypervisor timer ends the running
/// vCPU's slice after `ticks` (the interrupt then makes it yield). End it when the vCPU leaves.
void platform_slice_begin(std::uint64_t ticks);
void platform_slice_end();

/// Device timers (DeviceHost::timer_arm): queue `node` on this pCPU for `deadline`, on behalf
/// of `vm`; when it is due the pCPU calls `vm.run_device_timer`.
void platform_device_timer_arm(TimerNode& node, std::uint64_t deadline, Vm& vm);
/// Cancel every device timer `vm` armed, on every pCPU (each gets vm.run_device_timer with
/// TimerEnd::kCancelled, on the calling pCPU).
void platform_device_timers_cancel(Vm& vm);
/// The wall clock the hypervisor took at boot (WallClock).
WallClock platform_wall_clock();

}  // namespace corvisor
