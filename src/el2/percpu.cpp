#include "el2/percpu.hpp"

#include "el2/sysreg.hpp"

namespace corvisor {

namespace {
PerCpu g_percpu[kMaxPcpus];
}  // namespace

void percpu_init(std::uint32_t id) {
    g_percpu[id].local.id = id;
    CV_WRITE_SYSREG(tpidr_el2, reinterpret_cast<std::uint64_t>(&g_percpu[id]));
}

PerCpu& this_percpu() {
    return *reinterpret_cast<PerCpu*>(CV_READ_SYSREG(tpidr_el2));
}

CpuLocal& this_cpu() noexcept {
    return this_percpu().local;
}
Executor& current_executor() noexcept {
    return this_percpu().local.executor;
}
FramePool& current_frame_pool() noexcept {
    return this_percpu().frames;
}

}  // namespace corvisor
