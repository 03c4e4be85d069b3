#include "virtio_mmio.hpp"

#include <cstring>

namespace corvisor::virtio {

namespace {

enum Reg : std::uint64_t {
    kMagicValue = 0x000,
    kVersion = 0x004,
    kDeviceId = 0x008,
    kVendorId = 0x00c,
    kDeviceFeatures = 0x010,
    kDeviceFeaturesSel = 0x014,
    kDriverFeatures = 0x020,
    kDriverFeaturesSel = 0x024,
    kQueueSel = 0x030,
    kQueueNumMax = 0x034,
    kQueueNum = 0x038,
    kQueueReady = 0x044,
    kQueueNotify = 0x050,
    kInterruptStatus = 0x060,
    kInterruptAck = 0x064,
    kStatus = 0x070,
    kQueueDescLow = 0x080,
    kQueueDescHigh = 0x084,
    kQueueDriverLow = 0x090,
    kQueueDriverHigh = 0x094,
    kQueueDeviceLow = 0x0a0,
    kQueueDeviceHigh = 0x0a4,
    kConfigGeneration = 0x0fc,
    kConfig = 0x100,
};

struct Desc {
    std::uint64_t addr;
    std::uint32_t len;
    std::uint16_t flags;
    std::uint16_t next;
};
static_assert(sizeof(Desc) == 16);

template <class T>
bool read(DeviceHost& host, std::uint64_t ipa, T& out) {
    return static_cast<bool>(host.read_guest(ipa, std::as_writable_bytes(std::span(&out, 1))));
}

template <class T>
bool write(DeviceHost& host, std::uint64_t ipa, const T& in) {
    return static_cast<bool>(host.write_guest(ipa, std::as_bytes(std::span(&in, 1))));
}

void set_low(std::uint64_t& v, std::uint32_t low) {
    v = (v & ~0xffffffffull) | low;
}
void set_high(std::uint64_t& v, std::uint32_t high) {
    v = (v & 0xffffffffull) | std::uint64_t{high} << 32;
}

}  // namespace

const char* to_string(QueueError e) {
    switch (e) {
        case QueueError::kNone:
            return "no error";
        case QueueError::kNotReady:
            return "queue not ready";
        case QueueError::kRingOutsideRam:
            return "a ring or descriptor outside the guest's RAM";
        case QueueError::kBufferOutsideRam:
            return "a buffer outside the guest's RAM";
        case QueueError::kBadIndex:
            return "a descriptor index beyond the queue size";
        case QueueError::kLoop:
            return "a descriptor chain that loops";
        case QueueError::kTooLong:
            return "a descriptor chain longer than the device takes";
        case QueueError::kIndirect:
            return "an indirect descriptor (not offered)";
        case QueueError::kAvailRunaway:
            return "an available index more than the queue size ahead";
        case QueueError::kBadRequest:
            return "a request without its header or its status byte";
    }
    return "?";
}

bool Virtqueue::pop(DeviceHost& host, Chain& out, QueueError& error) {
    error = QueueError::kNone;
    if (!ready || size == 0) {
        error = QueueError::kNotReady;
        return false;
    }
    std::uint16_t avail_idx = 0;
    if (!read(host, driver + 2, avail_idx)) {
        error = QueueError::kRingOutsideRam;
        return false;
    }
    // The ring entries are read after the index (DeviceHost orders each copy).
    if (avail_idx == last_avail_) {
        return false;
    }
    if (static_cast<std::uint16_t>(avail_idx - last_avail_) > size) {
        error = QueueError::kAvailRunaway;
        return false;
    }
    std::uint16_t head = 0;
    if (!read(host, driver + 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(last_avail_ % size)},
              head)) {
        error = QueueError::kRingOutsideRam;
        return false;
    }
    if (head >= size) {
        error = QueueError::kBadIndex;
        return false;
    }
    out.head = head;
    out.count = 0;
    std::uint16_t at = head;
    for (std::uint32_t n = 0;; ++n) {
        if (n >= size) {
            error = QueueError::kLoop;
            return false;
        }
        Desc d{};
        if (!read(host, desc + 16 * std::uint64_t{at}, d)) {
            error = QueueError::kRingOutsideRam;
            return false;
        }
        if ((d.flags & kDescIndirect) != 0) {
            error = QueueError::kIndirect;
            return false;
        }
        if (out.count == Chain::kMaxSegments) {
            error = QueueError::kTooLong;
            return false;
        }
        out.segments[out.count++] = Segment{d.addr, d.len, (d.flags & kDescWrite) != 0};
        if ((d.flags & kDescNext) == 0) {
            break;
        }
        if (d.next >= size) {
            error = QueueError::kBadIndex;
            return false;
        }
        at = d.next;
    }
    ++last_avail_;
    return true;
}

QueueError Virtqueue::push(DeviceHost& host, std::uint16_t head, std::uint32_t written) {
    struct {
        std::uint32_t id;
        std::uint32_t len;
    } elem{head, written};
    const std::uint64_t slot =
        device + 4 + 8 * std::uint64_t{static_cast<std::uint16_t>(used_idx_ % size)};
    if (!write(host, slot, elem)) {
        return QueueError::kRingOutsideRam;
    }
    // The element before the index that publishes it: DeviceHost orders the two copies.
    const std::uint16_t next = static_cast<std::uint16_t>(used_idx_ + 1);
    if (!write(host, device + 2, next)) {
        return QueueError::kRingOutsideRam;
    }
    used_idx_ = next;
    return QueueError::kNone;
}

VirtioMmio::VirtioMmio(DeviceHost& host, IrqLine irq, std::string_view node)
    : host_(host), node_(node), errors_(host.counter(node, "errors")), irq_(irq) {}

