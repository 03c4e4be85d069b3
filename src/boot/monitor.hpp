// The hypervisor monitor on the console (no control VM): the console focus cycles through the
// guests and then the monitor, which reads commands a line at a time and answers on the console.
//   help, list, stats NAME, pause NAME, resume NAME, reset NAME, stop NAME
#pragma once

#include <cstdint>
#include <string_view>

namespace corvisor {

class Vm;

/// Every guest that runs, in boot order (the monitor can name guests without a console too).
void monitor_add(Vm& vm);
/// One byte typed while the monitor has the focus (boot/console_input.cpp).
void monitor_input(std::uint8_t byte);
/// The monitor has just got the focus: how to use it.
void monitor_focus();
/// Run one command line (what monitor_input does at the end of a line; for tests too).
void monitor_command(std::string_view line);

}  // namespace corvisor
