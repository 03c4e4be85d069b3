// The vCPU run loop on the host: the fake arch layer plays the guest (tests/host/fake_arch.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "arch/exception.hpp"
#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"
#include "exec/host_cpu.hpp"
#include "fake_arch.hpp"
#include "test_vgic_fixture.hpp"
#include "vgic/vgic.hpp"
#include "vm/vm.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kPsciVersion = 0x84000000;
constexpr std::uint64_t kSystemOff = 0x84000008;
constexpr std::uint64_t kSystemReset = 0x84000009;
constexpr std::uint64_t kCpuOn = 0xC4000003;
constexpr std::uint64_t kDevBase = 0x09000000;

class TestPlatform final : public VmPlatform {
public:
    void guest_console_line(const Vm&, std::string_view text) override { lines.emplace_back(text); }
    void guest_event(const Vm& vm, std::string_view text) override {
        events.push_back(std::string(vm.name()) + ": " + std::string(text));
    }
    void* allocate(std::size_t size, std::size_t) override {
        storage.emplace_back(size);
        return storage.back().data();
    }
    Status reload(Vm&, std::uint64_t& entry, std::uint64_t& dtb) override {
        ++reloads;
        entry = 0x40200000;
        dtb = 0x40000000;
        return reload_result;
    }
    void vm_stopped(Vm&) override { ++stopped; }
    Status prepare_start(Vm&) override {
        ++prepared;
        return prepare_result;
    }
    void vm_started(Vm&) override { ++started; }
    void vm_parked(Vm&) override { ++parked; }
    void console_space(Vm&) override {}

    std::vector<std::string> lines;
    std::vector<std::string> events;
    std::vector<std::vector<std::byte>> storage;
    int reloads = 0;
    int stopped = 0;
    int prepared = 0;
    int started = 0;
    int parked = 0;
    Status prepare_result;
    Status reload_result;
};

/// Answers every read at once with 0x80 + offset and records writes.
class ImmediateDevice final : public Device {
public:
    std::string_view name() const override { return "immediate"; }
    MmioResult mmio(MmioAccess a) override {
        ++accesses;
        if (a.write()) {
            last_write = a.data();
            return MmioResult::done();
        }
        return MmioResult::done(0x80 + a.offset());
    }
    int accesses = 0;
    std::uint64_t last_write = 0;
};

/// Answers reads only after `ready` is set: the vCPU must suspend meanwhile.
class WaitingDevice final : public Device {
public:
    std::string_view name() const override { return "waiting"; }
    MmioResult mmio(MmioAccess a) override {
        return MmioResult::deferred(answer_later(a.offset()));
    }
    Task<MmioOutcome> answer_later(std::uint64_t offset) {
        co_await ready.wait();
        co_return MmioOutcome{false, 0x1234 + offset};
    }
    Event ready;
};

/// Like WaitingDevice, and its reset (the guest's reset or stop) answers the access in flight
/// with an abort; counts the answers it gave.
class CancellableDevice final : public Device {
public:
    std::string_view name() const override { return "cancellable"; }
    MmioResult mmio(MmioAccess a) override {
        ++accesses;
        return MmioResult::deferred(answer_later(a.offset()));
    }
    Task<MmioOutcome> answer_later(std::uint64_t offset) {
        cancelled = false;
        co_await ready.wait();
        ready.reset();
        ++answers;
        co_return cancelled ? MmioOutcome{true, 0} : MmioOutcome{false, 0x1234 + offset};
    }
    void reset() override {
        ++resets;
        cancelled = true;
        ready.set();
    }
    Event ready;
    bool cancelled = false;
    int accesses = 0;
    int answers = 0;
    int resets = 0;
};

Vm::Config config(std::string_view name, std::uint32_t vcpus = 1) {
    Vm::Config c;
    c.name = name;
    c.id = 1;
    c.vcpus = vcpus;
    c.ram_base = 0x40000000;
    c.ram_size = 0x4000000;
    return c;
}

/// Set up an exit: a call with x0 = fid through HVC.
ExitKind hvc(GuestRegs& r, std::uint64_t fid, std::uint64_t a1 = 0, std::uint64_t a2 = 0,
             std::uint64_t a3 = 0) {
    r.x[0] = fid;
    r.x[1] = a1;
    r.x[2] = a2;
    r.x[3] = a3;
    r.esr = fake::kHvcEsr;
    return ExitKind::kSync;
}

ExitKind mmio(GuestRegs& r, std::uint64_t ipa, std::uint64_t esr) {
    fake::guest().fault_ipa = ipa;
    fake::guest().fault_far = 0xffff000000000000ull | ipa;
    r.esr = esr;
    return ExitKind::kSync;
}

void run_all() {
    current_executor().run_until_idle();
}

/// Queue each VM's vCPU loops and boot vCPU 0 at the usual entry with x0 = the DTB address.
template <class... Vms>
void start(Vms&... vms) {
    for (Vm* vm : {&vms...}) {
        REQUIRE(vm->start_loops());
    }
    for (Vm* vm : {&vms...}) {
        vm->boot(0x40200000, 0x40000000);
    }
}

}  // namespace

