// The hypervisor's own interrupts on a pCPU: dispatch to the timer service and the console,
// and the idle loop.
#pragma once

#include "corvisor/time.hpp"

namespace corvisor {

/// Nothing is runnable on this pCPU: wait for an interrupt (WFI, never a spin) and handle it.
void idle_wait();
/// Show partial console lines (prompts) a moment from now / not after all (boot/console_input).
void console_flush_soon();
void console_flush_cancel();

/// The hypervisor timer fired: wake the vCPUs whose deadline passed, end an expired slice.
/// True if a vCPU became runnable or must yield.
bool expire_timers();

/// The wall clock devices see (DeviceHost::wall_clock), taken once at boot.
void set_platform_wall_clock(const WallClock& clock);

}  // namespace corvisor
