// Secondary pCPUs: started through the firmware's PSCI CPU_ON (SMC), each enters
// secondary_entry (entry.S) with its index, gets its stack from here, the EL2 MMU on the map the
// boot pCPU built, its per-pCPU data, then runs the portable pcpu_main.
#include <cstddef>

#include "arch/arch.hpp"
#include "el2/percpu.hpp"
#include "el2/sysreg.hpp"

extern "C" {
// Indexed by pCPU (the boot pCPU's slot is unused: entry.S has its stack).
alignas(16) std::byte secondary_stacks[corvisor::kMaxPcpus][corvisor::kStackSize];
void secondary_entry();
}

namespace corvisor {

namespace {
constexpr std::uint64_t kPsciCpuOff = 0x84000002;
constexpr std::uint64_t kPsciCpuOn64 = 0xC4000003;

std::int64_t smc3(std::uint64_t fid, std::uint64_t a1, std::uint64_t a2, std::uint64_t a3) {
    register std::uint64_t x0 asm("x0") = fid;
    register std::uint64_t x1 asm("x1") = a1;
    register std::uint64_t x2 asm("x2") = a2;
    register std::uint64_t x3 asm("x3") = a3;
    asm volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)::"memory");
    return static_cast<std::int64_t>(x0);
}
}  // namespace

std::int64_t arch_cpu_on(Mpidr mpidr, std::uint32_t pcpu) {
    if (pcpu == 0 || pcpu >= kMaxPcpus) {
        return -2;  // INVALID_PARAMETERS
    }
    // Recorded before it runs: posts to it and kicks of it need both.
    set_pcpu_mpidr(pcpu, mpidr);
    cpu_local(pcpu).id = pcpu;
    cpu_local(pcpu).executor.set_owner(pcpu, &arch_kick_pcpu);
    // It starts with its MMU and caches off: what it reads before turning them on must be in
    // memory (its stack is written, not read, before that).
    arch_clean_dcache(reinterpret_cast<std::uint64_t>(&secondary_stacks[pcpu]), kStackSize);
    return smc3(kPsciCpuOn64, mpidr.value() & 0xff00ffffffull,
                reinterpret_cast<std::uint64_t>(&secondary_entry), pcpu);
}

[[noreturn]] void arch_cpu_off() {
    smc3(kPsciCpuOff, 0, 0, 0);
    arch_halt();
}

}  // namespace corvisor

extern "C" [[noreturn]] void el2_secondary_main(std::uint32_t pcpu) {
    using namespace corvisor;
    arch_mmu_enable();
    percpu_init(pcpu, arch_mpidr());
    pcpu_main(pcpu);
}
