// A scripted stand-in for the hardware seam (src/arch/arch.hpp): each arch_enter_guest call runs
// the next step of a script that plays the guest; console output is captured, console input is
// scripted. tests/host/fake_platform.cpp scripts vm/platform.hpp the same way.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/arch.hpp"
#include "base/limits.hpp"

#include "corvisor/time.hpp"

namespace corvisor {
class Vcpu;
class TimerQueue;
}  // namespace corvisor

namespace corvisor::fake {

struct Injected {
    std::uint64_t esr;
    std::uint64_t far;
    std::uint64_t from_pc;
};

struct Guest {
    /// Called on each entry; sets up the exit in `regs` (esr, registers) and returns its kind.
    std::function<ExitKind(GuestRegs&)> step;
    std::uint64_t fault_ipa = 0;
    std::uint64_t fault_far = 0;
    std::uint64_t vbar = 0x40000800;
    std::uint64_t entries = 0;
    std::uint64_t loads = 0;
    std::uint32_t next_irq = 1023;        ///< what an IRQ exit acknowledges (1023: spurious)
    std::uint32_t slices = 0;             ///< time slices begun (another vCPU was waiting)
    bool irq_wakes = false;               ///< platform_irq reports that it made a vCPU runnable
    TimerStatus vtimer{false, false, 0};  ///< what arch_vtimer_status reports
    Vcpu* timer_waiter = nullptr;         ///< who waits in platform_timer_wait, until when
    std::uint64_t timer_deadline = 0;
    int timer_cancels = 0;
    ListRegisterFile last_lrs{};  ///< the last list-register image written
    int lr_writes = 0;            ///< whole images written (arch_write_lrs)
    /// The hardware's ICH_LR<n>_EL2: what the last writes left, and what the script's guest
    /// changes (acknowledges, deactivates); arch_read_lrs and arch_lr_empty read it.
    std::array<ListRegister, kMaxListRegisters> hw_lrs{};
    int single_lr_writes = 0;        ///< arch_write_lr calls (direct injection)
    std::uint64_t now = 0;           ///< what arch_now reports
    std::uint64_t cpacr_el1 = 0;     ///< the loaded vCPU's CPACR_EL1
    int debug_takes = 0;             ///< arch_debug_take calls
    std::uint64_t hyp_deadline = 0;  ///< where the hypervisor timer is armed (0: disarmed)
    std::uint64_t hcr = 0;           ///< HCR_EL2 as the last arch_load_vcpu or arch_set_hcr left it
    std::vector<Injected> injected;
    WallClock wall_clock{1'700'000'000, 0, false};  ///< what platform_wall_clock reports
};

/// The guest the fake hardware runs (one per test).
Guest& guest();
/// The device timers Vms arm (fake_platform.cpp), and firing those due at `now`: the count.
TimerQueue& device_timers();
std::size_t expire_device_timers(std::uint64_t now);
/// Kick SGIs sent to pCPU `pcpu` so far (arch_kick_pcpu; any thread).
std::atomic<std::uint64_t>& kicks(std::uint32_t pcpu);
void reset();
/// What arch_cpu_features reports (QEMU virt's cortex-a57).
CpuFeatures cpu_features();
/// Everything written to the console since the test cleared it, and bytes the console will
/// "receive" (arch_console_read takes them from the front).
std::string& console_output();
std::string& console_input();

constexpr std::uint64_t esr_of(std::uint64_t ec, std::uint64_t iss) {
    return (ec << 26) | (1ull << 25) | iss;
}
/// A data abort with a valid syndrome.
constexpr std::uint64_t mmio_esr(bool write, std::uint8_t size_log2, unsigned srt,
                                 bool sign = false, bool sf = false) {
    return esr_of(0x24, (1ull << 24) | (std::uint64_t{size_log2} << 22) | (sign ? 1ull << 21 : 0) |
                            (std::uint64_t{srt} << 16) | (sf ? 1ull << 15 : 0) |
                            (write ? 1ull << 6 : 0) | 0x07);
}
constexpr std::uint64_t kHvcEsr = esr_of(0x16, 0);
constexpr std::uint64_t kSmcEsr = esr_of(0x17, 0);

}  // namespace corvisor::fake
