#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "mm/page_alloc.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kPage = PageAllocator::kPageSize;

}  // namespace

TEST_CASE("PageAllocator add_range shrinks to pages, merges and rejects overlap", "[mm]") {
    PageAllocator a;
    REQUIRE(a.add_range(0x4000'0123, 3 * kPage).ok());  // -> [0x4000_1000, 0x4000_3000)
    CHECK(a.free_bytes() == 2 * kPage);
    REQUIRE(a.add_range(0x1000, 100).ok());  // under a page: nothing
    CHECK(a.free_bytes() == 2 * kPage);

    CHECK(a.add_range(0x4000'2000, kPage).error() == Error::kOverlap);
    CHECK(a.add_range(0x4000'0000, 2 * kPage).error() == Error::kOverlap);
    CHECK(a.add_range(~std::uint64_t{0} - kPage, 2 * kPage).error() == Error::kOutOfRange);

    // Touching on both sides: one range.
    REQUIRE(a.add_range(0x4000'0000, kPage).ok());
    REQUIRE(a.add_range(0x4000'3000, kPage).ok());
    CHECK(a.range_count() == 1);
    CHECK(a.free_bytes() == 4 * kPage);
    CHECK(a.alloc(4 * kPage, kPage).value() == 0x4000'0000);
}

TEST_CASE("PageAllocator capacity is bounded and failures change nothing", "[mm]") {
    PageAllocator a;
    for (std::uint64_t i = 0; i < PageAllocator::kMaxRanges; ++i) {
        REQUIRE(a.add_range(i * 4 * kPage, kPage).ok());
    }
    CHECK(a.add_range(0x1000'0000, kPage).error() == Error::kOutOfMemory);
    // Merging needs no slot.
    REQUIRE(a.add_range(kPage, kPage).ok());
    CHECK(a.range_count() == PageAllocator::kMaxRanges);

    PageAllocator b;
    for (std::uint64_t i = 0; i < PageAllocator::kMaxRanges; ++i) {
        REQUIRE(b.add_range(i * 4 * kPage, 3 * kPage).ok());
    }
    const std::uint64_t before = b.free_bytes();
    CHECK(b.reserve(kPage, kPage).error() == Error::kOutOfMemory);  // would split range 0
    CHECK(b.free_bytes() == before);
    REQUIRE(b.reserve(0, kPage).ok());  // trims, no split
    CHECK(b.free_bytes() == before - kPage);
}

TEST_CASE("PageAllocator alloc aligns and takes the lowest fit", "[mm]") {
    PageAllocator a;
    REQUIRE(a.add_range(0x8000'1000, 64 * kMiB).ok());

    const std::uint64_t p = a.alloc(kPage, kPage).value();
    CHECK(p == 0x8000'1000);
    const std::uint64_t q = a.alloc(10, kPage).value();  // rounded up to one page
    CHECK(q == 0x8000'2000);
    const std::uint64_t big = a.alloc(2 * kMiB, 2 * kMiB).value();
    CHECK(big == 0x8020'0000);
    // The gap below the 2 MiB block is still the lowest fit for small requests.
    CHECK(a.alloc(kPage, kPage).value() == 0x8000'3000);
    const std::uint64_t b64 = a.alloc(kPage, 64 * kKiB).value();
    CHECK(b64 == 0x8001'0000);
    CHECK(a.free_bytes() == 64 * kMiB - 4 * kPage - 2 * kMiB);

    CHECK(a.alloc(0, kPage).error() == Error::kInvalidArgument);
    CHECK(a.alloc(kPage, 2048).error() == Error::kInvalidArgument);
    CHECK(a.alloc(kPage, 3 * kPage).error() == Error::kInvalidArgument);
}

TEST_CASE("PageAllocator free coalesces with both neighbours", "[mm]") {
    PageAllocator a;
    REQUIRE(a.add_range(0x1'0000'0000, 16 * kPage).ok());
    const std::uint64_t x = a.alloc(kPage, kPage).value();
    const std::uint64_t y = a.alloc(kPage, kPage).value();
    const std::uint64_t z = a.alloc(kPage, kPage).value();
    CHECK(a.range_count() == 1);
    a.free(y, kPage);
    CHECK(a.range_count() == 2);
    a.free(x, kPage);
    CHECK(a.range_count() == 2);
    a.free(z, kPage);
    CHECK(a.range_count() == 1);
    CHECK(a.free_bytes() == 16 * kPage);
    // A double free is ignored rather than corrupting the ranges.
    a.free(x, kPage);
    CHECK(a.free_bytes() == 16 * kPage);
    CHECK(a.alloc(16 * kPage, kPage).value() == 0x1'0000'0000);
}

TEST_CASE("PageAllocator reserve splits ranges and ignores what is not free", "[mm]") {
    PageAllocator a;
    REQUIRE(a.add_range(0x4000'0000, 16 * kPage).ok());
    // Rounded outward: pages 4 and 5.
    REQUIRE(a.reserve(0x4000'4800, kPage).ok());
    CHECK(a.range_count() == 2);
    CHECK(a.free_bytes() == 14 * kPage);
    // A 5-page request cannot use pages 0-3, so it lands after the hole.
    CHECK(a.alloc(5 * kPage, kPage).value() == 0x4000'6000);
    CHECK(a.alloc(4 * kPage, kPage).value() == 0x4000'0000);

    PageAllocator b;
    REQUIRE(b.add_range(0x4000'0000, 4 * kPage).ok());
    REQUIRE(b.add_range(0x5000'0000, 4 * kPage).ok());
    // Partly outside, across both ranges: trims the end of one and the start of the other.
    REQUIRE(b.reserve(0x4000'3000, 0x0fff'e800).ok());  // to 0x5000'1800, rounded up
    CHECK(b.free_bytes() == 5 * kPage);
    REQUIRE(b.reserve(0x9000'0000, kPage).ok());        // entirely outside
    REQUIRE(b.reserve(0x3000'0000, 0x3000'0000).ok());  // covers everything
    CHECK(b.free_bytes() == 0);
    CHECK(b.range_count() == 0);
}

TEST_CASE("PageAllocator exhaustion gives kOutOfMemory", "[mm]") {
    PageAllocator a;
    REQUIRE(a.add_range(0x4000'0000, 8 * kPage).ok());
    CHECK(a.alloc(9 * kPage, kPage).error() == Error::kOutOfMemory);
    CHECK(a.alloc(kPage, 1ull << 40).error() == Error::kOutOfMemory);
    for (int i = 0; i < 8; ++i) {
        REQUIRE(a.alloc(kPage, kPage).ok());
    }
    CHECK(a.free_bytes() == 0);
    CHECK(a.alloc(kPage, kPage).error() == Error::kOutOfMemory);
}

TEST_CASE("PageAllocator blocks never overlap and all memory comes back", "[mm]") {
    PageAllocator a;
    const std::uint64_t base = 0x8000'0000;
    const std::uint64_t size = 64 * kMiB;
    REQUIRE(a.add_range(base, size).ok());
    REQUIRE(a.reserve(base + 5 * kMiB, 300 * kKiB).ok());
    const std::uint64_t total = a.free_bytes();

    std::mt19937_64 rng(1234);
    std::map<std::uint64_t, std::uint64_t> live;  // base -> bytes
    for (int step = 0; step < 4000; ++step) {
        // At most 40 live blocks keep the free ranges under kMaxRanges, so nothing leaks.
        if (live.empty() || (live.size() < 40 && rng() % 2 != 0)) {
            const std::uint64_t bytes = (1 + rng() % 64) * kPage;
            const std::uint64_t align = kPage << (rng() % 6);
            Result<std::uint64_t> r = a.alloc(bytes, align);
            if (!r.ok()) {
                REQUIRE(r.error() == Error::kOutOfMemory);
                continue;
            }
            const std::uint64_t p = r.value();
            REQUIRE(p % align == 0);
            REQUIRE(p >= base);
            REQUIRE(p + bytes <= base + size);
            REQUIRE((p + bytes <= base + 5 * kMiB || p >= base + 5 * kMiB + 300 * kKiB));
            auto next = live.lower_bound(p);
            if (next != live.end()) {
                REQUIRE(p + bytes <= next->first);
            }
            if (next != live.begin()) {
                auto prev = std::prev(next);
                REQUIRE(prev->first + prev->second <= p);
            }
            live.emplace(p, bytes);
        } else {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            a.free(it->first, it->second);
            live.erase(it);
        }
    }
    for (const auto& [p, bytes] : live) {
        a.free(p, bytes);
    }
    CHECK(a.free_bytes() == total);
    CHECK(a.range_count() == 2);
    CHECK(a.lost_bytes() == 0);
}

TEST_CASE("PageAllocator free with a full range table leaks and counts it", "[mm]") {
    constexpr std::size_t kPages = 2 * PageAllocator::kMaxRanges + 2;
    PageAllocator a;
    REQUIRE(a.add_range(0, kPages * kPage).ok());
    std::vector<std::uint64_t> pages;
    for (std::size_t i = 0; i < kPages; ++i) {
        pages.push_back(a.alloc(kPage, kPage).value());
    }
    // Pages 0, 2, ..., 126: kMaxRanges isolated ranges.
    for (std::size_t i = 0; i < 2 * PageAllocator::kMaxRanges; i += 2) {
        a.free(pages[i], kPage);
    }
    CHECK(a.range_count() == PageAllocator::kMaxRanges);
    // The last page touches no free range and there is no slot for it.
    a.free(pages[kPages - 1], kPage);
    CHECK(a.lost_bytes() == kPage);
    CHECK(a.free_bytes() == PageAllocator::kMaxRanges * kPage);
    // Merging needs no slot.
    a.free(pages[1], kPage);
    CHECK(a.range_count() == PageAllocator::kMaxRanges - 1);
    CHECK(a.lost_bytes() == kPage);
}
