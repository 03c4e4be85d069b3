#include "base/log.hpp"

#include "arch/arch.hpp"
#include "exec/spinlock.hpp"

namespace corvisor {

namespace {

LogLevel g_level = LogLevel::kInfo;
// Lines from several pCPUs go out whole, one at a time; the open-line state is under it too.
SpinLock g_console_lock;
const void* g_open_line = nullptr;  // the guest whose partial line is on the terminal, if any

/// Assemble one whole line and write it at once.
class Line {
public:
    void add(std::string_view s) { out_.put(s); }
    void emit() {
        out_.put('\n');
        arch_console_write(out_.view());
    }
    void emit_partial() { arch_console_write(out_.view()); }

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

namespace {

/// End a guest's open partial line, if one is on the terminal.
void close_open_line() {
    if (g_open_line != nullptr) {
        arch_console_write("\n");
        g_open_line = nullptr;
    }
}

/// `owner`'s text: another guest's open line is closed first, and the prefix written unless the
/// owner's own line is open (then `text` continues it). `end`: the text ends its line.
void guest_text(std::string_view guest, std::string_view text, const void* owner, bool end) {
    if (g_open_line != owner) {
        close_open_line();
    }
    Line l;
    if (g_open_line == nullptr || owner == nullptr) {
        l.add("[");
        l.add(guest);
        l.add("] ");
    }
    l.add(text);
    g_open_line = end ? nullptr : owner;
    if (end) {
        l.emit();
    } else {
        l.emit_partial();
    }
}

}  // namespace

void guest_line(std::string_view guest, std::string_view text, const void* owner) {
    LockGuard<SpinLock> g(g_console_lock);
    guest_text(guest, text, owner, true);
}

void guest_partial(std::string_view guest, std::string_view text, const void* owner) {
    LockGuard<SpinLock> g(g_console_lock);
    guest_text(guest, text, owner, false);
}

void line(LogLevel level, std::string_view text) {
    LockGuard<SpinLock> g(g_console_lock);
    close_open_line();
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
