// Shared helpers of the SMP tests (test_smp_*.cpp): host threads play pCPUs (host_select_cpu),
// every wait is bounded, and nothing but plain data and atomics crosses threads. Catch2's
// assertion macros are not thread-safe: worker threads record what they saw, the test's own
// thread checks it after joining them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "exec/host_cpu.hpp"

namespace corvisor::test {

/// A failure guard only: every loop of the SMP tests has an iteration cap, and each test takes
/// well under this even under ThreadSanitizer on two loaded cores.
inline constexpr std::chrono::seconds kSmpWallClockCap{60};

/// The moment a test gives up.
class Deadline {
public:
    explicit Deadline(std::chrono::steady_clock::duration limit = kSmpWallClockCap)
        : end_(std::chrono::steady_clock::now() + limit) {}
    bool expired() const { return std::chrono::steady_clock::now() >= end_; }

private:
    std::chrono::steady_clock::time_point end_;
};

/// A reusable barrier for `count` threads whose wait gives up at a deadline (false: a thread is
/// stuck or gave up, the test fails instead of hanging).
class SpinBarrier {
public:
    explicit SpinBarrier(std::uint32_t count) : count_(count) {}

    bool arrive_and_wait(const Deadline& deadline) {
        const std::uint32_t generation = generation_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
            arrived_.store(0, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
            return true;
        }
        while (generation_.load(std::memory_order_acquire) == generation) {
            if (deadline.expired()) {
                return false;
            }
            std::this_thread::yield();
        }
        return true;
    }

private:
    const std::uint32_t count_;
    std::atomic<std::uint32_t> arrived_{0};
    std::atomic<std::uint32_t> generation_{0};
};

/// Runs body(id) on `count` threads, thread `id` playing pCPU `id`, and joins them.
template <class Body>
void run_pcpus(std::uint32_t count, const Body& body) {
    std::vector<std::thread> threads;
    threads.reserve(count);
    for (std::uint32_t id = 0; id < count; ++id) {
        threads.emplace_back([&body, id] {
            host_select_cpu(id);
            body(id);
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
}

/// A short busy delay (to vary interleavings) that the compiler cannot drop.
inline void spin_for(std::uint32_t iterations) {
    for (std::uint32_t k = 0; k < iterations; ++k) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
}

}  // namespace corvisor::test
