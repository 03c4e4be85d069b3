// Where console input goes: the guests that have a console, in boot order. The focus starts on
// the first; Ctrl-A pressed three times moves it to the next running one.
#pragma once

#include <cstdint>

namespace corvisor {

class Vm;

void console_input_add(Vm& vm);
/// Pass on console input held back for `vm` while its UART was full.
void console_input_drain(Vm& vm);
/// Enable the physical UART's receive interrupt (`intid`: its SPI) and announce the focus.
void console_input_start(std::uint32_t intid);
/// The UART's interrupt: hand what it received to the focused guest. False if `intid` is not
/// the console's.
bool console_input_irq(std::uint32_t intid);

}  // namespace corvisor
