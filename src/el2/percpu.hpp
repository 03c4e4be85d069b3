// Per-pCPU data of the EL2 image, reached through TPIDR_EL2.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/asm_offsets.h"
#include "base/limits.hpp"
#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"

namespace corvisor {

/// Each pCPU's EL2 stack (entry.S reserves the boot pCPU's with this size).
inline constexpr std::size_t kStackSize = CORVISOR_STACK_SIZE;
static_assert(kStackSize % 16 == 0);

struct PerCpu {
    CpuLocal local;
    StaticFramePool<kFrameBlockSize, kFramesPerCpu> frames;
};

/// Point TPIDR_EL2 at pCPU `id`'s data.
void percpu_init(std::uint32_t id);
PerCpu& this_percpu();

}  // namespace corvisor
