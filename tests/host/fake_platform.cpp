// The scripted vm/platform.hpp for the vCPU tests: what the image's timer service and interrupt
// dispatch (src/boot) would do, recorded in fake::guest() so that tests can assert on it.
#include "fake_arch.hpp"
#include "vm/platform.hpp"

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

}  // namespace corvisor
