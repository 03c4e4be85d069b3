// A queue of device timers (TimerNode, include/corvisor/time.hpp), earliest first: one per pCPU
// in the image (src/boot/timer_service.cpp), one per virtual clock in the device test kit.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "corvisor/time.hpp"
#include "exec/spinlock.hpp"

namespace corvisor {

/// Sorted intrusive list under a spin lock. Arm and cancel may come from any pCPU; a node is in
/// at most one queue. Firing happens outside the lock, in two steps, so that a callback may arm
/// its timer again and a cancel that overtakes a pop wins: `pop_expired` unlinks a node and
/// returns the `arming` count it had, and the caller fires it only if that count is unchanged
/// once it holds whatever serializes the node's device (`still_current`).
class TimerQueue {
public:
    /// Queue `node` for `deadline` on behalf of `owner`, first taking it out of whatever queue
    /// it is in. True if it is now the earliest here (the caller reprograms its timer).
    bool arm(TimerNode& node, std::uint64_t deadline, void* owner) noexcept;
    /// Take `node` out of its queue, whichever that is. True if it was armed.
    static bool cancel(TimerNode& node) noexcept;
    /// The earliest deadline, or 0 when empty (no lock: the timer service asks on every rearm).
    std::uint64_t next_deadline() const noexcept {
        return earliest_.load(std::memory_order_acquire);
    }
    bool empty() const noexcept { return next_deadline() == 0; }
    std::size_t size() const noexcept;
    /// Unlink the earliest node if its deadline is at or before `now`; nullptr otherwise.
    /// `arming` receives the node's arming count (see still_current).
    TimerNode* pop_expired(std::uint64_t now, std::uint32_t& arming) noexcept;
    /// Unlink the first node of `owner`, or nullptr (cancelling a guest's timers: call until
    /// nullptr). `arming` as for pop_expired.
    TimerNode* pop_owned(const void* owner, std::uint32_t& arming) noexcept;
    /// The node was neither armed again nor cancelled since it was popped with `arming`.
    static bool still_current(const TimerNode& node, std::uint32_t arming) noexcept {
        return node.arming.load(std::memory_order_acquire) == arming;
    }

private:
    void unlink(TimerNode& node) noexcept;  // under lock_
    void note_head() noexcept;              // under lock_: earliest_ from head_
    mutable SpinLock lock_;
    TimerNode* head_ = nullptr;
    std::atomic<std::uint64_t> earliest_{0};
};

}  // namespace corvisor
