// The physical GICv3, owned by the hypervisor (Arm IHI 0069): distributor, this pCPU's
// redistributor and the system-register CPU interface. Guests never reach it: they see a vGIC.
#include "el2/gic.hpp"

#include "arch/arch.hpp"
#include "base/limits.hpp"
#include "base/log.hpp"
#include "el2/percpu.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

namespace {

// Distributor (IHI 0069, 12.9) and redistributor (12.10, 12.11) registers used here.
constexpr std::uintptr_t kGicdCtlr = 0x0000;
constexpr std::uintptr_t kGicdIgroupr = 0x0080;
constexpr std::uintptr_t kGicdIsenabler = 0x0100;
constexpr std::uintptr_t kGicdIcenabler = 0x0180;
constexpr std::uintptr_t kGicdIpriorityr = 0x0400;
constexpr std::uintptr_t kGicdIcfgr = 0x0c00;
constexpr std::uintptr_t kGicdIrouter = 0x6000;
constexpr std::uint32_t kGicdCtlrRwp = 1u << 31;
constexpr std::uint32_t kGicdCtlrAre = 1u << 4;  // single security state layout (DS=1)
constexpr std::uint32_t kGicdCtlrEnableGrp1 = 1u << 1;

constexpr std::uintptr_t kGicrTyper = 0x0008;
constexpr std::uintptr_t kGicrWaker = 0x0014;
constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;
constexpr std::uint64_t kGicrTyperLast = 1u << 4;
constexpr std::uintptr_t kSgiBase = kGicRedistSgiBase;
constexpr std::uintptr_t kGicrIgroupr0 = kSgiBase + 0x0080;
constexpr std::uintptr_t kGicrIsenabler0 = kSgiBase + 0x0100;
constexpr std::uintptr_t kGicrIcenabler0 = kSgiBase + 0x0180;
constexpr std::uintptr_t kGicrIsactiver0 = kSgiBase + 0x0300;
constexpr std::uintptr_t kGicrIcactiver0 = kSgiBase + 0x0380;
constexpr std::uintptr_t kGicrIpriorityr = kSgiBase + 0x0400;

std::uintptr_t g_dist = 0;
GicInfo g_info;
std::uintptr_t g_rdists[kMaxPcpus];  // each pCPU's RD_base

/// This pCPU's RD_base.
std::uintptr_t rdist() {
    return g_rdists[this_cpu().id % kMaxPcpus];
}

template <class T>
T read(std::uintptr_t addr) {
    return *reinterpret_cast<volatile T*>(addr);
}
template <class T>
void write(std::uintptr_t addr, T v) {
    *reinterpret_cast<volatile T*>(addr) = v;
}

void wait_dist_rwp() {
    // Bounded: a GIC that never settles gets a warning, not a hang.
    for (int i = 0; i < 1000000; ++i) {
        if ((read<std::uint32_t>(g_dist + kGicdCtlr) & kGicdCtlrRwp) == 0) {
            return;
        }
    }
    log_warn("GIC distributor write still pending");
}

std::uint64_t mpidr_affinity() {
    return arch_mpidr().packed_affinity();
}

}  // namespace

bool arch_gic_init(const GicInfo& info) {
    g_dist = info.dist;
    g_info = info;
    write<std::uint32_t>(g_dist + kGicdCtlr, 0);
    wait_dist_rwp();
    write<std::uint32_t>(g_dist + kGicdCtlr, kGicdCtlrAre | kGicdCtlrEnableGrp1);
    wait_dist_rwp();
    return arch_gic_init_cpu();
}

