// The per-pCPU executor: a FIFO run queue of coroutine handles with intrusive links, and an
// inbox for posts from other pCPUs.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "corvisor/event.hpp"
#include "exec/spinlock.hpp"

namespace corvisor {

/// One per pCPU. Resumption is always posted here and run from `run_one` on the executor's own
/// pCPU, never inline from an interrupt handler or another pCPU (docs/architecture.md, "The
/// trap path", step 4). A post from another pCPU goes to the inbox (a locked intrusive list, no
/// allocation) and kicks the owner with a physical SGI, which brings it out of its guest or its
/// idle WFI; the owner moves the inbox to its run queue before it picks what to run.
class Executor {
public:
    using Kick = void (*)(std::uint32_t pcpu);

    /// This executor belongs to pCPU `pcpu` (0 until this is called); posts from other pCPUs
    /// call `kick(pcpu)`.
    void set_owner(std::uint32_t pcpu, Kick kick) noexcept {
        owner_ = pcpu;
        kick_ = kick;
    }
    std::uint32_t owner() const { return owner_; }

    /// Queue `node` (whose `handle` is set) to run, from any pCPU. Posting a node that is queued
    /// already is a no-op, so a double wake-up on one pCPU cannot corrupt the queue; across
    /// pCPUs a node has one poster at a time (it is woken through an Event), since `queued` is
    /// shared by the owner's queue and the inbox without a common lock.
    void post(RunNode& node) noexcept { post_to(*this, node); }

    /// Resume the first queued coroutine. False if the queue was empty. Owner only.
    bool run_one();

    /// Run until the queue is empty.
    void run_until_idle();

    /// Nothing queued, here or in the inbox.
    bool idle() const {
        return head_ == nullptr && inbox_head_.load(std::memory_order_relaxed) == nullptr;
    }

    /// Called once, by the post that makes this idle executor non-idle, while it is set (then it
    /// is cleared). The vCPU run loop sets it while it runs unsliced, so that the moment another
    /// coroutine becomes ready (CPU_ON, an interrupt for a vCPU in WFI, a device completion)
    /// the running vCPU gets a time slice and cannot strand it. (A post from another pCPU
    /// reaches a running vCPU by the kick SGI instead: its exit yields.)
    using ReadyHook = void (*)();
    void set_ready_hook(ReadyHook hook) noexcept { ready_hook_ = hook; }
    bool has_ready_hook() const { return ready_hook_ != nullptr; }

    /// Coroutines resumed so far: a suspension shows up as one more resume.
    std::uint64_t resumes() const { return resumes_; }
    /// Posts that came through the inbox (from other pCPUs).
    std::uint64_t remote_posts() const { return remote_posts_.load(std::memory_order_relaxed); }

    /// `co_await executor.yield()`: requeue the caller behind everything ready now, including
    /// what other pCPUs posted.
    auto yield() noexcept {
        struct Awaiter {
            Executor* ex;
            RunNode node;
            bool await_ready() const noexcept {
                ex->take_inbox();
                return ex->head_ == nullptr;
            }
            void await_suspend(std::coroutine_handle<> h) noexcept {
                node.handle = h;
                node.strand = current_strand();  // goes on under the strand it yielded in
                ex->post_local(node);
            }
            void await_resume() const noexcept {}
        };
        return Awaiter{this, {}};
    }

private:
    friend void post_to(Executor& executor, RunNode& node) noexcept;
    void post_impl(RunNode& node) noexcept;
    bool remote() const;
    void post_local(RunNode& node) noexcept;
    /// Move the inbox to the run queue (owner only).
    void take_inbox() noexcept;

    RunNode* head_ = nullptr;
    RunNode* tail_ = nullptr;
    ReadyHook ready_hook_ = nullptr;
    std::uint64_t resumes_ = 0;
    std::uint32_t owner_ = 0;  // pCPU 0 until set_owner (a test's executor, on its one thread)
    Kick kick_ = nullptr;
    SpinLock inbox_lock_;
    std::atomic<RunNode*> inbox_head_{nullptr};
    RunNode* inbox_tail_ = nullptr;  // under inbox_lock_
    std::atomic<std::uint64_t> remote_posts_{0};
};

}  // namespace corvisor
