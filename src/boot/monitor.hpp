// The hypervisor monitor on the console (no control VM): the console focus cycles through the
// guests and then the monitor, which reads commands a line at a time and answers on the console.
//   help, list, stats NAME, pause NAME, resume NAME, reset NAME, stop NAME, start NAME,
//   wait NAME
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
/// Requests typed to the monitor not carried out yet (the machine does not power off before,
/// though every guest has stopped: a `start` may follow).
bool monitor_pending();
/// `vm` has stopped (every vCPU parked): a `start` waiting for that goes on.
void monitor_guest_stopped(Vm& vm);
/// Run one command line (what monitor_input does at the end of a line; for tests too).
void monitor_command(std::string_view line);

}  // namespace corvisor
