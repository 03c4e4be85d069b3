#include "el2/irq.hpp"

#include "el2/arch.hpp"
#include "el2/console.hpp"
#include "el2/gic.hpp"
#include "el2/sysreg.hpp"
#include "exec/cpu.hpp"
#include "vm/vcpu.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

// ---- Timer service: vCPUs blocked in WFI with an armed EL1 timer wait here for its deadline.
// One pCPU for now; a fixed table, since every waiter is a vCPU and vCPUs are few.
constexpr std::uint32_t kMaxWaiters = 64;
struct Waiter {
    Vcpu* vcpu;
    std::uint64_t deadline;
};
Waiter g_waiters[kMaxWaiters];
std::uint32_t g_waiter_count = 0;

// The end of the running vCPU's time slice (0: no slice: nobody else waits for the pCPU).
std::uint64_t g_slice_end = 0;

void rearm_hyp_timer() {
    std::uint64_t next = g_slice_end;
    for (std::uint32_t i = 0; i < g_waiter_count; ++i) {
        next = next == 0 || g_waiters[i].deadline < next ? g_waiters[i].deadline : next;
    }
    if (next == 0) {
        arch_hyp_timer_disarm();
    } else {
        arch_hyp_timer_arm(next);
    }
}

bool expire_timers() {
    std::uint64_t now = arch_now();
    bool woke = false;
    if (g_slice_end != 0 && g_slice_end <= now) {
        g_slice_end = 0;
        woke = true;  // the running vCPU's slice is over: it yields to the waiting ones
    }
    for (std::uint32_t i = 0; i < g_waiter_count;) {
        if (g_waiters[i].deadline <= now) {
            Vcpu* v = g_waiters[i].vcpu;
            g_waiters[i] = g_waiters[--g_waiter_count];
            v->kick();
            woke = true;
        } else {
            ++i;
        }
    }
    rearm_hyp_timer();
    return woke;
}

// ---- Console input.
constexpr std::uint32_t kMaxConsoles = 8;
constexpr std::uint8_t kCtrlA = 0x01;
constexpr int kSwitchPresses = 3;
// Input for a guest whose UART is full waits here, in order, per guest.
constexpr std::uint32_t kQueueSize = 1024;
struct ConsoleQueue {
    std::uint8_t bytes[kQueueSize];
    std::uint32_t head;
    std::uint32_t count;
};
Vm* g_consoles[kMaxConsoles];
ConsoleQueue g_queues[kMaxConsoles];
std::uint32_t g_console_count = 0;
std::uint32_t g_focus = 0;
int g_ctrl_a = 0;
std::uintptr_t g_uart = 0;
std::uint32_t g_uart_intid = 0;

// PL011 (DDI 0183): data, flags, interrupt mask and clear.
constexpr std::uintptr_t kUartDr = 0x000;
constexpr std::uintptr_t kUartFr = 0x018;
constexpr std::uintptr_t kUartImsc = 0x038;
constexpr std::uintptr_t kUartIcr = 0x044;
constexpr std::uint32_t kFrRxfe = 1u << 4;
constexpr std::uint32_t kIntRx = 1u << 4;
constexpr std::uint32_t kIntRt = 1u << 6;

volatile std::uint32_t& uart_reg(std::uintptr_t off) {
    return *reinterpret_cast<volatile std::uint32_t*>(g_uart + off);
}

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

bool console_rx() {
    for (int budget = 64; budget > 0 && (uart_reg(kUartFr) & kFrRxfe) == 0; --budget) {
        auto byte = static_cast<std::uint8_t>(uart_reg(kUartDr) & 0xff);
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
    uart_reg(kUartIcr) = kIntRx | kIntRt;
    return true;
}

}  // namespace

void platform_timer_wait(Vcpu& vcpu, std::uint64_t deadline) {
    platform_timer_cancel(vcpu);
    if (g_waiter_count < kMaxWaiters) {
        g_waiters[g_waiter_count++] = Waiter{&vcpu, deadline};
    }
    rearm_hyp_timer();
}

void platform_slice_begin(std::uint64_t ticks) {
    g_slice_end = arch_now() + ticks;
    rearm_hyp_timer();
}

void platform_slice_end() {
    if (g_slice_end != 0) {
        g_slice_end = 0;
        rearm_hyp_timer();
    }
}

void platform_timer_cancel(Vcpu& vcpu) {
    for (std::uint32_t i = 0; i < g_waiter_count; ++i) {
        if (g_waiters[i].vcpu == &vcpu) {
            g_waiters[i] = g_waiters[--g_waiter_count];
            break;
        }
    }
}

void arch_irq_deactivate(std::uint32_t intid) {
    gic_deactivate(intid);
}

bool platform_irq(std::uint32_t intid) {
    bool woke = false;
    if (intid == kIntidHypTimer) {
        woke = expire_timers();
    } else if (intid == g_uart_intid && g_uart != 0) {
        woke = console_rx();
    }
    // kIntidMaintenance needs nothing here: the vCPU's next entry syncs and refills its LRs.
    gic_priority_drop(intid);
    gic_deactivate(intid);
    return woke;
}

void console_input_drain(Vm& vm) {
    for (std::uint32_t i = 0; i < g_console_count; ++i) {
        if (g_consoles[i] == &vm) {
            drain(i);
        }
    }
}

void console_input_add(Vm& vm) {
    if (g_console_count < kMaxConsoles) {
        g_consoles[g_console_count++] = &vm;
    }
}

void console_input_start(std::uintptr_t uart_base, std::uint32_t intid) {
    g_uart = uart_base;
    g_uart_intid = intid;
    gic_enable_spi(intid, 0xa0, false);
    uart_reg(kUartImsc) = uart_reg(kUartImsc) | kIntRx | kIntRt;
    announce_focus();
}

void idle_wait() {
    // Interrupts stay masked at EL2 (PSTATE.I): WFI still wakes on a pending one, which is then
    // acknowledged here (IHI 0069: an interrupt is signalled to the PE regardless of PSTATE.I).
    asm volatile("dsb sy\n wfi" ::: "memory");
    for (;;) {
        std::uint32_t intid = gic_ack();
        if (intid >= kIntidSpurious) {
            return;
        }
        Vcpu* loaded = this_cpu().loaded_vcpu;
        if ((intid == kIntidVirtTimer || intid == kIntidPhysTimer) && loaded != nullptr) {
            // The loaded vCPU's timer fired while it waited in WFI.
            gic_priority_drop(intid);
            loaded->timer_fired(intid);
        } else {
            platform_irq(intid);
        }
    }
}

}  // namespace corvisor
