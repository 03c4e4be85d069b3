// The virtual-device API: what a device author implements and what the hypervisor gives it.
#pragma once

/// The device API's version, compiled into every device (CORVISOR_REGISTER_DEVICE). A minor
/// version adds (a new call with a default, a new helper) and keeps every device built against an
/// older minor of the same major working; a major version may change or remove anything, and the
/// registry refuses a device built against another major (docs/devices.md, "Versions").
#define CORVISOR_DEVICE_API_VERSION_MAJOR 1
#define CORVISOR_DEVICE_API_VERSION_MINOR 1
/// "major.minor", for messages.
#define CORVISOR_DEVICE_API_VERSION "1.1"

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "corvisor/event.hpp"
#include "corvisor/result.hpp"
#include "corvisor/task.hpp"
#include "corvisor/time.hpp"

namespace corvisor {

/// One guest access to a device register, already decoded from the data-abort syndrome.
///
/// 16 bytes and trivially copyable, so Device::mmio receives it in two registers (the trap path
/// builds one per access). Offsets inside a region are below 2^40 (MmioBus refuses larger
/// regions).
class MmioAccess {
public:
    constexpr MmioAccess() = default;
    constexpr MmioAccess(std::uint32_t region, std::uint64_t offset, std::uint8_t size, bool write,
                         std::uint64_t data, std::uint32_t vcpu)
        : data_(data),
          info_((offset & kOffsetMask) | (std::uint64_t{size} & 0xf) << kSizeShift |
                (write ? 1ull : 0ull) << kWriteShift |
                (std::uint64_t{region} & 0x7) << kRegionShift |
                (std::uint64_t{vcpu} & 0xffff) << kVcpuShift) {}

    /// Which of the device's `reg` regions (index into DeviceNode::regs).
    constexpr std::uint32_t region() const {
        return static_cast<std::uint32_t>((info_ >> kRegionShift) & 0x7);
    }
    /// Byte offset inside that region.
    constexpr std::uint64_t offset() const { return info_ & kOffsetMask; }
    /// Access width in bytes: 1, 2, 4 or 8.
    constexpr std::uint8_t size() const {
        return static_cast<std::uint8_t>((info_ >> kSizeShift) & 0xf);
    }
    /// Store (true) or load (false).
    constexpr bool write() const { return ((info_ >> kWriteShift) & 1) != 0; }
    /// Value stored (zero-extended); 0 for loads.
    constexpr std::uint64_t data() const { return data_; }
    /// Index of the accessing vCPU inside its guest.
    constexpr std::uint32_t vcpu() const { return static_cast<std::uint32_t>(info_ >> kVcpuShift); }

    /// True for exactly this register access shape: one compare, for a device's hot registers
    /// (`if (a.is(kFr, 4, false))`).
    constexpr bool is(std::uint64_t offset, std::uint8_t size, bool write) const {
        constexpr std::uint64_t kShape =
            kOffsetMask | (0xfull << kSizeShift) | (1ull << kWriteShift);
        return (info_ & kShape) == ((offset & kOffsetMask) | std::uint64_t{size} << kSizeShift |
                                    (write ? 1ull : 0ull) << kWriteShift);
    }
    /// The packed region and vCPU fields, for building accesses on the trap path.
    static constexpr std::uint64_t source_bits(std::uint32_t region, std::uint32_t vcpu) {
        return (std::uint64_t{region} & 0x7) << kRegionShift | (std::uint64_t{vcpu} & 0xffff)
                                                                   << kVcpuShift;
    }
    /// An access from precomputed `source_bits`; `offset` must be below 2^40, `write_bit` is 1
    /// for a store and 0 for a load (an integer, so that a syndrome's WnR bit goes in with one
    /// shift on the trap path).
    static constexpr MmioAccess from_parts(std::uint64_t source, std::uint64_t offset,
                                           std::uint8_t size, std::uint64_t write_bit,
                                           std::uint64_t data) {
        MmioAccess a;
        a.data_ = data;
        a.info_ =
            source | offset | std::uint64_t{size} << kSizeShift | (write_bit & 1) << kWriteShift;
        return a;
    }

