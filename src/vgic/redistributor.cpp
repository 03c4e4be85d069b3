// The redistributors (GICR_, IHI 0069H "The GIC Redistributor register map"): one RD_base frame
// and one SGI_base frame per vCPU, 0x20000 bytes together, vCPU 0 first. No LPIs, no GICv4.
#include "vgic/id_registers.hpp"
#include "vgic/vgic.hpp"

namespace corvisor {

namespace {

constexpr std::uint64_t kSgiBase = 0x10000;

// RD_base registers modelled; everything else there (GICR_CTLR with no LPIs: EnableLPIs, RWP,
// UWP all 0; GICR_STATUSR; PROPBASER/PENDBASER) is RAZ/WI.
enum class Gicr : std::uint64_t {
    kIidr = 0x0004,
    kTyper = 0x0008,  // 64-bit; also two 32-bit halves
    kTyperHigh = 0x000c,
    kWaker = 0x0014,
};

constexpr std::uint32_t kIidr = 0x0000043b;  // as GICD_IIDR

// GICR_TYPER: Affinity_Value [63:32] (Aff3.Aff2.Aff1.Aff0 = 0.0.0.vCPU), Processor_Number
// [23:8], Last [4] on the last redistributor of the region; PLPIS, VLPIS, DirectLPI: 0.
constexpr unsigned kTyperAffinityShift = 32;
constexpr unsigned kTyperProcessorShift = 8;
constexpr std::uint64_t kTyperLast = 1u << 4;

// GICR_WAKER: ProcessorSleep [1] RW, ChildrenAsleep [2] RO. The model has nothing to quiesce, so
// ChildrenAsleep follows ProcessorSleep at once and the guest's handshake completes.
constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;

}  // namespace

MmioResult Vgic::Redistributors::mmio(MmioAccess access) {
    const ModelGuard guard(vgic_);
    vgic_.before_access(access);
    return MmioResult::done(vgic_.redistributor_access(access));
}

[[gnu::cold]] std::uint64_t Vgic::redistributor_access(MmioAccess a) {
    const std::uint64_t vcpu = a.offset() / kGicRedistStride;
    if (vcpu >= config_.vcpus) {
        return 0;  // past the last redistributor
    }
    const auto v = static_cast<std::uint32_t>(vcpu);
    const std::uint64_t offset = a.offset() % kGicRedistStride;
    if (offset >= kSgiBase) {
        // SGI_base: the per-INTID groups for INTIDs 0-31; GICR_IGRPMODR0 and GICR_NSACR are
        // RAZ/WI with DS = 1, like the rest of the frame.
        std::uint64_t value = 0;
        return irq_register(v, false, offset - kSgiBase, a, value) ? value : 0;
    }
    if (a.size() == 8 && offset == static_cast<std::uint64_t>(Gicr::kTyper)) {
        return a.write() ? 0 : redistributor_typer(v);
    }
    // The rest are 32-bit registers: other widths RAZ/WI, as in the distributor.
    if (a.size() != 4 || offset % 4 != 0) {
        return 0;
    }
    if (a.write()) {
        if (offset == static_cast<std::uint64_t>(Gicr::kWaker)) {
            vcpu_[v].asleep = (a.data() & kWakerProcessorSleep) != 0;
        }
        return 0;  // GICR_WAKER is the only writable RD_base register here
    }
    if (const auto id = vgic::id_register(offset, vgic::kRedistributorPart)) {
        return *id;
    }
    switch (static_cast<Gicr>(offset)) {
        case Gicr::kIidr:
            return kIidr;
        case Gicr::kTyper:
            return redistributor_typer(v) & 0xffff'ffffu;
        case Gicr::kTyperHigh:
            return redistributor_typer(v) >> 32;
        case Gicr::kWaker:
            return vcpu_[v].asleep ? (kWakerProcessorSleep | kWakerChildrenAsleep) : 0u;
    }
    return 0;
}

std::uint64_t Vgic::redistributor_typer(std::uint32_t vcpu) const {
    return std::uint64_t{vcpu} << kTyperAffinityShift |
           std::uint64_t{vcpu} << kTyperProcessorShift |
           (vcpu + 1 == config_.vcpus ? kTyperLast : 0);
}

}  // namespace corvisor
