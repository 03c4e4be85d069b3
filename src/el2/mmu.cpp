// The EL2 stage-1 translation: an identity map with 1 GiB blocks (Arm ARM D8.3), normal
// write-back memory for RAM and Device-nGnRE for everything else we touch (UART, GIC).
#include "arch/arch.hpp"
#include "el2/sysreg.hpp"

namespace corvisor {

namespace {

constexpr unsigned kVaBits = 39;  // level-1 start: 512 x 1 GiB covers every virt address we use
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kMairNormalIdx = 0;
constexpr std::uint64_t kMairDeviceIdx = 1;
// MAIR_EL2 attr0 = normal inner/outer write-back non-transient RW-allocate; attr1 = Device-nGnRE.
constexpr std::uint64_t kMair = 0xffull | (0x04ull << 8);

// Block descriptor bits (Arm ARM D8.3.2): valid block, AttrIndx, AP[1]=1 (RES1 at EL2), SH, AF.
constexpr std::uint64_t kBlock = 0x1;
constexpr std::uint64_t kAf = 1ull << 10;
constexpr std::uint64_t kShInner = 3ull << 8;
constexpr std::uint64_t kXn = 1ull << 54;

alignas(4096) std::uint64_t g_l1[512];

void map_gib(std::uint64_t pa, bool normal) {
    std::uint64_t idx = pa / kGiB;
    if (idx >= 512) {
        return;
    }
    std::uint64_t attrs = normal ? (kMairNormalIdx << 2) | kShInner : (kMairDeviceIdx << 2) | kXn;
    std::uint64_t want = (idx * kGiB) | attrs | kAf | kBlock;
    // Normal wins over device when both land in one GiB (RAM and a device never share one on
    // QEMU virt; on other boards this map must get finer).
    if ((g_l1[idx] & 1) == 0 || normal) {
        g_l1[idx] = want;
    }
}

}  // namespace

void arch_mmu_map(std::uint64_t pa, std::uint64_t size, bool normal) {
    for (std::uint64_t a = pa & ~(kGiB - 1); a < pa + size; a += kGiB) {
        map_gib(a, normal);
    }
}

void arch_mmu_enable() {
    std::uint64_t ps = IdAa64Mmfr0(CV_READ_SYSREG(id_aa64mmfr0_el1)).pa_range();
    if (ps > 5) {
        ps = 5;  // 48 bits: 52-bit output addresses need LPA2 or 64 KiB pages
    }
    TcrEl2 tcr;
    tcr.set_t0sz(64 - kVaBits)
        .set_irgn0(TcrEl2::kCacheWbWa)
        .set_orgn0(TcrEl2::kCacheWbWa)
        .set_sh0(TcrEl2::kInnerShareable)
        .set_tg0(TcrEl2::kGranule4K)
        .set_ps(ps);
    CV_WRITE_SYSREG(mair_el2, kMair);
    CV_WRITE_SYSREG(tcr_el2, tcr.value());
    CV_WRITE_SYSREG(ttbr0_el2, reinterpret_cast<std::uint64_t>(g_l1));
    dsb_sy();
    asm volatile("tlbi alle2\n dsb sy" ::: "memory");
    isb();
    SctlrEl2 sctlr;
    sctlr.set_m(true).set_c(true).set_i(true).set_sa(true);
    CV_WRITE_SYSREG(sctlr_el2, sctlr.value());
    isb();
}

void arch_clean_dcache(std::uint64_t start, std::uint64_t size) {
    std::uint64_t ctr = CV_READ_SYSREG(ctr_el0);
    std::uint64_t line = 4ull << ((ctr >> 16) & 0xf);
    for (std::uint64_t a = start & ~(line - 1); a < start + size; a += line) {
        asm volatile("dc cvac, %0" ::"r"(a) : "memory");
    }
    dsb_sy();
    asm volatile("ic iallu\n dsb sy\n isb" ::: "memory");
}

}  // namespace corvisor
