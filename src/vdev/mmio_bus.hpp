// MmioBus: one guest's map from guest-physical addresses to device regions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "corvisor/device.hpp"
#include "corvisor/result.hpp"

namespace corvisor {

/// A fixed-capacity table of non-overlapping device regions kept sorted by base, so that a trapped
/// access is resolved by binary search with no allocation (docs/architecture.md: no heap on the
/// trap path). Not synchronized: the VM builds it before its vCPUs run and only reads it
/// afterwards.
class MmioBus {
public:
    static constexpr std::size_t kCapacity = 32;

    /// Map [base, base + size) to `region` of `dev`. kInvalidArgument for an empty or wrapping
    /// range, kOverlap if it intersects an existing entry, kOutOfMemory when the table is full.
    Status add(std::uint64_t base, std::uint64_t size, Device& dev, std::uint32_t region);

    /// Reset every device on the bus once, however many regions it has (guest SYSTEM_RESET).
    void reset_all();

    std::size_t entry_count() const { return count_; }

    struct Entry {
        std::uint64_t base;
        std::uint64_t last;  // inclusive, so a region may end at the top of the address space
        Device* device;
        std::uint32_t region;
        std::uint32_t index;  ///< position in the table (for per-device accounting)
    };

    const Entry& entry(std::size_t i) const { return entries_[i]; }

    /// The entry holding all of [ipa, ipa + size), or nullptr (unmapped, or straddling an end).
    /// A guest hammers one register at a time, so the caller's own last hit (one per vCPU: no
    /// shared mutable state) is tried before the search.
    const Entry* lookup(std::uint64_t ipa, std::uint8_t size, const Entry*& hint) const {
        const Entry* e = hint;
        std::uint64_t end = ipa + (size - 1u);
        if (e != nullptr && ipa >= e->base && end <= e->last && end >= ipa) {
            return e;
        }
        e = search(ipa, size);
        if (e != nullptr) {
            hint = e;
        }
        return e;
    }

private:
    const Entry* search(std::uint64_t ipa, std::uint8_t size) const;

    // Index of the first entry whose base is greater than `ipa`.
    std::size_t upper_bound(std::uint64_t ipa) const;

    std::array<Entry, kCapacity> entries_{};
    std::size_t count_ = 0;
};

}  // namespace corvisor
