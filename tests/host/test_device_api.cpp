// The device API's services as the hypervisor implements them: the timer queue, typed node
// properties, a guest's DeviceHost (DMA bounds, PPI lines, counters, timers cancelled on stop),
// the guest DTB's DeviceDtbNeeds, and the test kit's own checks.
#include <libfdt.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "boot/null_platform.hpp"
#include "corvisor/device.hpp"
#include "corvisor/testing/device_kit.hpp"
#include "dtc.hpp"
#include "exec/executor.hpp"
#include "exec/timer_queue.hpp"
#include "fake_arch.hpp"
#include "vgic/vgic.hpp"
#include "vm/guest_dtb.hpp"
#include "vm/guest_list.hpp"
#include "vm/vm.hpp"

using namespace corvisor;

namespace {

struct Fired {
    std::vector<int> order;
    std::vector<TimerEnd> ends;
};

struct TestTimer {
    TimerNode node;
    int id = 0;
    Fired* log = nullptr;
    TestTimer(int i, Fired& f) : id(i), log(&f) {
        node.fire = [](TimerNode& n, TimerEnd end) {
            auto* self = static_cast<TestTimer*>(n.context);
            self->log->order.push_back(self->id);
            self->log->ends.push_back(end);
        };
        node.context = this;
    }
};

/// Pop and fire everything due at `now`, as the timer service does.
void expire(TimerQueue& q, std::uint64_t now) {
    std::uint32_t arming = 0;
    while (TimerNode* n = q.pop_expired(now, arming)) {
        if (TimerQueue::still_current(*n, arming)) {
            n->fire(*n, TimerEnd::kExpired);
        }
    }
}

}  // namespace

TEST_CASE("timer queue: deadline order, ties in arming order, re-arm moves", "[exec]") {
    TimerQueue q;
    Fired f;
    TestTimer a(1, f), b(2, f), c(3, f), d(4, f);
    int owner = 0;
    CHECK(q.arm(a.node, 300, &owner));        // first: earliest
    CHECK(q.arm(b.node, 100, &owner));        // new earliest
    CHECK_FALSE(q.arm(c.node, 100, &owner));  // same deadline: after b
    CHECK_FALSE(q.arm(d.node, 200, &owner));
    CHECK(q.size() == 4);
    CHECK(q.next_deadline() == 100);
    CHECK(q.arm(a.node, 50, &owner));  // moved, not duplicated
    CHECK(q.size() == 4);
    expire(q, 99);
    CHECK(f.order == std::vector<int>{1});
    expire(q, 1000);
    CHECK(f.order == std::vector<int>{1, 2, 3, 4});
    CHECK(q.empty());
    CHECK_FALSE(a.node.armed());
}

TEST_CASE("timer queue: a deadline of 0 is due at once, not taken for an empty queue", "[exec]") {
    TimerQueue q;
    Fired f;
    TestTimer a(1, f);
    CHECK(q.arm(a.node, 0, nullptr));
    CHECK(q.next_deadline() != 0);
    CHECK(q.size() == 1);
    expire(q, 0);  // due at a time of 0 as well
    CHECK(f.order == std::vector<int>{1});
}

TEST_CASE("timer queue: cancel, and a cancel that overtakes a pop wins", "[exec]") {
    TimerQueue q;
    Fired f;
    TestTimer a(1, f), b(2, f);
    CHECK_FALSE(TimerQueue::cancel(a.node));  // never armed
    q.arm(a.node, 10, nullptr);
    q.arm(b.node, 20, nullptr);
    CHECK(TimerQueue::cancel(a.node));
    CHECK(q.next_deadline() == 20);
    std::uint32_t arming = 0;
    TimerNode* popped = q.pop_expired(30, arming);
    REQUIRE(popped == &b.node);
    CHECK_FALSE(TimerQueue::cancel(b.node));                 // popped already: not armed, but...
    CHECK_FALSE(TimerQueue::still_current(b.node, arming));  // ...the pop may not fire it
    q.arm(b.node, 40, nullptr);
    popped = q.pop_expired(40, arming);
    REQUIRE(popped == &b.node);
    CHECK(TimerQueue::still_current(b.node, arming));
}

TEST_CASE("timer queue: a node armed in one queue is taken out of it when armed in another",
          "[exec]") {
    TimerQueue q1, q2;
    Fired f;
    TestTimer a(1, f);
    q1.arm(a.node, 10, nullptr);
    q2.arm(a.node, 5, nullptr);
    CHECK(q1.empty());
    CHECK(q2.size() == 1);
    int owner1 = 0, owner2 = 0;
    TestTimer b(2, f), c(3, f);
    q2.arm(b.node, 7, &owner1);
    q2.arm(c.node, 8, &owner2);
    std::uint32_t arming = 0;
    CHECK(q2.pop_owned(&owner2, arming) == &c.node);
    CHECK(q2.pop_owned(&owner2, arming) == nullptr);
    CHECK(q2.size() == 2);
}

