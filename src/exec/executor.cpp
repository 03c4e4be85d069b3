#include "exec/executor.hpp"

#include "exec/cpu.hpp"
#include "exec/strand.hpp"

namespace corvisor {

Strand* current_strand() noexcept {
    return this_cpu().strand;
}

bool Executor::remote() const {
    return owner_ != this_cpu().id;
}

void post_to(Executor& ex, RunNode& node) noexcept {
    ex.post_impl(node);
}

void Executor::post_impl(RunNode& node) noexcept {
    if (!remote()) [[likely]] {
        post_local(node);
        return;
    }
    {
        LockGuard<SpinLock> g(inbox_lock_);
        if (node.queued) {
            return;
        }
        node.queued = true;
        node.next = nullptr;
        if (RunNode* head = inbox_head_.load(std::memory_order_relaxed); head == nullptr) {
            inbox_head_.store(&node, std::memory_order_release);
        } else {
            inbox_tail_->next = &node;
        }
        inbox_tail_ = &node;
    }
    remote_posts_.fetch_add(1, std::memory_order_relaxed);
    if (kick_ != nullptr) {
        kick_(owner_);
    }
}

void Executor::post_local(RunNode& node) noexcept {
    if (node.queued) {
        return;
    }
    node.queued = true;
    node.next = nullptr;
    if (tail_ != nullptr) {
        tail_->next = &node;
        tail_ = &node;
        return;
    }
    head_ = &node;
    tail_ = &node;
    if (ready_hook_ != nullptr) [[unlikely]] {
        ReadyHook hook = ready_hook_;
        ready_hook_ = nullptr;
        hook();
    }
}

void Executor::take_inbox() noexcept {
    if (inbox_head_.load(std::memory_order_acquire) == nullptr) [[likely]] {
        return;
    }
    RunNode* first = nullptr;
    RunNode* last = nullptr;
    {
        LockGuard<SpinLock> g(inbox_lock_);
        first = inbox_head_.load(std::memory_order_relaxed);
        last = inbox_tail_;
        inbox_head_.store(nullptr, std::memory_order_relaxed);
        inbox_tail_ = nullptr;
    }
    // The nodes stay `queued` while they move: a local post of one of them is still a no-op.
    if (tail_ != nullptr) {
        tail_->next = first;
    } else {
        head_ = first;
    }
    tail_ = last;
}

bool Executor::run_one() {
    take_inbox();
    RunNode* n = head_;
    if (n == nullptr) {
        return false;
    }
    head_ = n->next;
    if (head_ == nullptr) {
        tail_ = nullptr;
    }
    n->queued = false;
    n->next = nullptr;
    ++resumes_;
    // The node may live in the awaiter of the coroutine we resume: read everything first.
    std::coroutine_handle<> h = n->handle;
    if (Strand* s = n->strand; s != nullptr) [[unlikely]] {
        const StrandGuard strand(*s);  // it waited under a device strand: it goes on under it
        h.resume();
        return true;
    }
    h.resume();
    return true;
}

void Executor::run_until_idle() {
    while (run_one()) {
    }
}

}  // namespace corvisor