TEST_CASE("10,000 synchronous MMIO exits neither suspend nor allocate", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("fast"));
    ImmediateDevice dev;
    REQUIRE(vm.bus().add(kDevBase, 0x1000, dev, 0));

    int n = 0;
    std::uint64_t pc_before = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (n > 0 && n <= 10000) {
            CHECK(r.x[3] == 0x98);          // the previous load landed in x3...
            CHECK(r.elr == pc_before + 4);  // ...and the PC moved past it
        }
        pc_before = r.elr;
        if (n++ < 10000) {
            return mmio(r, kDevBase + 0x18, fake::mmio_esr(false, 2, 3));
        }
        return hvc(r, kSystemOff);
    };

    FramePool& pool = current_frame_pool();
    Executor& ex = current_executor();
    auto allocs_before = pool.allocations();
    REQUIRE(vm.start_loops());
    vm.boot(0x40200000, 0x40000000);
    auto resumes_before = ex.resumes();
    run_all();

    CHECK(dev.accesses == 10000);
    CHECK(vm.state() == VmState::kStopped);
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
    CHECK(platform.stopped == 1);
    // One frame for the run loop itself, none per exit.
    CHECK(pool.allocations() - allocs_before == 1);
    // One resume to start the loop; the 10,000 exits added none (no suspension).
    CHECK(ex.resumes() - resumes_before == 1);
    CHECK(vm.total_stats()[ExitCounter::kMmio] == 10000);
    CHECK(vm.total_stats()[ExitCounter::kHvc] == 1);
}

TEST_CASE("first entry is the arm64 boot protocol: x0 = DTB, EL1h masked", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("boot"));
    GuestRegs seen{};
    fake::guest().step = [&](GuestRegs& r) {
        seen = r;
        return hvc(r, kSystemOff);
    };
    start(vm);
    run_all();
    CHECK(seen.elr == 0x40200000);
    CHECK(seen.x[0] == 0x40000000);
    CHECK(seen.spsr == 0x3c5);
    CHECK(fake::guest().loads == 1);
}

TEST_CASE("a deferred MMIO read suspends the vCPU while another guest runs", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm slow(platform, config("slow"));
    Vm other(platform, config("other"));
    WaitingDevice dev;
    REQUIRE(slow.bus().add(kDevBase, 0x1000, dev, 0));

    int slow_steps = 0;
    int other_steps = 0;
    std::uint64_t loaded = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &slow.vcpu(0).regs()) {
            if (slow_steps++ == 0) {
                r.elr = 0x40200100;
                // ldrsh x7 sign-extends a halfword.
                return mmio(r, kDevBase + 0x10, fake::mmio_esr(false, 1, 7, true, true));
            }
            loaded = r.x[7];
            CHECK(r.elr == 0x40200104);
            return hvc(r, kSystemOff);
        }
        // The other guest keeps running while the slow one waits; it releases the device.
        if (++other_steps == 3) {
            dev.ready.set();
        }
        if (other_steps < 5) {
            return hvc(r, kPsciVersion);
        }
        return hvc(r, kSystemOff);
    };
    start(slow, other);
    run_all();
    CHECK(slow.state() == VmState::kStopped);
    CHECK(other.state() == VmState::kStopped);
    CHECK(other_steps == 5);
    CHECK(loaded == 0x1244);  // 0x1234 + 0x10, positive halfword
}

TEST_CASE("accesses nobody can emulate inject an external abort into the guest", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("hostile"));
    ImmediateDevice dev;
    REQUIRE(vm.bus().add(kDevBase, 0x1000, dev, 0));
    int n = 0;
    fake::guest().step = [&](GuestRegs& r) {
        switch (n++) {
            case 0:
                r.elr = 0x40200000;
                r.spsr = 0x3c5;                                           // EL1h
                return mmio(r, 0x20000000, fake::mmio_esr(false, 2, 1));  // nothing there
            case 1:
                CHECK(r.elr == fake::guest().vbar + 0x200);
                r.elr = 0x40200010;
                r.spsr = 0x3c5;
                // ldp on the device: ISV=0, no syndrome.
                return mmio(r, kDevBase, fake::esr_of(0x24, 0x07));
            case 2:
                r.elr = 0x40200020;
                r.spsr = 0x0;  // from EL0
                return mmio(r, kDevBase + 0x10, fake::mmio_esr(false, 3, 1) & ~(1ull << 24));
            default:
                return hvc(r, kSystemOff);
        }
    };
    start(vm);
    run_all();
    auto& inj = fake::guest().injected;
    REQUIRE(inj.size() == 3);
    CHECK(inj[0].esr == ((0x25ull << 26) | (1ull << 25) | 0x10));
    CHECK(inj[0].far == (0xffff000000000000ull | 0x20000000));
    CHECK(inj[0].from_pc == 0x40200000);
    CHECK((inj[1].esr >> 26) == 0x25);
    CHECK((inj[2].esr >> 26) == 0x24);  // from EL0: lower-EL data abort class
    CHECK(dev.accesses == 0);
    CHECK(vm.total_stats()[ExitCounter::kAbortInjected] == 3);
    REQUIRE(platform.events.size() >= 2);
    CHECK(platform.events[0].find("load at IPA 0x20000000 (pc 0x40200000): no RAM or device") !=
          std::string::npos);
    CHECK(platform.events[1].find("no syndrome") != std::string::npos);
}

TEST_CASE("an instruction fetch outside RAM gets a prefetch abort the guest can handle", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("fetcher"));
    int n = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (n++ == 0) {
            r.elr = 0x44000000;  // the guest jumped outside its RAM
            fake::guest().fault_ipa = 0x44000000;
            fake::guest().fault_far = 0x44000000;
            r.esr = fake::esr_of(0x20, 0x07);
            return ExitKind::kSync;
        }
        return hvc(r, kSystemOff);  // its abort handler runs and powers off
    };
    start(vm);
    run_all();
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
    REQUIRE(fake::guest().injected.size() == 1);
    CHECK(fake::guest().injected[0].esr == 0x86000010);  // EC 0x21 from EL1, IL, IFSC SEA
    CHECK(fake::guest().injected[0].far == 0x44000000);
    CHECK(fake::guest().injected[0].from_pc == 0x44000000);
    REQUIRE_FALSE(platform.events.empty());
    CHECK(platform.events[0].find("instruction fetch at IPA 0x44000000 (outside its RAM)") !=
          std::string::npos);
    CHECK(platform.events[0].find("prefetch abort injected") != std::string::npos);
    CHECK(vm.total_stats()[ExitCounter::kAbortInjected] == 1);
}

