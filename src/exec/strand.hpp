// Strands: code that must run one call at a time across pCPUs, continued across its suspensions.
//
// A guest spread over several pCPUs calls its devices under its device strand (Vm::device_strand):
// mmio(), reset(), timer callbacks, console input. A coroutine that suspends in such a call
// (an Event::wait or a Sleep) records the strand it ran under in its RunNode, and the executor
// resumes it under that strand again (Executor::run_one), so that the code after a `co_await`
// never runs beside another vCPU's call into the same devices (docs/devices.md, "What runs
// where"). A guest on one pCPU takes no strand: none of this runs for it.
#pragma once

#include "exec/cpu.hpp"
#include "exec/spinlock.hpp"

namespace corvisor {

/// A recursive lock that the running pCPU's code knows it holds (CpuLocal::strand).
struct Strand {
    RecursiveSpinLock lock;
};

/// Runs the scope under `strand`: takes its lock (again, if this pCPU holds it) and makes it the
/// pCPU's current strand, which waits started meanwhile record (current_strand()).
class StrandGuard {
public:
    explicit StrandGuard(Strand& strand) : strand_(strand), cpu_(this_cpu()), outer_(cpu_.strand) {
        strand_.lock.lock(&cpu_);
        cpu_.strand = &strand_;
    }
    ~StrandGuard() {
        cpu_.strand = outer_;
        strand_.lock.unlock();
    }
    StrandGuard(const StrandGuard&) = delete;
    StrandGuard& operator=(const StrandGuard&) = delete;

private:
    Strand& strand_;
    CpuLocal& cpu_;
    Strand* outer_;
};

}  // namespace corvisor
