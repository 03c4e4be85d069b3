// The console monitor (boot/monitor.cpp) on the fake hardware: its commands on a guest of this
// pCPU act as soon as the guest's control coroutine runs, in order, and mistakes get one clear
// line.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "boot/monitor.hpp"
#include "boot/null_platform.hpp"
#include "fake_arch.hpp"
#include "vm/vm.hpp"

using namespace corvisor;
using test::NullPlatform;

namespace {

bool said(const std::string& text) {
    return fake::console_output().find(text) != std::string::npos;
}

/// Type a command, and let the guest's control coroutine carry it out.
void command(std::string_view line) {
    monitor_command(line);
    current_executor().run_until_idle();
}

}  // namespace

TEST_CASE("The monitor pauses, resumes and stops a guest, lists it and refuses mistakes",
          "[boot]") {
    NullPlatform platform;
    Vm::Config c;
    c.name = "alpha";
    c.id = 1;
    c.vcpus = 2;
    c.ram_base = 0x40000000;
    c.ram_size = 0x4000000;
    Vm vm(platform, c);
    monitor_add(vm);
    fake::console_output().clear();

    for (char ch : std::string("li\x7fist\r")) {  // typed, with a backspace
        monitor_input(static_cast<std::uint8_t>(ch));
    }
    CHECK(said("monitor> list"));
    CHECK(said("alpha: running, vCPUs 0@pCPU0 1@pCPU0, 0 exits, 1 boot(s)"));

    command("start alpha");
    CHECK(said("monitor: alpha: running, not stopped: cannot start"));
    command("pause alpha");
    CHECK(vm.state() == VmState::kPaused);
    CHECK(said("monitor: alpha: paused"));
    command("pause alpha");
    CHECK(said("monitor: alpha: not running"));
    command("  resume   alpha ");
    CHECK(vm.state() == VmState::kRunning);
    CHECK(said("monitor: alpha: resumed"));

    command("frobnicate alpha");
    CHECK(said("monitor: unknown command 'frobnicate' (help lists them)"));
    command("stop");
    CHECK(said("monitor: stop needs a guest name (list shows them)"));
    command("stop beta");
    CHECK(said("monitor: no guest 'beta' (list shows them)"));

    command("stop alpha");
    CHECK(vm.stopping());
    CHECK(vm.stop_reason() == StopReason::kMonitor);
    command("stop alpha");
    CHECK(said("monitor: alpha: already stopped"));
    command("reset alpha");
    CHECK(said("monitor: alpha: stopped, cannot reset"));

    CHECK_FALSE(monitor_pending());
    command("start");
    CHECK(said("monitor: start needs a guest name (list shows them)"));
    command("wait nosuch");
    CHECK(said("monitor: no guest 'nosuch' (list shows them)"));
}
