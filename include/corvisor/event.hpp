// Waiting in a coroutine: the one-shot Event, and the run-queue link everything that waits embeds.
// Part of the device API: a device's deferred access or background coroutine waits on an Event
// that its own code (an MMIO access, a timer callback) sets.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

namespace corvisor {

class Executor;
struct Strand;

/// A queue link embedded in whatever waits (an awaiter, a vCPU): posting never allocates.
/// A node is posted by one party at a time (the one that took it from an Event, or its own
/// coroutine when it yields), so its fields need no lock of their own.
struct RunNode {
    RunNode* next = nullptr;
    std::coroutine_handle<> handle;
    bool queued = false;
    /// The strand the waiting code ran under, to resume it under again (null: none). Event::wait
    /// and Sleep fill it in from current_strand(); a device never sets it itself.
    Strand* strand = nullptr;
};

/// The executor of the pCPU that is running (per-pCPU data on EL2; settable on the host).
Executor& current_executor() noexcept;
/// The strand the running code is under: a guest spread over several pCPUs calls its devices
/// under one (one call at a time, continued after each `co_await`); null otherwise.
Strand* current_strand() noexcept;
/// Queue `node` (whose `handle` is set) on `executor`, from any pCPU (Executor::post).
void post_to(Executor& executor, RunNode& node) noexcept;

/// A one-shot event a coroutine can wait on; `set` posts the waiter to the executor it waited
/// on (its own pCPU's), from any pCPU. Setting before the wait makes the wait complete at once
/// (no lost wake-up). One waiter at a time: a second concurrent wait is a bug, and traps.
/// `reset` and `wait` belong to the waiter's side; `set` may race with both.
///
/// The waiter resumes on its executor later, never inside `set`: a device may set an Event from
/// an MMIO handler or a timer callback and go on.
class Event {
public:
    struct Waiter;

    /// True if it posted a waiter.
    bool set() noexcept {
        std::uintptr_t old = state_.exchange(kSet, std::memory_order_acq_rel);
        if (old != kEmpty && old != kSet) {
            Waiter* w = reinterpret_cast<Waiter*>(old);
            post_to(*w->executor, w->node);
            return true;
        }
        return false;
    }
    /// Back to unset, unless a waiter is registered (then it stays as it is).
    void reset() noexcept {
        std::uintptr_t expected = kSet;
        state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acq_rel);
    }
    bool is_set() const { return state_.load(std::memory_order_acquire) == kSet; }
    /// Whether a coroutine waits on it now.
    bool has_waiter() const {
        std::uintptr_t s = state_.load(std::memory_order_acquire);
        return s != kEmpty && s != kSet;
    }
    /// Withdraw a waiter that will not be resumed after all (its coroutine is being destroyed
    /// by its owner). True if it was still registered, so no set() will post it.
    bool cancel(Waiter& w) noexcept {
        std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(&w);
        return state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acq_rel);
    }

    struct Waiter {
        Event* event;
        Executor* executor;
        RunNode node;
        bool await_ready() const noexcept { return event->is_set(); }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            node.handle = h;
            std::uintptr_t expected = kEmpty;
            if (event->state_.compare_exchange_strong(
                    expected, reinterpret_cast<std::uintptr_t>(this), std::memory_order_acq_rel)) {
                return true;
            }
            if (expected != kSet) {
                __builtin_trap();  // a second waiter: the single-waiter contract is broken
            }
            return false;  // set meanwhile: go on at once
        }
        void await_resume() const noexcept {}
    };
    /// `co_await event.wait()`: wait on the calling pCPU's executor.
    Waiter wait() noexcept {
        return Waiter{this, &current_executor(), RunNode{nullptr, {}, false, current_strand()}};
    }
    Waiter wait(Executor& ex) noexcept {
        return Waiter{this, &ex, RunNode{nullptr, {}, false, current_strand()}};
    }

private:
    static constexpr std::uintptr_t kEmpty = 0;
    static constexpr std::uintptr_t kSet = 1;
    /// kEmpty, kSet, or the address of the one Waiter.
    std::atomic<std::uintptr_t> state_{kEmpty};
};

}  // namespace corvisor
