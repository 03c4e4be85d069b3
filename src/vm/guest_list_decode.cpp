// Decoding helpers of the guest-list parser: strings and cells of a DTB property, names and
// address ranges.
#include <libfdt.h>

#include <limits>

#include "vm/guest_list_internal.hpp"

namespace corvisor::guest_list {

std::optional<std::string_view> one_string(Prop p) {
    if (p.len == 0 || p.data[p.len - 1] != 0) {
        return std::nullopt;
    }
    const std::string_view s = p.bytes().substr(0, p.len - 1);
    if (s.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    return s;
}

bool is_string_list(Prop p) {
    return p.len != 0 && p.data[p.len - 1] == 0;
}

const char* name_problem(std::string_view s) {
    if (s.empty()) {
        return "is empty";
    }
    if (s.size() > kMaxNameLength) {
        return "is longer than 31 characters";
    }
    for (char ch : s) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok) {
            return "has characters outside [A-Za-z0-9_-]";
        }
    }
    return nullptr;
}

bool ranges_overlap(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size) {
    return a < b + b_size && b < a + a_size;  // no wrap: every range was checked to fit
}

bool fits_ipa(std::uint64_t base, std::uint64_t size, std::uint32_t ipa_bits) {
    const std::uint64_t limit =
        ipa_bits >= 64 ? std::numeric_limits<std::uint64_t>::max() : std::uint64_t{1} << ipa_bits;
    return size <= limit && base <= limit - size;
}

std::optional<Prop> get_property(const void* fdt, int node, const char* name, int* error) {
    int len = 0;
    const void* data = fdt_getprop(fdt, node, name, &len);
    *error = 0;
    if (data == nullptr) {
        if (len == -FDT_ERR_NOTFOUND) {
            return std::nullopt;
        }
        *error = len < 0 ? len : -FDT_ERR_INTERNAL;
        return Prop{};
    }
    if (len < 0) {
        *error = -FDT_ERR_BADSTRUCTURE;
        return Prop{};
    }
    return Prop{static_cast<const unsigned char*>(data), static_cast<std::uint32_t>(len)};
}

}  // namespace corvisor::guest_list
