// A guest: its vCPUs, its MMIO bus and devices, its lifecycle. Memory and images are set up by
// whoever creates it (src/el2 at boot); this part is portable and host-tested.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "arch/id_registers.hpp"
#include "corvisor/device.hpp"
#include "exec/cpu.hpp"
#include "exec/strand.hpp"
#include "vdev/mmio_bus.hpp"
#include "vdev/psci.hpp"
#include "vm/event_limiter.hpp"
#include "vm/exit_stats.hpp"
#include "vm/vcpu.hpp"

namespace corvisor {

class Vm;

/// What a VM needs from the world around it (the EL2 image, or a test).
class VmPlatform {
public:
    /// One line of the guest's console output.
    virtual void guest_console_line(const Vm& vm, std::string_view text) = 0;
    /// A hypervisor message about this guest (a stop, an injected abort).
    virtual void guest_event(const Vm& vm, std::string_view text) = 0;
    /// Memory for device state, for the guest's lifetime. Never called on the trap path.
    virtual void* allocate(std::size_t size, std::size_t align) = 0;
    /// SYSTEM_RESET: reload the guest's images and DTB (boot count + 1). Returns the entry and
    /// the DTB address for vCPU 0.
    virtual Status reload(Vm& vm, std::uint64_t& entry, std::uint64_t& dtb) = 0;
    /// Every vCPU of the VM has left its run loop (parked: the guest may be started again).
    virtual void vm_stopped(Vm& vm) = 0;
    /// Vm::start: give the stopped guest its memory back (zeroed) before reload() fills it.
    virtual Status prepare_start(Vm& vm) {
        (void)vm;
        return {};
    }
    /// Vm::start could not load the images after prepare_start: undo it (the guest stays
    /// stopped).
    virtual void start_failed(Vm& vm) { (void)vm; }
    /// Vm::start has booted the guest again.
    virtual void vm_started(Vm& vm) { (void)vm; }
    /// After vm_stopped: the VM is kStopped now (every vCPU parked), so it may be started.
    virtual void vm_parked(Vm& vm) { (void)vm; }
    /// The guest's console UART has room for more input.
    virtual void console_space(Vm& vm) = 0;
    /// The guest's console holds a partial line (see DeviceHost::console_partial_pending).
    virtual void guest_console_pending(Vm& vm) { (void)vm; }
    /// Part of a guest's console line, no newline yet.
    virtual void guest_console_partial(const Vm& vm, std::string_view text) {
        guest_console_line(vm, text);
    }
    /// A line of one of the guest's device channels (DeviceHost::device_line).
    virtual void guest_device_line(const Vm& vm, std::string_view prefix, std::string_view text) {
        (void)prefix;
        guest_console_line(vm, text);
    }

protected:
    ~VmPlatform() = default;
};

/// A guest's event lines: one line's budget back per second (QEMU virt's 62.5 MHz counter),
/// EventLimiter::kBurst at once.
inline constexpr std::uint64_t kEventRefillTicks = 62'500'000;

/// kResetting: a SYSTEM_RESET waits for every vCPU to park before the guest is reloaded.
/// kPaused: its vCPUs wait in their loops (the monitor's `pause`) until it is resumed.
enum class VmState : std::uint8_t { kRunning, kResetting, kPaused, kStopping, kStopped };
enum class StopReason : std::uint8_t {
    kNone,
    kPoweredOff,
    kAllCpusOff,
    kFault,
    kResetFailed,
    kMonitor
};

constexpr std::string_view to_string(VmState s) {
    switch (s) {
        case VmState::kRunning:
            return "running";
        case VmState::kResetting:
            return "resetting";
        case VmState::kPaused:
            return "paused";
        case VmState::kStopping:
            return "stopping";
        case VmState::kStopped:
            return "stopped";
    }
    return "?";
}

constexpr std::string_view to_string(StopReason r) {
    switch (r) {
        case StopReason::kNone:
            return "running";
        case StopReason::kPoweredOff:
            return "powered off";
        case StopReason::kAllCpusOff:
            return "all vCPUs off";
        case StopReason::kFault:
            return "stopped on a fault";
        case StopReason::kResetFailed:
            return "reset failed";
        case StopReason::kMonitor:
            return "stopped from the monitor";
    }
    return "?";
}

class Pl011;

class Vm final : public PsciTarget, public DeviceHost, private IrqSink {
public:
    struct Config {
        std::string_view name;
        std::uint32_t id = 0;  ///< VMID
        std::uint32_t vcpus = 1;
        std::uint64_t ram_base = 0;  ///< guest-physical
        std::uint64_t ram_size = 0;
        std::uint64_t vttbr = 0;       ///< stage-2 root | VMID << 48
        std::uint64_t hcr = 0;         ///< HCR_EL2 its vCPUs run under while alone on on their pCPU
        std::uint64_t hcr_shared = 0;  ///< ... and while other vCPUs on their pCPU are on too
        /// The pCPU of each vCPU.
        std::array<std::uint32_t, kMaxVcpus> pcpu{};
        std::uint64_t cntvoff = 0;  ///< CNTVOFF_EL2: the guest's virtual counter origin
        /// CPACR_EL1 bits its vCPUs always run with (VcpuSysRegs::cpacr_force).
        std::uint64_t cpacr_force = 0;
        /// MDCR_EL2 its vCPUs run under (the debug traps are added per vCPU).
        std::uint64_t mdcr = 0;
        /// What its trapped ID register reads return (nullptr: all zero).
        const IdRegisterFile* id_registers = nullptr;
        /// Where its RAM is in the hypervisor's address space (device DMA); nullptr: none yet.
        std::byte* ram_host = nullptr;
    };

