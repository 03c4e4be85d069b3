// The hypervisor's own interrupts: dispatch, the timer service that wakes blocked vCPUs, the
// console input path and the idle loop.
#pragma once

#include <cstdint>

namespace corvisor {

class Vm;

/// Where console input goes: the guests that have a console, in boot order. The focus starts on
/// the first; Ctrl-A pressed three times moves it to the next running one.
void console_input_add(Vm& vm);
/// Pass on console input held back for `vm` while its UART was full.
void console_input_drain(Vm& vm);
/// Enable the physical UART's receive interrupt (`intid`: its SPI) and announce the focus.
void console_input_start(std::uintptr_t uart_base, std::uint32_t intid);

/// Nothing is runnable on this pCPU: wait for an interrupt (WFI, never a spin) and handle it.
void idle_wait();

}  // namespace corvisor
