// The pCPU's timer service: vCPUs blocked in WFI with an armed EL1 timer wait here for its
// deadline, and the running vCPU's time slice ends here. Both share the hypervisor timer
// (CNTHP), armed for the earliest of them. One pCPU for now; a fixed table, since every waiter
// is a vCPU and vCPUs are few.
#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "boot/console_input.hpp"
#include "boot/irq_dispatch.hpp"
#include "vm/platform.hpp"
#include "vm/vcpu.hpp"

namespace corvisor {

namespace {

constexpr std::uint32_t kMaxWaiters = kMaxGuests * kMaxVcpus;
struct Waiter {
    Vcpu* vcpu;
    std::uint64_t deadline;
};
Waiter g_waiters[kMaxWaiters];
std::uint32_t g_waiter_count = 0;

// The end of the running vCPU's time slice (0: no slice: nobody else waits for the pCPU).
std::uint64_t g_slice_end = 0;

// When partial console lines are shown (0: none pending): 50 ms of the 62.5 MHz counter, so a
// prompt appears at once to a person and a line printed in pieces is not cut up.
constexpr std::uint64_t kConsoleFlushTicks = 3'125'000;
std::uint64_t g_console_flush_at = 0;

void rearm_hyp_timer() {
    std::uint64_t next = g_slice_end;
    if (g_console_flush_at != 0 && (next == 0 || g_console_flush_at < next)) {
        next = g_console_flush_at;
    }
    for (std::uint32_t i = 0; i < g_waiter_count; ++i) {
        next = next == 0 || g_waiters[i].deadline < next ? g_waiters[i].deadline : next;
    }
    if (next == 0) {
        arch_hyp_timer_disarm();
    } else {
        arch_hyp_timer_arm(next);
    }
}

}  // namespace

bool expire_timers() {
    std::uint64_t now = arch_now();
    bool woke = false;
    if (g_slice_end != 0 && g_slice_end <= now) {
        g_slice_end = 0;
        woke = true;  // the running vCPU's slice is over: it yields to the waiting ones
    }
    if (g_console_flush_at != 0 && g_console_flush_at <= now) {
        g_console_flush_at = 0;
        console_output_flush();
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

void console_flush_soon() {
    if (g_console_flush_at == 0) {
        g_console_flush_at = arch_now() + kConsoleFlushTicks;
        rearm_hyp_timer();
    }
}

void console_flush_cancel() {
    if (g_console_flush_at != 0) {
        g_console_flush_at = 0;
        rearm_hyp_timer();
    }
}

void platform_timer_wait(Vcpu& vcpu, std::uint64_t deadline) {
    platform_timer_cancel(vcpu);
    if (g_waiter_count < kMaxWaiters) {
        g_waiters[g_waiter_count++] = Waiter{&vcpu, deadline};
    }
    rearm_hyp_timer();
}

void platform_timer_cancel(Vcpu& vcpu) {
    for (std::uint32_t i = 0; i < g_waiter_count; ++i) {
        if (g_waiters[i].vcpu == &vcpu) {
            g_waiters[i] = g_waiters[--g_waiter_count];
            break;
        }
    }
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

}  // namespace corvisor