    Vm(VmPlatform& platform, const Config& config);
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    std::string_view name() const { return {name_, name_len_}; }
    std::uint32_t id() const { return id_; }
    MmioBus& bus() { return bus_; }
    Vcpu& vcpu(std::uint32_t i) { return vcpus_[i]; }
    std::uint64_t vttbr() const { return vttbr_; }
    /// What the guest reads from the ID register group 3 (arch/id_registers.hpp).
    const IdRegisterFile& id_registers() const { return *id_registers_; }
    VmState state() const { return state_.load(std::memory_order_acquire); }
    StopReason stop_reason() const { return stop_reason_; }
    bool stopping() const { return state() >= VmState::kStopping; }
    bool resetting() const { return state() == VmState::kResetting; }
    /// Incremented by every SYSTEM_RESET (a vCPU parks once per reset).
    std::uint32_t reset_generation() const {
        return reset_generation_.load(std::memory_order_acquire);
    }
    /// Its vCPUs run on more than one pCPU.
    bool spread() const { return spread_; }
    /// Serializes device calls when the guest is spread (Vcpu::access_device, timer callbacks,
    /// resets, console input), and the code its devices' coroutines run after a `co_await`
    /// (exec/strand.hpp). Take it with StrandGuard.
    Strand& device_strand() { return device_strand_; }
    std::uint32_t boot_count() const { return boot_count_; }
    /// Starts by the monitor so far (Vm::start): which life of the guest this is.
    std::uint32_t start_count() const { return start_count_.load(std::memory_order_acquire); }
    VmPlatform& platform() { return platform_; }

    /// Start vCPU 0 at `entry` with x0 = `dtb` and queue every vCPU's loop on its executor.
    /// Loops must be created with `start_loops`.
    void boot(std::uint64_t entry, std::uint64_t dtb);
    /// Create the vCPUs' run-loop coroutines and post each to its pCPU's executor. False if the
    /// frame pool is exhausted (the VM cannot run).
    bool start_loops();

    /// Stop the whole guest: every vCPU leaves its loop. Idempotent; the first reason stands.
    void stop(StopReason reason);
    /// Boot a stopped guest again from its images, as a new boot (boot count + 1; its RAM
    /// zeroed, devices reset, vCPU 0 at the entry, the others off). kDenied unless stopped.
    Status start();
    /// PSCI SYSTEM_RESET: every vCPU parks (a cross-pCPU handshake), then the last one to park
    /// reloads the images and starts vCPU 0 again.
    void reset();
    /// A vCPU has parked for the reset in progress.
    void vcpu_parked();
    /// The monitor's `pause` / `resume`: every vCPU waits in its loop (state kept) / runs on.
    /// False if the guest is not running / not paused.
    bool pause();
    bool resume();
    /// A vCPU left its loop.
    void vcpu_exited();

    /// Connect the guest's virtual GIC (its MMIO models are mapped by the caller).
    void attach_vgic(Vgic& vgic, std::uint32_t lr_count);
    Vgic* vgic() { return vgic_; }
    /// The UART that console input goes to (the guest's first PL011).
    void set_console_uart(Pl011& uart) { console_uart_ = &uart; }
    bool has_console() const { return console_uart_ != nullptr; }
    /// One byte typed on the hypervisor console for console channel `channel` of this guest
    /// (0: its UART; 1: a device's, add_console_input). False if it cannot take it now (the
    /// caller keeps it until input_space()).
    bool console_input(std::uint8_t byte, std::uint32_t channel = 0);
    /// Its console channels: the UART and, if a device added one, a second, labelled.
    std::uint32_t console_channels() const { return extra_input_ != nullptr ? 2 : 1; }
    std::string_view console_channel_label() const { return extra_label_; }
    bool add_console_input(ConsoleInput& input, std::string_view label) override {
        if (extra_input_ != nullptr) {
            return false;
        }
        extra_input_ = &input;
        extra_label_ = label;
        return true;
    }

    /// Sum of all vCPUs' exit counters.
    ExitStats total_stats() const;

    /// Report an event about this guest on the hypervisor console (rate-limited per guest so a
    /// hostile guest cannot flood it).
    template <class... Args>
    void event(std::string_view fmt, const Args&... args);
    /// The same for the line that stops the guest: never suppressed.
    template <class... Args>
    void fatal_event(std::string_view fmt, const Args&... args);

