// The EL2 control registers and the ID registers the hypervisor reads, as typed values (field
// names and positions from the Arm ARM, DDI 0487, chapter D19 "AArch64 System Register
// Descriptions", and the GICv3 spec, IHI 0069, 12.5). Portable: the values are built and tested
// on the host; src/el2 only moves them in and out of the hardware.
#pragma once

#include <cstdint>

#include "arch/bitfield.hpp"

namespace corvisor {

/// HCR_EL2, hypervisor configuration: what traps to EL2 and how the guest's EL1 runs.
class HcrEl2 {
    CV_REGISTER(HcrEl2, std::uint64_t, 0)
    CV_BIT(0, vm)    ///< stage-2 translation on
    CV_BIT(1, swio)  ///< set/way invalidation by EL1 performs clean+invalidate
    CV_BIT(3, fmo)   ///< physical FIQ to EL2, virtual FIQ to EL1
    CV_BIT(4, imo)   ///< physical IRQ to EL2, virtual IRQ to EL1 (also traps ICC_SGI*R)
    CV_BIT(5, amo)   ///< SError to EL2
    CV_BIT(9, fb)    ///< EL1 TLB and I-cache maintenance broadcast to the inner shareable domain
    CV_FIELD(11, 10, bsu)  ///< barrier shareability upgrade (kBsuInner)
    CV_BIT(13, twi)        ///< trap WFI
    CV_BIT(14, twe)        ///< trap WFE
    CV_BIT(18, tid3)       ///< trap the ID group 3 registers (ID_AA64*_EL1 and friends)
    CV_BIT(19, tsc)        ///< trap SMC
    CV_BIT(20, tidcp)      ///< trap IMPLEMENTATION DEFINED system registers
    CV_BIT(21, tacr)       ///< trap ACTLR_EL1
    CV_BIT(22, tsw)        ///< trap data cache maintenance by set/way
    CV_BIT(27, tge)        ///< EL0 runs in the EL2 regime (never set by corvisor)
    CV_BIT(31, rw)         ///< EL1 is AArch64
    CV_BIT(34, e2h)        ///< EL2 host (VHE) mode (never set by corvisor)
    CV_BIT(35, tlor)       ///< trap the LORegion registers (FEAT_LOR)
    CV_BIT(36, terr)       ///< trap the RAS error record registers (FEAT_RAS)
    CV_BIT(40, apk)        ///< pointer authentication key registers not trapped
    CV_BIT(41, api)        ///< pointer authentication instructions not trapped
    static constexpr std::uint64_t kBsuInner = 0b01;
};

/// CPTR_EL2 with HCR_EL2.E2H = 0: traps of FP/SIMD, SVE, SME, trace and activity monitors.
class CptrEl2 {
public:
    /// RES1: bits 13, 9 and 7:0. TZ (8) and TSM (12) are RES1 too on cores without SVE / SME,
    /// so writing them set is correct everywhere.
    static constexpr std::uint64_t kRes1 = 0x22ff;
    CV_REGISTER(CptrEl2, std::uint64_t, kRes1)
    CV_BIT(8, tz)      ///< trap SVE
    CV_BIT(10, tfp)    ///< trap FP/SIMD
    CV_BIT(12, tsm)    ///< trap SME
    CV_BIT(20, tta)    ///< trap trace registers
    CV_BIT(30, tam)    ///< trap activity monitor registers
    CV_BIT(31, tcpac)  ///< trap CPACR_EL1
};

/// CNTHCTL_EL2 with HCR_EL2.E2H = 0: EL1's access to the physical counter and timer.
class CnthctlEl2 {
    CV_REGISTER(CnthctlEl2, std::uint64_t, 0)
    CV_BIT(0, el1pcten)  ///< EL1/EL0 may read CNTPCT_EL0
    CV_BIT(1, el1pcen)   ///< EL1/EL0 may use the EL1 physical timer (CNTP_*)
    CV_BIT(2, evnten)    ///< event stream
};

/// MDCR_EL2: traps of the debug, performance-monitor, statistical-profiling and trace
/// registers, and how many PMU event counters EL1 sees.
class MdcrEl2 {
    CV_REGISTER(MdcrEl2, std::uint64_t, 0)
    CV_FIELD(4, 0, hpmn)    ///< event counters 0..HPMN-1 belong to EL1/EL0
    CV_BIT(5, tpmcr)        ///< trap PMCR_EL0
    CV_BIT(6, tpm)          ///< trap every PMU register
    CV_BIT(7, hpme)         ///< enable counters HPMN.. (the hypervisor's own)
    CV_BIT(8, tde)          ///< route debug exceptions to EL2
    CV_BIT(9, tda)          ///< trap debug registers (DBGB*, DBGW*, MDSCR_EL1, ...)
    CV_BIT(10, tdosa)       ///< trap OS lock / power-down debug registers
    CV_BIT(11, tdra)        ///< trap the debug ROM address registers
    CV_FIELD(13, 12, e2pb)  ///< FEAT_SPE: profiling buffer owner (0b00: EL2, EL1 access traps)
    CV_BIT(14, tpms)        ///< FEAT_SPE: trap the profiling controls
    CV_BIT(17, hpmd)        ///< FEAT_PMUv3p1: no event counting at EL2
    CV_BIT(19, ttrf)        ///< FEAT_TRF: trap the trace filter controls
    CV_FIELD(25, 24, e2tb)  ///< FEAT_TRBE: trace buffer owner (0b00: EL2, EL1 access traps)
};

/// SCTLR_EL2 with HCR_EL2.E2H = 0.
class SctlrEl2 {
public:
    static constexpr std::uint64_t kRes1 = 0x30c50830;
    CV_REGISTER(SctlrEl2, std::uint64_t, kRes1)
    CV_BIT(0, m)     ///< stage-1 MMU
    CV_BIT(1, a)     ///< alignment checks
    CV_BIT(2, c)     ///< data accesses cacheable
    CV_BIT(3, sa)    ///< SP alignment check
    CV_BIT(12, i)    ///< instruction fetches cacheable
    CV_BIT(19, wxn)  ///< writable implies execute-never
};

/// SCTLR_EL1: only its reset value is the hypervisor's business (a guest owns the rest).
class SctlrEl1 {
public:
    /// RES1 bits; MMU, caches and alignment checks off: what a guest boots with.
    static constexpr std::uint64_t kRes1 = 0x30d00800;
    CV_REGISTER(SctlrEl1, std::uint64_t, kRes1)
    CV_BIT(0, m)
    CV_BIT(2, c)
    CV_BIT(12, i)
};

/// TCR_EL2 with HCR_EL2.E2H = 0: one translation regime, TTBR0_EL2.
class TcrEl2 {
public:
    static constexpr std::uint64_t kRes1 = (1ull << 31) | (1ull << 23);
    static constexpr std::uint64_t kCacheWbWa = 0b01;       ///< IRGN0/ORGN0 write-back allocate
    static constexpr std::uint64_t kInnerShareable = 0b11;  ///< SH0
    static constexpr std::uint64_t kGranule4K = 0b00;       ///< TG0
    CV_REGISTER(TcrEl2, std::uint64_t, kRes1)
    CV_FIELD(5, 0, t0sz)
    CV_FIELD(9, 8, irgn0)
    CV_FIELD(11, 10, orgn0)
    CV_FIELD(13, 12, sh0)
    CV_FIELD(15, 14, tg0)
    CV_FIELD(18, 16, ps)
};

/// VTCR_EL2, the stage-2 translation control.
class VtcrEl2 {
public:
    static constexpr std::uint64_t kRes1 = std::uint64_t{1} << 31;
    static constexpr std::uint64_t kTg0Granule4K = 0b00;
    static constexpr std::uint64_t kCacheWbWa = 0b01;       ///< IRGN0/ORGN0 write-back allocate
    static constexpr std::uint64_t kInnerShareable = 0b11;  ///< SH0
    CV_REGISTER(VtcrEl2, std::uint64_t, kRes1)
    CV_FIELD(5, 0, t0sz)     ///< IPA size is 2^(64 - T0SZ)
    CV_FIELD(7, 6, sl0)      ///< start level; its encoding depends on TG0
    CV_FIELD(9, 8, irgn0)    ///< inner cacheability of table walks
    CV_FIELD(11, 10, orgn0)  ///< outer cacheability of table walks
    CV_FIELD(13, 12, sh0)    ///< shareability of table walks
    CV_FIELD(15, 14, tg0)    ///< granule
    CV_FIELD(18, 16, ps)     ///< output address size, ID_AA64MMFR0_EL1.PARange encoding
    CV_BIT(19, vs)           ///< 16-bit VMID
};

/// CNTV_CTL_EL0 / CNTP_CTL_EL0 / CNTHP_CTL_EL2: a generic timer's control.
class TimerCtl {
    CV_REGISTER(TimerCtl, std::uint64_t, 0)
    CV_BIT(0, enable)
    CV_BIT(1, imask)    ///< interrupt masked
    CV_BIT(2, istatus)  ///< condition met (read-only)
};

/// ICH_HCR_EL2: the virtual CPU interface's controls (IHI 0069 12.5.7).
class IchHcrEl2 {
    CV_REGISTER(IchHcrEl2, std::uint64_t, 0)
    CV_BIT(0, en)       ///< virtual CPU interface enabled
    CV_BIT(1, uie)      ///< maintenance interrupt when at most one LR is valid
    CV_BIT(2, lrenpie)  ///< ... on an EOI of an interrupt in no LR
    CV_BIT(3, npie)     ///< ... when no LR is pending
    CV_BIT(13, tsei)    ///< trap the guest's SEI
    CV_FIELD(31, 27, eoicount)
};

/// ICH_VMCR_EL2: the guest-visible state of its virtual CPU interface (IHI 0069 12.5.14).
class IchVmcrEl2 {
    CV_REGISTER(IchVmcrEl2, std::uint64_t, 0)
    CV_BIT(0, veng0)
    CV_BIT(1, veng1)
    CV_BIT(4, vcbpr)
    CV_BIT(9, veoim)
    CV_FIELD(20, 18, vbpr1)
    CV_FIELD(23, 21, vbpr0)
    CV_FIELD(31, 24, vpmr)
};

/// ICH_VTR_EL2: what the virtual CPU interface implements (IHI 0069 12.5.15).
class IchVtrEl2 {
    CV_REGISTER(IchVtrEl2, std::uint64_t, 0)
    CV_FIELD(4, 0, list_regs)  ///< implemented list registers minus one
    CV_BIT(19, tds)
    CV_FIELD(25, 23, id_bits)
    CV_FIELD(28, 26, pre_bits)  ///< preemption bits minus one
    CV_FIELD(31, 29, pri_bits)  ///< priority bits minus one
    constexpr std::uint32_t list_registers() const {
        return static_cast<std::uint32_t>(list_regs()) + 1;
    }
};

/// ICC_SRE_EL2: system-register access to the GIC CPU interface (IHI 0069 12.2.24).
class IccSreEl2 {
    CV_REGISTER(IccSreEl2, std::uint64_t, 0)
    CV_BIT(0, sre)     ///< EL2 uses the system registers
    CV_BIT(3, enable)  ///< EL1 may use ICC_SRE_EL1 (guests' interface is system-register only)
};

/// ICC_CTLR_EL1 (as the hypervisor uses it for itself at EL2).
class IccCtlrEl1 {
    CV_REGISTER(IccCtlrEl1, std::uint64_t, 0)
    CV_BIT(1, eoimode)  ///< EOIR drops priority only; DIR deactivates
};

/// ID_AA64MMFR0_EL1: memory model features.
class IdAa64Mmfr0 {
    CV_REGISTER(IdAa64Mmfr0, std::uint64_t, 0)
    CV_FIELD(3, 0, pa_range)
};

/// ID_AA64DFR0_EL1: debug, PMU, profiling and trace features.
class IdAa64Dfr0 {
    CV_REGISTER(IdAa64Dfr0, std::uint64_t, 0)
    CV_FIELD(11, 8, pmu_ver)        ///< 0: no PMU; 1: PMUv3; 4: PMUv3p1; 0xf: IMPDEF
    CV_FIELD(15, 12, brps)          ///< breakpoints minus one
    CV_FIELD(23, 20, wrps)          ///< watchpoints minus one
    CV_FIELD(35, 32, pms_ver)       ///< statistical profiling (FEAT_SPE)
    CV_FIELD(43, 40, trace_filt)    ///< FEAT_TRF
    CV_FIELD(47, 44, trace_buffer)  ///< FEAT_TRBE
    constexpr bool has_pmuv3() const { return pmu_ver() != 0 && pmu_ver() != 0xf; }
    constexpr bool has_pmuv3p1() const { return has_pmuv3() && pmu_ver() >= 4; }
};

/// PMCR_EL0: only N, the number of event counters, is read.
class PmcrEl0 {
    CV_REGISTER(PmcrEl0, std::uint64_t, 0)
    CV_FIELD(15, 11, n)
};

/// MPIDR_EL1 / VMPIDR_EL2 affinity.
class Mpidr {
    CV_REGISTER(Mpidr, std::uint64_t, 0)
    CV_FIELD(7, 0, aff0)
    CV_FIELD(15, 8, aff1)
    CV_FIELD(23, 16, aff2)
    CV_BIT(31, res1)
    CV_FIELD(39, 32, aff3)
    /// Aff3.Aff2.Aff1.Aff0 packed in 32 bits, as GICR_TYPER[63:32] reports it.
    constexpr std::uint64_t packed_affinity() const {
        return (aff3() << 24) | (aff2() << 16) | (aff1() << 8) | aff0();
    }
    /// A vCPU's MPIDR: Aff0 = its index, bit 31 RES1.
    static constexpr Mpidr for_vcpu(std::uint32_t index) {
        return Mpidr{}.set_res1(true).set_aff0(index);
    }
};

}  // namespace corvisor
