// DeviceNode's typed property getters and StringList: the device API's view of a guest-list
// node. No allocation, no exceptions (EL2 code; the device test kit links it too).
#include <cstring>

#include "corvisor/device.hpp"
#include "vdev/bounded_text.hpp"

namespace corvisor {

namespace {

/// A NodeProblem's reason, written afresh.
class Reason {
public:
    explicit Reason(NodeProblem* p)
        : p_(p), text_(p != nullptr ? p->text : nullptr, p != nullptr ? sizeof p->text : 0) {
        text_.add("");
        sync();
    }
    Reason& add(std::string_view s) {
        text_.add(s);
        sync();
        return *this;
    }
    Reason& dec(std::uint64_t v) {
        text_.dec(v);
        sync();
        return *this;
    }
    Reason& property(const char* name) {
        return add("property \"").add(name != nullptr ? std::string_view(name) : "?").add("\"");
    }

private:
    void sync() {
        if (p_ != nullptr) {
            p_->length = text_.length();
        }
    }
    NodeProblem* p_;
    BoundedText text_;
};

std::uint32_t be32(const std::byte* p) {
    return std::uint32_t{static_cast<std::uint8_t>(p[0])} << 24 |
           std::uint32_t{static_cast<std::uint8_t>(p[1])} << 16 |
           std::uint32_t{static_cast<std::uint8_t>(p[2])} << 8 |
           std::uint32_t{static_cast<std::uint8_t>(p[3])};
}

/// The property's bytes, or nullopt-like {nullptr, 0} with `present` false.
struct Raw {
    const std::byte* data = nullptr;
    std::size_t size = 0;
    bool present = false;
};

Raw raw(const DeviceNode& node, const char* name) {
    if (node.get_property == nullptr || name == nullptr) {
        return {};
    }
    int len = 0;
    const void* p = node.get_property(node.cookie, name, &len);
    if (p == nullptr || len < 0) {
        return {};
    }
    return {static_cast<const std::byte*>(p), static_cast<std::size_t>(len), true};
}

Error missing(const DeviceNode& node, const char* name) {
    Reason(node.problem).property(name).add(": missing");
    return Error::kNotFound;
}

Error wrong_size(const DeviceNode& node, const char* name, std::string_view expected,
                 std::size_t got) {
    Reason(node.problem)
        .property(name)
        .add(": expected ")
        .add(expected)
        .add(", got ")
        .dec(got)
        .add(got == 1 ? " byte" : " bytes");
    return Error::kMalformed;
}

bool is_string_list(const Raw& r) {
    if (r.size == 0 || r.data[r.size - 1] != std::byte{0}) {
        return false;
    }
    // No empty string inside ("a\0\0b\0").
    for (std::size_t i = 0; i + 1 < r.size; ++i) {
        if (r.data[i] == std::byte{0} && (i == 0 || r.data[i - 1] == std::byte{0})) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::size_t StringList::size() const {
    std::size_t n = 0;
    for (auto it = begin(); it != end(); ++it) {
        ++n;
    }
    return n;
}

bool StringList::contains(std::string_view s) const {
    for (std::string_view x : *this) {
        if (x == s) {
            return true;
        }
    }
    return false;
}

bool DeviceNode::has(const char* name) const {
    return raw(*this, name).present;
}

Result<std::span<const std::byte>> DeviceNode::bytes(const char* name) const {
    const Raw r = raw(*this, name);
    if (!r.present) {
        return missing(*this, name);
    }
    return std::span<const std::byte>(r.data, r.size);
}

Result<std::uint32_t> DeviceNode::u32(const char* name) const {
    const Raw r = raw(*this, name);
    if (!r.present) {
        return missing(*this, name);
    }
    if (r.size != 4) {
        return wrong_size(*this, name, "one 32-bit cell (4 bytes)", r.size);
    }
    return be32(r.data);
}

Result<std::uint32_t> DeviceNode::u32(const char* name, std::uint32_t fallback) const {
    if (!has(name)) {
        return fallback;
    }
    return u32(name);
}

Result<std::uint64_t> DeviceNode::u64(const char* name) const {
    const Raw r = raw(*this, name);
    if (!r.present) {
        return missing(*this, name);
    }
    if (r.size == 4) {
        return std::uint64_t{be32(r.data)};
    }
    if (r.size == 8) {
        return std::uint64_t{be32(r.data)} << 32 | be32(r.data + 4);
    }
    return wrong_size(*this, name, "one or two 32-bit cells (4 or 8 bytes)", r.size);
}

Result<std::uint64_t> DeviceNode::u64(const char* name, std::uint64_t fallback) const {
    if (!has(name)) {
        return fallback;
    }
    return u64(name);
}

Result<std::string_view> DeviceNode::string(const char* name) const {
    const Raw r = raw(*this, name);
    if (!r.present) {
        return missing(*this, name);
    }
    const auto* chars = reinterpret_cast<const char*>(r.data);
    if (r.size == 0 || chars[r.size - 1] != '\0' ||
        std::memchr(chars, '\0', r.size - 1) != nullptr) {
        Reason(problem).property(name).add(": expected one NUL-terminated string");
        return Error::kMalformed;
    }
    return std::string_view(chars, r.size - 1);
}

Result<std::string_view> DeviceNode::string(const char* name, std::string_view fallback) const {
    if (!has(name)) {
        return fallback;
    }
    return string(name);
}

Result<StringList> DeviceNode::strings(const char* name) const {
    const Raw r = raw(*this, name);
    if (!r.present) {
        return missing(*this, name);
    }
    if (!is_string_list(r)) {
        Reason(problem).property(name).add(": expected a list of non-empty NUL-terminated strings");
        return Error::kMalformed;
    }
    return StringList(std::string_view(reinterpret_cast<const char*>(r.data), r.size));
}

Error DeviceNode::fail(const char* property, std::string_view reason) const {
    Reason why(problem);
    if (property != nullptr && property[0] != '\0') {
        why.property(property).add(": ");
    }
    why.add(reason);
    return Error::kInvalidArgument;
}

}  // namespace corvisor
