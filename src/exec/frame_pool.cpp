#include "corvisor/frame_pool.hpp"

namespace corvisor {

namespace {
struct alignas(kFrameHeaderSize) Header {
    FramePool* pool;
};
static_assert(sizeof(Header) == kFrameHeaderSize);
}  // namespace

FramePool::FramePool(void* storage, std::size_t block_size, std::size_t count)
    : block_size_(block_size), count_(count) {
    auto* base = static_cast<std::byte*>(storage);
    // Thread the free list back to front so blocks are handed out in address order.
    for (std::size_t i = count; i-- > 0;) {
        auto* b = reinterpret_cast<FreeBlock*>(base + i * block_size);
        b->next = free_;
        free_ = b;
    }
}

ScopedFramePool::ScopedFramePool(FramePool& pool) noexcept : previous_(frame_pool_override()) {
    frame_pool_override() = &pool;
}

ScopedFramePool::~ScopedFramePool() {
    frame_pool_override() = previous_;
}

FramePool& FramePool::of(void* p) noexcept {
    return *(static_cast<Header*>(p) - 1)->pool;
}

void FramePool::take_remote() noexcept {
    FreeBlock* list = remote_free_.exchange(nullptr, std::memory_order_acquire);
    std::size_t n = 0;
    while (list != nullptr) {
        FreeBlock* next = list->next;
        list->next = free_;
        free_ = list;
        list = next;
        ++n;
    }
    remote_pending_.fetch_sub(n, std::memory_order_relaxed);
    in_use_ -= n;
}

void* FramePool::allocate(std::size_t n) noexcept {
    largest_ = n > largest_ ? n : largest_;
    if (free_ == nullptr) {
        take_remote();
    }
    if (n > block_size_ - kFrameHeaderSize || free_ == nullptr) {
        ++failures_;
        return nullptr;
    }
    FreeBlock* b = free_;
    free_ = b->next;
    ++in_use_;
    ++allocations_;
    auto* h = reinterpret_cast<Header*>(b);
    h->pool = this;
    return h + 1;
}

void FramePool::deallocate(void* p, bool local) noexcept {
    if (p == nullptr) {
        return;
    }
    auto* b = reinterpret_cast<FreeBlock*>(static_cast<Header*>(p) - 1);
    if (local) {
        b->next = free_;
        free_ = b;
        --in_use_;
        return;
    }
    remote_pending_.fetch_add(1, std::memory_order_relaxed);
    FreeBlock* head = remote_free_.load(std::memory_order_relaxed);
    do {
        b->next = head;
    } while (!remote_free_.compare_exchange_weak(head, b, std::memory_order_release,
                                                 std::memory_order_relaxed));
}

}  // namespace corvisor
