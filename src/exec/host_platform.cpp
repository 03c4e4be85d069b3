// Host stand-ins for the per-pCPU data of EL2: one frame pool and one executor per thread.
#include "corvisor/frame_pool.hpp"
#include "exec/executor.hpp"

namespace corvisor {

namespace {
thread_local StaticFramePool<2048, 64> t_pool;
thread_local Executor t_executor;
}  // namespace

FramePool& current_frame_pool() noexcept { return t_pool; }
Executor& current_executor() noexcept { return t_executor; }

}  // namespace corvisor
