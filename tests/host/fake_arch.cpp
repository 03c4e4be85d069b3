#include "fake_arch.hpp"

#include <cstdlib>
#include <string>

#include "arch/exception.hpp"

namespace corvisor::fake {

namespace {
Guest g_guest;
}

Guest& guest() {
    return g_guest;
}
void reset() {
    g_guest = Guest{};
}

CpuFeatures cpu_features() {
    // QEMU virt's cortex-a57: 40-bit PAs, PMUv3 with 6 counters, 4 list registers.
    // ID register values as QEMU 7.2 gives its cortex-a57.
    CpuFeatures f{};
    f.ids.set(1, 0, 0x00000131);  // ID_PFR0_EL1
    f.ids.set(1, 1, 0x00011011);  // ID_PFR1_EL1
    f.ids.set(1, 2, 0x03010066);  // ID_DFR0_EL1
    f.ids.set(4, 0, 0x00002222);  // ID_AA64PFR0_EL1
    f.ids.set(5, 0, 0x10305106);  // ID_AA64DFR0_EL1
    f.ids.set(6, 0, 0x00011120);  // ID_AA64ISAR0_EL1
    f.ids.set(7, 0, 0x00001124);  // ID_AA64MMFR0_EL1
    f.pmcr = PmcrEl0{}.set_n(6);
    f.midr = 0x411fd070;
    f.ich_vtr = IchVtrEl2(0x90b80003);
    return f;
}
std::string& console_output() {
    static std::string out;
    return out;
}
std::string& console_input() {
    static std::string in;
    return in;
}
std::atomic<std::uint64_t>& kicks(std::uint32_t pcpu) {
    static std::atomic<std::uint64_t> counts[kMaxPcpus];
    return counts[pcpu % kMaxPcpus];
}

}  // namespace corvisor::fake

namespace corvisor {

extern "C" ExitKind arch_enter_guest(GuestRegs* regs) {
    auto& g = fake::guest();
    ++g.entries;
    return g.step(*regs);
}

void arch_load_vcpu(const VcpuSysRegs& s) {
    ++fake::guest().loads;
    fake::guest().hcr = s.hcr_el2;
}
void arch_save_vcpu(VcpuSysRegs&) {}
void arch_flush_guest_tlb(std::uint64_t) {}
void arch_debug_take(VcpuSysRegs& s) {
    s.debug_live = true;
    s.mdcr_el2 = MdcrEl2(s.mdcr_el2).set_tda(false).set_tdosa(false).set_tdra(false).value();
    ++fake::guest().debug_takes;
}
std::uint64_t arch_cpacr_el1() {
    return fake::guest().cpacr_el1;
}
void arch_set_cpacr_el1(std::uint64_t value) {
    fake::guest().cpacr_el1 = value;
}
std::uint64_t fake_hw::fault_ipa() {
    return fake::guest().fault_ipa;
}
std::uint64_t fake_hw::fault_far() {
    return fake::guest().fault_far;
}

void arch_write_lrs(const ListRegisterFile& lrs) {
    auto& g = fake::guest();
    g.last_lrs = lrs;
    for (std::uint32_t n = 0; n < lrs.count && n < kMaxListRegisters; ++n) {
        g.hw_lrs[n] = lrs.lr[n];
    }
    ++g.lr_writes;
}
void arch_read_lrs(ListRegisterFile& lrs) {
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        if ((lrs.in_use & (1u << n)) != 0) {
            lrs.lr[n] = fake::guest().hw_lrs[n];
        }
    }
}
std::uint32_t fake_hw::lr_empty() {
    // ICH_ELRSR_EL2: invalid, and no EOI maintenance interrupt owed (HW, or EOI clear).
    std::uint32_t empty = 0;
    for (std::uint32_t n = 0; n < kMaxListRegisters; ++n) {
        const ListRegister lr = fake::guest().hw_lrs[n];
        if (lr.state() == LrState::kInvalid && (lr.hw() || !lr.eoi_maintenance())) {
            empty |= 1u << n;
        }
    }
    return empty;
}
void fake_hw::write_lr(std::uint32_t n, ListRegister lr) {
    auto& g = fake::guest();
    g.hw_lrs[n % kMaxListRegisters] = lr;
    g.last_lrs.lr[n % kMaxListRegisters] = lr;
    ++g.single_lr_writes;
}
TimerStatus arch_vtimer_status() {
    return fake::guest().vtimer;
}
TimerStatus arch_ptimer_status() {
    return TimerStatus{false, false, 0};
}
std::uint64_t arch_now() {
    return fake::guest().now;
}
void arch_set_hcr(std::uint64_t hcr) {
    fake::guest().hcr = hcr;
}
std::uint64_t arch_counter_frequency() {
    return 62'500'000;
}
std::uint32_t arch_device_read32(std::uint64_t) {
    return 1'800'000'000;  // a PL031's data register: seconds since 1970
}
void arch_kick_pcpu(std::uint32_t pcpu) {
    fake::kicks(pcpu).fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t arch_kick_value(std::uint32_t pcpu) {
    return 0x1000000ull | pcpu;  // any value that names the pCPU: the host has no vectors
}
void arch_select_vectors(bool) {}  // the host has no vectors: its exits are the step function's
std::int64_t arch_cpu_on(Mpidr, std::uint32_t) {
    return -1;  // NOT_SUPPORTED: the host plays no secondary pCPUs at boot
}
[[noreturn]] void arch_cpu_off() {
    std::abort();
}
bool arch_gic_init_cpu() {
    return true;
}
void arch_hyp_timer_arm(std::uint64_t deadline) {
    fake::guest().hyp_deadline = deadline;
}
void arch_hyp_timer_disarm() {
    fake::guest().hyp_deadline = 0;
}
std::uint32_t fake_hw::irq_ack() {
    return fake::guest().next_irq;
}
void fake_hw::irq_priority_drop(std::uint32_t) {}

// ---- Boot-time hardware: recorded, never real.
void arch_mmu_map(std::uint64_t, std::uint64_t, bool) {}
void arch_mmu_enable() {}
void arch_clean_dcache(std::uint64_t, std::uint64_t) {}
[[noreturn]] void arch_power_off() {
    std::exit(0);
}
[[noreturn]] void arch_halt() {
    std::abort();
}
Mpidr arch_mpidr() {
    return Mpidr{}.set_res1(true);
}
CpuFeatures arch_cpu_features() {
    return fake::cpu_features();
}
void arch_write_el2_controls(const El2Controls&) {}
void arch_console_init(std::uintptr_t) {}
void arch_console_write(std::string_view text) {
    fake::console_output().append(text);
}
void arch_console_rx_enable() {}
bool arch_console_read(std::uint8_t& byte) {
    std::string& in = fake::console_input();
    if (in.empty()) {
        return false;
    }
    byte = static_cast<std::uint8_t>(in.front());
    in.erase(0, 1);
    return true;
}
void arch_console_rx_clear() {}
bool arch_gic_init(const GicInfo&) {
    return true;
}
void arch_irq_enable_ppi(std::uint32_t, std::uint8_t) {}
void arch_irq_enable_spi(std::uint32_t, std::uint8_t, bool) {}
void arch_wait_for_interrupt() {}

void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1) {
    auto& g = fake::guest();
    g.injected.push_back({esr_el1, far_el1, regs.elr});
    regs.elr = g.vbar + sync_vector_offset(regs.spsr);
    regs.spsr = kSpsrEl1hMasked;
}

}  // namespace corvisor
