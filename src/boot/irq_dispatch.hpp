// The hypervisor's own interrupts on a pCPU: dispatch to the timer service and the console,
// and the idle loop.
#pragma once

namespace corvisor {

/// Nothing is runnable on this pCPU: wait for an interrupt (WFI, never a spin) and handle it.
void idle_wait();
/// The hypervisor timer fired: wake the vCPUs whose deadline passed, end an expired slice.
/// True if a vCPU became runnable or must yield.
bool expire_timers();

}  // namespace corvisor
