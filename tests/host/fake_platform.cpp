// The scripted vm/platform.hpp for the vCPU tests: what the image's timer service and interrupt
// dispatch (src/boot) would do, recorded in fake::guest() so that tests can assert on it.
#include "exec/timer_queue.hpp"
#include "fake_arch.hpp"
#include "vm/platform.hpp"
#include "vm/vm.hpp"

namespace corvisor {

void platform_slice_begin(std::uint64_t) {
    ++fake::guest().slices;
}
void platform_slice_end() {}
bool platform_irq(std::uint32_t) {
    return fake::guest().irq_wakes;
}
void platform_timer_wait(Vcpu& v, std::uint64_t deadline) {
    fake::guest().timer_waiter = &v;
    fake::guest().timer_deadline = deadline;
}
void platform_timer_cancel(Vcpu&) {
    ++fake::guest().timer_cancels;
    fake::guest().timer_waiter = nullptr;
}

TimerQueue& fake::device_timers() {
    static TimerQueue queue;
    return queue;
}
void platform_device_timer_arm(TimerNode& node, std::uint64_t deadline, Vm& vm) {
    fake::device_timers().arm(node, deadline, &vm);
}
void platform_device_timers_cancel(Vm& vm) {
    std::uint32_t arming = 0;
    while (TimerNode* n = fake::device_timers().pop_owned(&vm, arming)) {
        vm.run_device_timer(*n, arming, TimerEnd::kCancelled);
    }
}
std::size_t fake::expire_device_timers(std::uint64_t now) {
    std::size_t fired = 0;
    std::uint32_t arming = 0;
    while (TimerNode* n = device_timers().pop_expired(now, arming)) {
        static_cast<Vm*>(n->owner)->run_device_timer(*n, arming, TimerEnd::kExpired);
        ++fired;
    }
    return fired;
}
WallClock platform_wall_clock() {
    return fake::guest().wall_clock;
}

}  // namespace corvisor
