// Fixed-block pool for coroutine frames: no heap anywhere in the hypervisor.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace corvisor {

/// Coroutine frames come from per-pCPU pools of fixed blocks, sized at build time (no heap on
/// the trap path); a frame larger than a block is an allocation failure, never a heap call.
/// The block size is the same on EL2 and on the host, so a coroutine that fits in the host tests
/// fits in the image (host builds, unoptimized and sanitized, lay frames out no smaller).
inline constexpr std::size_t kFrameBlockSize = 1024;
inline constexpr std::size_t kFramesPerCpu = 64;

/// Each block starts with a header naming its pool, so a frame goes back to the pool it came
/// from wherever it is freed; the rest of the block is the frame.
inline constexpr std::size_t kFrameHeaderSize = 16;
/// The largest coroutine frame there is room for: the one limit. A larger one fails to compile
/// in an optimized build (Task's operator new) and is an empty Task in a host test.
inline constexpr std::size_t kMaxFrameSize = kFrameBlockSize - kFrameHeaderSize;

/// A pool of `count` blocks of `block_size` bytes over caller-provided storage. Each pCPU owns
/// one and allocates from it alone; a frame freed on another pCPU goes back on a lock-free list
/// the owner takes over when its own runs dry.
class FramePool {
public:
    FramePool(void* storage, std::size_t block_size, std::size_t count);
    FramePool(const FramePool&) = delete;
    FramePool& operator=(const FramePool&) = delete;

    /// A block for a frame of `n` bytes, or nullptr when `n` is too large (more than
    /// block_size() - kFrameHeaderSize) or the pool is empty. Owner only.
    void* allocate(std::size_t n) noexcept;
    /// Give back `p` (from allocate). `local`: the caller is the owner; else it may be any
    /// pCPU.
    void deallocate(void* p, bool local) noexcept;
    /// The pool a block from allocate() belongs to.
    static FramePool& of(void* p) noexcept;

    std::size_t block_size() const { return block_size_; }
    std::size_t capacity() const { return count_; }
    std::size_t in_use() const { return in_use_ - remote_pending_.load(std::memory_order_relaxed); }
    /// Total successful allocations since construction (tests prove the fast path makes none).
    std::uint64_t allocations() const { return allocations_; }
    /// Requests refused (pool empty or frame too large).
    std::uint64_t failures() const { return failures_; }
    /// The largest frame asked for so far, in bytes (whether it fitted or not).
    std::size_t largest_request() const { return largest_; }

private:
    struct FreeBlock {
        FreeBlock* next;
    };
    void take_remote() noexcept;

    FreeBlock* free_ = nullptr;
    std::atomic<FreeBlock*> remote_free_{nullptr};
    std::atomic<std::size_t> remote_pending_{0};  // blocks on remote_free_
    std::size_t block_size_;
    std::size_t count_;
    std::size_t in_use_ = 0;
    std::uint64_t allocations_ = 0;
    std::uint64_t failures_ = 0;
    std::size_t largest_ = 0;
};

/// A FramePool with its own storage.
template <std::size_t BlockSize, std::size_t Count>
class StaticFramePool : public FramePool {
public:
    StaticFramePool() : FramePool(storage_, BlockSize, Count) {}

private:
    alignas(16) std::byte storage_[BlockSize * Count];
};

/// The pool of the pCPU (or host thread) that is running. Defined by the platform:
/// src/el2 (per-pCPU data) or src/exec/host_platform.cpp (settable, for tests).
FramePool& current_frame_pool() noexcept;

/// While one is alive on a pCPU, that pCPU's new frames come from `pool` (the boot code creates
/// the long-lived ones, vCPU loops and console pumps, from a pool of their own instead of the
/// boot pCPU's). Frames still go back to the pool they came from.
class ScopedFramePool {
public:
    explicit ScopedFramePool(FramePool& pool) noexcept;
    ~ScopedFramePool();
    ScopedFramePool(const ScopedFramePool&) = delete;
    ScopedFramePool& operator=(const ScopedFramePool&) = delete;

private:
    FramePool* previous_;
};
/// The override in effect on this pCPU, or nullptr (defined by the platform with
/// current_frame_pool).
FramePool*& frame_pool_override() noexcept;
/// The pool of frames that live as long as their guest (vCPU loops, console pumps): room for
/// kLongLivedFrames, allocated from by the boot pCPU alone, while it creates guests.
FramePool& long_lived_frame_pool() noexcept;
/// pCPU `pcpu`'s pool (for the summary's accounting).
FramePool& pcpu_frame_pool(std::uint32_t pcpu) noexcept;

/// Where coroutine frames come from and go back to (Task's promise).
inline void* allocate_frame(std::size_t n) noexcept {
    FramePool* pool = frame_pool_override();
    return (pool != nullptr ? *pool : current_frame_pool()).allocate(n);
}
inline void free_frame(void* p) noexcept {
    if (p != nullptr) {
        FramePool& pool = FramePool::of(p);
        pool.deallocate(p, &pool == &current_frame_pool() || &pool == frame_pool_override());
    }
}

}  // namespace corvisor
