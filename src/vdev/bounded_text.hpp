// A bounded, NUL-terminated text over a caller's buffer, for messages built on EL2 (no
// allocation, no exceptions): the registry's refusals, DeviceNode's reasons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace corvisor {

class BoundedText {
public:
    /// Appends to `out[0..size)` from `length` on (what is there already is kept).
    BoundedText(char* out, std::size_t size, std::size_t length = 0)
        : out_(out), size_(size), len_(length) {}
    BoundedText& add(std::string_view s) {
        for (char c : s) {
            if (out_ != nullptr && len_ + 1 < size_) {
                out_[len_++] = c;
            }
        }
        if (out_ != nullptr && size_ > 0) {
            out_[len_] = '\0';
        }
        return *this;
    }
    BoundedText& dec(std::uint64_t v) {
        char digits[20];
        std::size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0 && n < sizeof digits);
        while (n > 0) {
            add(std::string_view(&digits[--n], 1));
        }
        return *this;
    }
    std::size_t length() const { return len_; }

private:
    char* out_;
    std::size_t size_;
    std::size_t len_;
};

}  // namespace corvisor
