// Task<T>: the lazily started coroutine type of corvisor, with frames from the pCPU's pool.
#pragma once

#include <coroutine>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "corvisor/frame_pool.hpp"

namespace corvisor {

namespace detail {

/// Never defined: a call that survives optimization is a frame too large for a pool block.
[[gnu::error(
    "a coroutine frame is larger than corvisor::kMaxFrameSize (frame_pool.hpp); keep "
    "less state across co_await, or put it in the device")]] void
coroutine_frame_exceeds_kMaxFrameSize();

struct PromiseBase {
    std::coroutine_handle<> continuation_;

    static void* operator new(std::size_t n) noexcept {
#if defined(__OPTIMIZE__)
        // An optimized build knows each frame's size here: one too large for a pool block is a
        // compile error, not an empty Task at run time.
        if (__builtin_constant_p(n) && n > kMaxFrameSize) {
            coroutine_frame_exceeds_kMaxFrameSize();
        }
#endif
        return allocate_frame(n);
    }
    static void operator delete(void* p, std::size_t) noexcept {
        free_frame(p);
    }

    std::suspend_always initial_suspend() noexcept {
        return {};
    }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            // Symmetric transfer back to whoever awaited us; a detached task returns to its
            // executor.
            auto c = h.promise().continuation_;
            return c ? c : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() noexcept {
        return {};
    }
    void unhandled_exception() noexcept {
        __builtin_trap();
    }
};

/// Where a Task<T>'s result waits for its awaiter: constructed in place by co_return, destroyed
/// with the frame. Task<void> has none.
template <class T>
struct ResultSlot {
    alignas(T) unsigned char storage_[sizeof(T)];
    bool has_value_ = false;

    template <class U>
    void return_value(U&& v) {
        new (storage_) T(std::forward<U>(v));
        has_value_ = true;
    }
    T& value() { return *std::launder(reinterpret_cast<T*>(storage_)); }
    ~ResultSlot() {
        if (has_value_) {
            value().~T();
        }
    }
};
template <>
struct ResultSlot<void> {
    void return_void() noexcept {}
};

}  // namespace detail

/// A coroutine returning T (or nothing). Starts when awaited (or when an executor resumes its
/// handle). A Task whose frame could not be allocated is empty: check `valid()` before awaiting.
template <class T = void>
class [[nodiscard]] Task {
public:
    struct promise_type : detail::PromiseBase, detail::ResultSlot<T> {
        Task get_return_object() noexcept {
            return Task{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        static Task get_return_object_on_allocation_failure() noexcept { return Task{}; }
    };

    Task() = default;
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~Task() { reset(); }

    bool valid() const { return static_cast<bool>(h_); }
    bool done() const { return h_ && h_.done(); }
    std::coroutine_handle<promise_type> handle() const { return h_; }
    void reset() {
        if (h_) {
            h_.destroy();
            h_ = {};
        }
    }
    /// Give up ownership of the frame: its address, for `adopt` (trivially copyable carriers).
    void* release() { return std::exchange(h_, {}).address(); }
    /// Own the frame `release` gave up.
    static Task adopt(void* address) {
        return Task{std::coroutine_handle<promise_type>::from_address(address)};
    }

    auto operator co_await() noexcept {
        struct Awaiter {
            std::coroutine_handle<promise_type> h;
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept {
                h.promise().continuation_ = c;
                return h;
            }
            T await_resume() {
                if constexpr (!std::is_void_v<T>) {
                    return std::move(h.promise().value());
                }
            }
        };
        return Awaiter{h_};
    }

private:
    explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
    std::coroutine_handle<promise_type> h_;
};

}  // namespace corvisor
