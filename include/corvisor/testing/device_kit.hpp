// The device test kit: a DeviceHost for host tests of one device, with a virtual clock, fake
// guest RAM, recorded interrupt lines and console output. Plain C++ (works with any test
// framework, or none); docs/devices.md, "Testing with the kit".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corvisor/device.hpp"

namespace corvisor {
class TimerQueue;
}  // namespace corvisor

namespace corvisor::testing {

/// One change of an interrupt line: when (DeviceKit::now) and to what level.
struct IrqChange {
    std::uint64_t time;
    bool level;
};

/// What an interrupt line did.
struct IrqWatch {
    bool level = false;
    std::uint32_t rising_edges = 0;
    std::uint32_t falling_edges = 0;
    std::vector<IrqChange> history;
};

/// An access a device deferred, driven by the kit (DeviceKit::start).
class PendingAccess {
public:
    PendingAccess() = default;
    PendingAccess(PendingAccess&&) noexcept = default;
    PendingAccess& operator=(PendingAccess&&) noexcept = default;
    ~PendingAccess();
    /// The device answered (now or after its coroutine finished).
    bool done() const;
    /// The device deferred the access (its coroutine ran, or still runs).
    bool deferred() const { return deferred_; }
    /// The answer; only when done().
    MmioOutcome outcome() const;

private:
    friend class DeviceKit;
    bool deferred_ = false;
    MmioOutcome now_{};
    Task<MmioOutcome> task_;
};

class DeviceKit final : public DeviceHost, public IrqSink {
public:
    struct Options {
        std::string guest = "test";
        std::uint64_t ram_base = 0x40000000;
        std::size_t ram_size = 1u << 20;
        std::uint32_t vcpus = 1;
        std::uint64_t frequency = 62'500'000;          ///< QEMU virt's counter
        WallClock wall_clock{1'767'225'600, 0, true};  ///< 2026-01-01T00:00:00Z at tick 0
    };
    DeviceKit();
    explicit DeviceKit(Options options);
    ~DeviceKit();
    DeviceKit(const DeviceKit&) = delete;
    DeviceKit& operator=(const DeviceKit&) = delete;

    // ---- Creating ---------------------------------------------------------------------------
    /// Build a device from one DTS node (`rtc@9010000 { compatible = "arm,pl031"; reg = <0x0
    /// 0x9010000 0x0 0x1000>; interrupts = <0 2 4>; };`), as the hypervisor does from a guest
    /// list: compiled with dtc, `reg` and `interrupts` decoded (two address and size cells; GIC
    /// <type number flags>), then the factory registered for its `compatible`. nullptr on
    /// failure, with the reason in error() (the factory's own, naming the property, if it gave
    /// one). The device lives as long as the kit; it becomes the target of read and write.
    Device* create(std::string_view dts_node);
    /// The same with a given factory (a device not in the registry).
    Device* create(std::string_view dts_node, DeviceFactory factory);
    /// The blob `create` would compile `dts_node` to ("" with error() set), and a device from
    /// such a blob: for tests that build many kits from one node (a fuzzer), without dtc each
    /// time.
    std::string compile(std::string_view dts_node);
    Device* create_from_blob(std::string blob, DeviceFactory factory = nullptr);
    Device* device() const { return device_; }
    /// Why the last create failed, or what went wrong in the last access ("" if nothing).
    const std::string& error() const { return error_; }
    /// The DeviceDtbNeeds of the last created device's registration.
    DeviceDtbNeeds dtb_needs() const { return needs_; }

    // ---- Registers ----------------------------------------------------------------------------
    /// A load from the device, run to completion (a deferred access: its coroutine, the timers
    /// it waits for, the virtual clock advanced to each). nullopt if the access aborts (or does
    /// not finish within `max_ticks` of virtual time).
    std::optional<std::uint64_t> read(std::uint64_t offset, std::uint8_t size = 4,
                                      std::uint32_t region = 0, std::uint32_t vcpu = 0);
    /// A store, run to completion as read; false if it aborts.
    bool write(std::uint64_t offset, std::uint64_t value, std::uint8_t size = 4,
               std::uint32_t region = 0, std::uint32_t vcpu = 0);
    /// Start an access and leave it as far as it got: step it with run(), advance(), and look
    /// with done().
    PendingAccess start(MmioAccess access);
    /// Drive `p` until it is done: run, advance to the next timer, up to `max_ticks` of virtual
    /// time. True if it finished.
    bool finish(PendingAccess& p, std::uint64_t max_ticks = kDefaultMaxTicks);
    static constexpr std::uint64_t kDefaultMaxTicks = 62'500'000ull * 60;  // a minute

