// The physical console: the boot DTB's PL011 (ARM DDI 0183), polled for output and
// interrupt-driven for input. The log's line framing is portable (base/log.cpp); this file only
// moves bytes.
#include "arch/arch.hpp"

namespace corvisor {

namespace {

// PL011 registers and bits used here.
constexpr std::uintptr_t kDr = 0x000;
constexpr std::uintptr_t kFr = 0x018;
constexpr std::uintptr_t kImsc = 0x038;
constexpr std::uintptr_t kIcr = 0x044;
constexpr std::uint32_t kFrRxfe = 1u << 4;
constexpr std::uint32_t kFrTxff = 1u << 5;
constexpr std::uint32_t kIntRx = 1u << 4;
constexpr std::uint32_t kIntRt = 1u << 6;

std::uintptr_t g_base = 0;

volatile std::uint32_t& reg(std::uintptr_t off) {
    return *reinterpret_cast<volatile std::uint32_t*>(g_base + off);
}

void putc(char c) {
    // Waits for room in the transmit FIFO: the UART drains it by itself, so this ends.
    while ((reg(kFr) & kFrTxff) != 0) {
    }
    reg(kDr) = static_cast<std::uint8_t>(c);
}

}  // namespace

void arch_console_init(std::uintptr_t base) {
    g_base = base;
}

void arch_console_write(std::string_view text) {
    if (g_base == 0) {
        return;
    }
    for (char c : text) {
        if (c == '\n') {
            putc('\r');  // a serial terminal wants CR LF
        }
        putc(c);
    }
}

void arch_console_rx_enable() {
    if (g_base != 0) {
        reg(kImsc) = reg(kImsc) | kIntRx | kIntRt;
    }
}

bool arch_console_read(std::uint8_t& byte) {
    if (g_base == 0 || (reg(kFr) & kFrRxfe) != 0) {
        return false;
    }
    byte = static_cast<std::uint8_t>(reg(kDr) & 0xff);
    return true;
}

void arch_console_rx_clear() {
    if (g_base != 0) {
        reg(kIcr) = kIntRx | kIntRt;
    }
}

}  // namespace corvisor