bool arch_gic_init_cpu() {
    // Find this pCPU's redistributor: GICR_TYPER[63:32] holds its affinity (Aff3.Aff2.Aff1.Aff0).
    const GicInfo& info = g_info;
    std::uint64_t aff = mpidr_affinity();
    std::uintptr_t rd_base = 0;
    for (std::uintptr_t rd = info.redist_region; rd < info.redist_region + info.redist_size;
         rd += kGicRedistStride) {
        std::uint64_t typer = read<std::uint64_t>(rd + kGicrTyper);
        if ((typer >> 32) == aff) {
            rd_base = rd;
            break;
        }
        if ((typer & kGicrTyperLast) != 0) {
            break;
        }
    }
    if (rd_base == 0) {
        return false;
    }
    g_rdists[this_cpu().id % kMaxPcpus] = rd_base;

    // Wake the redistributor (12.11.42 GICR_WAKER).
    write<std::uint32_t>(rd_base + kGicrWaker,
                         read<std::uint32_t>(rd_base + kGicrWaker) & ~kWakerProcessorSleep);
    for (int i = 0; i < 1000000; ++i) {
        if ((read<std::uint32_t>(rd_base + kGicrWaker) & kWakerChildrenAsleep) == 0) {
            break;
        }
    }
    // Everything group 1 (non-secure), SGIs and PPIs disabled until asked for.
    write<std::uint32_t>(rd_base + kGicrIcenabler0, 0xffffffffu);
    write<std::uint32_t>(rd_base + kGicrIgroupr0, 0xffffffffu);

    CV_WRITE_SYSREG(icc_sre_el2,
                    IccSreEl2(CV_READ_SYSREG(icc_sre_el2)).set_sre(true).set_enable(true).value());
    isb();
    CV_WRITE_SYSREG(icc_pmr_el1, 0xff);
    CV_WRITE_SYSREG(icc_bpr1_el1, 0);
    CV_WRITE_SYSREG(icc_ctlr_el1,
                    IccCtlrEl1(CV_READ_SYSREG(icc_ctlr_el1)).set_eoimode(true).value());
    CV_WRITE_SYSREG(icc_igrpen1_el1, 1);
    isb();
    return true;
}

void arch_irq_enable_ppi(std::uint32_t intid, std::uint8_t priority) {
    write<std::uint8_t>(rdist() + kGicrIpriorityr + intid, priority);
    write<std::uint32_t>(rdist() + kGicrIsenabler0, 1u << intid);
}

std::uint64_t gic_kick_value(Mpidr m) {
    // ICC_SGI1R_EL1 (IHI 0069H 12.2.23): INTID [27:24], Aff3 [55:48], Aff2 [39:32], RS [47:44]
    // (Aff0 / 16), Aff1 [23:16], TargetList [15:0] (bit Aff0 % 16).
    return (std::uint64_t{kIntidKick} << 24) | (std::uint64_t{m.aff3()} << 48) |
           (std::uint64_t{m.aff2()} << 32) | (std::uint64_t{m.aff0() / 16u} << 44) |
           (std::uint64_t{m.aff1()} << 16) | (1ull << (m.aff0() % 16u));
}

void arch_irq_enable_spi(std::uint32_t intid, std::uint8_t priority, bool edge) {
    std::uint32_t word = intid / 32;
    std::uint32_t bit = 1u << (intid % 32);
    write<std::uint32_t>(g_dist + kGicdIcenabler + 4 * word, bit);
    wait_dist_rwp();
    write<std::uint32_t>(g_dist + kGicdIgroupr + 4 * word,
                         read<std::uint32_t>(g_dist + kGicdIgroupr + 4 * word) | bit);
    write<std::uint8_t>(g_dist + kGicdIpriorityr + intid, priority);
    std::uintptr_t cfg = g_dist + kGicdIcfgr + 4 * (intid / 16);
    std::uint32_t shift = 2 * (intid % 16) + 1;
    std::uint32_t v = read<std::uint32_t>(cfg);
    write<std::uint32_t>(cfg, edge ? v | (1u << shift) : v & ~(1u << shift));
    write<std::uint64_t>(g_dist + kGicdIrouter + 8 * intid, mpidr_affinity() & 0xffffff);
    write<std::uint32_t>(g_dist + kGicdIsenabler + 4 * word, bit);
}

void arch_wait_for_interrupt() {
    // Interrupts stay masked at EL2 (PSTATE.I): WFI still wakes on a pending one, which the
    // caller then acknowledges (IHI 0069: an interrupt is signalled to the PE regardless of
    // PSTATE.I).
    asm volatile("dsb sy\n wfi" ::: "memory");
}

bool gic_ppi_active(std::uint32_t intid) {
    return (read<std::uint32_t>(rdist() + kGicrIsactiver0) & (1u << intid)) != 0;
}

void gic_set_ppi_active(std::uint32_t intid, bool active) {
    write<std::uint32_t>(rdist() + (active ? kGicrIsactiver0 : kGicrIcactiver0), 1u << intid);
}

}  // namespace corvisor
