// An Arm PrimeCell PL031 real-time clock (`arm,pl031`), built on the public device API alone.
// The time is the hypervisor's wall clock (DeviceHost::wall_clock) plus the counter; the match
// interrupt is a Timer, so it fires with no guest access pending. Registers and IDs as in the
// PL031 TRM (DDI 0224); Linux's rtc-pl031 binds it through the AMBA bus.
#include <corvisor/device.hpp>

#include <new>

namespace {

using corvisor::DeviceHost;
using corvisor::MmioAccess;
using corvisor::MmioResult;

enum Reg : std::uint64_t {
    kDr = 0x000,    // data: the current count of seconds (read-only)
    kMr = 0x004,    // match
    kLr = 0x008,    // load: sets the count
    kCr = 0x00c,    // control: bit 0 starts the clock (it cannot be stopped)
    kImsc = 0x010,  // interrupt mask set/clear: bit 0 enables the match interrupt
    kRis = 0x014,   // raw interrupt status
    kMis = 0x018,   // masked interrupt status
    kIcr = 0x01c,   // interrupt clear (write 1)
    kPeriphId0 = 0xfe0,
    kCellId3 = 0xffc,
};

// PrimeCell identification (PeriphID0..3, PCellID0..3), as QEMU's pl031 gives them.
constexpr std::uint8_t kIds[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

class Pl031 final : public corvisor::Device {
public:
    // `node` names the counters in the summary ("rtc@9010000: reads 3, alarms 1").
    Pl031(DeviceHost& host, corvisor::IrqLine irq, std::string_view node)
        : host_(host),
          irq_(irq),
          reads_(host.counter(node, "reads")),
          alarms_(host.counter(node, "alarms")) {
        const corvisor::WallClock wall = host.wall_clock();
        base_seconds_ = static_cast<std::uint32_t>(wall.unix_seconds);
        base_tick_ = wall.counter;
        alarm_.init(host, &Pl031::alarm, this);
    }

    std::string_view name() const override { return "pl031"; }

    MmioResult mmio(MmioAccess a) override {
        if (a.size() != 4) {
            return MmioResult::abort();  // 32-bit registers only (the TRM's APB interface)
        }
        if (a.write()) {
            store(a.offset(), static_cast<std::uint32_t>(a.data()));
            return MmioResult::done();
        }
        return MmioResult::done(load(a.offset()));
    }

    void reset() override {
        // The clock keeps its time (it is the machine's, battery-backed); the alarm state
        // goes back to reset values. The host has cancelled the alarm timer already.
        alarm_.cancel();
        mr_ = 0;
        imsc_ = 0;
        ris_ = 0;
        update_irq();
    }

private:
    std::uint32_t count() const {
        const std::uint64_t f = host_.counter_frequency();
        const std::uint64_t now = host_.now();
        const std::uint64_t elapsed = now > base_tick_ ? (now - base_tick_) / f : 0;
        return static_cast<std::uint32_t>(base_seconds_ + elapsed);
    }

    std::uint64_t load(std::uint64_t offset) {
        switch (offset) {
            case kDr:
                reads_.add();
                return count();
            case kMr:
                return mr_;
            case kLr:
                return lr_;
            case kCr:
                return 1;
            case kImsc:
                return imsc_;
            case kRis:
                return ris_;
            case kMis:
                return ris_ & imsc_;
            default:
                if (offset >= kPeriphId0 && offset <= kCellId3 && offset % 4 == 0) {
                    return kIds[(offset - kPeriphId0) / 4];
                }
                return 0;  // reserved: reads as zero
        }
    }

    void store(std::uint64_t offset, std::uint32_t v) {
        switch (offset) {
            case kMr:
                mr_ = v;
                arm_alarm();
                break;
            case kLr:
                lr_ = v;
                base_seconds_ = v;
                base_tick_ = host_.now();
                arm_alarm();
                break;
            case kImsc:
                imsc_ = v & 1;
                update_irq();
                break;
            case kIcr:
                ris_ &= ~(v & 1);
                update_irq();
                break;
            default:
                break;  // read-only and reserved registers ignore writes
        }
    }

    /// Arm the timer for the moment the count reaches MR (now, if it is there).
    void arm_alarm() {
        const std::uint32_t delta = mr_ - count();
        if (delta == 0) {
            match();
            alarm_.cancel();
            return;
        }
        const std::uint64_t f = host_.counter_frequency();
        const std::uint64_t now = host_.now();
        const std::uint64_t into = now > base_tick_ ? (now - base_tick_) % f : 0;
        alarm_.arm_at(now - into + std::uint64_t{delta} * f);
    }

    static void alarm(void* self) { static_cast<Pl031*>(self)->match(); }

    void match() {
        alarms_.add();
        ris_ = 1;
        update_irq();
    }

    void update_irq() { irq_.set((ris_ & imsc_) != 0); }

    DeviceHost& host_;
    corvisor::IrqLine irq_;
    corvisor::DeviceCounter& reads_;
    corvisor::DeviceCounter& alarms_;
    corvisor::Timer alarm_;
    std::uint32_t base_seconds_ = 0;  // the count at base_tick_
    std::uint64_t base_tick_ = 0;
    std::uint32_t mr_ = 0;
    std::uint32_t lr_ = 0;
    std::uint32_t imsc_ = 0;
    std::uint32_t ris_ = 0;
};

corvisor::Result<corvisor::Device*> make_pl031(const corvisor::DeviceNode& node, DeviceHost& host) {
    if (node.regs.size() != 1 || node.regs[0].size < 0x1000) {
        return node.fail("reg", "a PL031 has one region of at least 4 KiB");
    }
    if (node.interrupts.size() > 1) {
        return node.fail("interrupts", "a PL031 has one interrupt");
    }
    void* p = host.allocate(sizeof(Pl031), alignof(Pl031));
    if (p == nullptr) {
        return corvisor::Error::kOutOfMemory;
    }
    const corvisor::IrqLine irq =
        node.interrupts.empty() ? corvisor::IrqLine{} : host.irq_line(node.interrupts[0]);
    return new (p) Pl031(host, irq, node.node_name);
}

}  // namespace

// Linux's AMBA bus reads the PrimeCell IDs and wants the bus clock by name.
CORVISOR_REGISTER_DEVICE_WITH("arm,pl031", make_pl031,
                              (::corvisor::DeviceDtbNeeds{true, "apb_pclk"}));
