// Each pCPU's timer service: vCPUs blocked in WFI with an armed EL1 timer wait here for its
// deadline, and the running vCPU's time slice ends here. Both share the pCPU's hypervisor timer
// (CNTHP), armed for the earliest of them. Everything here is per pCPU and touched by that pCPU
// alone (a vCPU waits on its own pCPU). A fixed table, since every waiter is a vCPU and vCPUs
// are few.
#include <atomic>

#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "boot/console_input.hpp"
#include "boot/irq_dispatch.hpp"
#include "exec/cpu.hpp"
#include "exec/timer_queue.hpp"
#include "vm/platform.hpp"
#include "vm/vcpu.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

// Every vCPU placed on this pCPU may wait at once (a fixed bound: all of them).
constexpr std::uint32_t kMaxWaiters = kMaxGuests * kMaxVcpus;
struct Waiter {
    Vcpu* vcpu;
    std::uint64_t deadline;
};

// A power-of-two size, so that finding this pCPU's is a shift; the hot fields first.
struct alignas(8192) TimerService {
    // The end of the running vCPU's time slice (0: no slice: nobody else waits for the pCPU).
    std::uint64_t slice_end = 0;
    // When this pCPU shows partial console lines (0: none pending).
    std::uint64_t console_flush_at = 0;
    std::uint32_t waiter_count = 0;
    // Device timers armed on this pCPU (DeviceHost::timer_arm).
    TimerQueue device_timers;
    Waiter waiters[kMaxWaiters];
};
static_assert(sizeof(TimerService) == 8192);
TimerService g_timers[kMaxPcpus];

TimerService& here() {
    return g_timers[this_cpu().id];  // ids are below kMaxPcpus
}

// When partial console lines are shown: 50 ms of the 62.5 MHz counter, so a prompt appears at
// once to a person and a line printed in pieces is not cut up.
constexpr std::uint64_t kConsoleFlushTicks = 3'125'000;

void rearm_hyp_timer(TimerService& t) {
    std::uint64_t next = t.slice_end;
    if (t.console_flush_at != 0 && (next == 0 || t.console_flush_at < next)) {
        next = t.console_flush_at;
    }
    for (std::uint32_t i = 0; i < t.waiter_count; ++i) {
        next = next == 0 || t.waiters[i].deadline < next ? t.waiters[i].deadline : next;
    }
    if (const std::uint64_t d = t.device_timers.next_deadline();
        d != 0 && (next == 0 || d < next)) {
        next = d;
    }
    if (next == 0) {
        arch_hyp_timer_disarm();
    } else {
        arch_hyp_timer_arm(next);
    }
}

}  // namespace

bool expire_timers() {
    TimerService& t = here();
    std::uint64_t now = arch_now();
    bool woke = false;
    if (t.slice_end != 0 && t.slice_end <= now) {
        t.slice_end = 0;
        woke = true;  // the running vCPU's slice is over: it yields to the waiting ones
    }
    if (t.console_flush_at != 0 && t.console_flush_at <= now) {
        t.console_flush_at = 0;
        console_output_flush();
    }
    for (std::uint32_t i = 0; i < t.waiter_count;) {
        if (t.waiters[i].deadline <= now) {
            Vcpu* v = t.waiters[i].vcpu;
            t.waiters[i] = t.waiters[--t.waiter_count];
            v->kick();
            woke = true;
        } else {
            ++i;
        }
    }
    std::uint32_t arming = 0;
    while (TimerNode* n = t.device_timers.pop_expired(now, arming)) {
        static_cast<Vm*>(n->owner)->run_device_timer(*n, arming, TimerEnd::kExpired);
        woke = true;  // it may have posted a coroutine (a sleep) or changed an IRQ line
    }
    rearm_hyp_timer(t);
    return woke;
}

void platform_device_timer_arm(TimerNode& node, std::uint64_t deadline, Vm& vm) {
    TimerService& t = here();
    if (t.device_timers.arm(node, deadline, &vm)) {
        rearm_hyp_timer(t);
    }
}

void platform_device_timers_cancel(Vm& vm) {
    // Other pCPUs' hypervisor timers may still fire for what is taken out here: they find
    // nothing due and rearm.
    for (TimerService& t : g_timers) {
        std::uint32_t arming = 0;
        while (TimerNode* n = t.device_timers.pop_owned(&vm, arming)) {
            vm.run_device_timer(*n, arming, TimerEnd::kCancelled);
        }
    }
}

namespace {
WallClock g_wall_clock;
}  // namespace

void set_platform_wall_clock(const WallClock& clock) {
    g_wall_clock = clock;
}

WallClock platform_wall_clock() {
    return g_wall_clock;
}

void console_flush_soon() {
    TimerService& t = here();
    if (t.console_flush_at == 0) {
        t.console_flush_at = arch_now() + kConsoleFlushTicks;
        rearm_hyp_timer(t);
    }
}

void console_flush_cancel() {
    TimerService& t = here();
    if (t.console_flush_at != 0) {
        t.console_flush_at = 0;
        rearm_hyp_timer(t);
    }
}

void platform_timer_wait(Vcpu& vcpu, std::uint64_t deadline) {
    TimerService& t = here();
    platform_timer_cancel(vcpu);
    if (t.waiter_count < kMaxWaiters) {
        t.waiters[t.waiter_count++] = Waiter{&vcpu, deadline};
    }
    rearm_hyp_timer(t);
}

void platform_timer_cancel(Vcpu& vcpu) {
    TimerService& t = here();
    for (std::uint32_t i = 0; i < t.waiter_count; ++i) {
        if (t.waiters[i].vcpu == &vcpu) {
            t.waiters[i] = t.waiters[--t.waiter_count];
            break;
        }
    }
}

void platform_slice_begin(std::uint64_t ticks) {
    TimerService& t = here();
    t.slice_end = arch_now() + ticks;
    rearm_hyp_timer(t);
}

void platform_slice_end() {
    TimerService& t = here();
    if (t.slice_end != 0) {
        t.slice_end = 0;
        rearm_hyp_timer(t);
    }
}

}  // namespace corvisor
