// virtio-mmio (virtio 1.x, "version 2" register layout; virtio spec 1.2, section 4.2.2) and split
// virtqueues (section 2.7), on the public device API alone: the transport that the virtio devices
// of this folder share. A device derives from VirtioMmio and supplies its ID, features, config
// space and what a queue notification does.
//
// Guest input is never trusted: every descriptor, ring and buffer is read with
// DeviceHost::read_guest (bounds-checked against the guest's RAM) into a copy, and a chain that
// loops, leaves RAM, or is longer than its queue makes the device "need reset" (status bit 64,
// a configuration-change interrupt), as the spec says a device does on an error it cannot
// recover from. The hypervisor never faults on it.
#pragma once

#include <corvisor/device.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace corvisor::virtio {

/// Device status bits (section 2.1).
enum Status : std::uint32_t {
    kAcknowledge = 1,
    kDriver = 2,
    kDriverOk = 4,
    kFeaturesOk = 8,
    kNeedsReset = 64,
    kFailed = 128,
};

inline constexpr std::uint64_t kFVersion1 = 1ull << 32;  ///< VIRTIO_F_VERSION_1
inline constexpr std::uint16_t kDescNext = 1;
inline constexpr std::uint16_t kDescWrite = 2;
inline constexpr std::uint16_t kDescIndirect = 4;

/// One buffer of a descriptor chain, in guest-physical terms (not yet read).
struct Segment {
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    bool device_writes = false;  ///< VIRTQ_DESC_F_WRITE: the device writes it
};

/// A chain popped from the available ring.
struct Chain {
    static constexpr std::size_t kMaxSegments = 16;
    std::uint16_t head = 0;
    std::size_t count = 0;
    std::array<Segment, kMaxSegments> segments{};
};

/// Why a queue operation failed: the driver broke the protocol (the device then needs reset).
enum class QueueError : std::uint8_t {
    kNone,
    kNotReady,
    kRingOutsideRam,    ///< a ring or descriptor is not in the guest's RAM
    kBufferOutsideRam,  ///< a buffer a descriptor names is not in the guest's RAM
    kBadIndex,          ///< a descriptor index beyond the queue size
    kLoop,              ///< the chain is longer than the queue: it loops
    kTooLong,           ///< more segments than this device takes
    kIndirect,          ///< an indirect descriptor (not offered)
    kAvailRunaway,      ///< the available index moved more than the queue size ahead
    kBadRequest,        ///< a request without its header or its device-writable status byte
};
const char* to_string(QueueError e);

/// A split virtqueue as the driver set it up; the device side of it.
class Virtqueue {
public:
    static constexpr std::uint16_t kMaxSize = 256;
    std::uint16_t size = 0;  ///< QueueNum
    bool ready = false;      ///< QueueReady
    std::uint64_t desc = 0;
    std::uint64_t driver = 0;  ///< the available ring
    std::uint64_t device = 0;  ///< the used ring

    void reset() { *this = Virtqueue{}; }
    /// The next available chain into `out`: true if there was one; false with `error` kNone if
    /// the ring is empty.
    bool pop(DeviceHost& host, Chain& out, QueueError& error);
    /// Return chain `head` to the driver with `written` bytes written into it.
    QueueError push(DeviceHost& host, std::uint16_t head, std::uint32_t written);

private:
    std::uint16_t last_avail_ = 0;
    std::uint16_t used_idx_ = 0;
};

/// The virtio-mmio transport. `mmio` handles every register; the device's part is the virtuals.
class VirtioMmio : public Device {
public:
    static constexpr std::uint32_t kMagic = 0x74726976;   // "virt"
    static constexpr std::uint32_t kVendor = 0x56524f43;  // "CORV"
    static constexpr std::size_t kMaxQueues = 4;

    VirtioMmio(DeviceHost& host, IrqLine irq, std::string_view node);
    MmioResult mmio(MmioAccess a) override;
    void reset() override;

    std::uint32_t status() const { return status_; }
    Virtqueue& queue(std::size_t i) { return queues_[i]; }

protected:
    virtual std::uint32_t device_id() const = 0;
    /// Features beyond VIRTIO_F_VERSION_1, which is always offered and must be accepted.
    virtual std::uint64_t device_features() const = 0;
    virtual std::size_t queue_count() const = 0;
    /// A load from the device's configuration space (offset from 0x100), `size` bytes.
    virtual std::uint64_t config_read(std::uint64_t offset, std::uint8_t size) = 0;
    /// The driver notified queue `q` (DRIVER_OK set, the queue ready).
    virtual void notified(std::size_t q) = 0;
    /// The device is reset (by the driver writing 0 to Status, or the guest's reset).
    virtual void device_reset() {}

    /// Tell the driver it used buffers (interrupt status bit 0).
    void used_buffers();
    /// The driver broke the protocol: set DEVICE_NEEDS_RESET, say why once, interrupt.
    void needs_reset(const char* queue_name, QueueError why);
    bool live() const { return (status_ & kDriverOk) != 0 && (status_ & kNeedsReset) == 0; }

    DeviceHost& host_;
    std::string_view node_;
    DeviceCounter& errors_;

private:
    std::uint64_t load(std::uint64_t offset, std::uint8_t size);
    void store(std::uint64_t offset, std::uint32_t value);
    void update_irq() { irq_.set(interrupt_status_ != 0); }

    IrqLine irq_;
    std::uint32_t status_ = 0;
    std::uint32_t device_features_sel_ = 0;
    std::uint32_t driver_features_sel_ = 0;
    std::uint64_t driver_features_ = 0;
    std::uint32_t queue_sel_ = 0;
    std::uint32_t interrupt_status_ = 0;
    std::uint32_t config_generation_ = 0;
    std::array<Virtqueue, kMaxQueues> queues_{};
};

}  // namespace corvisor::virtio