TEST_CASE("a guest whose vectors cannot be fetched is stopped alone, with the reason", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm bad(platform, config("bad"));
    Vm good(platform, config("good"));
    fake::guest().vbar = 0x50000000;  // its VBAR_EL1 points outside RAM too
    int good_steps = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &bad.vcpu(0).regs()) {
            fake::guest().fault_ipa = r.elr == 0x40200000 ? 0x200 : r.elr;
            r.esr = fake::esr_of(0x20, 0x07);
            return ExitKind::kSync;
        }
        return hvc(r, ++good_steps < 4 ? kPsciVersion : kSystemOff);
    };
    start(bad, good);
    run_all();
    CHECK(bad.stop_reason() == StopReason::kFault);
    CHECK(good.stop_reason() == StopReason::kPoweredOff);
    CHECK(good_steps == 4);
    REQUIRE(platform.events.size() >= 2);
    CHECK(platform.events[0].find("bad: vCPU 0: instruction fetch at IPA 0x200") == 0);
    CHECK(platform.events.back().find("in its own exception vectors") != std::string::npos);
    CHECK(platform.events.back().find("cannot make progress, stopping") != std::string::npos);
}

TEST_CASE("SYSTEM_RESET reloads the guest and restarts vCPU 0 at its entry", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("resetting"));
    int n = 0;
    std::vector<std::uint64_t> entries;
    fake::guest().step = [&](GuestRegs& r) {
        if (r.elr == 0x40200000) {
            entries.push_back(r.x[0]);
            r.elr += 0x40;  // the guest ran a while
        }
        return hvc(r, n++ == 0 ? kSystemReset : kSystemOff);
    };
    start(vm);
    run_all();
    CHECK(platform.reloads == 1);
    CHECK(vm.boot_count() == 1);
    CHECK(entries == std::vector<std::uint64_t>{0x40000000, 0x40000000});
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
}

TEST_CASE("CPU_ON starts a secondary vCPU at its entry with its context id", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("smp", 2));
    std::uint64_t secondary_x0 = 0;
    std::uint64_t secondary_pc = 0;
    std::uint64_t on_result = 1;
    int primary = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &vm.vcpu(1).regs()) {
            secondary_x0 = r.x[0];
            secondary_pc = r.elr;
            return hvc(r, 0x84000002);  // CPU_OFF
        }
        switch (primary++) {
            case 0:
                return hvc(r, kCpuOn, 1, 0x40300000, 0xabcd);
            case 1:
                on_result = r.x[0];
                [[fallthrough]];
            default:
                if (secondary_pc == 0) {
                    r.esr = fake::esr_of(0x01, 0);  // WFI until the secondary has run
                    return ExitKind::kSync;
                }
                return hvc(r, kSystemOff);
        }
    };
    start(vm);
    run_all();
    CHECK(on_result == 0);
    CHECK(secondary_pc == 0x40300000);
    CHECK(secondary_x0 == 0xabcd);
    CHECK(vm.state() == VmState::kStopped);
}

TEST_CASE("a vCPU that makes another runnable while alone gets a time slice from then on",
          "[vcpu]") {
    // vCPU 0 starts vCPU 1 with CPU_ON and then spins (fast HVCs, no WFI) until vCPU 1 has run:
    // only a time slice can get it off the pCPU. The fake's slice "expires" as an IRQ exit once
    // one was begun.
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("spinner", 2));
    bool secondary_ran = false;
    int spins = 0;
    int slices_at_cpu_on = -1;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &vm.vcpu(1).regs()) {
            secondary_ran = true;
            return hvc(r, 0x84000002);  // CPU_OFF
        }
        if (spins == 0) {
            // First let vCPU 1's loop (queued at start) park in its power-off wait.
            ++spins;
            fake::guest().irq_wakes = true;
            fake::guest().next_irq = kIntidHypTimer;
            return ExitKind::kIrq;
        }
        if (spins == 1) {
            ++spins;
            fake::guest().irq_wakes = false;
            fake::guest().next_irq = kIntidSpurious;
            slices_at_cpu_on = static_cast<int>(fake::guest().slices);
            return hvc(r, kCpuOn, 1, 0x40300000, 0);
        }
        if (secondary_ran || spins > 1000) {
            return hvc(r, kSystemOff);
        }
        ++spins;
        if (fake::guest().slices > static_cast<std::uint32_t>(slices_at_cpu_on)) {
            // A slice began after CPU_ON although the executor was idle when vCPU 0 entered.
            fake::guest().irq_wakes = true;  // the slice ends: the hypervisor timer's IRQ
            fake::guest().next_irq = kIntidHypTimer;
            return ExitKind::kIrq;
        }
        return hvc(r, kPsciVersion);
    };
    start(vm);
    run_all();
    CHECK(secondary_ran);
    CHECK(spins < 10);
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
}

