// The per-pCPU executor: a FIFO run queue of coroutine handles with intrusive links.
#pragma once

#include <coroutine>
#include <cstdint>

namespace corvisor {

/// A queue link embedded in whatever waits (an awaiter, a vCPU): posting never allocates.
struct RunNode {
    RunNode* next = nullptr;
    std::coroutine_handle<> handle;
    bool queued = false;
};

/// One per pCPU. Resumption is always posted here and run from `run_one`, never inline from an
/// interrupt handler or another pCPU (docs/architecture.md, "The trap path", step 4). Not yet
/// SMP-safe: the SMP issue adds a locked inbox for posts from other pCPUs.
class Executor {
public:
    /// Queue `node` (whose `handle` is set) to run. Posting a node that is queued already is a
    /// no-op, so a double wake-up cannot corrupt the queue.
    void post(RunNode& node) noexcept;

    /// Resume the first queued coroutine. False if the queue was empty.
    bool run_one();

    /// Run until the queue is empty.
    void run_until_idle();

    bool idle() const { return head_ == nullptr; }

    /// Called once, by the post that makes this idle executor non-idle, while it is set (then it
    /// is cleared). The vCPU run loop sets it while it runs unsliced, so that the moment another
    /// coroutine becomes ready (CPU_ON, an interrupt for a vCPU in WFI, a device completion)
    /// the running vCPU gets a time slice and cannot strand it.
    using ReadyHook = void (*)();
    void set_ready_hook(ReadyHook hook) noexcept { ready_hook_ = hook; }
    bool has_ready_hook() const { return ready_hook_ != nullptr; }

    /// Coroutines resumed so far: a suspension shows up as one more resume.
    std::uint64_t resumes() const { return resumes_; }

    /// `co_await executor.yield()`: requeue the caller behind everything ready now.
    auto yield() noexcept {
        struct Awaiter {
            Executor* ex;
            RunNode node;
            bool await_ready() const noexcept { return ex->idle(); }
            void await_suspend(std::coroutine_handle<> h) noexcept {
                node.handle = h;
                ex->post(node);
            }
            void await_resume() const noexcept {}
        };
        return Awaiter{this, {}};
    }

private:
    RunNode* head_ = nullptr;
    RunNode* tail_ = nullptr;
    ReadyHook ready_hook_ = nullptr;
    std::uint64_t resumes_ = 0;
};

/// The executor of the pCPU that is running (per-pCPU data on EL2; settable on the host).
Executor& current_executor() noexcept;

/// A one-shot event a coroutine can wait on; `set` posts the waiter to the executor it waited
/// on (its own pCPU's). Setting before the wait makes the wait complete at once (no lost wake-up).
class Event {
public:
    void set() noexcept {
        if (set_) {
            return;
        }
        set_ = true;
        if (waiter_ != nullptr) {
            Waiter* w = waiter_;
            waiter_ = nullptr;
            w->executor->post(w->node);
        }
    }
    void reset() noexcept { set_ = false; }
    bool is_set() const { return set_; }

    struct Waiter {
        Event* event;
        Executor* executor;
        RunNode node;
        bool await_ready() const noexcept { return event->set_; }
        void await_suspend(std::coroutine_handle<> h) noexcept {
            node.handle = h;
            event->waiter_ = this;
        }
        void await_resume() const noexcept {}
    };
    /// Wait on the calling pCPU's executor.
    Waiter wait() noexcept { return Waiter{this, &current_executor(), {}}; }
    Waiter wait(Executor& ex) noexcept { return Waiter{this, &ex, {}}; }

private:
    bool set_ = false;
    Waiter* waiter_ = nullptr;
};

}  // namespace corvisor
