// virtio-blk (virtio spec 1.2, section 5.2), one request queue, on the virtio-mmio transport: a
// disk whose image is embedded in the guest list. Linux's virtio_blk driver makes it /dev/vda.
//
//   disk@a000200 {
//       compatible = "corvisor,virtio-blk", "virtio,mmio";       // Linux binds "virtio,mmio"
//       reg = <0x0 0x0a000200 0x0 0x200>;
//       interrupts = <0 17 4>;                                    // level, high
//       corvisor,image = /incbin/("linux/disk.img");              // a multiple of 512 bytes
//       corvisor,read-only;                                       // optional
//   };
//
// A read-write disk is a copy of the image made when the guest is created: what the guest
// writes lasts across its resets (and is gone when the machine powers off); the image in the
// boot DTB is never written. A read-only disk is served from the image itself and offers
// VIRTIO_BLK_F_RO; a write to it gets VIRTIO_BLK_S_IOERR.
//
// Requests are not served in the notifying store: that store arms a Timer for now, which runs
// after the vCPU is back in its guest (between guest entries, under the device's lock, like any
// device call), and serves what is available, up to kBudget bytes per run; then it re-arms for
// the next counter tick, so the guest runs between two runs.
// The vCPU that kicked the queue is not held while its requests run.
//
// Errors: a request the device cannot do (a sector beyond the disk, a length that is not whole
// sectors, a write to a read-only disk) gets VIRTIO_BLK_S_IOERR; an unknown type
// VIRTIO_BLK_S_UNSUPP. A broken chain (a loop, a buffer outside the guest's RAM, more segments
// than offered, no header or no status byte) makes the device need reset (virtio_mmio.hpp).
#include <cstring>
#include <new>

#include "virtio_mmio.hpp"

namespace {

using corvisor::DeviceHost;
using corvisor::virtio::Chain;
using corvisor::virtio::QueueError;
using corvisor::virtio::Segment;

// Feature bits (section 5.2.3).
constexpr std::uint64_t kFSegMax = 1ull << 2;
constexpr std::uint64_t kFRo = 1ull << 5;
constexpr std::uint64_t kFBlkSize = 1ull << 6;
constexpr std::uint64_t kFFlush = 1ull << 9;

// Request types and status values (section 5.2.6).
constexpr std::uint32_t kTypeIn = 0;
constexpr std::uint32_t kTypeOut = 1;
constexpr std::uint32_t kTypeFlush = 4;
constexpr std::uint32_t kTypeGetId = 8;
constexpr std::uint8_t kStatusOk = 0;
constexpr std::uint8_t kStatusIoErr = 1;
constexpr std::uint8_t kStatusUnsupp = 2;

constexpr std::uint64_t kSector = 512;
constexpr std::uint32_t kHeader = 16;  // le32 type, le32 reserved, le64 sector
constexpr std::size_t kIdLength = 20;  // VIRTIO_BLK_ID_BYTES

class VirtioBlk final : public corvisor::virtio::VirtioMmio {
public:
    // The header and the status byte take a descriptor each.
    static constexpr std::uint32_t kSegMax = Chain::kMaxSegments - 2;
    /// Bytes served per run of the work timer before it lets the guest run again.
    static constexpr std::uint64_t kBudget = 256 * 1024;

    VirtioBlk(DeviceHost& host, corvisor::IrqLine irq, std::string_view node,
              const std::byte* image, std::byte* writable, std::uint64_t size)
        : VirtioMmio(host, irq, node),
          image_(image),
          writable_(writable),
          size_(size),
          reads_(host.counter(node, "reads")),
          writes_(host.counter(node, "writes")),
          bytes_read_(host.counter(node, "bytes-read")),
          bytes_written_(host.counter(node, "bytes-written")) {
        work_.init(host, &VirtioBlk::run_work, this);
    }

    std::string_view name() const override { return "virtio-blk"; }

private:
    std::uint32_t device_id() const override { return 2; }
    std::uint64_t device_features() const override {
        return kFSegMax | kFBlkSize | kFFlush | (writable_ == nullptr ? kFRo : 0);
    }
    std::size_t queue_count() const override { return 1; }

    std::uint64_t config_read(std::uint64_t offset, std::uint8_t size) override {
        // struct virtio_blk_config up to blk_size: capacity (le64, sectors), size_max (le32,
        // not offered: 0), seg_max (le32), geometry (4 bytes, not offered: 0), blk_size (le32).
        std::uint8_t config[24] = {};
        const std::uint64_t capacity = size_ / kSector;
        std::memcpy(config, &capacity, 8);
        std::memcpy(config + 12, &kSegMax, 4);
        const std::uint32_t block = kSector;
        std::memcpy(config + 20, &block, 4);
        std::uint64_t v = 0;
        if (offset < sizeof config && size <= sizeof config - offset) {
            std::memcpy(&v, config + offset, size);  // little-endian, as the host is
        }
        return v;
    }

