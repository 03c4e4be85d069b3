// Console input: bytes from the physical UART go to the guest in focus, through a per-guest
// queue that holds what its UART cannot take yet. Ctrl-A pressed three times moves the focus.
#include "boot/console_input.hpp"

#include "boot/irq_dispatch.hpp"

#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "base/log.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

constexpr std::uint8_t kCtrlA = 0x01;
constexpr int kSwitchPresses = 3;
constexpr std::uint32_t kQueueSize = 1024;
struct ConsoleQueue {
    std::uint8_t bytes[kQueueSize];
    std::uint32_t head;
    std::uint32_t count;
};
Vm* g_consoles[kMaxGuests];
ConsoleQueue g_queues[kMaxGuests];
std::uint32_t g_console_count = 0;
std::uint32_t g_focus = 0;
int g_ctrl_a = 0;
std::uint32_t g_uart_intid = 0;

void announce_focus() {
    if (g_console_count > 0) {
        log_info("console focus: {} (Ctrl-A three times switches)", g_consoles[g_focus]->name());
    }
}

void switch_focus() {
    for (std::uint32_t n = 1; n <= g_console_count; ++n) {
        std::uint32_t next = (g_focus + n) % g_console_count;
        if (!g_consoles[next]->stopping()) {
            g_focus = next;
            break;
        }
    }
    announce_focus();
}

void drain(std::uint32_t index) {
    ConsoleQueue& q = g_queues[index];
    Vm& vm = *g_consoles[index];
    while (q.count > 0 && !vm.stopping() && vm.console_input(q.bytes[q.head])) {
        q.head = (q.head + 1) % kQueueSize;
        --q.count;
    }
}

void deliver(std::uint8_t byte) {
    if (g_console_count == 0 || g_consoles[g_focus]->stopping()) {
        return;
    }
    ConsoleQueue& q = g_queues[g_focus];
    if (q.count == kQueueSize) {
        return;  // a guest that reads nothing loses what overflows, nobody else does
    }
    q.bytes[(q.head + q.count) % kQueueSize] = byte;
    ++q.count;
    drain(g_focus);
}

}  // namespace

namespace {
std::uint32_t g_output_pending = 0;  // bit i: g_consoles[i] holds a partial line
}  // namespace

void console_output_pending(Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            if (g_output_pending == 0) {
                console_flush_soon();
            }
            g_output_pending |= 1u << i;
        }
    }
}

void console_output_done(const Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            g_output_pending &= ~(1u << i);
        }
    }
    if (g_output_pending == 0) {
        console_flush_cancel();
    }
}

void console_output_flush() {
    const std::uint32_t pending = g_output_pending;
    g_output_pending = 0;
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if ((pending & (1u << i)) != 0 && !g_consoles[i]->stopping()) {
            g_consoles[i]->flush_console();
        }
    }
}

bool console_input_irq(std::uint32_t intid) {
    if (intid != g_uart_intid || g_uart_intid == 0) {
        return false;
    }
    // Acknowledge first, then drain: a byte that arrives after the last read raises the
    // interrupt again. (Clearing after the loop lost it: its interrupt was cleared unread, the
    // UART filled up and input stopped for good, seen with piped input.)
    arch_console_rx_clear();
    std::uint8_t byte = 0;
    for (int budget = 64; budget > 0 && arch_console_read(byte); --budget) {
        if (byte == kCtrlA) {
            if (++g_ctrl_a == kSwitchPresses) {
                g_ctrl_a = 0;
                switch_focus();
            }
            continue;
        }
        // Fewer than three Ctrl-A in a row were ordinary input after all.
        for (; g_ctrl_a > 0; --g_ctrl_a) {
            deliver(kCtrlA);
        }
        deliver(byte);
    }
    return true;
}

void console_input_drain(Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            drain(i);
        }
    }
}

void console_input_add(Vm& vm) {
    if (g_console_count < kMaxGuests) {
        g_consoles[g_console_count++] = &vm;
    }
}

void console_input_start(std::uint32_t intid) {
    g_uart_intid = intid;
    arch_irq_enable_spi(intid, 0xa0, false);
    arch_console_rx_enable();
    announce_focus();
}

}  // namespace corvisor
