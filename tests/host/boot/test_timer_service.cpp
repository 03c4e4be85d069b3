// The timer service (boot/timer_service.cpp): blocked vCPUs' deadlines and the running vCPU's
// time slice share the hypervisor timer, armed for the earliest of them.
#include <catch2/catch.hpp>

#include <vector>

#include "boot/irq_dispatch.hpp"
#include "boot/null_platform.hpp"
#include "fake_arch.hpp"
#include "vm/platform.hpp"
#include "vm/vm.hpp"

using namespace corvisor;
using test::NullPlatform;

namespace {}  // namespace

TEST_CASE("The hypervisor timer is armed for the earliest deadline or slice end", "[boot]") {
    fake::reset();
    NullPlatform platform;
    Vm::Config c;
    c.name = "timers";
    c.id = 1;
    c.vcpus = 3;
    c.ram_base = 0x40000000;
    c.ram_size = 0x4000000;
    Vm vm(platform, c);

    fake::guest().now = 1000;
    platform_timer_wait(vm.vcpu(0), 1500);
    CHECK(fake::guest().hyp_deadline == 1500);
    platform_timer_wait(vm.vcpu(1), 1200);
    CHECK(fake::guest().hyp_deadline == 1200);
    platform_slice_begin(100);  // ends at 1100
    CHECK(fake::guest().hyp_deadline == 1100);
    // A new deadline for a vCPU replaces its old one.
    platform_timer_wait(vm.vcpu(1), 1800);
    CHECK(fake::guest().hyp_deadline == 1100);

    // Nothing due yet: nobody wakes.
    fake::guest().now = 1050;
    CHECK_FALSE(expire_timers());
    CHECK(fake::guest().hyp_deadline == 1100);
    // The slice ends: the running vCPU must yield.
    fake::guest().now = 1100;
    CHECK(expire_timers());
    CHECK(fake::guest().hyp_deadline == 1500);
    // vCPU 0's deadline passes; vCPU 1's remains.
    fake::guest().now = 1600;
    CHECK(expire_timers());
    CHECK(fake::guest().hyp_deadline == 1800);
    // A cancelled wait leaves the timer off.
    platform_timer_cancel(vm.vcpu(1));
    platform_slice_end();
    CHECK(expire_timers() == false);
    CHECK(fake::guest().hyp_deadline == 0);
}
