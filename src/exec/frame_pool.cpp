#include "corvisor/frame_pool.hpp"

namespace corvisor {

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

void* FramePool::allocate(std::size_t n) noexcept {
    if (n > block_size_ || free_ == nullptr) {
        ++failures_;
        return nullptr;
    }
    FreeBlock* b = free_;
    free_ = b->next;
    ++in_use_;
    ++allocations_;
    return b;
}

void FramePool::deallocate(void* p) noexcept {
    if (p == nullptr) {
        return;
    }
    auto* b = static_cast<FreeBlock*>(p);
    b->next = free_;
    free_ = b;
    --in_use_;
}

}  // namespace corvisor
