// The hypervisor log: leveled "corvisor: ..." lines and guests' console lines, written whole to
// the physical console (arch_console_write), so lines never interleave. Formatting is
// base/format.hpp's "{}" formatter: it needs no FP/SIMD, so it may run on the trap path.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/format.hpp"

namespace corvisor {

enum class LogLevel : std::uint8_t { kError, kWarn, kInfo, kDebug };

namespace console {

void set_level(LogLevel level);
LogLevel level();

/// One line of a guest's console: "[name] text". `owner` identifies the guest (its Vm): if the
/// same guest's partial line is open, `text` ends it instead of starting a new one.
void guest_line(std::string_view guest, std::string_view text, const void* owner = nullptr);
/// Part of a guest's line with no newline yet (a prompt): written at once and left open, so
/// that the same guest's next output continues it; any other line closes it first.
void guest_partial(std::string_view guest, std::string_view text, const void* owner);
/// One hypervisor line: "corvisor: text" (warnings and errors are marked).
void line(LogLevel level, std::string_view text);

}  // namespace console

template <class... Args>
void log(LogLevel level, std::string_view fmt, const Args&... args) {
    if (level > console::level()) {
        return;
    }
    char buf[256];
    FormatBuffer out(buf, sizeof buf);
    format_to(out, fmt, args...);
    console::line(level, out.view());
}

template <class... Args>
void log_info(std::string_view fmt, const Args&... args) {
    log(LogLevel::kInfo, fmt, args...);
}
template <class... Args>
void log_warn(std::string_view fmt, const Args&... args) {
    log(LogLevel::kWarn, fmt, args...);
}
template <class... Args>
void log_error(std::string_view fmt, const Args&... args) {
    log(LogLevel::kError, fmt, args...);
}
template <class... Args>
void log_debug(std::string_view fmt, const Args&... args) {
    log(LogLevel::kDebug, fmt, args...);
}

/// Stop this pCPU for good after printing `why`: only for the hypervisor's own invariants, never
/// for anything a guest or the guest list can cause.
[[noreturn]] void panic(std::string_view why);

}  // namespace corvisor
