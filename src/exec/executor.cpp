#include "exec/executor.hpp"

namespace corvisor {

void Executor::post(RunNode& node) noexcept {
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

bool Executor::run_one() {
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
    h.resume();
    return true;
}

void Executor::run_until_idle() {
    while (run_one()) {
    }
}

}  // namespace corvisor