namespace {

/// A DeviceNode over a compiled DTS node (what the loader builds from the guest list).
struct NodeFixture {
    std::vector<std::uint8_t> blob;
    int offset = -1;
    std::pair<const void*, int> cookie;
    NodeProblem problem;
    DeviceNode node;
    explicit NodeFixture(const std::string& props)
        : blob(test::compile_dts("/dts-v1/;\n/ { dev@0 { " + props + " }; };\n")),
          offset(fdt_path_offset(blob.data(), "/dev@0")) {
        REQUIRE(offset >= 0);
        cookie = {blob.data(), offset};
        node.get_property = [](const void* c, const char* name, int* len) -> const void* {
            const auto* p = static_cast<const std::pair<const void*, int>*>(c);
            return fdt_getprop(p->first, p->second, name, len);
        };
        node.cookie = &cookie;
        node.problem = &problem;
    }
    std::string why() const { return std::string(problem.view()); }
};

/// The value of a Result that must hold one.
template <class T>
T value_of(Result<T> r) {
    REQUIRE(r.ok());
    return *r;
}

}  // namespace

TEST_CASE("device node: typed properties", "[vdev]") {
    NodeFixture f(
        R"(one = <7>; two = <0x1 0x2>; label = "disk"; list = "a", "bc"; raw = [de ad];)");
    CHECK(value_of(f.node.u32("one")) == 7u);
    CHECK(value_of(f.node.u64("one")) == 7u);
    CHECK(value_of(f.node.u64("two")) == 0x100000002ull);
    CHECK(value_of(f.node.string("label")) == "disk");
    auto list = f.node.strings("list");
    REQUIRE(list);
    CHECK(list->size() == 2);
    CHECK(list->contains("bc"));
    std::vector<std::string> got;
    for (std::string_view s : *list) {
        got.emplace_back(s);
    }
    CHECK(got == std::vector<std::string>{"a", "bc"});
    auto raw = f.node.bytes("raw");
    REQUIRE(raw);
    CHECK(raw->size() == 2);
    CHECK(f.node.has("one"));
    CHECK_FALSE(f.node.has("absent"));
    CHECK(value_of(f.node.u32("absent", 42)) == 42u);
    CHECK(value_of(f.node.string("absent", "dflt")) == "dflt");
    CHECK(f.why().empty());
}

TEST_CASE("device node: malformed and missing properties say which and why", "[vdev]") {
    NodeFixture f(R"(two = <0x1 0x2>; label = "a", "b"; three = <1 2 3>; empty;)");
    CHECK(f.node.u32("two").error() == Error::kMalformed);
    CHECK(f.why() == "property \"two\": expected one 32-bit cell (4 bytes), got 8 bytes");
    CHECK(f.node.u64("three").error() == Error::kMalformed);
    CHECK(f.why() ==
          "property \"three\": expected one or two 32-bit cells (4 or 8 bytes), got 12 bytes");
    CHECK(f.node.string("label").error() == Error::kMalformed);
    CHECK(f.why() == "property \"label\": expected one NUL-terminated string");
    CHECK(f.node.strings("empty").error() == Error::kMalformed);
    CHECK(f.node.u32("absent").error() == Error::kNotFound);
    CHECK(f.why() == "property \"absent\": missing");
    CHECK(f.node.u32("two", 1).error() == Error::kMalformed);  // present and wrong: no fallback
    CHECK(f.node.fail("block-size", "must be a power of two") == Error::kInvalidArgument);
    CHECK(f.why() == "property \"block-size\": must be a power of two");
    CHECK(f.node.fail("", "needs two regions") == Error::kInvalidArgument);
    CHECK(f.why() == "needs two regions");
}

namespace {

Vm::Config dma_config(std::byte* ram, std::uint32_t vcpus = 2) {
    Vm::Config c;
    c.name = "dma";
    c.id = 1;
    c.vcpus = vcpus;
    c.ram_base = 0x40000000;
    c.ram_size = 0x10000;
    c.ram_host = ram;
    return c;
}

}  // namespace

