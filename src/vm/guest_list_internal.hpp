// What the parts of the guest-list parser share (guest_list.cpp, guest_list_decode.cpp,
// guest_properties.cpp, guest_devices.cpp): the decoded-property view, the error record and the
// per-guest context. Not for use outside src/vm/guest_*.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "vm/guest_config.hpp"
#include "vm/guest_list.hpp"

namespace corvisor::guest_list {

using Path = FixedText<160>;

constexpr std::uint32_t kCellBytes = 4;
constexpr std::uint32_t kRegCells = 4;  // 2 address + 2 size cells, always

// What is wrong and where; filled by the first check that fails.
struct Problem {
    Path node;
    std::string_view property;  // a literal or a property name inside the DTB
    Reason reason;

    Reason& at(const Path& where, std::string_view prop) {
        if (&where != &node) {
            node.clear();
            node.add(where.view());
        }
        property = prop;
        reason.clear();
        return reason;
    }
};

struct Prop {
    const unsigned char* data = nullptr;
    std::uint32_t len = 0;

    std::uint32_t cell(std::uint32_t i) const {
        const unsigned char* p = data + std::size_t{i} * kCellBytes;
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }
    std::uint64_t cell64(std::uint32_t i) const {
        return (std::uint64_t{cell(i)} << 32) | cell(i + 1);
    }
    std::string_view bytes() const { return {reinterpret_cast<const char*>(data), len}; }
};

// ---- property decoding (guest_list_decode.cpp) ----

// A property that holds exactly one string: NUL-terminated, no NUL inside.
std::optional<std::string_view> one_string(Prop p);

// The first entry of a string list (whose last byte the caller checked is NUL) that `pred`
// accepts, or nullptr. The entry is NUL-terminated inside the property.
template <class Pred>
const char* find_string(Prop p, Pred pred) {
    std::uint32_t pos = 0;
    while (pos < p.len) {
        std::uint32_t n = 0;
        while (pos + n < p.len && p.data[pos + n] != 0) {
            ++n;
        }
        const auto* s = reinterpret_cast<const char*>(p.data + pos);
        if (pred(std::string_view(s, n))) {
            return s;
        }
        pos += n + 1;
    }
    return nullptr;
}

bool is_string_list(Prop p);

// Why `s` is no valid guest name, or nullptr.
const char* name_problem(std::string_view s);

template <std::size_t N>
void copy_name(std::array<char, N>& to, std::string_view from) {
    std::size_t i = 0;
    for (; i < from.size() && i + 1 < N; ++i) {
        to[i] = from[i];
    }
    to[i] = '\0';
}

bool ranges_overlap(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size);

// [base, base + size) inside the guest-physical address space, without wrapping.
bool fits_ipa(std::uint64_t base, std::uint64_t size, std::uint32_t ipa_bits);

// nullopt: absent; a Prop with data nullptr: unreadable (reported by the caller).
std::optional<Prop> get_property(const void* fdt, int node, const char* name, int* error);

// ---- one guest node ----

struct GuestContext {
    const void* fdt;
    int node;
    const Path& path;
    const GuestListLimits& limits;
    GuestConfig& guest;
    Problem& problem;
    std::string_view property = {};  // the one being parsed

    Reason& fail() { return problem.at(path, property); }

    bool check_cells(Prop p, std::uint32_t n) {
        if (p.len % kCellBytes != 0) {
            fail().add("length ").dec(p.len).add(" is not a whole number of cells");
            return false;
        }
        if (p.len / kCellBytes != n) {
            fail().add("expected ").dec(n).add(" cells, got ").dec(p.len / kCellBytes);
            return false;
        }
        return true;
    }
};

/// The image a `<base size>` property (its four cells, already checked) names in host memory:
/// `kernel-addr`, `initrd-addr`, `flash-addr` and a device's `corvisor,image-addr`. Checked
/// through limits.host_memory (data stays null without the hook: recorded, never read); on a
/// refusal, `fail()` is where to say why.
template <class Fail>
std::optional<ImageRef> host_image_range(const GuestListLimits& limits, Prop p, Fail fail) {
    const std::uint64_t base = p.cell64(0);
    const std::uint64_t size = p.cell64(2);
    if (size == 0) {
        fail().add("size is 0");
        return std::nullopt;
    }
    if (base > std::numeric_limits<std::uint64_t>::max() - size) {
        fail().add("range wraps around the address space");
        return std::nullopt;
    }
    const void* data = nullptr;
    if (limits.host_memory != nullptr) {
        data = limits.host_memory(base, size);
        if (data == nullptr) {
            fail()
                .add("host range ")
                .hex(base)
                .add("..")
                .hex(base + size)
                .add(" is not memory a guest image may come from");
            return std::nullopt;
        }
    }
    return ImageRef{data, size, base};
}

// guest_properties.cpp: the node's compatible, then that it has no unknown property, then each
// property in turn.
bool parse_guest_properties(GuestContext& c);

// guest_devices.cpp: the guest node's children.
Path device_path(const Path& guest_path, std::string_view device_name);
bool parse_guest_devices(GuestContext& c);

}  // namespace corvisor::guest_list
