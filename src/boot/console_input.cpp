// Console input: bytes from the physical UART go to the guest in focus, through a per-guest
// queue that holds what its UART cannot take yet. Ctrl-A pressed three times moves the focus.
#include "boot/console_input.hpp"

#include "boot/irq_dispatch.hpp"
#include "boot/monitor.hpp"

#include <atomic>

#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "base/log.hpp"
#include "corvisor/task.hpp"
#include "exec/cpu.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

constexpr std::uint8_t kCtrlA = 0x01;
constexpr int kSwitchPresses = 3;
constexpr std::uint32_t kQueueSize = kConsoleQueueBytes;
struct ConsoleQueue {
    std::uint8_t bytes[kQueueSize];
    std::uint8_t channel[kQueueSize];  // which of the guest's console channels each is for
    std::uint32_t head;
    std::uint32_t count;
};
// Threading: the UART's interrupt comes to the boot pCPU, while a guest's UART is driven by
// its vCPUs on their pCPUs. The queues and the focus are under g_input_lock; a guest's UART is
// fed only on its own pCPU (the pCPU of its vCPU 0; a guest spread over several also takes its
// device lock), by a small pump coroutine there that the interrupt wakes. Lock order: a
// guest's device lock, then g_input_lock.
Vm* g_consoles[kMaxGuests];
ConsoleQueue g_queues[kMaxGuests];
std::uint32_t g_console_count = 0;
std::uint32_t g_focus = 0;
std::uint32_t g_channel[kMaxGuests];
int g_ctrl_a = 0;
std::uint32_t g_uart_intid = 0;
RecursiveSpinLock g_input_lock;
Event g_pump_wake[kMaxGuests];
Task<void> g_pumps[kMaxGuests];
RunNode g_pump_start[kMaxGuests];

// The focus: a guest's console (0 .. g_console_count - 1), or the monitor (g_console_count),
// which comes after the last guest in the cycle and is there even without guests. A guest with a
// second console channel (a device's, Vm::add_console_input: the virtio console's hvc0) has the
// focus twice in the cycle, its UART first (g_channel: the one it has).
bool monitor_focused() {
    return g_focus >= g_console_count;
}

void announce_focus() {
    if (monitor_focused()) {
        monitor_focus();
    } else if (const Vm& vm = *g_consoles[g_focus]; g_channel[g_focus] != 0) {
        log_info("console focus: {}:{} (Ctrl-A three times switches)", vm.name(),
                 vm.console_channel_label());
    } else {
        log_info("console focus: {} (Ctrl-A three times switches)", vm.name());
    }
}

void switch_focus() {
    if (!monitor_focused()) {
        const Vm& vm = *g_consoles[g_focus];
        if (g_channel[g_focus] + 1 < vm.console_channels() && !vm.stopping()) {
            ++g_channel[g_focus];  // its next channel
            announce_focus();
            return;
        }
        g_channel[g_focus] = 0;  // its UART again when the focus comes back
    }
    const std::uint32_t positions = g_console_count + 1;
    for (std::uint32_t n = 1; n <= positions; ++n) {
        const std::uint32_t next = (g_focus + n) % positions;
        if (next == g_console_count || !g_consoles[next]->stopping()) {
            g_focus = next;
            break;
        }
    }
    announce_focus();
}

/// Whether `vm`'s UART may be fed from this pCPU now (without its device lock).
bool feeds_here(Vm& vm) {
    return !vm.spread() && vm.vcpu(0).pcpu() == this_cpu().id;
}

void drain(std::uint32_t index) {
    ConsoleQueue& q = g_queues[index];
    Vm& vm = *g_consoles[index];
    const CpuLockGuard input(g_input_lock);
    while (q.count > 0 && !vm.stopping() && vm.console_input(q.bytes[q.head], q.channel[q.head])) {
        q.head = (q.head + 1) % kQueueSize;
        --q.count;
    }
}

