// Per-pCPU state shared by the executor and the vCPU model. On EL2 it hangs off TPIDR_EL2; on the
// host there is one per thread.
#pragma once

#include <cstdint>

#include "exec/executor.hpp"

namespace corvisor {

class Vcpu;

struct CpuLocal {
    std::uint32_t id = 0;
    Executor executor;
    /// The vCPU whose EL1 and FP/SIMD state is in this pCPU's registers, if any.
    Vcpu* loaded_vcpu = nullptr;
};

CpuLocal& this_cpu() noexcept;

}  // namespace corvisor
