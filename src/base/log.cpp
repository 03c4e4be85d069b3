#include "base/log.hpp"

#include "arch/arch.hpp"

namespace corvisor {

namespace {

LogLevel g_level = LogLevel::kInfo;

/// Assemble one whole line and write it at once.
class Line {
public:
    void add(std::string_view s) { out_.put(s); }
    void emit() {
        out_.put('\n');
        arch_console_write(out_.view());
    }

private:
    char buf_[320];
    FormatBuffer out_{buf_, sizeof buf_};
};

}  // namespace

namespace console {

void set_level(LogLevel level) {
    g_level = level;
}
LogLevel level() {
    return g_level;
}

void guest_line(std::string_view guest, std::string_view text) {
    Line l;
    l.add("[");
    l.add(guest);
    l.add("] ");
    l.add(text);
    l.emit();
}

void line(LogLevel level, std::string_view text) {
    Line l;
    l.add("corvisor: ");
    if (level == LogLevel::kError) {
        l.add("error: ");
    } else if (level == LogLevel::kWarn) {
        l.add("warning: ");
    }
    l.add(text);
    l.emit();
}

}  // namespace console

[[noreturn]] void panic(std::string_view why) {
    log_error("PANIC on pCPU {}: {}", arch_mpidr().aff0(), why);
    arch_halt();
}

}  // namespace corvisor