TEST_CASE("a vCPU whose time slice ends yields to the vCPU waiting for its pCPU", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm busy(platform, config("busy"));
    Vm other(platform, config("other"));
    ImmediateDevice dev;
    REQUIRE(busy.bus().add(kDevBase, 0x1000, dev, 0));
    std::vector<std::string> order;
    int busy_exits = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &other.vcpu(0).regs()) {
            order.push_back("other");
            return hvc(r, kSystemOff);
        }
        // The busy guest never stops trapping; its 6th exit is the hypervisor timer's
        // interrupt ending its slice.
        ++busy_exits;
        order.push_back("busy");
        if (busy_exits == 6) {
            fake::guest().next_irq = 26;
            fake::guest().irq_wakes = true;
            return ExitKind::kIrq;
        }
        fake::guest().irq_wakes = false;
        if (busy_exits >= 10) {
            return hvc(r, kSystemOff);
        }
        return mmio(r, kDevBase + 0x18, fake::mmio_esr(false, 2, 3));
    };
    start(busy, other);
    run_all();
    // busy runs first (queued first) with a slice, since other waits; the slice's end lets
    // other run before busy's 7th exit.
    REQUIRE(order.size() == 11);
    CHECK(order[6] == "other");
    CHECK(fake::guest().slices >= 1);
    CHECK(busy.stop_reason() == StopReason::kPoweredOff);
    CHECK(other.stop_reason() == StopReason::kPoweredOff);
}

namespace {

constexpr std::uint64_t kWfiEsr = fake::esr_of(0x01, 0);
constexpr std::uint32_t kSgi = 5;

/// A guest vGIC with group 1 enabled and SGI kSgi enabled on vCPU 0, as the guest would set it.
void enable_sgi(Vgic& vgic) {
    (void)vgic.distributor().mmio(MmioAccess(0, 0x0, 4, true, 0x2, 0));  // GICD_CTLR.EnableGrp1
    (void)vgic.redistributors().mmio(MmioAccess(0, 0x10080, 4, true, 0xffffffff, 0));  // IGROUPR0
    (void)vgic.redistributors().mmio(MmioAccess(0, 0x10100, 4, true, 1u << kSgi, 0));  // ISENABLER0
}

/// Two guests on one pCPU: "sleeper" (vCPU 0 with a vGIC, SGI kSgi enabled) and "other"; the
/// order in which their vCPUs entered.
struct WfiScene {
    TestPlatform platform;
    Vm sleeper{platform, config("sleeper")};
    Vm other{platform, config("other")};
    Vgic vgic{Vgic::Config{1, 32}};
    std::vector<std::string> order;
    int sleeper_steps = 0;

    WfiScene() {
        sleeper.attach_vgic(vgic, 4);
        enable_sgi(vgic);
    }
};

/// ICC_SGI1R_EL1 naming vCPU 0 (Aff0 0) with INTID kSgi.
constexpr std::uint64_t kSgiToVcpu0 = (std::uint64_t{kSgi} << 24) | 1;

bool lr_holds(const ListRegisterFile& lrs, std::uint32_t intid) {
    return test::lr_holding(lrs.lr.data(), lrs.count, intid) != Vgic::kNoLr;
}

}  // namespace

TEST_CASE("WFI with nothing to take blocks until an interrupt for the vCPU wakes it", "[vcpu]") {
    fake::reset();
    WfiScene s;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &s.sleeper.vcpu(0).regs()) {
            s.order.push_back("sleeper");
            if (s.sleeper_steps++ == 0) {
                r.esr = kWfiEsr;
                return ExitKind::kSync;
            }
            CHECK(lr_holds(fake::guest().last_lrs, kSgi));  // delivered at this entry
            return hvc(r, kSystemOff);
        }
        s.order.push_back("other");
        if (s.order.size() == 2) {
            s.vgic.sgi(0, kSgiToVcpu0);  // e.g. a device of the sleeper's guest raising it
            return hvc(r, kPsciVersion);
        }
        return hvc(r, kSystemOff);
    };
    start(s.sleeper, s.other);
    run_all();
    // The sleeper blocked in WFI (other ran next), and woke only once the SGI was pending.
    REQUIRE(s.order.size() >= 3);
    CHECK(s.order[0] == "sleeper");
    CHECK(s.order[1] == "other");
    CHECK(s.sleeper_steps == 2);
    CHECK(s.sleeper.stop_reason() == StopReason::kPoweredOff);
    CHECK(s.sleeper.total_stats()[ExitCounter::kWfx] == 1);
}

TEST_CASE("an interrupt that arrives before WFI is handled is not lost: no sleep", "[vcpu]") {
    fake::reset();
    WfiScene s;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &s.sleeper.vcpu(0).regs()) {
            s.order.push_back("sleeper");
            if (s.sleeper_steps++ == 0) {
                s.vgic.sgi(0, kSgiToVcpu0);  // pending before the hypervisor sees the WFI
                r.esr = kWfiEsr;
                return ExitKind::kSync;
            }
            CHECK(lr_holds(fake::guest().last_lrs, kSgi));  // delivered at this entry
            return hvc(r, kSystemOff);
        }
        s.order.push_back("other");
        return hvc(r, kSystemOff);
    };
    start(s.sleeper, s.other);
    run_all();
    REQUIRE(s.order.size() >= 2);
    CHECK(s.order[0] == "sleeper");
    CHECK(s.order[1] == "sleeper");  // the WFI completed at once
    CHECK(s.sleeper_steps == 2);
}

