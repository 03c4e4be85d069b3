// Per-pCPU state shared by the executor and the vCPU model. On EL2 it hangs off TPIDR_EL2; on the
// host each thread playing a pCPU selects one (host_select_cpu).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arch/arch.hpp"
#include "exec/executor.hpp"

namespace corvisor {

class Vcpu;

/// How the EL2 vectors send a spread guest's SGI to one target vCPU (src/el2/vectors.S,
/// sgi_send): its SGI mailbox, the state word of its wake Event, and the physical SGI value that
/// kicks its pCPU. All null for a target the vectors leave to the run loop (the sender itself, a
/// vCPU on the sender's pCPU, one that does not exist). Built by Vcpu::build_sgi_routes.
struct SgiRoute {
    std::atomic<std::uint32_t>* mail = nullptr;
    std::atomic<std::uintptr_t>* wake = nullptr;
    std::uint64_t kick = 0;
};

struct CpuLocal {
    std::uint32_t id = 0;  ///< index in boot order (0: the boot pCPU)
    /// The loaded vCPU's ID registers (what its guest reads, HCR_EL2.TID3) and its count of
    /// trapped system-register exits: the EL2 vectors answer such a read without the run loop
    /// (src/el2/vectors.S; offsets in arch/asm_offsets.h). Set by Vcpu::load().
    const std::uint64_t* id_regs = nullptr;
    std::uint64_t* id_reads = nullptr;
    /// The loaded vCPU's SgiRoute per target vCPU (kMaxVcpus entries), if its guest is spread
    /// over several pCPUs; null otherwise. Set by Vcpu::load().
    const SgiRoute* sgi_routes = nullptr;
    Executor executor;
    /// The strand the running code is under (StrandGuard, exec/strand.hpp), or null.
    Strand* strand = nullptr;
    /// The vCPU whose EL1 and FP/SIMD state is in this pCPU's registers, if any.
    Vcpu* loaded_vcpu = nullptr;
    /// The vCPUs placed here (they share it by time slices when more than one is runnable), as
    /// a list through Vcpu, how many are on (powered on), and whether their WFI and WFE trap
    /// (more than one on: a vCPU alone keeps waiting in hardware).
    std::uint32_t vcpus = 0;
    Vcpu* vcpu_list = nullptr;
    std::uint32_t vcpus_on = 0;
    bool wfi_trapped = false;
    /// Counter ticks spent waiting in idle WFI (written by this pCPU alone; read once every
    /// secondary has stopped).
    std::uint64_t idle_ticks = 0;
};

static_assert(offsetof(CpuLocal, id_regs) == CPU_LOCAL_ID_REGS);
static_assert(offsetof(CpuLocal, id_reads) == CPU_LOCAL_ID_READS);
static_assert(offsetof(CpuLocal, sgi_routes) == CPU_LOCAL_SGI_ROUTES);
static_assert(offsetof(SgiRoute, mail) == SGI_ROUTE_MAIL &&
              offsetof(SgiRoute, wake) == SGI_ROUTE_WAKE &&
              offsetof(SgiRoute, kick) == SGI_ROUTE_KICK && sizeof(SgiRoute) == SGI_ROUTE_SIZE);

/// The running pCPU's data (the machine keeps its address: TPIDR_EL2 on EL2).
inline CpuLocal& this_cpu() noexcept {
    return *static_cast<CpuLocal*>(arch_cpu_data());
}
/// pCPU `id`'s data (id < kMaxPcpus).
CpuLocal& cpu_local(std::uint32_t id) noexcept;

/// Holds a recursive lock for this pCPU while in scope.
class CpuLockGuard {
public:
    explicit CpuLockGuard(RecursiveSpinLock& lock) : lock_(lock) { lock_.lock(&this_cpu()); }
    ~CpuLockGuard() { lock_.unlock(); }
    CpuLockGuard(const CpuLockGuard&) = delete;
    CpuLockGuard& operator=(const CpuLockGuard&) = delete;

private:
    RecursiveSpinLock& lock_;
};

}  // namespace corvisor
