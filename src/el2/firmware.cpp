// What the EL2 image asks of the firmware (PSCI over SMC: QEMU's built-in PSCI with
// virtualization=on), and how a pCPU stops.
#include "arch/arch.hpp"
#include "base/format.hpp"
#include "base/log.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

namespace {
constexpr std::uint32_t kPsciSystemOff = 0x84000008;
}

[[noreturn]] void arch_halt() {
    for (;;) {
        asm volatile("wfe");
    }
}

Mpidr arch_mpidr() {
    return Mpidr(CV_READ_SYSREG(mpidr_el1));
}

[[noreturn]] void arch_power_off() {
    // SYSTEM_OFF (PSCI DEN0022 5.10); QEMU exits with status 0.
    register std::uint64_t x0 asm("x0") = kPsciSystemOff;
    asm volatile("smc #0" : "+r"(x0)::"x1", "x2", "x3", "memory");
    panic("PSCI SYSTEM_OFF returned");
}

}  // namespace corvisor

/// A fault taken at EL2 itself (src/el2/vectors.S): report it and stop.
extern "C" [[noreturn]] void el2_panic_exception(std::uint64_t kind, std::uint64_t esr,
                                                 std::uint64_t elr, std::uint64_t far) {
    using namespace corvisor;
    log_error("PANIC: exception at EL2 (vector {}) on pCPU {}: esr {} (ec {}) elr {} far {}", kind,
              arch_mpidr().aff0(), hex(esr), hex(Esr(esr).ec_raw()), hex(elr), hex(far));
    arch_halt();
}