TEST_CASE("WFI with an armed timer sleeps until its deadline, and a stop also wakes it", "[vcpu]") {
    fake::reset();
    WfiScene s;
    fake::guest().vtimer = TimerStatus{true, false, 0x1234};
    std::uint64_t deadline_seen = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &s.sleeper.vcpu(0).regs()) {
            s.order.push_back("sleeper");
            ++s.sleeper_steps;
            r.esr = kWfiEsr;  // sleeps every time
            return ExitKind::kSync;
        }
        s.order.push_back("other");
        if (s.order.size() == 2) {
            // The hypervisor timer's interrupt at the sleeper's deadline: its handler wakes the
            // sleeper and the running vCPU yields to it.
            deadline_seen = fake::guest().timer_deadline;
            REQUIRE(fake::guest().timer_waiter != nullptr);
            fake::guest().timer_waiter->kick();
            fake::guest().next_irq = 26;
            fake::guest().irq_wakes = true;
            return ExitKind::kIrq;
        }
        fake::guest().irq_wakes = false;
        // The sleeper slept again: stopping its guest wakes it for good.
        s.sleeper.stop(StopReason::kFault);
        return hvc(r, kSystemOff);
    };
    start(s.sleeper, s.other);
    run_all();
    CHECK(deadline_seen == 0x1234);
    CHECK(s.sleeper_steps == 2);
    CHECK(fake::guest().timer_cancels >= 2);
    CHECK(s.sleeper.state() == VmState::kStopped);
    CHECK(s.other.state() == VmState::kStopped);
}

TEST_CASE("WFI that blocks while its vCPU stays loaded arms no hypervisor timer: its PPI wakes it",
          "[vcpu]") {
    fake::reset();
    WfiScene s;
    // The guest enables its virtual timer's PPI (ISENABLER0 bit 27) and arms the timer.
    (void)s.vgic.redistributors().mmio(MmioAccess(0, 0x10100, 4, true, 1u << 27, 0));
    fake::guest().vtimer = TimerStatus{true, false, 0x1234};
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &s.sleeper.vcpu(0).regs()) {
            s.order.push_back("sleeper");
            if (s.sleeper_steps++ == 0) {
                r.esr = kWfiEsr;
                return ExitKind::kSync;
            }
            return hvc(r, kSystemOff);
        }
        s.order.push_back("other");
        return hvc(r, kSystemOff);  // off at once: nothing else is loaded after the sleeper
    };
    start(s.other, s.sleeper);
    run_all();
    REQUIRE(s.sleeper_steps == 1);  // asleep in WFI
    CHECK(fake::guest().timer_waiter == nullptr);
    // Its timer fires at the deadline: the pCPU's idle wait hands the PPI to the loaded vCPU.
    fake::guest().vtimer = TimerStatus{true, true, 0x1234};
    s.sleeper.vcpu(0).timer_fired(27);
    run_all();
    CHECK(s.sleeper_steps == 2);
    CHECK(s.sleeper.stop_reason() == StopReason::kPoweredOff);
    CHECK(fake::guest().timer_waiter == nullptr);
}

namespace {

/// The list register of the fake hardware that holds `intid`, or Vgic::kNoLr.
std::uint32_t lr_index(const std::array<ListRegister, kMaxListRegisters>& lrs,
                       std::uint32_t intid) {
    return test::lr_holding(lrs.data(), 4, intid);
}

/// A trapped MSR ICC_SGI1R_EL1, Xt (EC 0x18; ISS: Op0 3, Op2 5, Op1 0, CRn 12, Rt, CRm 11, write).
constexpr std::uint64_t sgi1r_write_esr(unsigned rt) {
    return fake::esr_of(0x18, (3u << 20) | (5u << 17) | (12u << 10) | (rt << 5) | (11u << 1));
}

}  // namespace

TEST_CASE("a timer or self-SGI that fires again into its emptied LR is written to that LR alone",
          "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("ticker"));
    Vgic vgic(Vgic::Config{1, 32});
    vm.attach_vgic(vgic, 4);
    enable_sgi(vgic);
    (void)vgic.redistributors().mmio(MmioAccess(0, 0x10100, 4, true, 1u << 27, 0));  // + PPI 27
    auto& g = fake::guest();
    g.vtimer = TimerStatus{true, true, 0};  // its condition holds: armed, fired (ISTATUS)
    int step = 0;
    std::uint32_t timer_lr = Vgic::kNoLr;
    std::uint32_t sgi_lr = Vgic::kNoLr;
    int writes = 0;  // whole LR images written before step 1 (load, first flush)
    g.step = [&](GuestRegs& r) {
        switch (step++) {
            case 0:  // the virtual timer fires: the general way (nothing in an LR yet)
                g.next_irq = 27;
                return ExitKind::kIrq;
            case 1:
                timer_lr = lr_index(g.hw_lrs, 27);
                REQUIRE(timer_lr < 4);
                CHECK(g.hw_lrs[timer_lr].hw());
                writes = g.lr_writes;
                // The guest takes it and deactivates it (HW: the physical PPI too); it fires again.
                g.hw_lrs[timer_lr].set_state(LrState::kInvalid);
                return ExitKind::kIrq;
            case 2:
                CHECK(g.hw_lrs[timer_lr].state() == LrState::kPending);
                CHECK(g.single_lr_writes == 1);
                CHECK(g.lr_writes == writes);  // no sync, no flush
                // The guest takes it; meanwhile it sends itself SGI 5: the general way.
                g.hw_lrs[timer_lr].set_state(LrState::kInvalid);
                r.x[1] = kSgiToVcpu0;
                r.esr = sgi1r_write_esr(1);
                return ExitKind::kSync;
            case 3:
                sgi_lr = lr_index(g.hw_lrs, kSgi);
                REQUIRE(sgi_lr < 4);
                CHECK(g.lr_writes == writes + 1);
                // That general way synced the LRs: the timer's completion is known now.
                CHECK_FALSE(vgic.pending(0, 27));
                // Taken and completed (EOImode 0), then sent again: that LR alone.
                g.hw_lrs[sgi_lr].set_state(LrState::kInvalid);
                r.x[2] = kSgiToVcpu0;
                r.esr = sgi1r_write_esr(2);
                return ExitKind::kSync;
            case 4:
                CHECK(g.hw_lrs[sgi_lr].state() == LrState::kPending);
                CHECK(g.single_lr_writes == 2);
                CHECK(g.lr_writes == writes + 1);
                // Taken but still active when sent again: the model must show pending+active.
                g.hw_lrs[sgi_lr].set_state(LrState::kActive);
                r.x[3] = kSgiToVcpu0;
                r.esr = sgi1r_write_esr(3);
                return ExitKind::kSync;
            case 5:
                CHECK(g.hw_lrs[sgi_lr].state() == LrState::kPendingActive);
                CHECK(g.single_lr_writes == 2);
                CHECK(g.lr_writes == writes + 2);
                return hvc(r, kSystemOff);
            default:
                return hvc(r, kSystemOff);
        }
    };
    start(vm);
    run_all();
    CHECK(step == 6);
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
    CHECK(vm.total_stats()[ExitCounter::kIrq] == 2);
    CHECK(vm.total_stats()[ExitCounter::kSysReg] == 3);
}

