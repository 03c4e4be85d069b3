// A DeviceHost for host tests: records console lines and IRQ levels, allocates from the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corvisor/device.hpp"

namespace corvisor::test {

class FakeDeviceHost final : public DeviceHost, public IrqSink {
public:
    std::string_view guest_name() const override { return "test"; }
    void console_line(std::string_view text) override { lines.emplace_back(text); }
    void console_partial_pending() override { ++partial_pending; }
    void console_partial(std::string_view text) override { partials.emplace_back(text); }
    void* allocate(std::size_t size, std::size_t align) override {
        if (fail_allocations) {
            return nullptr;
        }
        blocks_.push_back(std::make_unique<std::byte[]>(size + align));
        void* p = blocks_.back().get();
        std::size_t space = size + align;
        return std::align(align, size, p, space);
    }
    IrqLine irq_line(std::uint32_t intid) override { return IrqLine(this, intid); }
    IrqLine ppi_line(std::uint32_t intid, std::uint32_t vcpu) override {
        return IrqLine(this, intid, vcpu);
    }
    void set_level(std::uint32_t, std::uint32_t intid, bool level) override {
        levels[intid] = level;
        ++level_changes;
    }
    std::uint64_t now() const override { return 0; }
    std::uint64_t counter_frequency() const override { return 62'500'000; }
    WallClock wall_clock() const override { return {}; }
    void timer_arm(TimerNode&, std::uint64_t) override {}
    bool timer_cancel(TimerNode&) override { return false; }
    Status read_guest(std::uint64_t, std::span<std::byte>) override { return Error::kOutOfRange; }
    Status write_guest(std::uint64_t, std::span<const std::byte>) override {
        return Error::kOutOfRange;
    }
    void device_line(std::string_view, std::string_view text) override { lines.emplace_back(text); }
    void device_event(std::string_view, std::string_view text) override {
        lines.emplace_back(text);
    }
    DeviceCounter& counter(std::string_view, std::string_view) override { return counter_; }

    std::vector<std::string> lines;
    std::vector<std::string> partials;  ///< partial lines handed over (prompts)
    int partial_pending = 0;            ///< console_partial_pending calls
    std::map<std::uint32_t, bool> levels;
    int level_changes = 0;
    bool fail_allocations = false;

private:
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
    DeviceCounter counter_;
};

/// Build an access the way MmioBus::dispatch does.
inline MmioAccess mmio_read(std::uint64_t offset, std::uint8_t size = 4) {
    MmioAccess a;
    a.set_offset(offset);
    a.set_size(size);
    return a;
}

inline MmioAccess mmio_write(std::uint64_t offset, std::uint64_t data, std::uint8_t size = 4) {
    MmioAccess a;
    a.set_offset(offset);
    a.set_size(size);
    a.set_write(true);
    a.set_data(data);
    return a;
}

}  // namespace corvisor::test
