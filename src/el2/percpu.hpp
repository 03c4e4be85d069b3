// Per-pCPU data of the EL2 image, reached through TPIDR_EL2.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/asm_offsets.h"
#include "arch/registers.hpp"
#include "base/limits.hpp"
#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"

namespace corvisor {

/// Each pCPU's EL2 stack (entry.S reserves the boot pCPU's with this size, smp.cpp the others').
inline constexpr std::size_t kStackSize = CORVISOR_STACK_SIZE;
static_assert(kStackSize % 16 == 0);

struct PerCpu {
    CpuLocal local;  ///< TPIDR_EL2 points at it (this_cpu())
    StaticFramePool<kFrameBlockSize, kFramesPerCpu> frames;
    Mpidr mpidr;
    std::uint64_t kick_sgi1r = 0;         ///< ICC_SGI1R_EL1 value of the kick SGI to this pCPU
    FramePool* frame_override = nullptr;  ///< ScopedFramePool
};

/// Point TPIDR_EL2 at pCPU `id`'s data (this pCPU is `mpidr`) and make its executor its own.
void percpu_init(std::uint32_t id, Mpidr mpidr);
PerCpu& this_percpu();
/// The MPIDR of pCPU `id` (recorded when it was started).
Mpidr pcpu_mpidr(std::uint32_t id);
void set_pcpu_mpidr(std::uint32_t id, Mpidr mpidr);
/// The ICC_SGI1R_EL1 value that sends the kick SGI (kIntidKick) to the PE with `mpidr` (gic.cpp).
std::uint64_t gic_kick_value(Mpidr mpidr);

}  // namespace corvisor
