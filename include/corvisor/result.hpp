// Result<T>: a value or an Error, for everything a guest or a config can get wrong.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace corvisor {

/// Why an operation failed. Stable names: they appear in console messages and tests.
enum class Error : std::uint8_t {
    kInvalidArgument,
    kOutOfMemory,
    kOverlap,
    kNotFound,
    kNotAligned,
    kOutOfRange,
    kUnsupported,
    kMalformed,
    kExists,
    kDenied,
};

/// A short lower-case name for `e` ("overlap", "out of memory", ...).
constexpr const char* to_string(Error e) {
    switch (e) {
        case Error::kInvalidArgument:
            return "invalid argument";
        case Error::kOutOfMemory:
            return "out of memory";
        case Error::kOverlap:
            return "overlap";
        case Error::kNotFound:
            return "not found";
        case Error::kNotAligned:
            return "not aligned";
        case Error::kOutOfRange:
            return "out of range";
        case Error::kUnsupported:
            return "unsupported";
        case Error::kMalformed:
            return "malformed";
        case Error::kExists:
            return "exists";
        case Error::kDenied:
            return "denied";
    }
    return "unknown error";
}

/// A value of type T, or an Error. Construct from either; test with `ok()` or `operator bool`.
template <class T>
class [[nodiscard]] Result {
public:
    Result(Error e) : ok_(false), error_(e) {}  // NOLINT(google-explicit-constructor)
    // NOLINTBEGIN(bugprone-forwarding-reference-overload): the requires-clause keeps Result and
    // Error out, so the copy and move constructors are not hidden (clang-tidy 14 reads only
    // enable_if).
    template <class U = T>
    requires std::is_constructible_v<T, U&&> &&
        (!std::is_same_v<std::decay_t<U>, Error>)&&(!std::is_same_v<std::decay_t<U>, Result>)
            Result(U&& v)
        : ok_(true) {  // NOLINT(google-explicit-constructor)
        new (&value_) T(std::forward<U>(v));
    }
    // NOLINTEND(bugprone-forwarding-reference-overload)
    Result(const Result& o) : ok_(o.ok_) {
        if (ok_) {
            new (&value_) T(o.value_);
        } else {
            error_ = o.error_;
        }
    }
    Result(Result&& o) noexcept : ok_(o.ok_) {
        if (ok_) {
            new (&value_) T(std::move(o.value_));
        } else {
            error_ = o.error_;
        }
    }
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result() {
        if (ok_) {
            value_.~T();
        }
    }

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    Error error() const { return error_; }
    T& value() & { return value_; }
    const T& value() const& { return value_; }
    T&& value() && { return std::move(value_); }
    T* operator->() { return &value_; }
    const T* operator->() const { return &value_; }
    T& operator*() { return value_; }

private:
    bool ok_;
    union {
        Error error_;
        T value_;
    };
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : ok_(false), error_(e) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    Error error() const { return error_; }
    void value() const {}

private:
    bool ok_ = true;
    Error error_ = Error::kInvalidArgument;
};

using Status = Result<void>;

}  // namespace corvisor

/// Evaluate a Result; on error, return the error from the enclosing function; else yield the value.
/// (A GNU statement expression: not usable inside coroutines, which cannot `return`.)
#define CV_TRY(expr)                  \
    ({                                \
        auto&& cv_try_r_ = (expr);    \
        if (!cv_try_r_.ok()) {        \
            return cv_try_r_.error(); \
        }                             \
        std::move(cv_try_r_).value(); \
    })
