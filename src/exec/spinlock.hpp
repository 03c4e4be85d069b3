// Spin locks for state that several pCPUs share: a plain one and a recursive one (the vGIC's
// model calls back into the vCPU that holds it). Waiters wait in WFE between looks (the unlock
// sends the event), never in a bare busy loop. Held only for short, bounded sections: no
// suspension while holding one.
#pragma once

#include <atomic>
#include <cstdint>

#include "arch/arch.hpp"

namespace corvisor {

class SpinLock {
public:
    void lock() noexcept {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            while (locked_.load(std::memory_order_relaxed)) {
                arch_wait_event();
            }
        }
    }
    bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept {
        locked_.store(false, std::memory_order_release);
        arch_send_event();
    }

private:
    std::atomic<bool> locked_{false};
};

/// A lock its holder may take again (`owner`: any token unique to the pCPU, its CpuLocal).
class RecursiveSpinLock {
public:
    void lock(const void* owner) noexcept {
        if (owner_.load(std::memory_order_relaxed) == owner) {
            ++depth_;
            return;
        }
        lock_.lock();
        owner_.store(owner, std::memory_order_relaxed);
        depth_ = 1;
    }
    void unlock() noexcept {
        if (--depth_ == 0) {
            owner_.store(nullptr, std::memory_order_relaxed);
            lock_.unlock();
        }
    }

private:
    SpinLock lock_;
    std::atomic<const void*> owner_{nullptr};
    std::uint32_t depth_ = 0;
};

template <class Lock>
class LockGuard {
public:
    explicit LockGuard(Lock& lock) : lock_(lock) { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Lock& lock_;
};

}  // namespace corvisor
