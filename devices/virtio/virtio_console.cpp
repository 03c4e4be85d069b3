// virtio-console (virtio spec 1.2, section 5.3), one port, on the virtio-mmio transport: a second
// console channel per guest, which Linux's virtio_console driver makes /dev/hvc0. What the
// guest writes to it appears on the hypervisor console as `[guest:hvc0] text` (its own prefix,
// beside the guest's UART lines). Its input is the console focus's: Ctrl-A three times after the
// guest's UART gives the focus to `guest:hvc0`, and what is typed then goes into the receive
// queue, one byte per buffer the driver made available (held back while it has none).
//
//   hvc@a000000 {
//       compatible = "corvisor,virtio-console", "virtio,mmio";   // Linux binds "virtio,mmio"
//       reg = <0x0 0x0a000000 0x0 0x200>;
//       interrupts = <0 16 4>;                                   // level, high
//   };
#include <new>

#include "virtio_mmio.hpp"

namespace {

using corvisor::DeviceHost;
using corvisor::virtio::Chain;
using corvisor::virtio::QueueError;

class VirtioConsole final : public corvisor::virtio::VirtioMmio, public corvisor::ConsoleInput {
public:
    VirtioConsole(DeviceHost& host, corvisor::IrqLine irq, std::string_view node)
        : VirtioMmio(host, irq, node),
          sink_(host.console_sink("hvc0")),
          bytes_(host.counter(node, "bytes-out")),
          bytes_in_(host.counter(node, "bytes-in")) {
        (void)host.add_console_input(*this, "hvc0");  // a second one (another device) has none
    }

    std::string_view name() const override { return "virtio-console"; }

    /// A byte typed while guest:hvc0 has the focus: into the next buffer of the receive queue
    /// (a buffer with no room for it is given back empty, and the next one tried).
    bool receive(std::uint8_t byte) override {
        Virtqueue& rx = queue(kReceiveq);
        if (!live() || !rx.ready) {
            starved_ = true;
            return false;  // no driver yet: held until it notifies the receive queue
        }
        for (;;) {
            Chain chain;
            QueueError error = QueueError::kNone;
            if (!rx.pop(host_, chain, error)) {
                if (error != QueueError::kNone) {
                    needs_reset("receiveq", error);
                    return true;  // dropped: the driver broke the queue
                }
                starved_ = true;
                return false;  // no buffer: held until the driver adds one
            }
            const corvisor::virtio::Segment* into = nullptr;
            for (std::size_t i = 0; i < chain.count && into == nullptr; ++i) {
                if (chain.segments[i].device_writes && chain.segments[i].len > 0) {
                    into = &chain.segments[i];
                }
            }
            if (into != nullptr) {
                const std::byte b{byte};
                if (!host_.write_guest(into->addr, std::span(&b, 1))) {
                    needs_reset("receiveq", QueueError::kBufferOutsideRam);
                    return true;
                }
                bytes_in_.add(1);
            }
            if (QueueError e = rx.push(host_, chain.head, into != nullptr ? 1 : 0);
                e != QueueError::kNone) {
                needs_reset("receiveq", e);
                return true;
            }
            used_buffers();
            if (into != nullptr) {
                return true;
            }
        }
    }

private:
    using Virtqueue = corvisor::virtio::Virtqueue;
    static constexpr std::size_t kReceiveq = 0;
    static constexpr std::size_t kTransmitq = 1;
    static constexpr std::uint32_t kMaxLine = 160;

    std::uint32_t device_id() const override { return 3; }
    std::uint64_t device_features() const override { return 0; }  // one port, no size
    std::size_t queue_count() const override { return 2; }
    std::uint64_t config_read(std::uint64_t, std::uint8_t) override { return 0; }

    void notified(std::size_t q) override {
        if (q == kReceiveq) {
            if (starved_) {
                starved_ = false;
                host_.input_space();  // buffers again: the hypervisor passes on what it held
            }
            return;
        }
        if (q != kTransmitq) {
            return;
        }
        Chain chain;
        QueueError error = QueueError::kNone;
        bool used = false;
        while (queue(kTransmitq).pop(host_, chain, error)) {
            for (std::size_t i = 0; i < chain.count; ++i) {
                if (!chain.segments[i].device_writes && !emit(chain.segments[i])) {
                    needs_reset("transmitq", QueueError::kBufferOutsideRam);
                    return;
                }
            }
            if (QueueError e = queue(kTransmitq).push(host_, chain.head, 0);
                e != QueueError::kNone) {
                needs_reset("transmitq", e);
                return;
            }
            used = true;
        }
        if (error != QueueError::kNone) {
            needs_reset("transmitq", error);
        }
        if (used) {
            used_buffers();
        }
    }

    /// Copy one buffer out of the guest and into lines. False if it is not in RAM.
    bool emit(const corvisor::virtio::Segment& s) {
        std::byte chunk[64];
        for (std::uint64_t done = 0; done < s.len;) {
            const std::size_t n =
                s.len - done < sizeof chunk ? static_cast<std::size_t>(s.len - done) : sizeof chunk;
            if (!host_.read_guest(s.addr + done, std::span(chunk, n))) {
                return false;
            }
            for (std::size_t i = 0; i < n; ++i) {
                put(static_cast<char>(chunk[i]));
            }
            done += n;
        }
        bytes_.add(s.len);
        return true;
    }

    void put(char c) {
        if (c == '\r' || c == '\0') {
            return;
        }
        if (c == '\n' || line_len_ == kMaxLine) {
            sink_.line(std::string_view(line_, line_len_));
            line_len_ = 0;
            if (c == '\n') {
                return;
            }
        }
        line_[line_len_++] = c;
    }

    void device_reset() override {
        starved_ = false;
        if (line_len_ != 0) {
            sink_.line(std::string_view(line_, line_len_));  // what was written stays written
            line_len_ = 0;
        }
    }

    corvisor::ConsoleSink sink_;
    corvisor::DeviceCounter& bytes_;
    corvisor::DeviceCounter& bytes_in_;
    bool starved_ = false;  // it refused a byte: tell the host when buffers come
    char line_[kMaxLine] = {};
    std::uint32_t line_len_ = 0;
};

corvisor::Result<corvisor::Device*> make_virtio_console(const corvisor::DeviceNode& node,
                                                        DeviceHost& host) {
    if (node.regs.size() != 1 || node.regs[0].size < 0x200) {
        return node.fail("reg", "a virtio-mmio device has one region of at least 0x200 bytes");
    }
    if (node.interrupts.size() != 1) {
        return node.fail("interrupts", "a virtio-mmio device has one interrupt");
    }
    void* p = host.allocate(sizeof(VirtioConsole), alignof(VirtioConsole));
    if (p == nullptr) {
        return corvisor::Error::kOutOfMemory;
    }
    return new (p) VirtioConsole(host, host.irq_line(node.interrupts[0]), node.node_name);
}

}  // namespace

CORVISOR_REGISTER_DEVICE("corvisor,virtio-console", make_virtio_console);
