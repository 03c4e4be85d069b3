// Host builds only: which pCPU the calling thread plays (tests with several threads).
#pragma once

#include <cstdint>

namespace corvisor {

/// From now on this thread is pCPU `id`: this_cpu(), current_executor() are its.
void host_select_cpu(std::uint32_t id);

}  // namespace corvisor
