// The distributor (GICD_, IHI 0069H "The GIC Distributor register map"), for a GIC with one
// Security state (GICD_CTLR.DS = 1) and affinity routing always on (ARE = 1), no LPIs.
#include "vgic/delivery.hpp"
#include "vgic/id_registers.hpp"

namespace corvisor {

using vgic::Irq;

namespace {

// Registers computed or with side effects; the per-INTID groups are in irq_registers.cpp.
enum class Gicd : std::uint64_t {
    kCtlr = 0x0000,
    kTyper = 0x0004,
    kIidr = 0x0008,
    kTyper2 = 0x000c,
};

// GICD_CTLR, DS == 1 layout: EnableGrp0 [0] and EnableGrp1 [1] RW; ARE [4] and DS [6] RAO/WI;
// RWP [31] reads 0 (writes take effect at once).
constexpr std::uint32_t kCtlrEnableGrp0 = 1u << 0;
constexpr std::uint32_t kCtlrEnableGrp1 = 1u << 1;
constexpr std::uint32_t kCtlrAre = 1u << 4;
constexpr std::uint32_t kCtlrDs = 1u << 6;

// GICD_TYPER.IDbits [23:19]: INTID bits minus one. 10 bits cover every SPI; no LPIs need more
// (KVM's vGIC reports the same without LPIs). LPIS, MBIS, SecurityExtn, A3V, DVIS: 0; No1N = 0
// (IRM = 1 routing is supported); CPUNumber is 0 with ARE = 1.
constexpr std::uint32_t kTyperIdBits = 9u << 19;

// GICD_IIDR / GICR_IIDR: Implementer 0x43b (Arm), product, variant and revision 0.
constexpr std::uint32_t kIidr = 0x0000043b;

// GICD_IROUTER<n> at 0x6000 + 8n for SPIs n = 32..1019: Aff0 [7:0], Aff1 [15:8], Aff2 [23:16],
// Interrupt_Routing_Mode [31]; Aff3 [39:32] is RES0 with GICD_TYPER.A3V = 0.
constexpr std::uint64_t kIrouterBase = 0x6000;
constexpr std::uint64_t kIrouterEnd = 0x7fe0;
constexpr std::uint64_t kIrouterMask = 0x80ff'ffffull;

}  // namespace

std::uint32_t Vgic::distributor_typer() const {
    // ITLinesNumber [4:0] = N, where the largest SPI INTID is 32(N + 1) - 1.
    return kTyperIdBits | config_.spis / 32;
}

MmioResult Vgic::Distributor::mmio(MmioAccess access) {
    // Registers that never depend on interrupt state need no access hook: GICD_TYPER (one
    // compare, guests read it on hot paths), GICD_IIDR, GICD_TYPER2 and the ID registers.
    if (access.is(static_cast<std::uint64_t>(Gicd::kTyper), 4, false)) {
        return MmioResult::done(typer_);
    }
    return vgic_.distributor_mmio(access);
}

[[gnu::cold, gnu::noinline]] MmioResult Vgic::distributor_mmio(MmioAccess a) {
    const ModelGuard guard(*this);  // here, so the GICD_TYPER shortcut stays a leaf
    const std::uint64_t offset = a.offset();
    const bool constant = !a.write() && a.size() == 4 &&
                          (offset == static_cast<std::uint64_t>(Gicd::kIidr) ||
                           offset == static_cast<std::uint64_t>(Gicd::kTyper2) ||
                           vgic::id_register(offset, vgic::kDistributorPart).has_value());
    if (!constant) {
        before_access(a);
    }
    return MmioResult::done(distributor_access(a));
}

[[gnu::cold]] std::uint64_t Vgic::distributor_access(MmioAccess a) {
    const std::uint64_t offset = a.offset();
    if (offset >= kIrouterBase && offset < kIrouterEnd) {
        return irouter_access(a);
    }
    std::uint64_t value = 0;
    if (irq_register(0, true, offset, a, value)) {
        return value;
    }
    // The remaining registers are 32-bit: other widths RAZ/WI, as for the groups.
    if (a.size() != 4 || offset % 4 != 0) {
        return 0;
    }
    if (const auto id = vgic::id_register(offset, vgic::kDistributorPart)) {
        return a.write() ? 0 : *id;
    }
    switch (static_cast<Gicd>(offset)) {
        case Gicd::kCtlr:
            if (a.write()) {
                const bool grp0 = (a.data() & kCtlrEnableGrp0) != 0;
                const bool grp1 = (a.data() & kCtlrEnableGrp1) != 0;
                if (grp0 != enable_grp0_ || grp1 != enable_grp1_) {
                    enable_grp0_ = grp0;
                    enable_grp1_ = grp1;
                    build_flags_lr();
                    refresh_all();
                }
                return 0;
            }
            return kCtlrAre | kCtlrDs | (enable_grp0_ ? kCtlrEnableGrp0 : 0u) |
                   (enable_grp1_ ? kCtlrEnableGrp1 : 0u);
        case Gicd::kTyper:
            return a.write() ? 0 : distributor_typer();
        case Gicd::kIidr:
            return a.write() ? 0 : kIidr;
        case Gicd::kTyper2:
            return 0;
    }
    return 0;  // reserved, IMPLEMENTATION DEFINED and unimplemented registers: RAZ/WI
}

[[gnu::cold]] std::uint64_t Vgic::irouter_access(MmioAccess a) {
    // A 64-bit register, also accessible as two 32-bit halves (IHI 0069H, GICD_IROUTER<n>).
    const std::uint64_t offset = a.offset();
    const auto intid = static_cast<std::uint32_t>((offset - kIrouterBase) / 8);
    const std::uint64_t byte = offset % 8;
    Irq* irq = intid >= vgic::kPrivateIrqs ? find(0, intid) : nullptr;
    if (irq == nullptr || !((a.size() == 8 && byte == 0) || (a.size() == 4 && byte % 4 == 0))) {
        return 0;
    }
    std::uint64_t& reg = irouter_[intid - vgic::kPrivateIrqs];
    const unsigned shift = static_cast<unsigned>(byte) * 8;
    const std::uint64_t lanes = (a.size() == 8 ? ~0ull : 0xffff'ffffull) << shift;
    if (!a.write()) {
        return (reg & lanes) >> shift;
    }
    reg = ((reg & ~lanes) | ((a.data() << shift) & lanes)) & kIrouterMask;
    irq->route = route_target(reg);
    changed(*irq);
    return 0;
}

}  // namespace corvisor
