// Where console input goes: the guests that have a console, in boot order. The focus starts on
// the first; Ctrl-A pressed three times moves it to the next running one.
#pragma once

#include <cstdint>

namespace corvisor {

class Vm;

/// Input held back per guest while its UART is full.
inline constexpr std::uint32_t kConsoleQueueBytes = 1024;

void console_input_add(Vm& vm);
/// Pass on console input held back for `vm` while its UART was full.
void console_input_drain(Vm& vm);
/// Enable the physical UART's receive interrupt (`intid`: its SPI) and announce the focus.
void console_input_start(std::uint32_t intid);
/// Console output: `vm`'s UART holds a line with no newline yet / has ended its line. A line
/// still unfinished a moment later (a prompt waiting for input) is shown as it is.
void console_output_pending(Vm& vm);
void console_output_done(const Vm& vm);
/// The moment has come (the hypervisor timer): show every pending partial line.
void console_output_flush();

/// The UART's interrupt: hand what it received to the focused guest. False if `intid` is not
/// the console's.
bool console_input_irq(std::uint32_t intid);

}  // namespace corvisor
