// The console monitor (boot/monitor.cpp) on the fake hardware: its commands on a guest of this
// pCPU act at once, and mistakes get one clear line.
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

    monitor_command("pause alpha");
    CHECK(vm.state() == VmState::kPaused);
    CHECK(said("monitor: alpha: paused"));
    monitor_command("pause alpha");
    CHECK(said("monitor: alpha: not running"));
    monitor_command("  resume   alpha ");
    CHECK(vm.state() == VmState::kRunning);
    CHECK(said("monitor: alpha: resumed"));

    monitor_command("frobnicate alpha");
    CHECK(said("monitor: unknown command 'frobnicate' (help lists them)"));
    monitor_command("stop");
    CHECK(said("monitor: stop needs a guest name (list shows them)"));
    monitor_command("stop beta");
    CHECK(said("monitor: no guest 'beta' (list shows them)"));

    monitor_command("stop alpha");
    CHECK(vm.stopping());
    CHECK(vm.stop_reason() == StopReason::kMonitor);
    monitor_command("stop alpha");
    CHECK(said("monitor: alpha: already stopped"));
    monitor_command("reset alpha");
    CHECK(said("monitor: alpha: stopped, cannot reset"));
}