MmioResult VirtioMmio::mmio(MmioAccess a) {
    const std::uint64_t offset = a.offset();
    if (offset >= kConfig) {
        if (a.write()) {
            return MmioResult::done();  // no writable configuration fields
        }
        return MmioResult::done(config_read(offset - kConfig, a.size()));
    }
    if (a.size() != 4) {
        return MmioResult::abort();  // the transport's registers are 32-bit (section 4.2.2)
    }
    if (a.write()) {
        store(offset, static_cast<std::uint32_t>(a.data()));
        return MmioResult::done();
    }
    return MmioResult::done(load(offset, a.size()));
}

std::uint64_t VirtioMmio::load(std::uint64_t offset, std::uint8_t) {
    const std::uint64_t features = device_features() | kFVersion1;
    const bool queue_exists = queue_sel_ < queue_count();
    const Virtqueue& q = queues_[queue_sel_ % kMaxQueues];
    switch (offset) {
        case kMagicValue:
            return kMagic;
        case kVersion:
            return 2;
        case kDeviceId:
            return device_id();
        case kVendorId:
            return kVendor;
        case kDeviceFeatures:
            return device_features_sel_ == 0   ? features & 0xffffffffu
                   : device_features_sel_ == 1 ? features >> 32
                                               : 0;
        case kQueueNumMax:
            return queue_exists ? Virtqueue::kMaxSize : 0;
        case kQueueNum:
            return queue_exists ? q.size : 0;
        case kQueueReady:
            return queue_exists && q.ready ? 1 : 0;
        case kInterruptStatus:
            return interrupt_status_;
        case kStatus:
            return status_;
        case kConfigGeneration:
            return config_generation_;
        default:
            return 0;  // write-only and reserved registers read as zero
    }
}

void VirtioMmio::store(std::uint64_t offset, std::uint32_t v) {
    const bool queue_exists = queue_sel_ < queue_count();
    Virtqueue& q = queues_[queue_sel_ % kMaxQueues];
    // A queue's layout may change only while it is not ready (section 4.2.2.2).
    const bool layout = queue_exists && !q.ready;
    switch (offset) {
        case kDeviceFeaturesSel:
            device_features_sel_ = v;
            break;
        case kDriverFeaturesSel:
            driver_features_sel_ = v;
            break;
        case kDriverFeatures:
            if ((status_ & kFeaturesOk) == 0) {
                if (driver_features_sel_ == 0) {
                    set_low(driver_features_, v);
                } else if (driver_features_sel_ == 1) {
                    set_high(driver_features_, v);
                }
            }
            break;
        case kQueueSel:
            queue_sel_ = v;
            break;
        case kQueueNum:
            if (layout && v >= 1 && v <= Virtqueue::kMaxSize) {
                q.size = static_cast<std::uint16_t>(v);
            }
            break;
        case kQueueReady:
            if (queue_exists) {
                q.ready = (v & 1) != 0 && q.size != 0;
            }
            break;
        case kQueueDescLow:
            if (layout) {
                set_low(q.desc, v);
            }
            break;
        case kQueueDescHigh:
            if (layout) {
                set_high(q.desc, v);
            }
            break;
        case kQueueDriverLow:
            if (layout) {
                set_low(q.driver, v);
            }
            break;
        case kQueueDriverHigh:
            if (layout) {
                set_high(q.driver, v);
            }
            break;
        case kQueueDeviceLow:
            if (layout) {
                set_low(q.device, v);
            }
            break;
        case kQueueDeviceHigh:
            if (layout) {
                set_high(q.device, v);
            }
            break;
        case kQueueNotify:
            if (live() && v < queue_count() && queues_[v].ready) {
                notified(v);
            }
            break;
        case kInterruptAck:
            interrupt_status_ &= ~v;
            update_irq();
            break;
        case kStatus:
            if (v == 0) {
                reset();
                break;
            }
            if ((v & kFeaturesOk) != 0 && (status_ & kFeaturesOk) == 0) {
                // FEATURES_OK only for a subset of what is offered that includes VERSION_1;
                // otherwise the bit stays clear and the driver gives up (section 3.1.1).
                const std::uint64_t offered = device_features() | kFVersion1;
                if ((driver_features_ & ~offered) != 0 || (driver_features_ & kFVersion1) == 0) {
                    v &= ~static_cast<std::uint32_t>(kFeaturesOk);
                }
            }
            // The driver sets bits; only a reset clears them. NEEDS_RESET is the device's.
            status_ |= v & ~static_cast<std::uint32_t>(kNeedsReset);
            break;
        default:
            break;  // read-only and reserved registers ignore writes
    }
}

void VirtioMmio::reset() {
    status_ = 0;
    device_features_sel_ = 0;
    driver_features_sel_ = 0;
    driver_features_ = 0;
    queue_sel_ = 0;
    interrupt_status_ = 0;
    for (Virtqueue& q : queues_) {
        q.reset();
    }
    device_reset();
    update_irq();
}

void VirtioMmio::used_buffers() {
    interrupt_status_ |= 1;
    update_irq();
}

void VirtioMmio::needs_reset(const char* queue_name, QueueError why) {
    errors_.add();
    if ((status_ & kNeedsReset) != 0) {
        return;
    }
    status_ |= kNeedsReset;
    char text[120];
    std::size_t n = 0;
    for (const char* part : {queue_name, ": ", to_string(why), " (the device needs reset)"}) {
        for (const char* c = part; *c != '\0' && n + 1 < sizeof text; ++c) {
            text[n++] = *c;
        }
    }
    host_.device_event(node_, std::string_view(text, n));
    interrupt_status_ |= 2;  // a configuration change: the driver reads Status
    update_irq();
}

}  // namespace corvisor::virtio
