#include "vdev/mmio_bus.hpp"

namespace corvisor {

std::size_t MmioBus::upper_bound(std::uint64_t ipa) const {
    std::size_t lo = 0;
    std::size_t hi = count_;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (entries_[mid].base <= ipa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

Status MmioBus::add(std::uint64_t base, std::uint64_t size, Device& dev, std::uint32_t region) {
    // Offsets travel in 40 bits of MmioAccess; regions 8 bits wide would need another layout.
    if (size == 0 || size - 1 > UINT64_MAX - base || size - 1 > MmioAccess::kMaxOffset ||
        region > 7) {
        return Error::kInvalidArgument;
    }
    const std::uint64_t last = base + (size - 1);
    const std::size_t pos = upper_bound(base);
    // Entries are disjoint and sorted, so only the neighbours of the insertion point can overlap:
    // the one before starts at or below `base`, the one after starts above it.
    if (pos > 0 && entries_[pos - 1].last >= base) {
        return Error::kOverlap;
    }
    if (pos < count_ && entries_[pos].base <= last) {
        return Error::kOverlap;
    }
    if (count_ == kCapacity) {
        return Error::kOutOfMemory;
    }
    for (std::size_t i = count_; i > pos; --i) {
        entries_[i] = entries_[i - 1];
    }
    entries_[pos] = Entry{base, last, &dev, region, 0};
    ++count_;
    for (std::size_t i = 0; i < count_; ++i) {
        entries_[i].index = static_cast<std::uint32_t>(i);
    }
    return {};
}

const MmioBus::Entry* MmioBus::search(std::uint64_t ipa, std::uint8_t size) const {
    if (size == 0 || size - 1u > UINT64_MAX - ipa) {
        return nullptr;
    }
    const std::size_t pos = upper_bound(ipa);
    if (pos == 0 || ipa + (size - 1u) > entries_[pos - 1].last) {
        return nullptr;
    }
    return &entries_[pos - 1];
}

void MmioBus::reset_all() {
    for (std::size_t i = 0; i < count_; ++i) {
        bool seen = false;
        for (std::size_t j = 0; j < i && !seen; ++j) {
            seen = entries_[j].device == entries_[i].device;
        }
        if (!seen) {
            entries_[i].device->reset();
        }
    }
}

}  // namespace corvisor
