#include "el2/percpu.hpp"

#include "arch/arch.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

namespace {
PerCpu g_percpu[kMaxPcpus];
StaticFramePool<kFrameBlockSize, kLongLivedFrames> g_long_lived;
}  // namespace

FramePool& long_lived_frame_pool() noexcept {
    return g_long_lived;
}

void percpu_init(std::uint32_t id, Mpidr mpidr) {
    PerCpu& p = g_percpu[id % kMaxPcpus];
    p.local.id = id;
    p.mpidr = mpidr;
    p.kick_sgi1r = gic_kick_value(mpidr);
    p.local.executor.set_owner(id, &arch_kick_pcpu);
    CV_WRITE_SYSREG(tpidr_el2, reinterpret_cast<std::uint64_t>(&p.local));
}

void set_pcpu_mpidr(std::uint32_t id, Mpidr mpidr) {
    g_percpu[id % kMaxPcpus].mpidr = mpidr;
    g_percpu[id % kMaxPcpus].kick_sgi1r = gic_kick_value(mpidr);
}

void arch_kick_pcpu(std::uint32_t pcpu) {
    // What the poster wrote before must be visible to the target when it takes the interrupt:
    // dsb first. The SGI's value was worked out when the pCPU was recorded (gic_kick_value).
    // No isb after: nothing here depends on the SGI having left.
    const std::uint64_t v = g_percpu[pcpu % kMaxPcpus].kick_sgi1r;
    asm volatile("dsb ishst" ::: "memory");
    CV_WRITE_SYSREG(icc_sgi1r_el1, v);
}

std::uint64_t arch_kick_value(std::uint32_t pcpu) {
    return g_percpu[pcpu % kMaxPcpus].kick_sgi1r;
}

Mpidr pcpu_mpidr(std::uint32_t id) {
    return g_percpu[id % kMaxPcpus].mpidr;
}

PerCpu& this_percpu() {
    return g_percpu[this_cpu().id % kMaxPcpus];
}

CpuLocal& cpu_local(std::uint32_t id) noexcept {
    return g_percpu[id % kMaxPcpus].local;
}
Executor& current_executor() noexcept {
    return this_cpu().executor;
}
FramePool& current_frame_pool() noexcept {
    return this_percpu().frames;
}
FramePool& pcpu_frame_pool(std::uint32_t pcpu) noexcept {
    return g_percpu[pcpu % kMaxPcpus].frames;
}
FramePool*& frame_pool_override() noexcept {
    return this_percpu().frame_override;
}

}  // namespace corvisor