    // ---- Interrupts ---------------------------------------------------------------------------
    /// What the line to `intid` did (for a PPI: of vCPU `vcpu`).
    const IrqWatch& irq(std::uint32_t intid, std::uint32_t vcpu = 0);

    // ---- Time ---------------------------------------------------------------------------------
    /// Move the virtual clock forward, firing every timer due on the way in deadline order
    /// (the clock reads each timer's deadline while it fires) and running what they wake.
    void advance(std::uint64_t ticks);
    void advance_to(std::uint64_t time);
    void advance_ns(std::uint64_t ns) { advance(ticks_from_ns(ns)); }
    /// Run every coroutine that is ready (what Events and timers woke) until none is.
    void run();
    /// Device timers armed now, and the earliest deadline (0: none).
    std::size_t timers_armed() const;
    std::uint64_t next_deadline() const;

    // ---- Guest RAM (DMA) ----------------------------------------------------------------------
    std::uint64_t ram_base() const { return options_.ram_base; }
    std::span<std::byte> ram() { return {ram_.data(), ram_.size()}; }
    /// The bytes at guest-physical `ipa` (which must be in RAM).
    std::span<std::byte> ram_at(std::uint64_t ipa, std::size_t size);

    // ---- Output ---------------------------------------------------------------------------------
    std::vector<std::string> console;       ///< console_line, and partial lines
    std::vector<std::string> device_lines;  ///< device_line, as "prefix: text"
    std::vector<std::string> events;        ///< device_event, as "device: text"
    /// A device counter's value (0 if it was never asked for).
    std::uint64_t counter_value(std::string_view device, std::string_view name) const;

    // ---- Console input
    // ----------------------------------------------------------------------------
    /// Type `text` into the console channel the device added (add_console_input), as the
    /// hypervisor does while it has the focus: byte by byte until one is refused. Returns how
    /// many it took (0 if it added no channel).
    std::size_t type(std::string_view text);
    /// The label it gave its channel ("" if none), and how often it called input_space().
    std::string_view console_input_label() const { return input_label_; }
    std::uint32_t input_space_calls = 0;

    // ---- Lifecycle ------------------------------------------------------------------------------
    /// What the hypervisor does when the guest is reset or stopped: every timer the device armed
    /// is cancelled (sleeps resume with false), then Device::reset, then whatever that woke
    /// runs.
    void reset_guest();
    /// Make allocate() fail (a factory's out-of-memory path).
    bool fail_allocations = false;
    /// The largest coroutine frame asked for on this thread so far, and whether one did not
    /// fit (kMaxFrameSize): a device whose frame is too large fails here, not on the machine.
    std::size_t largest_frame() const;
    bool frame_too_large() const;

    // ---- DeviceHost -------------------------------------------------------------------------
    std::string_view guest_name() const override { return options_.guest; }
    void console_line(std::string_view text) override { console.emplace_back(text); }
    void console_partial(std::string_view text) override { console.emplace_back(text); }
    void* allocate(std::size_t size, std::size_t align) override;
    IrqLine irq_line(std::uint32_t intid) override { return IrqLine(this, intid); }
    IrqLine ppi_line(std::uint32_t intid, std::uint32_t vcpu) override;
    std::uint64_t now() const override { return now_; }
    std::uint64_t counter_frequency() const override { return options_.frequency; }
    WallClock wall_clock() const override { return options_.wall_clock; }
    void timer_arm(TimerNode& node, std::uint64_t deadline) override;
    bool timer_cancel(TimerNode& node) override;
    Status read_guest(std::uint64_t ipa, std::span<std::byte> out) override;
    Status write_guest(std::uint64_t ipa, std::span<const std::byte> data) override;
    void device_line(std::string_view prefix, std::string_view text) override;
    void device_event(std::string_view device, std::string_view text) override;
    DeviceCounter& counter(std::string_view device, std::string_view name) override;
    void set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) override;
    void input_space() override { ++input_space_calls; }
    bool add_console_input(ConsoleInput& input, std::string_view label) override;

private:
    struct Node;
    Options options_;
    std::string error_;
    Device* device_ = nullptr;
    DeviceDtbNeeds needs_{};
    std::uint64_t now_ = 0;
    std::unique_ptr<TimerQueue> timers_;
    std::vector<std::byte> ram_;
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::map<std::pair<std::uint32_t, std::uint32_t>, IrqWatch> irqs_;
    std::map<std::pair<std::string, std::string>, std::unique_ptr<DeviceCounter>> counters_;
    std::uint64_t frame_failures_at_start_ = 0;
    ConsoleInput* input_ = nullptr;
    std::string input_label_;
};

}  // namespace corvisor::testing
