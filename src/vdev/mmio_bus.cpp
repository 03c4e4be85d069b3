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

std::optional<MmioBus::Hit> MmioBus::find(std::uint64_t ipa, std::uint8_t size) const {
    const Entry* e = search(ipa, size);
    if (e == nullptr) {
        return std::nullopt;
    }
    return Hit{e->device, e->region, ipa - e->base};
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

MmioResult MmioBus::dispatch(std::uint64_t ipa, std::uint8_t size, bool write, std::uint64_t data,
                             std::uint32_t vcpu) {
    // A data abort with a valid ISS reports SAS as 1, 2, 4 or 8 bytes (Arm ARM, ESR_EL2 ISS for a
    // Data Abort); an unaligned access to Device memory is an Alignment fault on hardware
    // (Arm ARM B2.5.2), so it aborts here too.
    if ((size != 1 && size != 2 && size != 4 && size != 8) || (ipa & (size - 1u)) != 0) {
        return MmioResult::abort();
    }
    const std::optional<Hit> hit = find(ipa, size);
    if (!hit) {
        return MmioResult::abort();
    }
    MmioAccess access;
    access.set_region(hit->region);
    access.set_offset(hit->offset);
    access.set_size(size);
    access.set_write(write);
    access.set_data(write ? data : 0);
    access.set_vcpu(vcpu);
    return hit->device->mmio(access);
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
