// Typed register values: a register, a syndrome or a descriptor is a class holding its raw 64-bit
// value, with a named getter and setter per field (Zircon's hwreg style). Every bit position the
// project uses is written once, in the class that names it; code outside reads `hcr.twi()` and
// writes `hcr.set_twi(true)`, never masks and shifts.
#pragma once

#include <cstdint>

namespace corvisor {

/// Bits [Hi:Lo] of a 64-bit value.
template <unsigned Hi, unsigned Lo>
struct BitField {
    static_assert(Lo <= Hi && Hi < 64);
    static constexpr std::uint64_t kMask = (~std::uint64_t{0} >> (63 - (Hi - Lo))) << Lo;
    static constexpr std::uint64_t get(std::uint64_t reg) { return (reg & kMask) >> Lo; }
    static constexpr std::uint64_t set(std::uint64_t reg, std::uint64_t v) {
        return (reg & ~kMask) | ((v << Lo) & kMask);
    }
};

}  // namespace corvisor

// The value part of a typed register class `name` of `storage` width (32 bits for syndromes,
// which keeps the trap path's bit tests single instructions), reset to `reset`: constructors,
// value(), comparison. The fields follow as CV_FIELD / CV_BIT / CV_FIELD_AS. A macro rather than
// a base class: GCC 12 forwards a stored value to the next read of the same register only for a
// plain one-member class (with a base class, direct injection paid a reload, measured with
// tools/trace_trap.sh).
#define CV_REGISTER(name, storage, reset)                     \
public:                                                       \
    using storage_type = storage;                             \
    static constexpr storage kReset = (reset);                \
    constexpr name() = default;                               \
    constexpr explicit name(storage value) : value_(value) {} \
    constexpr storage value() const {                         \
        return value_;                                        \
    }                                                         \
    constexpr bool operator==(const name&) const = default;   \
                                                              \
private:                                                      \
    storage value_ = kReset;                                  \
                                                              \
public:

// `name()` reads bits [hi:lo]; `set_name(v)` writes them and returns the value for chaining.
#define CV_FIELD(hi, lo, name)                                   \
    constexpr std::uint64_t name() const {                       \
        return ::corvisor::BitField<hi, lo>::get(this->value_);  \
    }                                                            \
    constexpr auto& set_##name(std::uint64_t v) {                \
        this->value_ = static_cast<decltype(this->value_)>(      \
            ::corvisor::BitField<hi, lo>::set(this->value_, v)); \
        return *this;                                            \
    }
// The same, read and written as type T (an unsigned type or an enum the field holds whole).
#define CV_FIELD_AS(hi, lo, name, T)                                                         \
    constexpr T name() const {                                                               \
        return static_cast<T>(::corvisor::BitField<hi, lo>::get(this->value_));              \
    }                                                                                        \
    constexpr auto& set_##name(T v) {                                                        \
        this->value_ = static_cast<decltype(this->value_)>(                                  \
            ::corvisor::BitField<hi, lo>::set(this->value_, static_cast<std::uint64_t>(v))); \
        return *this;                                                                        \
    }
// A one-bit field as a bool.
#define CV_BIT(bit, name)                                                  \
    constexpr bool name() const {                                          \
        return static_cast<bool>((this->value_ >> (bit)) & 1u);            \
    }                                                                      \
    constexpr auto& set_##name(bool v) {                                   \
        this->value_ = static_cast<decltype(this->value_)>(                \
            ::corvisor::BitField<bit, bit>::set(this->value_, v ? 1 : 0)); \
        return *this;                                                      \
    }
