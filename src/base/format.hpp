// A small, type-safe "{}" formatter for the hypervisor console. fmt itself cannot be used on the
// trap path: it does not compile with -mgeneral-regs-only (docs/platform.md), and guest FP/SIMD
// state lives in those registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace corvisor {

/// Print as 0x-prefixed hexadecimal.
struct Hex {
    std::uint64_t value;
};
constexpr Hex hex(std::uint64_t v) {
    return Hex{v};
}

class FormatArg {
public:
    enum class Kind : std::uint8_t { kSigned, kUnsigned, kHex, kString, kBool };
    template <class T>
    requires std::is_integral_v<T>
    constexpr FormatArg(T v) {  // NOLINT(google-explicit-constructor)
        if constexpr (std::is_same_v<T, bool>) {
            kind_ = Kind::kBool;
            u_ = v ? 1 : 0;
        } else if constexpr (std::is_signed_v<T>) {
            kind_ = Kind::kSigned;
            s_ = v;
        } else {
            kind_ = Kind::kUnsigned;
            u_ = v;
        }
    }
    template <class E>
    requires std::is_enum_v<E>
    constexpr FormatArg(E v)  // NOLINT(google-explicit-constructor)
        : FormatArg(static_cast<std::underlying_type_t<E>>(v)) {}
    constexpr FormatArg(Hex h) : kind_(Kind::kHex), u_(h.value) {}              // NOLINT
    constexpr FormatArg(std::string_view s) : kind_(Kind::kString), str_(s) {}  // NOLINT
    constexpr FormatArg(const char* s)  // NOLINT(google-explicit-constructor)
        : kind_(Kind::kString), str_(s != nullptr ? std::string_view(s) : "(null)") {}

    Kind kind() const { return kind_; }
    std::int64_t as_signed() const { return s_; }
    std::uint64_t as_unsigned() const { return u_; }
    std::string_view as_string() const { return str_; }

private:
    Kind kind_;
    union {
        std::int64_t s_;
        std::uint64_t u_ = 0;
    };
    std::string_view str_;
};

/// A fixed buffer that formatting appends to; silently truncates (messages must never fault).
class FormatBuffer {
public:
    FormatBuffer(char* data, std::size_t capacity) : data_(data), capacity_(capacity) {}
    void put(char c) {
        if (size_ < capacity_) {
            data_[size_++] = c;
        }
    }
    void put(std::string_view s) {
        for (char c : s) {
            put(c);
        }
    }
    std::string_view view() const { return {data_, size_}; }
    std::size_t size() const { return size_; }
    void clear() { size_ = 0; }

private:
    char* data_;
    std::size_t capacity_;
    std::size_t size_ = 0;
};

/// Replace each "{}" in `fmt` by the next argument; "{{" and "}}" are literal braces. Surplus
/// placeholders print "{?}", surplus arguments are ignored.
void vformat(FormatBuffer& out, std::string_view fmt, const FormatArg* args, std::size_t count);

template <class... Args>
void format_to(FormatBuffer& out, std::string_view fmt, const Args&... args) {
    if constexpr (sizeof...(Args) == 0) {
        vformat(out, fmt, nullptr, 0);
    } else {
        const FormatArg list[] = {FormatArg(args)...};
        vformat(out, fmt, list, sizeof...(Args));
    }
}

}  // namespace corvisor
