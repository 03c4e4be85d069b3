// Shared pieces of the stage 2 table code (stage2.cpp, stage2_unmap.cpp): levels of the
// 4 KiB granule and how descriptors are written. Not part of the mm interface.
#pragma once

#include <cstdint>

#include "mm/stage2_desc.hpp"

namespace corvisor::stage2_detail {

constexpr std::uint64_t kPageSize = 4096;
constexpr std::uint64_t kPageMask = kPageSize - 1;
constexpr std::uint64_t kEntriesPerTable = 512;
constexpr unsigned kLastLevel = 3;
// Output addresses are [47:12] without FEAT_LPA; pa_range_bits() caps at 48 to match.
constexpr std::uint64_t kOutputLimit = std::uint64_t{1} << 48;

// Lowest IPA bit resolved at `level`: 39, 30, 21, 12.
constexpr unsigned level_shift(unsigned level) {
    return 39 - 9 * level;
}
constexpr std::uint64_t level_span(unsigned level) {
    return std::uint64_t{1} << level_shift(level);
}

// 4 KiB granule: blocks exist at levels 1 (1 GiB) and 2 (2 MiB) only, pages at level 3
// (Arm ARM D8.3; a level 0 block needs FEAT_LPA2).
constexpr bool leaf_allowed(unsigned level) {
    return level >= 1;
}

inline std::uint64_t read_entry(const std::uint64_t* e) {
    return __atomic_load_n(e, __ATOMIC_RELAXED);
}

// A table walker may read a descriptor at any time, so each is written with one single-copy
// atomic 64-bit store (a plain `str`, but the compiler may not split it).
// NOLINTNEXTLINE(readability-non-const-parameter): *e is written, by __atomic_store_n.
inline void write_leaf(std::uint64_t* e, std::uint64_t desc) {
    __atomic_store_n(e, desc, __ATOMIC_RELAXED);
}

// Release: the zeroed or filled table must be observable before the descriptor that points to
// it (KVM publishes table descriptors the same way).
// NOLINTNEXTLINE(readability-non-const-parameter): *e is written, by __atomic_store_n.
inline void write_table(std::uint64_t* e, std::uint64_t table_pa) {
    const auto desc =
        Stage2Descriptor{}.set_valid(true).set_table_or_page(true).set_address(table_pa);
    __atomic_store_n(e, desc.value(), __ATOMIC_RELEASE);
}

inline std::uint64_t leaf_descriptor(std::uint64_t pa, unsigned level, std::uint64_t attrs) {
    return Stage2Descriptor{attrs}
        .set_valid(true)
        .set_table_or_page(level == kLastLevel)
        .set_address(pa)
        .value();
}

// The part of [ipa, ipa + size) inside the level-`level` entry that holds ipa.
inline std::uint64_t chunk_size(unsigned level, std::uint64_t ipa, std::uint64_t size) {
    const std::uint64_t span = level_span(level);
    const std::uint64_t to_entry_end = span - (ipa & (span - 1));
    return size < to_entry_end ? size : to_entry_end;
}

}  // namespace corvisor::stage2_detail