    constexpr void set_offset(std::uint64_t v) {
        info_ = (info_ & ~kOffsetMask) | (v & kOffsetMask);
    }
    constexpr void set_size(std::uint8_t v) { set_field(kSizeShift, 0xf, v); }
    constexpr void set_write(bool v) { set_field(kWriteShift, 1, v ? 1 : 0); }
    constexpr void set_region(std::uint32_t v) { set_field(kRegionShift, 0x7, v); }
    constexpr void set_vcpu(std::uint32_t v) { set_field(kVcpuShift, 0xffff, v); }
    constexpr void set_data(std::uint64_t v) { data_ = v; }

    static constexpr std::uint64_t kMaxOffset = (1ull << 40) - 1;

private:
    static constexpr std::uint64_t kOffsetMask = kMaxOffset;
    static constexpr unsigned kSizeShift = 40;
    static constexpr unsigned kWriteShift = 44;
    static constexpr unsigned kRegionShift = 45;
    static constexpr unsigned kVcpuShift = 48;
    constexpr void set_field(unsigned shift, std::uint64_t mask, std::uint64_t v) {
        info_ = (info_ & ~(mask << shift)) | ((v & mask) << shift);
    }
    std::uint64_t data_ = 0;
    std::uint64_t info_ = std::uint64_t{4} << kSizeShift;
};
static_assert(std::is_trivially_copyable_v<MmioAccess> && sizeof(MmioAccess) == 16);

/// What a device returns when it finished an access later (after a co_await).
struct MmioOutcome {
    bool abort = false;       ///< true: the access faults (an external abort is injected)
    std::uint64_t value = 0;  ///< value loaded; ignored for stores
};

/// The answer to an access: done now (the fast path: no suspension, no allocation), an abort,
/// or deferred to a coroutine that the vCPU awaits while other vCPUs run.
///
/// Trivially copyable on purpose: the AArch64 ABI returns it in two registers, where a type that
/// owned its Task would go through memory on every trap. A deferred result therefore carries the
/// coroutine frame by address; whoever receives it must `take_task()` exactly once (the vCPU
/// does; a device never drops one it created).
class [[nodiscard]] MmioResult {
public:
    enum class Kind : std::uint8_t { kDone, kAbort, kDeferred };

    static MmioResult done(std::uint64_t value = 0) { return MmioResult(value, nullptr); }
    static MmioResult abort() { return MmioResult(0, abort_tag()); }
    /// An empty `task` (frame pool exhausted) becomes an abort.
    static MmioResult deferred(Task<MmioOutcome>&& task) {
        if (!task.valid()) {
            return abort();
        }
        return MmioResult(0, task.release());
    }

    Kind kind() const {
        if (frame_ == nullptr) {
            return Kind::kDone;
        }
        return frame_ == abort_tag() ? Kind::kAbort : Kind::kDeferred;
    }
    std::uint64_t value() const { return value_; }
    /// The deferred coroutine; call once, and only when kind() == kDeferred.
    Task<MmioOutcome> take_task() { return Task<MmioOutcome>::adopt(frame_); }

private:
    MmioResult(std::uint64_t v, void* frame) : value_(v), frame_(frame) {}
    static void* abort_tag() { return reinterpret_cast<void*>(std::uintptr_t{1}); }
    std::uint64_t value_;
    void* frame_;
};
static_assert(std::is_trivially_copyable_v<MmioResult> && sizeof(MmioResult) == 16);

/// A guest-physical region of a device, from its DTB node's `reg`.
struct MmioRegion {
    std::uint64_t base = 0;
    std::uint64_t size = 0;
};

/// Where a device's interrupt goes: the guest's vGIC. A line with no sink (a device created
/// outside a guest, as in tests) ignores raise/lower; devices still drive it as hardware would.
class IrqSink {
public:
    /// `vcpu` matters for a PPI (INTID 16..31), which is private to a vCPU; an SPI ignores it.
    virtual void set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) = 0;

protected:
    ~IrqSink() = default;
};

