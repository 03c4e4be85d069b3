// Time for devices: the counter, the wall clock, and the node a timer is queued by.
#pragma once

#include <atomic>
#include <cstdint>

namespace corvisor {

/// The wall-clock time at one reading of the counter: `unix_seconds` (seconds since
/// 1970-01-01T00:00:00 UTC) was the time when the counter read `counter`. The hypervisor takes
/// it at boot from the machine's real-time clock (the boot DTB's `arm,pl031`), or from a fixed
/// epoch when there is none (`from_rtc` false).
struct WallClock {
    std::uint64_t unix_seconds = 0;
    std::uint64_t counter = 0;
    bool from_rtc = false;
};

/// How a timer's wait ended: its deadline came, or the host cancelled it (the guest is reset or
/// stopped: DeviceHost::timer_arm).
enum class TimerEnd : std::uint8_t { kExpired, kCancelled };

/// A timer as the host queues it: embedded in a `Timer` or a `Sleep` (device.hpp), which are what
/// a device uses. Every field but `fire` and `context` is the host's bookkeeping.
struct TimerNode {
    /// Called once per arming, on the pCPU that armed it: at the deadline (kExpired), or when
    /// the host cancels every timer of the guest (kCancelled). Not called after the device's own
    /// cancel.
    void (*fire)(TimerNode& node, TimerEnd end) = nullptr;
    void* context = nullptr;

    TimerNode* next = nullptr;
    TimerNode* prev = nullptr;
    std::uint64_t deadline = 0;
    void* owner = nullptr;                 ///< the DeviceHost that armed it
    std::atomic<void*> queue{nullptr};     ///< the queue it is in; nullptr: not armed
    std::atomic<std::uint32_t> arming{0};  ///< incremented by every arm and cancel

    TimerNode() = default;
    TimerNode(const TimerNode&) = delete;
    TimerNode& operator=(const TimerNode&) = delete;
    bool armed() const { return queue.load(std::memory_order_acquire) != nullptr; }
};

}  // namespace corvisor
