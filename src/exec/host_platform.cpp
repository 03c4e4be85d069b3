// Host stand-ins for the per-pCPU data of EL2: kMaxPcpus CpuLocals; each thread plays one
// (pCPU 0 unless it selects another), with a frame pool of its own.
#include "base/limits.hpp"
#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"
#include "exec/host_cpu.hpp"

namespace corvisor {

namespace {
CpuLocal g_cpus[kMaxPcpus];
thread_local CpuLocal* t_cpu = &g_cpus[0];
thread_local StaticFramePool<kFrameBlockSize, kFramesPerCpu> t_pool;
StaticFramePool<kFrameBlockSize, kLongLivedFrames> g_long_lived;

[[maybe_unused]] const bool g_ids = [] {
    for (std::uint32_t i = 0; i < kMaxPcpus; ++i) {
        g_cpus[i].id = i;
        g_cpus[i].executor.set_owner(i, nullptr);
    }
    return true;
}();
}  // namespace

void host_select_cpu(std::uint32_t id) {
    t_cpu = &g_cpus[id % kMaxPcpus];
}

FramePool& current_frame_pool() noexcept {
    return t_pool;
}
FramePool& pcpu_frame_pool(std::uint32_t) noexcept {
    return t_pool;  // the host's pools are per thread
}
FramePool& long_lived_frame_pool() noexcept {
    return g_long_lived;
}
FramePool*& frame_pool_override() noexcept {
    thread_local FramePool* override = nullptr;
    return override;
}
void* fake_hw::cpu_data() {
    return t_cpu;
}
CpuLocal& cpu_local(std::uint32_t id) noexcept {
    return g_cpus[id % kMaxPcpus];
}
Executor& current_executor() noexcept {
    return t_cpu->executor;
}

}  // namespace corvisor
