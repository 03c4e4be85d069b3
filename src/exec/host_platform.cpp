// Host stand-ins for the per-pCPU data of EL2: one frame pool and one CpuLocal per thread.
#include "corvisor/frame_pool.hpp"
#include "exec/cpu.hpp"

namespace corvisor {

namespace {
thread_local StaticFramePool<kHostFrameBlockSize, kFramesPerCpu> t_pool;
thread_local CpuLocal t_cpu;
}  // namespace

FramePool& current_frame_pool() noexcept {
    return t_pool;
}
CpuLocal& this_cpu() noexcept {
    return t_cpu;
}
Executor& current_executor() noexcept {
    return t_cpu.executor;
}

}  // namespace corvisor
