#include "boot/guest_hw.hpp"

#include "boot/guest_features.hpp"

namespace corvisor {

MdcrEl2 guest_mdcr(const CpuFeatures& f) {
    // The PMU is hidden (guest_features.cpp): every PMU register traps (TPM, TPMCR) and
    // answers with an UNDEF, so no guest reads or programs the counters another one uses.
    // HPMN stays PMCR_EL0.N and HPMD is set where the PMU can filter EL2 (PMUv3p1), so even a
    // later virtual PMU never counts the hypervisor. Statistical profiling and the trace buffer
    // stay owned by EL2 with EL1's accesses trapped (E2PB = E2TB = 0), and the profiling and
    // trace filter controls trap (TPMS, TTRF), where those features exist (their bits are RES0
    // elsewhere). The debug registers are this value plus TDA/TDOSA/TDRA per vCPU until it
    // first uses them (VcpuSysRegs::mdcr_el2, Vcpu::handle_sysreg); debug exceptions stay at
    // EL1 (TDE = 0), so a guest's breakpoints cannot stop EL2.
    MdcrEl2 m;
    m.set_tpm(f.dfr0().has_pmuv3()).set_tpmcr(f.dfr0().has_pmuv3());
    m.set_hpmn(f.pmcr.n());
    m.set_hpmd(f.dfr0().has_pmuv3p1());
    m.set_tpms(f.dfr0().pms_ver() != 0);
    m.set_ttrf(f.dfr0().trace_filt() != 0);
    return m;
}

Result<GuestHardware> guest_hardware(const CpuFeatures& f) {
    // 52-bit PAs need the 64 KiB granule or LPA2; stage 2 uses 48 bits with 4 KiB pages.
    const auto ps = static_cast<unsigned>(f.mmfr0().pa_range() > 5 ? 5 : f.mmfr0().pa_range());
    GuestHardware hw{};
    hw.geometry = CV_TRY(stage2_geometry(pa_range_bits(ps)));

    // Guests run at EL1 in AArch64 with stage 2 on; physical interrupts and SErrors come to us
    // (which also traps their SGI generation registers); SMC traps (PSCI over SMC). WFI and WFE
    // trap only where the pCPU is shared: a vCPU alone on its pCPU waits in hardware, and the
    // interrupt that ends the wait comes to EL2 anyway (IMO).
    //
    // Features (guest_features.cpp): the ID registers trap (TID3) and are answered from the
    // offer; IMPLEMENTATION DEFINED registers (TIDCP) and ACTLR_EL1 (TACR) trap; the RAS error
    // records (TERR) and LORegions (TLOR) trap where the CPU has them. Pointer authentication
    // stays trapped (API = APK = 0) and hidden: its keys are not switched. Set/way cache
    // maintenance is not trapped: SWIO upgrades an invalidation to clean+invalidate, so a guest
    // can never discard another's dirty lines.
    const HostFeatures host = host_features(f.ids);
    HcrEl2 hcr;
    hcr.set_vm(true)
        .set_swio(true)
        .set_fmo(true)
        .set_imo(true)
        .set_amo(true)
        .set_fb(true)
        .set_bsu(HcrEl2::kBsuInner)
        .set_tsc(true)
        .set_tid3(true)
        .set_tidcp(true)
        .set_tacr(true)
        .set_terr(host.ras)
        .set_tlor(host.lor)
        .set_rw(true);
    hw.hcr_alone = hcr.value();
    hw.hcr_shared = hcr.set_twi(true).set_twe(true).value();
    hw.list_registers = f.ich_vtr.list_registers();

    El2Controls& c = hw.controls;
    c.hcr = HcrEl2(hw.hcr_shared);
    c.vtcr = VtcrEl2(vtcr_el2_value(hw.geometry, ps));
    // FP/SIMD is not trapped (the hypervisor never touches it on the trap path and switches it
    // with the vCPU). SVE and SME trap (TZ, TSM): their state is not switched, and a guest that
    // uses them gets an UNDEF rather than another guest's vectors.
    // Where the CPU has them, EL1's own SVE/SME traps (CPACR_EL1.ZEN/SMEN) stay disabled in the
    // hardware, and CPACR_EL1 traps (TCPAC) so that the guest cannot change that: an access
    // then reaches TZ/TSM and gets an UNDEF, as on a CPU without them, instead of an EL1 trap
    // that would tell the guest the feature exists.
    hw.cpacr_force =
        (host.sve ? std::uint64_t{3} << 16 : 0) | (host.sme ? std::uint64_t{3} << 24 : 0);
    c.cptr = CptrEl2{}.set_tz(true).set_tsm(true).set_tam(host.amu).set_tcpac(hw.cpacr_force != 0);
    // EL1 may use its physical counter and timer: the hypervisor's own timer is CNTHP.
    // CNTVOFF_EL2 is per guest (loaded with its vCPUs).
    c.cnthctl = CnthctlEl2{}.set_el1pcten(true).set_el1pcen(true);
    c.mdcr = guest_mdcr(f);
    c.vpidr = f.midr;  // guests see the real MIDR
    hw.guest_ids = offered_id_registers(f.ids, ps);
    return hw;
}

}  // namespace corvisor
