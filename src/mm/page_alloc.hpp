// PageAllocator: the hypervisor's physical memory, handed out in contiguous runs of 4 KiB pages.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "corvisor/result.hpp"

namespace corvisor {

/// Free physical memory as a sorted array of disjoint, non-adjacent page ranges. Fixed capacity
/// and no heap, so it can run before anything else exists at EL2. Not thread-safe: callers on
/// several pCPUs hold a lock around it.
class PageAllocator {
public:
    static constexpr std::uint64_t kPageSize = 4096;
    static constexpr std::size_t kMaxRanges = 64;

    /// Add [base, base+size), shrunk inward to whole pages, to the free memory. Touching an
    /// existing range merges with it. kOverlap if it overlaps free memory; kOutOfMemory if the
    /// range table is full; kOutOfRange if base+size wraps.
    Status add_range(std::uint64_t base, std::uint64_t size);

    /// Take [base, base+size), grown outward to whole pages, out of the free memory (the
    /// hypervisor image, the DTB, loaded images). Parts outside free memory are ignored.
    /// kOutOfMemory if splitting a range needs a slot the table does not have (nothing changes).
    Status reserve(std::uint64_t base, std::uint64_t size);

    /// The lowest `align`-aligned address with `size` (rounded up to pages) free bytes, which
    /// become used. `align` is a power of two >= kPageSize, else kInvalidArgument; size 0 is
    /// kInvalidArgument; kOutOfMemory when no free range fits.
    Result<std::uint64_t> alloc(std::uint64_t size, std::uint64_t align);

    /// Return a block from alloc() (same base and size), merging it with free neighbours.
    /// Freeing memory that is already free is a hypervisor bug and is ignored. If the block
    /// merges with no neighbour while the range table is full it is leaked, see lost_bytes().
    void free(std::uint64_t base, std::uint64_t size);

    /// Total free bytes.
    std::uint64_t free_bytes() const;

    /// Number of disjoint free ranges (how fragmented the memory is).
    std::size_t range_count() const { return count_; }

    /// Bytes leaked by free() because the range table was full.
    std::uint64_t lost_bytes() const { return lost_bytes_; }

private:
    // [begin, end), both page aligned, begin < end.
    struct Range {
        std::uint64_t begin;
        std::uint64_t end;
    };

    // Index of the first range whose begin is >= addr (count_ if none).
    std::size_t lower_bound(std::uint64_t addr) const;
    // Add free [begin, end), merging with neighbours: kOverlap, kOutOfMemory (table full) or ok.
    Status insert_free(std::uint64_t begin, std::uint64_t end);
    void insert_at(std::size_t i, Range r);
    void erase_at(std::size_t i);

    std::array<Range, kMaxRanges> ranges_{};
    std::size_t count_ = 0;
    std::uint64_t lost_bytes_ = 0;
};

}  // namespace corvisor