/// A device's interrupt output, as a wire: `set(level)` drives it. For a level-sensitive
/// interrupt, hold it high while the condition lasts; for an edge-triggered one, `pulse()` (the
/// guest's vGIC latches the rising edge when the INTID is configured edge in GICD_ICFGR).
class IrqLine {
public:
    IrqLine() = default;
    IrqLine(IrqSink* sink, std::uint32_t intid, std::uint32_t vcpu = 0)
        : sink_(sink), intid_(intid), vcpu_(vcpu) {}
    void set(bool level) {
        level_ = level;
        if (sink_ != nullptr) {
            sink_->set_level(vcpu_, intid_, level);
        }
    }
    /// A rising and a falling edge: one edge-triggered interrupt.
    void pulse() {
        set(true);
        set(false);
    }
    bool level() const { return level_; }
    std::uint32_t intid() const { return intid_; }
    /// The vCPU a PPI line goes to (0 for an SPI).
    std::uint32_t vcpu() const { return vcpu_; }
    /// False for a default-constructed line (a node without `interrupts`).
    bool connected() const { return sink_ != nullptr; }

private:
    IrqSink* sink_ = nullptr;
    std::uint32_t intid_ = 0;
    std::uint32_t vcpu_ = 0;
    bool level_ = false;
};

