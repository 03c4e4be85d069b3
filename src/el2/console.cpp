#include "el2/console.hpp"

#include "el2/sysreg.hpp"

namespace corvisor::console {

namespace {

// PL011 registers (ARM DDI 0183): data and flags.
constexpr std::uintptr_t kDr = 0x000;
constexpr std::uintptr_t kFr = 0x018;
constexpr std::uint32_t kFrTxff = 1u << 5;

std::uintptr_t g_base = 0;
LogLevel g_level = LogLevel::kInfo;

void putc(char c) {
    if (g_base == 0) {
        return;
    }
    auto* fr = reinterpret_cast<volatile std::uint32_t*>(g_base + kFr);
    auto* dr = reinterpret_cast<volatile std::uint32_t*>(g_base + kDr);
    while ((*fr & kFrTxff) != 0) {
    }
    *dr = static_cast<std::uint8_t>(c);
}

}  // namespace

void init(std::uintptr_t base) {
    g_base = base;
}
void set_level(LogLevel level) {
    g_level = level;
}
LogLevel level() {
    return g_level;
}

void write(std::string_view text) {
    for (char c : text) {
        if (c == '\n') {
            putc('\r');
        }
        putc(c);
    }
}

void guest_line(std::string_view guest, std::string_view text) {
    // Single pCPU for now; the SMP issue puts a lock around whole lines here.
    write("[");
    write(guest);
    write("] ");
    write(text);
    write("\n");
}

void line(LogLevel level, std::string_view text) {
    write("corvisor: ");
    if (level == LogLevel::kError) {
        write("error: ");
    } else if (level == LogLevel::kWarn) {
        write("warning: ");
    }
    write(text);
    write("\n");
}

}  // namespace corvisor::console

namespace corvisor {

namespace {
constexpr std::uint32_t kPsciSystemOff = 0x84000008;
}

[[noreturn]] void panic(std::string_view why) {
    std::uint64_t mpidr = CV_READ_SYSREG(mpidr_el1);
    log_error("PANIC on pCPU {}: {}", mpidr & 0xff, why);
    for (;;) {
        asm volatile("wfe");
    }
}

/// SYSTEM_OFF through the platform's PSCI (QEMU exits with status 0).
[[noreturn]] void platform_power_off() {
    register std::uint64_t x0 asm("x0") = kPsciSystemOff;
    asm volatile("smc #0" : "+r"(x0)::"x1", "x2", "x3", "memory");
    panic("PSCI SYSTEM_OFF returned");
}

}  // namespace corvisor

extern "C" [[noreturn]] void el2_panic_exception(std::uint64_t kind, std::uint64_t esr,
                                                 std::uint64_t elr, std::uint64_t far) {
    using namespace corvisor;
    std::uint64_t mpidr = CV_READ_SYSREG(mpidr_el1);
    log_error("PANIC: exception at EL2 (vector {}) on pCPU {}: esr {} (ec {}) elr {} far {}", kind,
              mpidr & 0xff, hex(esr), hex((esr >> 26) & 0x3f), hex(elr), hex(far));
    for (;;) {
        asm volatile("wfe");
    }
}