TEST_CASE("trapped ID register reads return the offer, and writes and other registers are UNDEF",
          "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    IdRegisterFile ids;
    ids.set(4, 0, 0x1122);  // ID_AA64PFR0_EL1
    Vm::Config c = config("ids");
    c.id_registers = &ids;
    Vm vm(platform, c);
    auto sysreg = [](GuestRegs& r, unsigned crn, unsigned crm, unsigned op2, unsigned rt,
                     bool read) {
        r.esr = fake::esr_of(0x18, SysRegIss{}
                                       .set_op0(3)
                                       .set_op1(0)
                                       .set_crn(crn)
                                       .set_crm(crm)
                                       .set_op2(op2)
                                       .set_rt(rt)
                                       .set_read(read)
                                       .value());
        return ExitKind::kSync;
    };
    int n = 0;
    std::uint64_t pfr0 = 0;
    std::uint64_t reserved = 1;
    std::uint64_t actlr = 1;
    fake::guest().step = [&](GuestRegs& r) {
        switch (n++) {
            case 0:
                return sysreg(r, 0, 4, 0, 3, true);  // mrs x3, id_aa64pfr0_el1
            case 1:
                pfr0 = r.x[3];
                return sysreg(r, 0, 4, 7, 4, true);  // a reserved encoding of the group
            case 2:
                reserved = r.x[4];
                return sysreg(r, 1, 0, 1, 5, true);  // mrs x5, actlr_el1
            case 3:
                actlr = r.x[5];
                return sysreg(r, 0, 4, 0, 3, false);  // msr id_aa64pfr0_el1, x3
            case 4:
                return sysreg(r, 15, 2, 0, 1, true);  // an IMPLEMENTATION DEFINED register
            default:
                return hvc(r, kSystemOff);
        }
    };
    start(vm);
    run_all();
    CHECK(pfr0 == 0x1122);
    CHECK(reserved == 0);
    CHECK(actlr == 0);
    REQUIRE(fake::guest().injected.size() == 2);  // the ID write and the IMPDEF read
    CHECK(fake::guest().injected[0].esr == kUndefinedEsr);
    CHECK(fake::guest().injected[1].esr == kUndefinedEsr);
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
}

TEST_CASE("a vCPU's first debug register access makes the debug registers its own", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("debugger"));
    int n = 0;
    std::vector<std::uint64_t> pcs;
    fake::guest().step = [&](GuestRegs& r) {
        pcs.push_back(r.elr);
        if (n++ < 1) {
            // msr dbgbvr0_el1, x1: op0 2, op1 0, CRn 0, CRm 0, op2 4.
            r.esr = fake::esr_of(0x18, SysRegIss{}
                                           .set_op0(2)
                                           .set_op1(0)
                                           .set_crn(0)
                                           .set_crm(0)
                                           .set_op2(4)
                                           .set_rt(1)
                                           .value());
            return ExitKind::kSync;
        }
        return hvc(r, kSystemOff);
    };
    start(vm);
    run_all();
    CHECK(fake::guest().debug_takes == 1);
    CHECK(fake::guest().injected.empty());  // no UNDEF: the access runs again, untrapped
    REQUIRE(pcs.size() == 2);
    CHECK(pcs[1] == pcs[0]);  // the PC did not move: the same instruction runs again
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
}

TEST_CASE("a guest's event lines are limited, and the line that stops it is always shown",
          "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("noisy"));
    int n = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (n++ < 20) {
            return mmio(r, 0x44000000, fake::mmio_esr(false, 2, 1));  // unclaimed: abort injected
        }
        r.esr = fake::esr_of(0x2f, 0);  // SError: the guest is stopped
        return ExitKind::kSError;
    };
    start(vm);
    run_all();
    CHECK(vm.stop_reason() == StopReason::kFault);
    REQUIRE(platform.events.size() == EventLimiter::kBurst + 2);
    CHECK(platform.events[EventLimiter::kBurst] == "noisy: 4 line(s) suppressed");
    CHECK(platform.events.back().find("noisy: SError") == 0);
}