/// A number a device counts (requests, errors, bytes), shown per device in the shutdown summary
/// (`DeviceHost::counter`). One writer at a time: the device's own code.
class DeviceCounter {
public:
    void add(std::uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class Sleep;
class ConsoleSink;

/// The input side of a device that is a console channel of its own beside the guest's UART (the
/// virtio console's hvc0), registered with DeviceHost::add_console_input: the console focus then
/// stops at it too, as "guest:label" after the guest's UART. Called one call at a time with the
/// device's other calls (under the device strand of a spread guest), on the guest's pCPU.
class ConsoleInput {
public:
    /// One byte typed while the channel has the focus. False if it cannot take it now: the
    /// hypervisor keeps it, and what follows, until the device calls DeviceHost::input_space().
    virtual bool receive(std::uint8_t byte) = 0;

protected:
    ~ConsoleInput() = default;
};

/// The services the hypervisor offers a device (one per guest).
class DeviceHost {
public:
    /// The guest's name, for messages.
    virtual std::string_view guest_name() const = 0;
    /// Print one complete line of guest console output, prefixed with the guest's name.
    virtual void console_line(std::string_view text) = 0;
    /// A console device holds a line with no newline yet (a prompt): the hypervisor will ask it
    /// to hand that over as a partial line soon (Pl011::flush_partial) if no newline comes.
    virtual void console_partial_pending() {}
    /// The start of a line (or its continuation) that has no newline yet: shown at once, and
    /// continued by the next output of the same guest unless another line comes in between.
    virtual void console_partial(std::string_view text) { console_line(text); }
    /// Memory that lives as long as the guest (device state), zeroed. Never on the trap path.
    virtual void* allocate(std::size_t size, std::size_t align) = 0;
    /// The interrupt line with this GIC INTID (SPI/PPI number as the guest sees it); a PPI goes
    /// to vCPU 0 (see ppi_line).
    virtual IrqLine irq_line(std::uint32_t intid) = 0;
    /// The line to PPI `intid` (16..31) of vCPU `vcpu` (each vCPU has its own).
    virtual IrqLine ppi_line(std::uint32_t intid, std::uint32_t vcpu) = 0;
    /// A device that takes input (a UART) says it has room again, so the hypervisor can pass on
    /// what it held back (console input arrives faster than a guest with FIFOs off reads it).
    virtual void input_space() {}
    /// Make `input` a console channel of the guest, named `label` (which must outlive the
    /// device): typed input goes to it while it has the console focus. One per guest: false if
    /// the guest has one already (or the host has no console input).
    virtual bool add_console_input(ConsoleInput& input, std::string_view label) {
        (void)input;
        (void)label;
        return false;
    }

    /// The system counter (CNTPCT_EL0 on the machine; the kit's virtual clock in tests), in
    /// ticks of counter_frequency(). The guest's own virtual counter is this minus an offset.
    virtual std::uint64_t now() const = 0;
    /// Ticks per second of now().
    virtual std::uint64_t counter_frequency() const = 0;
    /// The wall-clock time at one counter reading (the seed of a real-time clock device).
    virtual WallClock wall_clock() const = 0;

    /// Queue `node` to fire at `deadline` (a now() value; one in the past fires at once, soon),
    /// on this pCPU; arming an armed node moves it. Use Timer or sleep_until, which wrap this.
    /// When the guest is reset or stopped, every timer its devices armed is cancelled
    /// (TimerEnd::kCancelled) before Device::reset is called.
    virtual void timer_arm(TimerNode& node, std::uint64_t deadline) = 0;
    /// Take `node` out of its queue; true if it was armed. Its `fire` is not called.
    virtual bool timer_cancel(TimerNode& node) = 0;

    /// DMA: copy guest-physical `[ipa, ipa + out.size())` of the guest's RAM into `out`, or
    /// `data` into it. The whole range must lie in the guest's RAM (not in a device, not beyond
    /// its end): otherwise nothing is copied and the result is Error::kOutOfRange. Never exposes
    /// a host address; another vCPU may change the memory meanwhile, as with real DMA. Copies
    /// are ordered as the guest sees them: a write_guest after everything copied before it (a
    /// ring's element before its index), a read_guest before everything copied after it.
    virtual Status read_guest(std::uint64_t ipa, std::span<std::byte> out) = 0;
    virtual Status write_guest(std::uint64_t ipa, std::span<const std::byte> data) = 0;

    /// One line of a device's own output channel (a virtio console, a debug port), shown on the
    /// hypervisor console as `[guest:prefix] text` (see ConsoleSink).
    virtual void device_line(std::string_view prefix, std::string_view text) = 0;
    /// A message about the device for the person running the machine (a guest that broke the
    /// device's protocol, say): `corvisor: warning: guest G: device D: text`, rate-limited with the
    /// guest's other event lines.
    virtual void device_event(std::string_view device, std::string_view text) = 0;
    /// The counter `name` of device `device` (both must outlive the guest: string literals or
    /// the device's own storage); the same reference for the same names. Never fails: when the
    /// guest's table is full the rest share one counter that the summary does not show.
    virtual DeviceCounter& counter(std::string_view device, std::string_view name) = 0;

    /// `co_await host.sleep_until(deadline)` / `sleep_for(ticks)`: true once the time has come,
    /// false if the host cancelled the wait (the guest is being reset or stopped). The
    /// coroutine resumes on the pCPU it slept on. Destroying a sleeping coroutine cancels it.
    Sleep sleep_until(std::uint64_t deadline);
    Sleep sleep_for(std::uint64_t ticks);
    /// Counter ticks in `ns` nanoseconds (rounded up).
    std::uint64_t ticks_from_ns(std::uint64_t ns) const {
        const std::uint64_t f = counter_frequency();
        return (ns / 1'000'000'000u) * f +
               ((ns % 1'000'000'000u) * f + 999'999'999u) / 1'000'000'000u;
    }
    /// A sink for device_line with a fixed `prefix` (which must outlive the sink).
    ConsoleSink console_sink(std::string_view prefix);

protected:
    ~DeviceHost() = default;
};

/// `co_await host.sleep_until(deadline)`: see DeviceHost::sleep_until.
class Sleep {
public:
    Sleep(DeviceHost& host, std::uint64_t deadline) : host_(&host), deadline_(deadline) {}
    Sleep(const Sleep&) = delete;
    Sleep& operator=(const Sleep&) = delete;
    ~Sleep() {
        if (node_.armed()) {
            host_->timer_cancel(node_);
        }
    }

    bool await_ready() const { return host_->now() >= deadline_; }
    void await_suspend(std::coroutine_handle<> h) {
        run_.handle = h;
        run_.strand = current_strand();  // resumed under the device strand it slept in, if any
        executor_ = &current_executor();
        node_.fire = &Sleep::woken;
        node_.context = this;
        host_->timer_arm(node_, deadline_);
    }
    bool await_resume() const { return end_ == TimerEnd::kExpired; }

private:
    static void woken(TimerNode& node, TimerEnd end) {
        auto* self = static_cast<Sleep*>(node.context);
        self->end_ = end;
        post_to(*self->executor_, self->run_);
    }
    DeviceHost* host_;
    std::uint64_t deadline_;
    TimerEnd end_ = TimerEnd::kExpired;
    Executor* executor_ = nullptr;
    RunNode run_;
    TimerNode node_;
};

inline Sleep DeviceHost::sleep_until(std::uint64_t deadline) {
    return Sleep(*this, deadline);
}
inline Sleep DeviceHost::sleep_for(std::uint64_t ticks) {
    return Sleep(*this, now() + ticks);
}

/// A timer with a callback, for work that has no coroutine to run in: an alarm that raises an
/// interrupt line with no guest access pending, a periodic tick. The callback runs on the pCPU
/// that armed the timer, between guest entries, one device call at a time as MMIO handlers
/// are (docs/devices.md): it may set IRQ lines and Events, arm timers (its own too), DMA; it
/// must not block. Part of the device (a member), initialized in the factory.
class Timer {
public:
    using Callback = void (*)(void* context);
    Timer() = default;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() { cancel(); }

    void init(DeviceHost& host, Callback callback, void* context) {
        host_ = &host;
        callback_ = callback;
        context_ = context;
        node_.fire = &Timer::fired;
        node_.context = this;
    }
    /// Fire at `deadline` (a DeviceHost::now() value), replacing any earlier arming.
    void arm_at(std::uint64_t deadline) {
        if (host_ != nullptr) {
            host_->timer_arm(node_, deadline);
        }
    }
    void arm_after(std::uint64_t ticks) {
        if (host_ != nullptr) {
            host_->timer_arm(node_, host_->now() + ticks);
        }
    }
    /// True if it was armed; its callback will not run for that arming.
    bool cancel() { return host_ != nullptr && host_->timer_cancel(node_); }
    bool armed() const { return node_.armed(); }
    std::uint64_t deadline() const { return node_.deadline; }

private:
    static void fired(TimerNode& node, TimerEnd end) {
        auto* self = static_cast<Timer*>(node.context);
        if (end == TimerEnd::kExpired && self->callback_ != nullptr) {
            self->callback_(self->context_);
        }
    }
    DeviceHost* host_ = nullptr;
    Callback callback_ = nullptr;
    void* context_ = nullptr;
    TimerNode node_;
};

/// Lines of a device's own output channel: `sink.line("text")` shows `[guest:prefix] text`.
/// A default-constructed sink drops them.
class ConsoleSink {
public:
    ConsoleSink() = default;
    ConsoleSink(DeviceHost& host, std::string_view prefix) : host_(&host), prefix_(prefix) {}
    void line(std::string_view text) const {
        if (host_ != nullptr) {
            host_->device_line(prefix_, text);
        }
    }
    std::string_view prefix() const { return prefix_; }

private:
    DeviceHost* host_ = nullptr;
    std::string_view prefix_;
};

inline ConsoleSink DeviceHost::console_sink(std::string_view prefix) {
    return ConsoleSink(*this, prefix);
}

/// A virtual device model. Handlers run on the accessing vCPU's pCPU.
class Device {
public:
    virtual ~Device() = default;
    /// Short model name ("pl011"), for messages and exit accounting.
    virtual std::string_view name() const = 0;
    /// Handle one access. Answer at once when you can; defer only to wait for something.
    virtual MmioResult mmio(MmioAccess access) = 0;
    /// Back to the reset state: on the guest's SYSTEM_RESET (once when the reset begins, once
    /// when it reloads) and when it stops. A device with a deferred access in flight completes
    /// it here (with MmioOutcome{true, 0}, an abort, or any answer): the vCPU awaiting it can
    /// only park for the reset or leave for the stop once it has its answer.
    virtual void reset() {}
};

/// The strings of a string-list property ("a\0b\0"), in order: `for (std::string_view s : list)`.
class StringList {
public:
    StringList() = default;
    explicit StringList(std::string_view raw) : raw_(raw) {}
    class Iterator {
    public:
        explicit Iterator(std::string_view rest) : rest_(rest) {}
        // No substr: it can throw, and the image has no exceptions.
        std::string_view operator*() const { return {rest_.data(), length()}; }
        Iterator& operator++() {
            const std::size_t n = length();
            rest_ = n < rest_.size() ? std::string_view(rest_.data() + n + 1, rest_.size() - n - 1)
                                     : std::string_view();
            return *this;
        }
        bool operator==(const Iterator& o) const { return rest_.size() == o.rest_.size(); }

    private:
        std::size_t length() const {
            std::size_t n = 0;
            while (n < rest_.size() && rest_[n] != '\0') {
                ++n;
            }
            return n;
        }
        std::string_view rest_;
    };
    Iterator begin() const { return Iterator(raw_); }
    Iterator end() const { return Iterator(std::string_view()); }
    std::size_t size() const;
    bool contains(std::string_view s) const;

private:
    std::string_view raw_;
};

/// Where a factory's reason for refusing a node goes (the loader prints it with the guest and
/// the node). The host's; a device uses DeviceNode::fail.
struct NodeProblem {
    char text[120] = {};
    std::size_t length = 0;
    std::string_view view() const { return {text, length}; }
};

/// A device node from the guest list, as a factory sees it.
struct DeviceNode {
    std::string_view node_name;  ///< e.g. "uart@9000000"
    std::string_view compatible;
    std::span<const MmioRegion> regs;
    std::span<const std::uint32_t> interrupts;  ///< GIC INTIDs, already converted from the cells
    /// Raw property lookup in the guest-list node (nullptr if absent).
    const void* (*get_property)(const void* cookie, const char* name, int* len) = nullptr;
    const void* cookie = nullptr;
    /// Filled by the typed getters and fail() (nullptr: reasons are dropped).
    NodeProblem* problem = nullptr;

    // Typed properties. Each returns the value, or an error after recording a reason that names
    // the property (`property "block-size": expected one 32-bit cell, got 6 bytes`); the factory
    // returns that error and the loader prints the reason. The forms with a fallback return it
    // when the property is absent (an optional property), and fail only on a malformed one.

    bool has(const char* name) const;
    /// The raw bytes (big-endian, as in the DTB), e.g. an /incbin/ image.
    Result<std::span<const std::byte>> bytes(const char* name) const;
    /// One cell.
    Result<std::uint32_t> u32(const char* name) const;
    Result<std::uint32_t> u32(const char* name, std::uint32_t fallback) const;
    /// One or two cells.
    Result<std::uint64_t> u64(const char* name) const;
    Result<std::uint64_t> u64(const char* name, std::uint64_t fallback) const;
    /// One NUL-terminated string.
    Result<std::string_view> string(const char* name) const;
    Result<std::string_view> string(const char* name, std::string_view fallback) const;
    /// One or more NUL-terminated strings.
    Result<StringList> strings(const char* name) const;
    /// Refuse the node: record `property: reason` ("" for the node as a whole) and return
    /// Error::kInvalidArgument for the factory to return.
    Error fail(const char* property, std::string_view reason) const;
};

/// What a device's node in the *guest's* DTB needs beyond the guest list's properties, which the
/// guest-DTB builder adds (a guest list never names a generated phandle):
struct DeviceDtbNeeds {
    /// Append "arm,primecell" to `compatible`: Linux binds AMBA devices (PL011, PL031) through
    /// its AMBA bus, which reads their PrimeCell ID registers.
    bool primecell = false;
    /// Clock inputs, by name, separated by spaces ("uartclk apb_pclk"): the builder writes
    /// `clocks` (one phandle of the guest's fixed 24 MHz clock each) and `clock-names`, in
    /// place of any the guest list gives. nullptr: none.
    const char* clocks = nullptr;
};

/// A factory: build the device for `node` with memory from `host.allocate`, or fail with a reason.
using DeviceFactory = Result<Device*> (*)(const DeviceNode& node, DeviceHost& host);

/// One registry entry; define with CORVISOR_REGISTER_DEVICE next to the device's code.
struct DeviceRegistration {
    const char* compatible;
    DeviceFactory factory;
    std::uint16_t api_major;  ///< CORVISOR_DEVICE_API_VERSION_* the device was built against
    std::uint16_t api_minor;
    const char* where;  ///< "file:line" of the registration, for messages
    DeviceDtbNeeds dtb_needs = {};
    /// Room for what a later minor version adds, so that entries keep their size.
    const void* reserved[2] = {};
};
// The registry is an array laid out by the linker, one entry per registration: its size is a
// multiple of 32, the alignment AddressSanitizer gives instrumented globals, so that the entries
// stay packed in sanitized host builds too.
static_assert(sizeof(DeviceRegistration) == 64);

/// The registration `find_device_factory` would use for `compatible`, or nullptr.
const DeviceRegistration* find_device_registration(std::string_view compatible);

/// The factory for `compatible`, or nullptr: the first registration of it built against this
/// API's major version (check_device_registry reports the others).
DeviceFactory find_device_factory(std::string_view compatible);

/// Whether `r` may be used among `all` (the registry, in link order): built against this major
/// version, and the first of its `compatible`. Otherwise `why` (if not empty) says why, naming the
/// other registration for a duplicate.
bool device_registration_usable(const DeviceRegistration& r,
                                std::span<const DeviceRegistration> all, std::span<char> why = {});
/// Every registration `usable` refuses, one call of `report` each (with its reason); the number.
std::size_t check_device_registry(std::span<const DeviceRegistration> all,
                                  void (*report)(void* ctx, std::string_view line), void* ctx);
/// The image's own registry (the CORVISOR_REGISTER_DEVICE entries).
std::span<const DeviceRegistration> device_registry();

}  // namespace corvisor

#define CV_CONCAT_INNER_(a, b) a##b
#define CV_CONCAT_(a, b) CV_CONCAT_INNER_(a, b)
/// Register `factory` for DTB nodes whose `compatible` is `compat`. Place it in the device's .cpp.
#define CV_STR_INNER_(x) #x
#define CV_STR_(x) CV_STR_INNER_(x)
#if defined(__FILE_NAME__)
#define CV_DEVICE_FILE_ __FILE_NAME__  // the file's name alone, no build path
#else
#define CV_DEVICE_FILE_ __FILE__
#endif
#define CORVISOR_REGISTER_DEVICE(compat, factory) \
    CORVISOR_REGISTER_DEVICE_WITH(compat, factory, ::corvisor::DeviceDtbNeeds{})
/// The same, for a device whose guest DTB node needs more (DeviceDtbNeeds), e.g.
/// `CORVISOR_REGISTER_DEVICE_WITH("arm,pl031", make_pl031, (::corvisor::DeviceDtbNeeds{true,
/// "apb_pclk"}))`.
#define CORVISOR_REGISTER_DEVICE_WITH(compat, factory, needs)                               \
    [[gnu::used, gnu::retain,                                                               \
      gnu::section("corvisor_devices")]] static const ::corvisor::DeviceRegistration        \
    CV_CONCAT_(cv_device_registration_, __LINE__) = {compat,                                \
                                                     factory,                               \
                                                     CORVISOR_DEVICE_API_VERSION_MAJOR,     \
                                                     CORVISOR_DEVICE_API_VERSION_MINOR,     \
                                                     CV_DEVICE_FILE_ ":" CV_STR_(__LINE__), \
                                                     needs,                                 \
                                                     {}}