    void notified(std::size_t) override {
        if (!work_.armed()) {
            work_.arm_after(0);
        }
    }

    void device_reset() override { work_.cancel(); }

    static void run_work(void* self) { static_cast<VirtioBlk*>(self)->serve(); }

    /// Serve available requests until the queue is empty or the budget is spent.
    void serve() {
        if (!live()) {
            return;
        }
        corvisor::virtio::Virtqueue& q = queue(0);
        std::uint64_t spent = 0;
        bool used = false;
        Chain chain;
        QueueError error = QueueError::kNone;
        while (spent < kBudget && q.pop(host_, chain, error)) {
            std::uint32_t written = 0;
            if (QueueError e = serve_one(chain, written, spent); e != QueueError::kNone) {
                needs_reset("requestq", e);
                return;
            }
            if (QueueError e = q.push(host_, chain.head, written); e != QueueError::kNone) {
                needs_reset("requestq", e);
                return;
            }
            used = true;
        }
        if (error != QueueError::kNone) {
            needs_reset("requestq", error);
            return;
        }
        if (used) {
            used_buffers();
        }
        if (spent >= kBudget) {
            work_.arm_after(1);  // more may wait: the next run, after the guest has run again
        }
    }

    /// The bytes of one direction of a chain (the driver's: readable; the device's: writable),
    /// as guest-physical ranges, from byte `skip` on, at most `limit` bytes.
    template <class Fn>
    static bool each_range(const Chain& chain, bool device_writes, std::uint64_t skip,
                           std::uint64_t limit, Fn&& fn) {
        for (std::size_t i = 0; i < chain.count && limit != 0; ++i) {
            const Segment& s = chain.segments[i];
            if (s.device_writes != device_writes) {
                continue;
            }
            if (skip >= s.len) {
                skip -= s.len;
                continue;
            }
            const std::uint64_t n = s.len - skip < limit ? s.len - skip : limit;
            if (!fn(s.addr + skip, n)) {
                return false;
            }
            limit -= n;
            skip = 0;
        }
        return true;
    }

    /// Serve one request; `written` is what goes in its used element. An error: the chain
    /// itself is broken (the device needs reset).
    QueueError serve_one(const Chain& chain, std::uint32_t& written, std::uint64_t& spent) {
        std::uint64_t readable = 0;
        std::uint64_t writable = 0;
        bool order_ok = true;
        for (std::size_t i = 0; i < chain.count; ++i) {
            const Segment& s = chain.segments[i];
            if (s.device_writes) {
                writable += s.len;
            } else {
                readable += s.len;
                order_ok = order_ok && writable == 0;  // the driver's part comes first (2.7.4.2)
            }
        }
        if (!order_ok || readable < kHeader || writable < 1) {
            return QueueError::kBadRequest;
        }
        std::byte header[kHeader];
        std::uint64_t at = 0;
        if (!each_range(chain, false, 0, kHeader, [&](std::uint64_t ipa, std::uint64_t n) {
                const bool ok = static_cast<bool>(
                    host_.read_guest(ipa, std::span(header + at, static_cast<std::size_t>(n))));
                at += n;
                return ok;
            })) {
            return QueueError::kBufferOutsideRam;
        }
        std::uint32_t type = 0;
        std::uint64_t sector = 0;
        std::memcpy(&type, header, 4);
        std::memcpy(&sector, header + 8, 8);

        // The status byte is the last writable byte; the data is what lies between.
        const std::uint64_t in_data = writable - 1;
        const std::uint64_t out_data = readable - kHeader;
        std::uint8_t status = kStatusOk;
        std::uint64_t data_written = 0;
        switch (type) {
            case kTypeIn:
                status = transfer(chain, sector, in_data, false, spent);
                data_written = status == kStatusOk ? in_data : 0;
                break;
            case kTypeOut:
                status = writable_ == nullptr ? kStatusIoErr
                                              : transfer(chain, sector, out_data, true, spent);
                break;
            case kTypeFlush:
                break;  // the disk is memory: nothing is ever in flight
            case kTypeGetId: {
                const std::uint64_t n = in_data < kIdLength ? in_data : kIdLength;
                // "corvisor-" and the node name, cut at 20 bytes (not NUL-terminated when full,
                // as the spec allows).
                char id[kIdLength] = {};
                std::size_t id_len = 0;
                for (std::string_view part : {std::string_view("corvisor-"), node_}) {
                    for (std::size_t i = 0; i < part.size() && id_len < kIdLength; ++i) {
                        id[id_len++] = part[i];
                    }
                }
                std::uint64_t done = 0;
                if (!each_range(chain, true, 0, n, [&](std::uint64_t ipa, std::uint64_t len) {
                        const bool ok = static_cast<bool>(host_.write_guest(
                            ipa,
                            std::as_bytes(std::span(id + done, static_cast<std::size_t>(len)))));
                        done += len;
                        return ok;
                    })) {
                    return QueueError::kBufferOutsideRam;
                }
                data_written = n;
                break;
            }
            default:
                status = kStatusUnsupp;
                break;
        }
        if (status == kStatusIoErr) {
            errors_.add();
        }
        const std::byte status_byte{status};
        bool status_ok = false;
        if (!each_range(chain, true, in_data, 1,
                        [&](std::uint64_t ipa, std::uint64_t) {
                            status_ok = static_cast<bool>(
                                host_.write_guest(ipa, std::span(&status_byte, 1)));
                            return status_ok;
                        }) ||
            !status_ok) {
            return QueueError::kBufferOutsideRam;
        }
        written = static_cast<std::uint32_t>(data_written + 1);
        return QueueError::kNone;
    }