TEST_CASE(
    "a reset while a vCPU awaits a deferred MMIO access completes it, parks the vCPU and "
    "boots again",
    "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("deferred-reset"));
    CancellableDevice dev;
    REQUIRE(vm.bus().add(kDevBase, 0x1000, dev, 0));
    int boots = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (r.elr == 0x40200000 && r.x[0] == 0x40000000) {
            ++boots;  // an entry at the boot state: the first boot, then the one after the reset
        }
        if (boots == 1) {
            return mmio(r, kDevBase + 0x8, fake::mmio_esr(false, 2, 3));  // awaits the device
        }
        return hvc(r, kSystemOff);
    };
    start(vm);
    run_all();
    REQUIRE(dev.accesses == 1);
    REQUIRE(vm.state() == VmState::kRunning);  // the vCPU awaits the device
    const std::size_t frames = current_frame_pool().in_use();

    vm.reset();  // as the console monitor's `reset` will (or another vCPU's SYSTEM_RESET)
    run_all();
    CHECK(dev.resets == 3);   // to answer the access in flight, at the reload, at the stop
    CHECK(dev.answers == 1);  // the access was answered (with an abort) before the reload
    CHECK(platform.reloads == 1);
    CHECK(boots == 2);
    CHECK(vm.boot_count() == 1);
    CHECK(vm.state() == VmState::kStopped);
    CHECK(vm.stop_reason() == StopReason::kPoweredOff);
    // The device task's frame is gone; a late completion resumes nothing (ASan would see it).
    CHECK(current_frame_pool().in_use() == frames - 1);
    dev.ready.set();
    run_all();
    CHECK(dev.answers == 1);
}

TEST_CASE("a stop while a vCPU awaits a deferred MMIO access ends its loop", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("deferred-stop"));
    CancellableDevice dev;
    REQUIRE(vm.bus().add(kDevBase, 0x1000, dev, 0));
    fake::guest().step = [&](GuestRegs& r) {
        return mmio(r, kDevBase + 0x8, fake::mmio_esr(false, 2, 3));
    };
    start(vm);
    run_all();
    REQUIRE(vm.state() == VmState::kRunning);
    vm.stop(StopReason::kFault);
    run_all();
    CHECK(dev.answers == 1);
    CHECK(vm.state() == VmState::kStopped);
    CHECK(platform.stopped == 1);
}

TEST_CASE("WFI traps while another vCPU on the pCPU is on, and not once it is off", "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    constexpr std::uint64_t kAlone = 0x80000000;   // stand-ins for hcr_alone / hcr_shared
    constexpr std::uint64_t kShared = 0x80006000;  // (TWI | TWE set)
    Vm::Config cs = config("sleeper");
    Vm::Config co = config("other");
    for (Vm::Config* c : {&cs, &co}) {
        c->hcr = kAlone;
        c->hcr_shared = kShared;
    }
    Vm sleeper(platform, cs);
    Vm other(platform, co);
    Vgic vgic{Vgic::Config{1, 32}};
    sleeper.attach_vgic(vgic, 4);
    enable_sgi(vgic);
    int sleeper_steps = 0;
    std::vector<std::uint64_t> other_hcr;  // the other vCPU's HCR_EL2 at each of its entries
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &sleeper.vcpu(0).regs()) {
            if (sleeper_steps++ == 0) {
                r.esr = kWfiEsr;  // blocks: still on
                return ExitKind::kSync;
            }
            return hvc(r, kSystemOff);  // woken: powers off
        }
        other_hcr.push_back(fake::guest().hcr);
        if (other_hcr.size() == 1) {
            vgic.sgi(0, kSgiToVcpu0);       // wakes the sleeper
            r.esr = fake::esr_of(0x01, 1);  // WFE: gives the pCPU away, the sleeper powers off
            return ExitKind::kSync;
        }
        return hvc(r, other_hcr.size() < 3 ? kPsciVersion : kSystemOff);
    };
    start(sleeper, other);
    run_all();
    CHECK(sleeper.stop_reason() == StopReason::kPoweredOff);
    CHECK(other.stop_reason() == StopReason::kPoweredOff);
    // The other vCPU first ran while the sleeper was on (blocked in WFI): WFI traps; once the
    // sleeper was off, alone: WFI waits in hardware.
    REQUIRE(other_hcr.size() == 3);
    CHECK(other_hcr.front() == kShared);
    CHECK(other_hcr.back() == kAlone);
    CHECK(this_cpu().vcpus_on == 0);
}

TEST_CASE("a stopped guest starts again from its image: a new boot, its loops parked, not new",
          "[vcpu]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("cycler", 2));
    int boots = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (&r == &vm.vcpu(0).regs()) {
            ++boots;
            CHECK(r.elr == 0x40200000);  // the entry reload() gave, x0 its DTB
            CHECK(r.x[0] == 0x40000000);
        }
        return hvc(r, kSystemOff);
    };
    CHECK(vm.start().error() == Error::kDenied);  // running: not stopped
    start(vm);
    const std::size_t frames = current_frame_pool().in_use();
    run_all();
    REQUIRE(vm.state() == VmState::kStopped);
    CHECK(platform.stopped == 1);
    CHECK(platform.parked == 1);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(static_cast<bool>(vm.start()));
        CHECK(vm.state() == VmState::kRunning);
        CHECK(vm.stop_reason() == StopReason::kNone);
        run_all();
        CHECK(vm.state() == VmState::kStopped);
    }
    CHECK(boots == 4);
    CHECK(vm.boot_count() == 3);
    CHECK(platform.prepared == 3);
    CHECK(platform.reloads == 3);
    CHECK(platform.started == 3);
    CHECK(platform.stopped == 4);
    CHECK(current_frame_pool().in_use() == frames);  // the same two loops, parked and resumed
    CHECK(vm.vcpu(1).power() == VcpuPower::kOff);

    // A stop right after a start, before the loop saw it running, still completes.
    REQUIRE(static_cast<bool>(vm.start()));
    vm.stop(StopReason::kMonitor);
    run_all();
    CHECK(vm.state() == VmState::kStopped);
    CHECK(vm.stop_reason() == StopReason::kMonitor);

    // The platform cannot give the memory back: the guest stays stopped.
    platform.prepare_result = Error::kOutOfMemory;
    CHECK(vm.start().error() == Error::kOutOfMemory);
    CHECK(vm.state() == VmState::kStopped);
    // The images do not load: still stopped, and that boot did not count.
    platform.prepare_result = {};
    platform.reload_result = Error::kMalformed;
    const std::uint32_t boots_before = vm.boot_count();
    CHECK(vm.start().error() == Error::kMalformed);
    CHECK(vm.state() == VmState::kStopped);
    CHECK(vm.boot_count() == boots_before);
}

