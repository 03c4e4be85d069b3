// A fuzzer's input read as a stream of small fields (what a libFuzzer target turns its bytes
// into); reads past the end give zeros, so every input is a valid program of operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "vm/guest_list.hpp"

namespace corvisor::fuzz {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool empty() const { return pos_ >= size_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
    std::uint32_t u32() { return u16() | (static_cast<std::uint32_t>(u16()) << 16); }
    std::uint64_t u64() { return u32() | (static_cast<std::uint64_t>(u32()) << 32); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

/// A broken invariant: abort, so that libFuzzer records the input as a crash.
[[noreturn]] inline void fail() {
    __builtin_trap();
}

/// The fuzzed bytes as a boot DTB (copied 8-byte aligned, as libfdt wants), parsed into `out`
/// as the boot does (4 pCPUs, diagnostics dropped); `blob` keeps the copy for later readers.
inline std::uint32_t parse_boot_dtb(const std::uint8_t* data, std::size_t size,
                                    std::vector<std::uint64_t>& blob, std::span<GuestConfig> out) {
    class NullDiagnostics final : public Diagnostics {
    public:
        void report(std::string_view, std::string_view, std::string_view) override {}
    };
    blob.assign((size + 7) / 8 + 1, 0);
    std::memcpy(blob.data(), data, size);
    NullDiagnostics diag;
    GuestListLimits limits;
    limits.pcpus = 4;
    return parse_guest_list(blob.data(), size, out, diag, limits);
}

}  // namespace corvisor::fuzz