    /// Copy `length` bytes between the disk at `sector` and the chain's data buffers: an OUT
    /// request's (`out`: guest to disk) or an IN request's. A status value: IOERR for a range
    /// beyond the disk, a length that is not whole sectors, or a data buffer outside the
    /// guest's RAM (then nothing after it is copied).
    std::uint8_t transfer(const Chain& chain, std::uint64_t sector, std::uint64_t length, bool out,
                          std::uint64_t& spent) {
        const std::uint64_t sectors = size_ / kSector;
        if (length % kSector != 0 || sector > sectors || length / kSector > sectors - sector) {
            return kStatusIoErr;
        }
        std::uint64_t pos = sector * kSector;
        const bool ok = each_range(
            chain, !out, out ? kHeader : 0, length, [&](std::uint64_t ipa, std::uint64_t n) {
                const auto len = static_cast<std::size_t>(n);
                const bool copied =
                    out ? static_cast<bool>(host_.read_guest(ipa, std::span(writable_ + pos, len)))
                        : static_cast<bool>(host_.write_guest(ipa, std::span(image_ + pos, len)));
                pos += n;
                return copied;
            });
        spent += length;
        if (!ok) {
            return kStatusIoErr;
        }
        (out ? writes_ : reads_).add();
        (out ? bytes_written_ : bytes_read_).add(length);
        return kStatusOk;
    }

    const std::byte* image_;  ///< what is read: the copy, or the image of a read-only disk
    std::byte* writable_;     ///< the copy; nullptr for a read-only disk
    std::uint64_t size_;
    corvisor::Timer work_;
    corvisor::DeviceCounter& reads_;
    corvisor::DeviceCounter& writes_;
    corvisor::DeviceCounter& bytes_read_;
    corvisor::DeviceCounter& bytes_written_;
};

corvisor::Result<corvisor::Device*> make_virtio_blk(const corvisor::DeviceNode& node,
                                                    DeviceHost& host) {
    if (node.regs.size() != 1 || node.regs[0].size < 0x200) {
        return node.fail("reg", "a virtio-mmio device has one region of at least 0x200 bytes");
    }
    if (node.interrupts.size() != 1) {
        return node.fail("interrupts", "a virtio-mmio device has one interrupt");
    }
    corvisor::Result<std::span<const std::byte>> image = node.bytes("corvisor,image");
    if (!image) {
        return image.error();
    }
    if (image->empty() || image->size() % kSector != 0) {
        return node.fail("corvisor,image",
                         "the disk image must be a non-zero multiple of 512 bytes");
    }
    const bool read_only = node.has("corvisor,read-only");
    std::byte* copy = nullptr;
    if (!read_only) {
        copy = static_cast<std::byte*>(host.allocate(image->size(), 4096));
        if (copy == nullptr) {
            return corvisor::Error::kOutOfMemory;
        }
        std::memcpy(copy, image->data(), image->size());
    }
    void* p = host.allocate(sizeof(VirtioBlk), alignof(VirtioBlk));
    if (p == nullptr) {
        return corvisor::Error::kOutOfMemory;
    }
    return new (p) VirtioBlk(host, host.irq_line(node.interrupts[0]), node.node_name,
                             read_only ? image->data() : copy, copy, image->size());
}

}  // namespace

CORVISOR_REGISTER_DEVICE("corvisor,virtio-blk", make_virtio_blk);
