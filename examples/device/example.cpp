// The device guide's example (docs/devices.md): a small asynchronous device built on the public
// API alone. `corvisor,example-delay` has a delay register; a read of SLOW answers only once that
// delay has passed (a deferred access: the vCPU waits, others run), and a write to DOORBELL
// raises the interrupt line that long afterwards (a timer callback, no access pending).
#include <corvisor/device.hpp>

#include <new>

namespace {

using corvisor::DeviceHost;
using corvisor::MmioAccess;
using corvisor::MmioOutcome;
using corvisor::MmioResult;
using corvisor::Task;

enum Reg : std::uint64_t {
    kId = 0x00,        // RO: 0x434f5256 ("CORV")
    kDelayUs = 0x04,   // RW: the delay, in microseconds
    kSlow = 0x08,      // RO: answers after the delay, with the number of slow reads answered
    kDoorbell = 0x0c,  // WO: the interrupt comes the delay after a write
    kStatus = 0x10,    // RW1C: bit 0, the doorbell rang; the interrupt line follows it
};
constexpr std::uint32_t kIdValue = 0x434f5256;

class DelayDevice final : public corvisor::Device {
public:
    DelayDevice(DeviceHost& host, corvisor::IrqLine irq, std::string_view node)
        : host_(host), irq_(irq), slow_reads_(host.counter(node, "slow-reads")) {
        doorbell_.init(host, &DelayDevice::ring, this);
    }

    std::string_view name() const override { return "example"; }

    MmioResult mmio(MmioAccess a) override {
        // The hot register first, in one compare, the rest out of line: this is the path
        // mmio_read_plugin measures (docs/benchmarks.md), and a frame-free leaf function.
        if (a.is(kId, 4, false)) {
            return MmioResult::done(kIdValue);
        }
        return mmio_other(a);
    }

    void reset() override {
        // Sleeping reads were woken (cancelled) by the host before this; they answer with an
        // abort. The rest goes back to its reset value.
        doorbell_.cancel();
        delay_us_ = 0;
        status_ = 0;
        irq_.set(false);
    }

private:
    [[gnu::noinline]] MmioResult mmio_other(MmioAccess a) {
        if (a.size() != 4) {
            return MmioResult::abort();
        }
        switch (a.offset()) {
            case kId:
                return MmioResult::done();  // a store: ignored
            case kDelayUs:
                if (a.write()) {
                    delay_us_ = static_cast<std::uint32_t>(a.data());
                }
                return MmioResult::done(delay_us_);
            case kSlow:
                if (a.write()) {
                    return MmioResult::done();
                }
                // The one deferred path: a coroutine the vCPU awaits.
                return MmioResult::deferred(slow_read());
            case kDoorbell:
                if (a.write()) {
                    doorbell_.arm_after(host_.ticks_from_ns(std::uint64_t{delay_us_} * 1000));
                }
                return MmioResult::done();
            case kStatus:
                if (a.write()) {
                    status_ &= ~static_cast<std::uint32_t>(a.data());
                    irq_.set((status_ & 1) != 0);
                }
                return MmioResult::done(status_);
            default:
                return MmioResult::done();  // reserved: reads as zero, writes ignored
        }
    }

    Task<MmioOutcome> slow_read() {
        // Only what crosses the co_await lives in the frame; keep it small (kMaxFrameSize).
        const bool slept =
            co_await host_.sleep_for(host_.ticks_from_ns(std::uint64_t{delay_us_} * 1000));
        if (!slept) {
            co_return MmioOutcome{true, 0};  // the guest is being reset or stopped
        }
        slow_reads_.add();
        co_return MmioOutcome{false, slow_reads_.value()};
    }

    static void ring(void* self) {
        auto* d = static_cast<DelayDevice*>(self);
        d->status_ |= 1;
        d->irq_.set(true);
    }

    DeviceHost& host_;
    corvisor::IrqLine irq_;
    corvisor::DeviceCounter& slow_reads_;
    corvisor::Timer doorbell_;
    std::uint32_t delay_us_ = 0;
    std::uint32_t status_ = 0;
};

corvisor::Result<corvisor::Device*> make_delay(const corvisor::DeviceNode& node, DeviceHost& host) {
    if (node.regs.size() != 1 || node.regs[0].size < 0x1000) {
        return node.fail("reg", "one region of at least 4 KiB");
    }
    // An optional property, with a default: the delay at reset.
    corvisor::Result<std::uint32_t> delay = node.u32("delay-us", 100);
    if (!delay) {
        return delay.error();  // malformed: the reason names the property
    }
    void* p = host.allocate(sizeof(DelayDevice), alignof(DelayDevice));
    if (p == nullptr) {
        return corvisor::Error::kOutOfMemory;
    }
    const corvisor::IrqLine irq =
        node.interrupts.empty() ? corvisor::IrqLine{} : host.irq_line(node.interrupts[0]);
    auto* dev = new (p) DelayDevice(host, irq, node.node_name);
    (void)dev->mmio(MmioAccess(0, kDelayUs, 4, true, *delay, 0));
    return dev;
}

}  // namespace

CORVISOR_REGISTER_DEVICE("corvisor,example-delay", make_delay);
