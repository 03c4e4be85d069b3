// Per-pCPU data of the EL2 image, reached through TPIDR_EL2.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"

namespace corvisor {

inline constexpr std::uint32_t kMaxPcpus = 8;
inline constexpr std::size_t kStackSize = 16 * 1024;
/// Coroutine frames: sized at build time (DESIGN.md invariant "no heap on the trap path").
inline constexpr std::size_t kFrameBlockSize = 1024;
inline constexpr std::size_t kFramesPerCpu = 64;

struct PerCpu {
    CpuLocal local;
    StaticFramePool<kFrameBlockSize, kFramesPerCpu> frames;
};

/// Point TPIDR_EL2 at pCPU `id`'s data.
void percpu_init(std::uint32_t id);
PerCpu& this_percpu();

}  // namespace corvisor