    // PsciTarget
    std::uint32_t vcpu_count() const override { return vcpu_count_; }
    std::optional<std::uint32_t> vcpu_by_mpidr(std::uint64_t mpidr) const override;
    VcpuPower vcpu_power(std::uint32_t index) const override;
    bool ipa_is_ram(std::uint64_t ipa) const override;

    // DeviceHost
    std::string_view guest_name() const override { return name(); }
    void console_line(std::string_view text) override;
    void console_partial_pending() override { platform_.guest_console_pending(*this); }
    void console_partial(std::string_view text) override {
        platform_.guest_console_partial(*this, text);
    }
    /// Show what the console UART holds of an unfinished line (a prompt).
    void flush_console();
    void* allocate(std::size_t size, std::size_t align) override;
    IrqLine irq_line(std::uint32_t intid) override;
    IrqLine ppi_line(std::uint32_t intid, std::uint32_t vcpu) override;
    void input_space() override { platform_.console_space(*this); }
    std::uint64_t now() const override;
    std::uint64_t counter_frequency() const override;
    WallClock wall_clock() const override;
    void timer_arm(TimerNode& node, std::uint64_t deadline) override;
    bool timer_cancel(TimerNode& node) override;
    Status read_guest(std::uint64_t ipa, std::span<std::byte> out) override;
    Status write_guest(std::uint64_t ipa, std::span<const std::byte> data) override;
    void device_line(std::string_view prefix, std::string_view text) override;
    void device_event(std::string_view device, std::string_view text) override;
    DeviceCounter& counter(std::string_view device, std::string_view name) override;

    /// Where the guest's RAM is now (nullptr while a stopped guest has given it back): DMA
    /// checks against it.
    void set_ram_host(std::byte* ram) { ram_host_.store(ram, std::memory_order_release); }
    /// A device timer of this guest fires (or is cancelled, `end`) on this pCPU: called by the
    /// pCPU's timer service with the `arming` it popped the node with (TimerQueue).
    void run_device_timer(TimerNode& node, std::uint32_t arming, TimerEnd end);
    /// The device counters, for the summary: the `i`-th registered, or nullptr past the last.
    struct CounterEntry {
        std::string_view device;
        std::string_view name;
        DeviceCounter value;
    };
    const CounterEntry* counter_entry(std::uint32_t i) const {
        return i < counter_count_ ? &counters_[i] : nullptr;
    }
    static constexpr std::uint32_t kMaxCounters = 32;

private:
    template <class... Args>
    void format_event(bool fatal, std::string_view fmt, const Args&... args);
    void emit_event(std::string_view text, bool fatal);
    // IrqSink: device interrupt lines into the vGIC.
    void set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) override;
    static void notify_vcpu(void* vm, std::uint32_t vcpu);
    static void vgic_access(void* vm, std::uint32_t vcpu, bool write);

    VmPlatform& platform_;
    char name_[32] = {};
    std::size_t name_len_ = 0;
    std::uint32_t id_;
    std::uint32_t vcpu_count_;
    std::uint64_t ram_base_;
    std::uint64_t ram_size_;
    std::uint64_t vttbr_;
    const IdRegisterFile* id_registers_;
    void reload_and_boot();
    /// Reset every device, so that deferred accesses the vCPUs await complete (Device::reset).
    void cancel_device_waits();

    // Lifecycle: changed under lifecycle_lock_ from any pCPU, read lock-free.
    SpinLock lifecycle_lock_;
    std::atomic<VmState> state_{VmState::kRunning};
    StopReason stop_reason_ = StopReason::kNone;
    std::uint32_t boot_count_ = 0;
    std::atomic<std::uint32_t> start_count_{0};
    std::uint32_t running_loops_ = 0;
    std::atomic<std::uint32_t> reset_generation_{0};
    std::uint32_t parked_ = 0;
    bool spread_ = false;
    Strand device_strand_;
    EventLimiter events_{kEventRefillTicks};
    MmioBus bus_;
    Vgic* vgic_ = nullptr;
    Pl011* console_uart_ = nullptr;
    ConsoleInput* extra_input_ = nullptr;  // a device's console channel (add_console_input)
    std::string_view extra_label_;
    Vcpu vcpus_[kMaxVcpus];
    Task<void> loops_[kMaxVcpus];
    std::atomic<std::byte*> ram_host_{nullptr};
    CounterEntry counters_[kMaxCounters];
    std::uint32_t counter_count_ = 0;
    DeviceCounter counter_overflow_;
};

}  // namespace corvisor

#include "base/format.hpp"

namespace corvisor {

template <class... Args>
void Vm::format_event(bool fatal, std::string_view fmt, const Args&... args) {
    char buf[160];
    FormatBuffer out(buf, sizeof buf);
    format_to(out, fmt, args...);
    emit_event(out.view(), fatal);
}

template <class... Args>
void Vm::event(std::string_view fmt, const Args&... args) {
    format_event(false, fmt, args...);
}

template <class... Args>
void Vm::fatal_event(std::string_view fmt, const Args&... args) {
    format_event(true, fmt, args...);
}

}  // namespace corvisor