TEST_CASE("a spread guest's vCPUs get an SGI route to each vCPU on another pCPU, and only those",
          "[vcpu][smp]") {
    fake::reset();
    TestPlatform platform;
    Vm::Config c = config("spread", 4);
    c.pcpu = {0, 1, 1, 2};
    Vm vm(platform, c);
    Vgic vgic(Vgic::Config{4, 32, true});
    vm.attach_vgic(vgic, 4);
    const auto routed = [&](std::uint32_t from, std::uint32_t to) {
        const SgiRoute& r = vm.vcpu(from).sgi_route(to);
        return r.mail != nullptr && r.wake != nullptr;
    };
    // vCPU 0 (pCPU 0) reaches all three others; vCPUs 1 and 2 share pCPU 1: not each other.
    CHECK(!routed(0, 0));
    CHECK(routed(0, 1));
    CHECK(routed(0, 2));
    CHECK(routed(0, 3));
    CHECK(!routed(1, 2));
    CHECK(!routed(2, 1));
    CHECK(routed(1, 0));
    CHECK(routed(2, 3));
    for (std::uint32_t t = 4; t < kMaxVcpus; ++t) {
        CHECK(!routed(0, t));  // vCPUs it does not have
    }
    // Each route kicks the target's pCPU and names the target's own mailbox and wake-up.
    CHECK(vm.vcpu(0).sgi_route(1).kick == arch_kick_value(1));
    CHECK(vm.vcpu(0).sgi_route(3).kick == arch_kick_value(2));
    CHECK(vm.vcpu(3).sgi_route(0).kick == arch_kick_value(0));
    CHECK(vm.vcpu(0).sgi_route(1).mail == vm.vcpu(3).sgi_route(1).mail);
    CHECK(vm.vcpu(0).sgi_route(1).mail != vm.vcpu(0).sgi_route(2).mail);
    CHECK(vm.vcpu(0).sgi_route(1).wake != vm.vcpu(0).sgi_route(2).wake);
}

TEST_CASE("a guest on one pCPU gets no SGI routes: its SGIs go through the model", "[vcpu][smp]") {
    fake::reset();
    TestPlatform platform;
    Vm vm(platform, config("together", 2));
    Vgic vgic(Vgic::Config{2, 32});
    vm.attach_vgic(vgic, 4);
    for (std::uint32_t from = 0; from < 2; ++from) {
        for (std::uint32_t to = 0; to < kMaxVcpus; ++to) {
            CHECK(vm.vcpu(from).sgi_route(to).mail == nullptr);
        }
    }
}

namespace {
/// Records the strand its deferred access's coroutine runs under, before and after its wait.
class StrandDevice final : public Device {
public:
    std::string_view name() const override { return "strand"; }
    MmioResult mmio(MmioAccess) override {
        in_mmio = current_strand();
        return MmioResult::deferred(answer_later());
    }
    Task<MmioOutcome> answer_later() {
        at_start = current_strand();
        co_await ready.wait();
        after_wait = current_strand();
        co_return MmioOutcome{false, 0x55};
    }
    Event ready;
    Strand none;
    Strand* in_mmio = &none;
    Strand* at_start = &none;
    Strand* after_wait = &none;
};

/// Runs pCPU `id`'s executor on this thread until it is idle, then plays pCPU 0 again.
void run_pcpu(std::uint32_t id) {
    host_select_cpu(id);
    current_executor().run_until_idle();
    host_select_cpu(0);
}
}  // namespace

TEST_CASE("a spread guest's deferred access runs under its device strand, after its wait too",
          "[vcpu][smp]") {
    fake::reset();
    TestPlatform platform;
    Vm::Config c = config("spread", 2);
    c.pcpu = {0, 1};
    Vm vm(platform, c);
    StrandDevice dev;
    REQUIRE(vm.bus().add(kDevBase, 0x1000, dev, 0));
    std::uint64_t loaded = 0;
    int steps = 0;
    fake::guest().step = [&](GuestRegs& r) {
        if (steps++ == 0) {
            return mmio(r, kDevBase, fake::mmio_esr(false, 2, 3, false, true));  // ldr w3
        }
        loaded = r.x[3];
        return hvc(r, kSystemOff);
    };
    start(vm);
    run_all();
    run_pcpu(1);  // vCPU 1's loop: off, it waits for CPU_ON
    CHECK(dev.in_mmio == &vm.device_strand());
    CHECK(dev.at_start == &vm.device_strand());
    CHECK(dev.after_wait == &dev.none);  // still waiting
    dev.ready.set();
    run_all();
    CHECK(dev.after_wait == &vm.device_strand());
    CHECK(loaded == 0x55);
    CHECK(current_strand() == nullptr);
    for (int i = 0; i < 4 && vm.state() != VmState::kStopped; ++i) {
        run_pcpu(1);
        run_all();
    }
    CHECK(vm.state() == VmState::kStopped);
}
