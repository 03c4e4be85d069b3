// The console monitor (boot/monitor.hpp). It runs on the boot pCPU, in the console's interrupt.
// What it does to a guest runs on that guest's own pCPU, in order, through a small control
// coroutine there, which the monitor wakes with the request (as the console pump feeds a UART
// there). A `start` of a guest that is still stopping waits there until it has stopped.
#include "boot/monitor.hpp"

#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "base/log.hpp"
#include "corvisor/task.hpp"
#include "exec/cpu.hpp"
#include "vm/vm.hpp"

namespace corvisor {

namespace {

enum class Op : std::uint8_t { kNone, kPause, kResume, kReset, kStop, kStart, kWait };

/// Requests for one guest, in the order typed, until its control coroutine takes them (a
/// script may type many: `stop x` and `start x` a hundred times).
constexpr std::uint32_t kQueued = 256;

struct Guest {
    Vm* vm = nullptr;
    SpinLock lock;  // the queue: the monitor adds on the boot pCPU, control takes on the guest's
    Op queue[kQueued] = {};
    std::uint32_t head = 0;
    std::uint32_t count = 0;
    bool busy = false;  // control carries one out (or waits in it): with count, under lock
    Event wake;         // a request, or the guest has stopped
    Task<void> control;
    RunNode start;
};
Guest g_guests[kMaxGuests];
std::uint32_t g_count = 0;

constexpr std::size_t kLineMax = 80;
char g_line[kLineMax];
std::size_t g_len = 0;

void apply(Vm& vm, Op op) {
    switch (op) {
        case Op::kPause:
            log_info("monitor: {}: {}", vm.name(), vm.pause() ? "paused" : "not running");
            break;
        case Op::kResume:
            log_info("monitor: {}: {}", vm.name(), vm.resume() ? "resumed" : "not paused");
            break;
        case Op::kReset:
            if (vm.stopping()) {
                log_info("monitor: {}: stopped, cannot reset", vm.name());
            } else {
                vm.reset();
            }
            break;
        case Op::kStop:
            if (vm.stopping()) {
                log_info("monitor: {}: already stopped", vm.name());
            } else {
                vm.stop(StopReason::kMonitor);
            }
            break;
        case Op::kStart:
            if (vm.state() != VmState::kStopped) {
                log_info("monitor: {}: {}, not stopped: cannot start", vm.name(),
                         to_string(vm.state()));
            } else if (Status s = vm.start(); !s) {
                log_info("monitor: {}: cannot start: {}", vm.name(), to_string(s.error()));
            }
            break;
        case Op::kWait:  // done waiting (control())
        case Op::kNone:
            break;
    }
}

/// Carries out the monitor's requests for guest `index` on the guest's own pCPU.
Task<void> control(std::uint32_t index) {
    Guest& g = g_guests[index];
    Executor& home = cpu_local(g.vm->vcpu(0).pcpu()).executor;
    for (;;) {
        g.wake.reset();
        for (;;) {
            Op op = Op::kNone;
            {
                LockGuard<SpinLock> lock(g.lock);
                if (g.count > 0) {
                    op = g.queue[g.head];
                    g.head = (g.head + 1) % kQueued;
                    --g.count;
                }
                g.busy = op != Op::kNone;
            }
            if (op == Op::kNone) {
                if (this_cpu().id != 0) {
                    arch_kick_pcpu(0);  // the boot pCPU may wait for the monitor to be done
                }
                break;
            }
            // A start waits for a stop in progress (typed right after `stop`) to complete; a
            // wait (and so what follows it for this guest) for the guest to stop, however.
            while ((op == Op::kStart && g.vm->state() == VmState::kStopping) ||
                   (op == Op::kWait && g.vm->state() != VmState::kStopped)) {
                g.wake.reset();
                if (g.vm->state() == VmState::kStopping ||
                    (op == Op::kWait && g.vm->state() != VmState::kStopped)) {
                    co_await g.wake.wait(home);
                }
            }
            apply(*g.vm, op);
        }
        co_await g.wake.wait(home);
    }
}

void request(std::uint32_t index, Op op) {
    Guest& g = g_guests[index];
    if (!g.control.valid()) {
        log_info("monitor: {}: no control coroutine (frames exhausted at boot)", g.vm->name());
        return;
    }
    {
        LockGuard<SpinLock> lock(g.lock);
        if (g.count == kQueued) {
            log_info("monitor: {}: {} requests waiting already; not queued", g.vm->name(), kQueued);
            return;
        }
        g.queue[(g.head + g.count) % kQueued] = op;
        ++g.count;
    }
    g.wake.set();
}

Guest* find(std::string_view name) {
    for (std::uint32_t i = 0; i < g_count; ++i) {
        if (g_guests[i].vm->name() == name) {
            return &g_guests[i];
        }
    }
    return nullptr;
}

std::uint64_t total_exits(const Vm& vm) {
    const ExitStats s = vm.total_stats();
    std::uint64_t n = 0;
    for (std::uint64_t c : s.counts) {
        n += c;
    }
    return n;
}

void list() {
    log_info("monitor: {} guest(s)", g_count);
    for (std::uint32_t i = 0; i < g_count; ++i) {
        Vm& vm = *g_guests[i].vm;
        char where[96];
        FormatBuffer out(where, sizeof where);
        for (std::uint32_t v = 0; v < vm.vcpu_count(); ++v) {
            format_to(out, "{}{}@pCPU{}", v == 0 ? "" : " ", v, vm.vcpu(v).pcpu());
        }
        log_info("  {}: {}{}{}{}, vCPUs {}, {} exits, {} boot(s)", vm.name(), to_string(vm.state()),
                 vm.stopping() ? " (" : "", vm.stopping() ? to_string(vm.stop_reason()) : "",
                 vm.stopping() ? ")" : "", out.view(), total_exits(vm), vm.boot_count() + 1);
    }
}

void stats(const Vm& vm) {
    const ExitStats s = vm.total_stats();
    log_info(
        "monitor: {}: {}, exits: mmio {} hvc {} smc {} sysreg {} wfx {} irq {} maintenance {} "
        "aborts-injected {} other {}",
        vm.name(), to_string(vm.state()), s[ExitCounter::kMmio], s[ExitCounter::kHvc],
        s[ExitCounter::kSmc], s[ExitCounter::kSysReg], s[ExitCounter::kWfx], s[ExitCounter::kIrq],
        s[ExitCounter::kMaintenance], s[ExitCounter::kAbortInjected], s[ExitCounter::kOther]);
}

void help() {
    log_info(
        "monitor: commands: help, list, stats NAME, pause NAME, resume NAME, reset NAME, "
        "stop NAME, start NAME, wait NAME (what follows for NAME waits until it has "
        "stopped) (Ctrl-A three times: the next guest's console)");
}

}  // namespace

void monitor_add(Vm& vm) {
    if (g_count >= kMaxGuests) {
        return;
    }
    Guest& g = g_guests[g_count];
    g.vm = &vm;
    {
        const ScopedFramePool long_lived(long_lived_frame_pool());
        g.control = control(g_count);
    }
    if (g.control.valid()) {
        g.start.handle = g.control.handle();
        cpu_local(vm.vcpu(0).pcpu()).executor.post(g.start);
    }
    ++g_count;
}

bool monitor_pending() {
    for (std::uint32_t i = 0; i < g_count; ++i) {
        Guest& g = g_guests[i];
        LockGuard<SpinLock> lock(g.lock);
        if (g.count > 0 || g.busy) {
            return true;
        }
    }
    return false;
}

void monitor_guest_stopped(Vm& vm) {
    for (std::uint32_t i = 0; i < g_count; ++i) {
        if (g_guests[i].vm == &vm) {
            g_guests[i].wake.set();  // a start waiting for it goes on
        }
    }
}

void monitor_focus() {
    log_info("console focus: monitor (type help, Ctrl-A three times switches)");
}

void monitor_command(std::string_view line) {
    while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
    }
    while (!line.empty() && line.back() == ' ') {
        line.remove_suffix(1);
    }
    if (line.empty()) {
        return;
    }
    log_info("monitor> {}", line);
    // (No substr: it can throw, and the image has no exceptions.)
    const std::size_t space = line.find(' ');
    const bool has_arg = space != std::string_view::npos;
    const std::string_view cmd(line.data(), has_arg ? space : line.size());
    std::string_view arg = has_arg
                               ? std::string_view(line.data() + space + 1, line.size() - space - 1)
                               : std::string_view();
    while (!arg.empty() && arg.front() == ' ') {
        arg.remove_prefix(1);
    }
    if (cmd == "help") {
        help();
        return;
    }
    if (cmd == "list") {
        list();
        return;
    }
    const bool needs_guest = cmd == "stats" || cmd == "pause" || cmd == "resume" ||
                             cmd == "reset" || cmd == "stop" || cmd == "start" || cmd == "wait";
    if (!needs_guest) {
        log_info("monitor: unknown command '{}' (help lists them)", cmd);
        return;
    }
    if (arg.empty()) {
        log_info("monitor: {} needs a guest name (list shows them)", cmd);
        return;
    }
    Guest* g = find(arg);
    if (g == nullptr) {
        log_info("monitor: no guest '{}' (list shows them)", arg);
        return;
    }
    if (cmd == "stats") {
        stats(*g->vm);
        return;
    }
    const Op op = cmd == "pause"    ? Op::kPause
                  : cmd == "resume" ? Op::kResume
                  : cmd == "reset"  ? Op::kReset
                  : cmd == "start"  ? Op::kStart
                  : cmd == "wait"   ? Op::kWait
                                    : Op::kStop;
    request(static_cast<std::uint32_t>(g - g_guests), op);
}

void monitor_input(std::uint8_t byte) {
    if (byte == '\r' || byte == '\n') {
        const std::string_view line(g_line, g_len);
        g_len = 0;
        monitor_command(line);
        return;
    }
    if (byte == 0x7f || byte == 0x08) {  // DEL, backspace
        if (g_len > 0) {
            --g_len;
        }
        return;
    }
    if (byte >= 0x20 && byte < 0x7f && g_len < kLineMax) {
        g_line[g_len++] = static_cast<char>(byte);
    }
}

}  // namespace corvisor