TEST_CASE("guest DMA: inside RAM only, never partly", "[vm]") {
    std::vector<std::byte> ram(0x10000);
    test::NullPlatform platform;
    Vm vm(platform, dma_config(ram.data()));
    DeviceHost& host = vm;
    const std::array<std::byte, 4> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    REQUIRE(host.write_guest(0x40000100, data));
    CHECK(ram[0x100] == std::byte{1});
    CHECK(ram[0x103] == std::byte{4});
    std::array<std::byte, 4> back{};
    REQUIRE(host.read_guest(0x40000100, back));
    CHECK(back == data);
    REQUIRE(host.write_guest(0x4000fffc, data));                              // the last four bytes
    CHECK(host.write_guest(0x4000fffd, data).error() == Error::kOutOfRange);  // one past
    CHECK(ram[0xfffd] == std::byte{2});  // untouched: the failed copy wrote nothing
    CHECK(host.read_guest(0x3ffffffe, back).error() == Error::kOutOfRange);          // below
    CHECK(host.read_guest(0x40010000, back).error() == Error::kOutOfRange);          // above
    CHECK(host.read_guest(0xfffffffffffffffe, back).error() == Error::kOutOfRange);  // wraps
    CHECK(host.read_guest(0x40010000, std::span<std::byte>()));  // empty, at the end: fine
    vm.set_ram_host(nullptr);  // a stopped guest that gave its RAM back
    CHECK(host.read_guest(0x40000100, back).error() == Error::kOutOfRange);
}

TEST_CASE("guest device host: PPI lines per vCPU, counters", "[vm]") {
    std::vector<std::byte> ram(0x10000);
    test::NullPlatform platform;
    Vm vm(platform, dma_config(ram.data()));
    Vgic vgic(Vgic::Config{2, 32});
    vm.attach_vgic(vgic, 4);
    DeviceHost& host = vm;
    IrqLine ppi = host.ppi_line(23, 1);
    REQUIRE(ppi.connected());
    CHECK(ppi.vcpu() == 1);
    CHECK_FALSE(host.ppi_line(23, 2).connected());  // no vCPU 2
    CHECK_FALSE(host.ppi_line(32, 0).connected());  // an SPI is not a PPI
    CHECK_FALSE(host.ppi_line(15, 0).connected());  // nor an SGI
    ppi.set(true);
    CHECK(vgic.pending(1, 23));
    CHECK_FALSE(vgic.pending(0, 23));

    DeviceCounter& a = host.counter("dev@0", "reads");
    a.add(3);
    CHECK(&host.counter("dev@0", "reads") == &a);
    CHECK(&host.counter("dev@1", "reads") != &a);
    REQUIRE(vm.counter_entry(0) != nullptr);
    CHECK(vm.counter_entry(0)->value.value() == 3);
    CHECK(vm.counter_entry(2) == nullptr);
    static std::array<std::string, Vm::kMaxCounters + 2> names;
    for (std::size_t i = 0; i < names.size(); ++i) {
        names[i] = "c" + std::to_string(i);
        (void)host.counter("many", names[i]);
    }
    // Past the table, the rest share one counter the summary does not show.
    CHECK(&host.counter("many", names[names.size() - 1]) ==
          &host.counter("many", names[names.size() - 2]));
    CHECK(vm.counter_entry(Vm::kMaxCounters) == nullptr);
}

namespace {

/// Sleeps for `ticks` in a deferred read; records how the sleep ended.
class SleepyDevice final : public Device {
public:
    explicit SleepyDevice(DeviceHost& host) : host_(host) {}
    std::string_view name() const override { return "sleepy"; }
    MmioResult mmio(MmioAccess) override { return MmioResult::deferred(nap()); }
    Task<MmioOutcome> nap() {
        const bool woke = co_await host_.sleep_for(1000);
        ended = woke ? 1 : 2;
        co_return MmioOutcome{!woke, 7};
    }
    int ended = 0;

private:
    DeviceHost& host_;
};

}  // namespace

TEST_CASE("guest device host: a device's sleep ends at its deadline, or when the guest stops",
          "[vm]") {
    fake::reset();
    std::vector<std::byte> ram(0x10000);
    test::NullPlatform platform;
    Vm vm(platform, dma_config(ram.data(), 1));
    SleepyDevice dev(vm);
    Executor& ex = current_executor();

    SECTION("deadline") {
        fake::guest().now = 500;
        MmioResult r = dev.mmio(MmioAccess{});
        Task<MmioOutcome> t = r.take_task();
        t.handle().resume();
        CHECK(fake::device_timers().next_deadline() == 1500);
        CHECK(fake::expire_device_timers(1499) == 0);
        CHECK(fake::expire_device_timers(1500) == 1);
        ex.run_until_idle();
        REQUIRE(t.done());
        CHECK(dev.ended == 1);
        CHECK(t.handle().promise().value().value == 7);
    }
    SECTION("the guest stops") {
        MmioResult r = dev.mmio(MmioAccess{});
        Task<MmioOutcome> t = r.take_task();
        t.handle().resume();
        vm.stop(StopReason::kMonitor);
        CHECK(fake::device_timers().empty());
        ex.run_until_idle();
        REQUIRE(t.done());
        CHECK(dev.ended == 2);
        CHECK(t.handle().promise().value().abort);
    }
    SECTION("the sleeping coroutine is destroyed") {
        MmioResult r = dev.mmio(MmioAccess{});
        {
            Task<MmioOutcome> t = r.take_task();
            t.handle().resume();
            CHECK_FALSE(fake::device_timers().empty());
        }
        CHECK(fake::device_timers().empty());  // its Sleep cancelled the timer
    }
}

