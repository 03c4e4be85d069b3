// The virtual-device API: what a device author implements and what the hypervisor gives it.
#pragma once

/// The device API's version, compiled into every device (CORVISOR_REGISTER_DEVICE). A minor
/// version adds (a new call with a default, a new helper) and keeps every device built against an
/// older minor of the same major working; a major version may change or remove anything, and the
/// registry refuses a device built against another major (docs/devices.md, "Versions").
#define CORVISOR_DEVICE_API_VERSION_MAJOR 1
#define CORVISOR_DEVICE_API_VERSION_MINOR 0
/// "major.minor", for messages.
#define CORVISOR_DEVICE_API_VERSION "1.0"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "corvisor/result.hpp"
#include "corvisor/task.hpp"

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
    virtual void set_level(std::uint32_t intid, bool level) = 0;

protected:
    ~IrqSink() = default;
};

class IrqLine {
public:
    IrqLine() = default;
    IrqLine(IrqSink* sink, std::uint32_t intid) : sink_(sink), intid_(intid) {}
    void set(bool level) {
        level_ = level;
        if (sink_ != nullptr) {
            sink_->set_level(intid_, level);
        }
    }
    bool level() const { return level_; }
    std::uint32_t intid() const { return intid_; }

private:
    IrqSink* sink_ = nullptr;
    std::uint32_t intid_ = 0;
    bool level_ = false;
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
    /// Memory that lives as long as the guest (device state). Never on the trap path.
    virtual void* allocate(std::size_t size, std::size_t align) = 0;
    /// The interrupt line with this GIC INTID (SPI/PPI number as the guest sees it).
    virtual IrqLine irq_line(std::uint32_t intid) = 0;
    /// A device that takes input (a UART) says it has room again, so the hypervisor can pass on
    /// what it held back (console input arrives faster than a guest with FIFOs off reads it).
    virtual void input_space() {}

protected:
    ~DeviceHost() = default;
};

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

/// A device node from the guest list, as a factory sees it.
struct DeviceNode {
    std::string_view node_name;  ///< e.g. "uart@9000000"
    std::string_view compatible;
    std::span<const MmioRegion> regs;
    std::span<const std::uint32_t> interrupts;  ///< GIC INTIDs, already converted from the cells
    /// Raw property lookup in the guest-list node (nullptr if absent).
    const void* (*get_property)(const void* cookie, const char* name, int* len) = nullptr;
    const void* cookie = nullptr;
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
};

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
#define CORVISOR_REGISTER_DEVICE(compat, factory)                                              \
    [[gnu::used, gnu::retain,                                                                  \
      gnu::section("corvisor_devices")]] static const ::corvisor::DeviceRegistration           \
    CV_CONCAT_(cv_device_registration_, __LINE__) = {                                          \
        compat, factory, CORVISOR_DEVICE_API_VERSION_MAJOR, CORVISOR_DEVICE_API_VERSION_MINOR, \
        CV_DEVICE_FILE_ ":" CV_STR_(__LINE__)}
