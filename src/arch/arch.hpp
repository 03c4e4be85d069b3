// The hardware seam: everything the portable code (src/boot, src/vm, ...) needs from the
// machine, and the one entry point the machine calls. Declarations only, no asm: src/el2
// implements it for the EL2 image; tests/host/fake_arch.* implements it for the host tests.
//
// The trap path's few hot calls (one or two instructions each on EL2) are declared `inline`
// here and defined by the implementation's `arch_inline.hpp`, which the build puts on the
// include path: src/el2/inline/ for the image, tests/host/fake/ on the host. Everything else is
// an ordinary function.
#pragma once

#include <cstdint>
#include <string_view>

#include "arch/esr.hpp"
#include "arch/gic.hpp"
#include "arch/guest_regs.hpp"
#include "arch/id_registers.hpp"
#include "arch/list_register.hpp"
#include "arch/registers.hpp"

namespace corvisor {

// ---- Boot ------------------------------------------------------------------------------------

/// What the machine hands the portable boot code: the boot DTB and where the hypervisor's own
/// image (code, data, BSS and stacks) lies in physical memory.
struct BootInfo {
    const void* fdt;
    std::uintptr_t image_start;
    std::uintptr_t image_end;
};

/// The portable boot (src/boot/boot.cpp), called by the machine's entry on the boot pCPU once
/// it has a stack, its per-pCPU data and a checked DTB.
[[noreturn]] void hypervisor_main(const BootInfo& boot);
/// The portable side of a secondary pCPU (src/boot/boot.cpp), called by the machine on pCPU
/// `pcpu` started by arch_cpu_on, once it has its stack, the EL2 MMU, its vectors and its
/// per-pCPU data.
[[noreturn]] void pcpu_main(std::uint32_t pcpu);

/// Start the physical CPU `mpidr` (PSCI CPU_ON through the firmware) as pCPU `pcpu`; it enters
/// pcpu_main(pcpu). Returns the firmware's PSCI status (0: success).
std::int64_t arch_cpu_on(Mpidr mpidr, std::uint32_t pcpu);
/// Turn this secondary pCPU off for good (PSCI CPU_OFF; if that returns, wait in WFE).
[[noreturn]] void arch_cpu_off();

/// Identity-map [pa, pa + size) for the hypervisor, as normal memory or as device memory (whole
/// GiBs), before / after the EL2 MMU is on.
void arch_mmu_map(std::uint64_t pa, std::uint64_t size, bool normal);
/// Turn on the EL2 MMU and caches with the map built so far.
void arch_mmu_enable();
/// Clean [start, start+size) to the point of coherency and invalidate the I-cache: a guest that
/// starts with its MMU off reads memory uncached (Arm ARM D8.2.10).
void arch_clean_dcache(std::uint64_t start, std::uint64_t size);

/// Power the machine off through the firmware (PSCI SYSTEM_OFF).
[[noreturn]] void arch_power_off();
/// Stop this pCPU for good (interrupts masked, waiting in WFE).
[[noreturn]] void arch_halt();
/// This pCPU's MPIDR_EL1.
Mpidr arch_mpidr();

/// The features that decide how guests run, read once from the boot pCPU.
struct CpuFeatures {
    IdRegisterFile ids;  ///< the whole ID register group 3, as the hardware has it
    PmcrEl0 pmcr;        ///< zero without a PMU
    std::uint64_t midr;  ///< MIDR_EL1, shown to guests as their own (VPIDR_EL2)
    IchVtrEl2 ich_vtr;
    IdAa64Mmfr0 mmfr0() const { return IdAa64Mmfr0(ids.get(7, 0)); }
    IdAa64Dfr0 dfr0() const { return IdAa64Dfr0(ids.get(5, 0)); }
};
CpuFeatures arch_cpu_features();

/// The EL2 controls every guest runs under, computed by the portable code (boot/guest_hw.cpp)
/// and written by the machine. HCR_EL2 is per vCPU (VcpuSysRegs::hcr_el2); this one is the
/// value outside any guest.
struct El2Controls {
    HcrEl2 hcr;
    VtcrEl2 vtcr;
    CptrEl2 cptr;
    CnthctlEl2 cnthctl;
    MdcrEl2 mdcr;
    std::uint64_t vpidr;
};
void arch_write_el2_controls(const El2Controls& controls);

// ---- The physical console (a PL011) ----------------------------------------------------------

/// Use the UART at `base` (physical; mapped as device memory). Until then output is dropped.
void arch_console_init(std::uintptr_t base);
/// Write `text`; each '\n' goes out as CR LF.
void arch_console_write(std::string_view text);
/// Let the UART raise its receive interrupts.
void arch_console_rx_enable();
/// One received byte, if the UART has one.
bool arch_console_read(std::uint8_t& byte);
/// Clear the UART's receive interrupts after draining it.
void arch_console_rx_clear();

// ---- The physical GIC ------------------------------------------------------------------------

struct GicInfo {
    std::uintptr_t dist = 0;
    std::uintptr_t redist_region = 0;
    std::uint64_t redist_size = 0;
};

/// Bring up the distributor, this pCPU's redistributor and the CPU interface (EOImode 1: the
/// hypervisor drops priority with EOIR and deactivates separately, so a forwarded timer PPI can
/// stay active until the guest deactivates it through a hardware-linked list register).
/// False if no redistributor matches this pCPU.
bool arch_gic_init(const GicInfo& info);
/// The same for a secondary pCPU: its redistributor and CPU interface (the distributor is up).
bool arch_gic_init_cpu();
/// Enable a PPI of this pCPU / an SPI routed to this pCPU, as group 1 with `priority`.
void arch_irq_enable_ppi(std::uint32_t intid, std::uint8_t priority);
void arch_irq_enable_spi(std::uint32_t intid, std::uint8_t priority, bool edge);
/// Acknowledge the highest-priority pending interrupt (kIntidSpurious if none).
inline std::uint32_t arch_irq_ack();
/// Priority drop (EOIR) and deactivation (DIR), separately because of EOImode 1.
inline void arch_irq_priority_drop(std::uint32_t intid);
inline void arch_irq_deactivate(std::uint32_t intid);
/// Wait for an interrupt (WFI; interrupts stay masked at EL2, a pending one still wakes it).
void arch_wait_for_interrupt();

// ---- pCPUs -----------------------------------------------------------------------------------

/// This pCPU's data (TPIDR_EL2 on EL2): what exec/cpu.hpp's this_cpu() returns, a CpuLocal.
inline void* arch_cpu_data();

/// Wait for an event (WFE): what a spinning lock waiter does between looks at the lock. The
/// event register latches, so an event sent between the look and the wait is not lost.
inline void arch_wait_event();
/// Wake every pCPU waiting in arch_wait_event (SEV), after releasing a lock.
inline void arch_send_event();
/// Order device DMA against the guest's CPUs (DMB ISH): before a copy into guest RAM, so that
/// it is seen after everything written before it; after a copy out, so that nothing read later
/// is older (DeviceHost::write_guest, read_guest).
inline void arch_dma_barrier();
/// Interrupt pCPU `pcpu` (its index in boot order) with the kick SGI (kIntidKick): it leaves
/// its guest or its idle WFI and runs its executor's inbox.
void arch_kick_pcpu(std::uint32_t pcpu);
/// The value arch_kick_pcpu writes to ICC_SGI1R_EL1 for `pcpu` (the EL2 vectors' SGI answer
/// kicks with it directly: SgiRoute::kick). Known once the pCPU is recorded at bring-up.
std::uint64_t arch_kick_value(std::uint32_t pcpu);
/// This pCPU's EL2 vectors: with `sgi_routes`, the table that answers a spread guest's
/// ICC_SGI1R_EL1 write to a vCPU on another pCPU itself (CpuLocal::sgi_routes, Vcpu::load);
/// otherwise the one every other vCPU uses (the boot default).
void arch_select_vectors(bool sgi_routes);

// ---- Time ------------------------------------------------------------------------------------

/// The physical counter (CNTPCT_EL0) and the hypervisor's own timer (CNTHP, PPI 26).
std::uint64_t arch_now();
/// Its frequency in Hz (CNTFRQ_EL0).
std::uint64_t arch_counter_frequency();
void arch_hyp_timer_arm(std::uint64_t deadline);
void arch_hyp_timer_disarm();
/// A 32-bit load from a device register the EL2 MMU maps (the machine's RTC, read once at boot).
std::uint32_t arch_device_read32(std::uint64_t pa);

/// EL1 timer state of the loaded vCPU, for WFI: whether its virtual or physical timer is
/// armed (enabled, not masked), whether it has fired, and when it fires in physical counter
/// ticks (CNTPCT).
struct TimerStatus {
    bool armed;
    bool fired;
    std::uint64_t deadline;
};
TimerStatus arch_vtimer_status();
TimerStatus arch_ptimer_status();

// ---- A vCPU's state on the pCPU --------------------------------------------------------------

/// Guest EL1/EL0 state that lives in system registers while the vCPU is loaded on a pCPU and in
/// this structure otherwise. Switched only when another vCPU is loaded, never per trap.
struct alignas(16) VcpuSysRegs {
    // ACTLR_EL1 is not here: IMPLEMENTATION DEFINED, trapped (HCR_EL2.TACR), left as reset.
    std::uint64_t sctlr_el1, cpacr_el1, ttbr0_el1, ttbr1_el1, tcr_el1, mair_el1, amair_el1,
        vbar_el1, contextidr_el1, tpidr_el0, tpidrro_el0, tpidr_el1, sp_el0, sp_el1, elr_el1,
        spsr_el1, esr_el1, far_el1, afsr0_el1, afsr1_el1, par_el1, cntkctl_el1, csselr_el1,
        mdscr_el1, cntv_ctl_el0, cntv_cval_el0, cntp_ctl_el0, cntp_cval_el0;
    std::uint64_t vmpidr_el2;
    std::uint64_t vttbr_el2;
    std::uint64_t hcr_el2;      ///< per vCPU: WFI/WFE trap only when the pCPU is shared
    std::uint64_t cntvoff_el2;  ///< per guest: its virtual counter starts at 0 when it boots
    /// MDCR_EL2 while this vCPU runs: the debug registers trap (TDA, TDOSA, TDRA) until the
    /// guest first touches one; from then on they are its own (debug_live) and switched with it.
    std::uint64_t mdcr_el2;
    bool debug_live;
    /// Its breakpoint and watchpoint registers (switched only while debug_live).
    std::uint64_t dbgbcr[16], dbgbvr[16], dbgwcr[16], dbgwvr[16];
    /// CPACR_EL1 bits always set in the hardware (kept across resets): ZEN and SMEN where the
    /// CPU has SVE / SME, so that no EL1 trap hides them and every access to those hidden
    /// features traps to EL2 (CPTR_EL2.TZ/TSM) and gets an UNDEF. The guest sees them as 0.
    std::uint64_t cpacr_force;
    // The virtual CPU interface's own state (IHI 0069 12.5: ICH_VMCR_EL2, ICH_AP<n>R0_EL2);
    // the list registers travel in the vCPU's ListRegisterFile.
    std::uint64_t ich_vmcr_el2, ich_ap0r0_el2, ich_ap1r0_el2;
    /// The timer PPIs' physical active state: a forwarded timer interrupt stays active until
    /// the guest deactivates it, so that state belongs to the vCPU, not the pCPU.
    bool vtimer_active, ptimer_active;
    // FP/SIMD: the hypervisor is built with -mgeneral-regs-only, so these change only when
    // another vCPU is loaded. q[2n], q[2n+1] hold Qn (FPSIMD_Q(n) bytes from q).
    std::uint64_t fpsr, fpcr;
    alignas(16) std::uint64_t q[64];
};

/// The reset values an EL1 guest starts with (MMU and caches off); HCR_EL2 and CNTVOFF_EL2 are
/// kept (they belong to the guest's placement, not its state).
inline void reset_sysregs(VcpuSysRegs& s, Mpidr vmpidr, std::uint64_t vttbr) {
    std::uint64_t hcr = s.hcr_el2;
    std::uint64_t cntvoff = s.cntvoff_el2;
    std::uint64_t cpacr_force = s.cpacr_force;
    std::uint64_t mdcr = s.mdcr_el2;
    s = VcpuSysRegs{};
    s.cpacr_force = cpacr_force;
    // A reset vCPU starts with the debug registers trapped again (and cleared).
    s.mdcr_el2 = MdcrEl2(mdcr).set_tda(true).set_tdosa(true).set_tdra(true).value();
    s.cpacr_el1 = cpacr_force;
    s.sctlr_el1 = SctlrEl1{}.value();
    s.vmpidr_el2 = vmpidr.value();
    s.vttbr_el2 = vttbr;
    s.hcr_el2 = hcr;
    s.cntvoff_el2 = cntvoff;
}

/// The loaded vCPU's HCR_EL2 changed (its pCPU's WFI trapping was decided again).
void arch_set_hcr(std::uint64_t hcr);
/// Load `s` into the pCPU's registers (EL1 state, FP/SIMD, VTTBR_EL2, VMPIDR_EL2).
void arch_load_vcpu(const VcpuSysRegs& s);
/// Save the pCPU's registers into `s`.
void arch_save_vcpu(VcpuSysRegs& s);
/// Copy the vGIC's list-register image into ICH_LR<n>_EL2 and ICH_HCR_EL2 / read back the LRs
/// marked in use. (A vCPU's LR image is also what travels with it across vCPU switches.)
void arch_write_lrs(const ListRegisterFile& lrs);
void arch_read_lrs(ListRegisterFile& lrs);
/// The loaded vCPU's empty list registers (ICH_ELRSR_EL2, IHI 0069 12.5.6): bit n is set when
/// LR n holds no interrupt, neither pending nor active nor awaiting an EOI maintenance
/// interrupt.
inline std::uint32_t arch_lr_empty();
/// One list register written alone (direct injection).
inline void arch_write_lr(std::uint32_t n, ListRegister lr);

/// The loaded vCPU takes the debug hardware: `s.debug_live` is set, its saved breakpoint and
/// watchpoint registers are loaded and MDCR_EL2 stops trapping them (s.mdcr_el2 updated).
/// arch_save_vcpu saves them and disables every breakpoint and watchpoint for the next vCPU.
void arch_debug_take(VcpuSysRegs& s);

/// The loaded vCPU's CPACR_EL1 (trapped by CPTR_EL2.TCPAC where SVE or SME is hidden).
std::uint64_t arch_cpacr_el1();
void arch_set_cpacr_el1(std::uint64_t value);

/// Invalidate every stage-1 and stage-2 TLB entry of the VMID in `vttbr` (after a remap).
void arch_flush_guest_tlb(std::uint64_t vttbr);

/// The faulting IPA of the last data or instruction abort exit (HPFAR_EL2 + FAR_EL2 offset),
/// and FAR_EL2 itself. Valid until the next exit: read them before anything can suspend.
inline std::uint64_t arch_fault_ipa();
inline std::uint64_t arch_fault_far();

/// Deliver a synchronous exception to the loaded vCPU's EL1 (Arm ARM D1.10.2): ELR_EL1/SPSR_EL1
/// take the interrupted PC/PSTATE, ESR_EL1/FAR_EL1 the syndrome; `regs` then resumes at the
/// vector. Needs the vCPU loaded (VBAR_EL1 and friends are live) and its PC state saved into
/// `regs` (arch_save_pc_state).
void arch_inject_sync_exception(GuestRegs& regs, std::uint64_t esr_el1, std::uint64_t far_el1);

// ---- The world switch and the fast loop's live registers --------------------------------------

/// Enter the guest with `regs` and return when it exits (a KVM-style "run" call): x0..x18 and
/// x27..x30 are saved back into `regs`; the exit kind and ESR come back in registers.
///
/// On EL2 the switch preserves only x27, x28 (the run loop's vCPU pointer and counter), x29 and
/// sp; it leaves the guest's x19..x26 live in the registers, which is correct only in code built
/// with -ffixed-x19..x26 (src/vm/vcpu.cpp) between arch_enter_fast_path and
/// arch_leave_fast_path (docs/architecture.md, "Register pinning").
inline GuestExit enter_guest(GuestRegs* regs);
/// Save the hypervisor's x19..x26 into `host` and load the guest's from `regs`.
inline void arch_enter_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]);
/// Store the guest's live x19..x26 into `regs` and give the hypervisor back its own.
inline void arch_leave_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]);
/// Copy the guest's live x19..x26 into `regs` (to read them) / load them back (after writing).
inline void arch_spill_live_regs(GuestRegs& regs);
inline void arch_fill_live_regs(const GuestRegs& regs);

/// The guest's PC and PSTATE live in ELR_EL2/SPSR_EL2 while the run loop's fast path runs:
/// load them from `regs` before entering it, save them back when leaving it (or before any code
/// that reads or changes regs.elr/spsr), and advance the PC in place.
inline void arch_load_pc_state(const GuestRegs& regs);
inline void arch_save_pc_state(GuestRegs& regs);
inline void arch_advance_pc(GuestRegs& regs);

}  // namespace corvisor

// The implementation's inline definitions of the calls declared `inline` above.
#include "arch_inline.hpp"