/// Feeds guest `index`'s UART on its own pCPU whenever the interrupt queued input for it.
Task<void> pump(std::uint32_t index) {
    Vm& vm = *g_consoles[index];
    Executor& home = cpu_local(vm.vcpu(0).pcpu()).executor;
    for (;;) {
        g_pump_wake[index].reset();
        if (vm.spread()) {
            const StrandGuard device(vm.device_strand());
            drain(index);
        } else {
            drain(index);
        }
        co_await g_pump_wake[index].wait(home);
    }
}

/// Pass what guest `index` has queued to its UART: here, or by its pump on its own pCPU.
void feed(std::uint32_t index) {
    if (feeds_here(*g_consoles[index])) {
        drain(index);
    } else {
        g_pump_wake[index].set();
    }
}

void deliver(std::uint8_t byte) {
    if (monitor_focused()) {
        monitor_input(byte);
        return;
    }
    if (g_consoles[g_focus]->stopping()) {
        return;
    }
    ConsoleQueue& q = g_queues[g_focus];
    if (q.count == kQueueSize) {
        return;  // a guest that reads nothing loses what overflows, nobody else does
    }
    const std::uint32_t tail = (q.head + q.count) % kQueueSize;
    q.bytes[tail] = byte;
    q.channel[tail] = static_cast<std::uint8_t>(g_channel[g_focus]);
    ++q.count;
    feed(g_focus);
}

}  // namespace

namespace {
// Bit i: g_consoles[i] holds a partial line, set and shown on the pCPU where its UART printed
// it (g_output_cpu[i]; its device lock covers a spread guest).
std::atomic<std::uint32_t> g_output_pending{0};
std::uint32_t g_output_cpu[kMaxGuests];

/// The partial lines pending on this pCPU.
std::uint32_t pending_here() {
    const std::uint32_t pending = g_output_pending.load(std::memory_order_acquire);
    std::uint32_t mine = 0;
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if ((pending & (1u << i)) != 0 && g_output_cpu[i] == this_cpu().id) {
            mine |= 1u << i;
        }
    }
    return mine;
}
}  // namespace

void console_output_pending(Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            g_output_cpu[i] = this_cpu().id;
            if (pending_here() == 0) {
                console_flush_soon();
            }
            g_output_pending.fetch_or(1u << i, std::memory_order_acq_rel);
        }
    }
}

void console_output_done(const Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            g_output_pending.fetch_and(~(1u << i), std::memory_order_acq_rel);
        }
    }
    if (pending_here() == 0) {
        console_flush_cancel();
    }
}

void console_output_flush() {
    const std::uint32_t pending = pending_here();
    g_output_pending.fetch_and(~pending, std::memory_order_acq_rel);
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        Vm& vm = *g_consoles[i];
        if ((pending & (1u << i)) == 0 || vm.stopping()) {
            continue;
        }
        if (vm.spread()) {
            const StrandGuard device(vm.device_strand());
            vm.flush_console();
        } else {
            vm.flush_console();
        }
    }
}

bool console_input_irq(std::uint32_t intid) {
    if (intid != g_uart_intid || g_uart_intid == 0) {
        return false;
    }
    const CpuLockGuard input(g_input_lock);
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
    if (g_console_count >= kMaxGuests) {
        return;
    }
    const std::uint32_t i = g_console_count;
    g_consoles[i] = &vm;
    if (!feeds_here(vm)) {
        // Its pump: started on the guest's pCPU, where it drains and then waits for input.
        {
            const ScopedFramePool long_lived(long_lived_frame_pool());
            g_pumps[i] = pump(i);
        }
        if (g_pumps[i].valid()) {
            RunNode& node = g_pump_start[i];
            node.handle = g_pumps[i].handle();
            cpu_local(vm.vcpu(0).pcpu()).executor.post(node);
        }
    }
    const CpuLockGuard input(g_input_lock);
    g_console_count = i + 1;
}

void console_input_start(std::uint32_t intid) {
    g_uart_intid = intid;
    arch_irq_enable_spi(intid, 0xa0, false);
    arch_console_rx_enable();
    announce_focus();
}

}  // namespace corvisor
