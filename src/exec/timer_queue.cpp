#include "exec/timer_queue.hpp"

namespace corvisor {

void TimerQueue::note_head() noexcept {
    // A deadline of 0 is due at once; 0 itself means "empty".
    earliest_.store(head_ == nullptr ? 0 : (head_->deadline != 0 ? head_->deadline : 1),
                    std::memory_order_release);
}

void TimerQueue::unlink(TimerNode& node) noexcept {
    if (node.prev != nullptr) {
        node.prev->next = node.next;
    } else {
        head_ = node.next;
    }
    if (node.next != nullptr) {
        node.next->prev = node.prev;
    }
    node.next = nullptr;
    node.prev = nullptr;
    node.queue.store(nullptr, std::memory_order_release);
    note_head();
}

bool TimerQueue::cancel(TimerNode& node) noexcept {
    for (;;) {
        auto* q = static_cast<TimerQueue*>(node.queue.load(std::memory_order_acquire));
        if (q == nullptr) {
            node.arming.fetch_add(1, std::memory_order_acq_rel);  // a popped node must not fire
            return false;
        }
        const LockGuard<SpinLock> g(q->lock_);
        if (node.queue.load(std::memory_order_relaxed) == q) {
            q->unlink(node);
            node.arming.fetch_add(1, std::memory_order_acq_rel);
            return true;
        }
        // It moved meanwhile (armed elsewhere or popped): look again.
    }
}

bool TimerQueue::arm(TimerNode& node, std::uint64_t deadline, void* owner) noexcept {
    cancel(node);
    // 0 is next_deadline()'s "none", so the queue's time starts at 1: a deadline of 0 (the
    // start of a test kit's clock, long past on a machine) is kept as 1, and pop_expired reads
    // a time of 0 as 1 too.
    if (deadline == 0) {
        deadline = 1;
    }
    const LockGuard<SpinLock> g(lock_);
    node.deadline = deadline;
    node.owner = owner;
    node.arming.fetch_add(1, std::memory_order_acq_rel);
    TimerNode* prev = nullptr;
    TimerNode* at = head_;
    // After every node with the same deadline: timers due together fire in the order armed.
    while (at != nullptr && at->deadline <= deadline) {
        prev = at;
        at = at->next;
    }
    node.prev = prev;
    node.next = at;
    if (at != nullptr) {
        at->prev = &node;
    }
    if (prev != nullptr) {
        prev->next = &node;
    } else {
        head_ = &node;
    }
    node.queue.store(this, std::memory_order_release);
    note_head();
    return prev == nullptr;
}

std::size_t TimerQueue::size() const noexcept {
    const LockGuard<SpinLock> g(lock_);
    std::size_t n = 0;
    for (const TimerNode* at = head_; at != nullptr; at = at->next) {
        ++n;
    }
    return n;
}

TimerNode* TimerQueue::pop_expired(std::uint64_t now, std::uint32_t& arming) noexcept {
    if (now == 0) {
        now = 1;  // see arm
    }
    if (const std::uint64_t first = next_deadline(); first == 0 || first > now) {
        return nullptr;  // the common case, without the lock
    }
    const LockGuard<SpinLock> g(lock_);
    TimerNode* n = head_;
    if (n == nullptr || n->deadline > now) {
        return nullptr;
    }
    unlink(*n);
    arming = n->arming.load(std::memory_order_acquire);
    return n;
}

TimerNode* TimerQueue::pop_owned(const void* owner, std::uint32_t& arming) noexcept {
    if (next_deadline() == 0) {
        return nullptr;
    }
    const LockGuard<SpinLock> g(lock_);
    for (TimerNode* n = head_; n != nullptr; n = n->next) {
        if (n->owner == owner) {
            unlink(*n);
            arming = n->arming.load(std::memory_order_acquire);
            return n;
        }
    }
    return nullptr;
}

}  // namespace corvisor