TEST_CASE("guest DTB: a device's DTB needs are added, host-side properties are not copied",
          "[vm]") {
    const std::vector<std::uint8_t> blob = test::compile_dts(R"(/dts-v1/;
/ { chosen { corvisor { compatible = "corvisor,guest-list";
    g { compatible = "corvisor,guest"; memory = <0x0 0x40000000 0x0 0x1000000>; cpus = <1>;
        kernel = [00 00 00 00];
        rtc@9010000 { compatible = "arm,pl031"; reg = <0x0 0x09010000 0x0 0x1000>;
                      clocks = <99>; clock-names = "wrong"; corvisor,secret = <1>; };
    };
}; }; };
)");
    std::array<GuestConfig, 1> guests{};
    GuestListLimits limits;
    limits.pcpus = 1;
    struct Quiet final : Diagnostics {
        void report(std::string_view n, std::string_view p, std::string_view r) override {
            FAIL(std::string(n) << " " << std::string(p) << ": " << std::string(r));
        }
    } diag;
    REQUIRE(parse_guest_list(blob.data(), blob.size(), guests, diag, limits) == 1);
    auto layout = plan_guest_layout(guests[0], kGuestDtbMaxSize);
    REQUIRE(layout);
    std::vector<std::uint8_t> buf(kGuestDtbMaxSize);
    auto size = build_guest_dtb(guests[0], *layout, blob.data(), buf.data(),
                                static_cast<std::uint32_t>(buf.size()), 0);
    REQUIRE(size);
    const void* fdt = buf.data();
    const int rtc = fdt_path_offset(fdt, "/rtc@9010000");
    REQUIRE(rtc >= 0);
    int len = 0;
    const auto* compat = static_cast<const char*>(fdt_getprop(fdt, rtc, "compatible", &len));
    CHECK(std::string(compat, static_cast<std::size_t>(len)) ==
          std::string("arm,pl031\0arm,primecell\0", 24));
    const auto* names = static_cast<const char*>(fdt_getprop(fdt, rtc, "clock-names", &len));
    CHECK(std::string(names, static_cast<std::size_t>(len)) == std::string("apb_pclk\0", 9));
    const auto* clocks = static_cast<const fdt32_t*>(fdt_getprop(fdt, rtc, "clocks", &len));
    REQUIRE(len == 4);
    const int clock = fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(clocks[0]));
    REQUIRE(clock >= 0);
    CHECK(fdt_node_check_compatible(fdt, clock, "fixed-clock") == 0);
    CHECK(fdt_getprop(fdt, rtc, "corvisor,secret", nullptr) == nullptr);
}

namespace {

/// Keeps 2 KiB across a co_await: more than a frame block holds.
class HugeFrameDevice final : public Device {
public:
    std::string_view name() const override { return "huge"; }
    MmioResult mmio(MmioAccess) override { return MmioResult::deferred(big()); }
    Task<MmioOutcome> big() {
        std::array<volatile std::uint8_t, 2048> scratch{};
        scratch[0] = 1;
        co_await ready.wait();
        co_return MmioOutcome{false, std::uint64_t{scratch[0]} + scratch[2047]};
    }
    Event ready;
};

Result<Device*> make_huge(const DeviceNode&, DeviceHost& host) {
    void* p = host.allocate(sizeof(HugeFrameDevice), alignof(HugeFrameDevice));
    return p != nullptr ? Result<Device*>(new (p) HugeFrameDevice()) : Error::kOutOfMemory;
}

}  // namespace

TEST_CASE("device kit: a coroutine frame larger than the pool's blocks fails its test", "[vdev]") {
    testing::DeviceKit kit;
    REQUIRE(kit.create(R"(huge@0 { compatible = "test,huge"; reg = <0 0 0 0x1000>; };)",
                       &make_huge) != nullptr);
    CHECK_FALSE(kit.read(0).has_value());
    CHECK(kit.frame_too_large());
    CHECK(kit.largest_frame() > kMaxFrameSize);
    CHECK(kit.error().find("does not fit corvisor::kMaxFrameSize") != std::string::npos);
}

TEST_CASE("device kit: bad DTS and unknown compatibles are errors, not crashes", "[vdev]") {
    testing::DeviceKit kit;
    CHECK(kit.create("this is not dts") == nullptr);
    CHECK(kit.error().find("dtc could not compile") != std::string::npos);
    CHECK(kit.create(R"(x@0 { compatible = "nobody,nothing"; };)") == nullptr);
    CHECK(kit.error() == "no registered device for compatible \"nobody,nothing\"");
    CHECK_FALSE(kit.read(0).has_value());
}
