#pragma once

#include <cstdint>

namespace corvisor {

/// Identity-map the GiB containing `pa`, as normal memory or as device memory.
void mmu_map_gib(std::uint64_t pa, bool normal);
/// Turn on the EL2 MMU and caches with the map built so far.
void mmu_enable();
/// Clean [start, start+size) to the point of coherency and invalidate the I-cache: a guest that
/// starts with its MMU off reads memory uncached (Arm ARM D8.2.10).
void clean_dcache_range(std::uint64_t start, std::uint64_t size);

}  // namespace corvisor
