#include "mm/page_alloc.hpp"

#include <limits>

namespace corvisor {

namespace {

constexpr std::uint64_t kPageMask = PageAllocator::kPageSize - 1;
constexpr std::uint64_t kMaxAddress = std::numeric_limits<std::uint64_t>::max();

constexpr std::uint64_t page_down(std::uint64_t a) {
    return a & ~kPageMask;
}

// Callers check that `a` is at most kMaxAddress - kPageMask.
constexpr std::uint64_t page_up(std::uint64_t a) {
    return (a + kPageMask) & ~kPageMask;
}

}  // namespace

std::size_t PageAllocator::lower_bound(std::uint64_t addr) const {
    std::size_t i = 0;
    while (i < count_ && ranges_[i].begin < addr) {
        ++i;
    }
    return i;
}

void PageAllocator::insert_at(std::size_t i, Range r) {
    for (std::size_t j = count_; j > i; --j) {
        ranges_[j] = ranges_[j - 1];
    }
    ranges_[i] = r;
    ++count_;
}

void PageAllocator::erase_at(std::size_t i) {
    for (std::size_t j = i + 1; j < count_; ++j) {
        ranges_[j - 1] = ranges_[j];
    }
    --count_;
}

Status PageAllocator::insert_free(std::uint64_t begin, std::uint64_t end) {
    const std::size_t i = lower_bound(begin);
    const bool has_prev = i > 0;
    const bool has_next = i < count_;
    if ((has_prev && ranges_[i - 1].end > begin) || (has_next && ranges_[i].begin < end)) {
        return Error::kOverlap;
    }
    const bool join_prev = has_prev && ranges_[i - 1].end == begin;
    const bool join_next = has_next && ranges_[i].begin == end;
    if (join_prev && join_next) {
        ranges_[i - 1].end = ranges_[i].end;
        erase_at(i);
    } else if (join_prev) {
        ranges_[i - 1].end = end;
    } else if (join_next) {
        ranges_[i].begin = begin;
    } else if (count_ == kMaxRanges) {
        return Error::kOutOfMemory;
    } else {
        insert_at(i, Range{begin, end});
    }
    return {};
}

Status PageAllocator::add_range(std::uint64_t base, std::uint64_t size) {
    if (size > kMaxAddress - base || base > kMaxAddress - kPageMask) {
        return Error::kOutOfRange;
    }
    const std::uint64_t begin = page_up(base);
    const std::uint64_t end = page_down(base + size);
    if (begin >= end) {
        return {};  // less than a page: nothing usable
    }
    return insert_free(begin, end);
}

Status PageAllocator::reserve(std::uint64_t base, std::uint64_t size) {
    if (size > kMaxAddress - base || base + size > kMaxAddress - kPageMask) {
        return Error::kOutOfRange;
    }
    const std::uint64_t begin = page_down(base);
    const std::uint64_t end = page_up(base + size);
    if (begin >= end) {
        return {};
    }
    // Only a range reaching past both ends is split in two and needs a new slot; check that
    // first so a failure changes nothing.
    for (std::size_t i = 0; i < count_; ++i) {
        if (ranges_[i].begin < begin && ranges_[i].end > end && count_ == kMaxRanges) {
            return Error::kOutOfMemory;
        }
    }
    std::size_t i = 0;
    while (i < count_) {
        Range& r = ranges_[i];
        if (r.end <= begin || r.begin >= end) {
            ++i;
        } else if (r.begin < begin && r.end > end) {
            const Range tail{end, r.end};
            r.end = begin;
            insert_at(i + 1, tail);
            break;
        } else if (r.begin < begin) {
            r.end = begin;
            ++i;
        } else if (r.end > end) {
            r.begin = end;
            ++i;
        } else {
            erase_at(i);
        }
    }
    return {};
}

Result<std::uint64_t> PageAllocator::alloc(std::uint64_t size, std::uint64_t align) {
    if (size == 0 || align < kPageSize || (align & (align - 1)) != 0) {
        return Error::kInvalidArgument;
    }
    if (size > kMaxAddress - kPageMask) {
        return Error::kOutOfMemory;
    }
    const std::uint64_t bytes = page_up(size);
    for (std::size_t i = 0; i < count_; ++i) {
        Range& r = ranges_[i];
        if (r.begin > kMaxAddress - (align - 1)) {
            break;
        }
        const std::uint64_t start = (r.begin + align - 1) & ~(align - 1);
        if (start >= r.end || r.end - start < bytes) {
            continue;
        }
        const std::uint64_t stop = start + bytes;
        const bool keep_head = start > r.begin;
        const bool keep_tail = stop < r.end;
        if (keep_head && keep_tail) {
            // Carving from the middle needs a slot. With the table full, a later range that
            // needs no split may still fit, so this is first-fit except under table pressure.
            if (count_ == kMaxRanges) {
                continue;
            }
            const Range tail{stop, r.end};
            r.end = start;
            insert_at(i + 1, tail);
        } else if (keep_head) {
            r.end = start;
        } else if (keep_tail) {
            r.begin = stop;
        } else {
            erase_at(i);
        }
        return start;
    }
    return Error::kOutOfMemory;
}

void PageAllocator::free(std::uint64_t base, std::uint64_t size) {
    if (size == 0 || (base & kPageMask) != 0 || size > kMaxAddress - kPageMask) {
        return;
    }
    const std::uint64_t bytes = page_up(size);
    if (bytes > kMaxAddress - base) {
        return;
    }
    const Status s = insert_free(base, base + bytes);
    // kOverlap is a double free, a hypervisor bug: inserting again would corrupt the table.
    if (!s.ok() && s.error() == Error::kOutOfMemory) {
        lost_bytes_ += bytes;
    }
}

std::uint64_t PageAllocator::free_bytes() const {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        total += ranges_[i].end - ranges_[i].begin;
    }
    return total;
}

}  // namespace corvisor
