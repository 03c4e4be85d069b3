// The per-INTID register groups shared by the distributor (SPIs) and each redistributor's SGI_base
// frame (SGIs and PPIs, the groups' first word): one table, as Bao's vGIC describes its register
// groups (IHI 0069H, "The GIC Distributor register map" and the SGI_base frame of "The GIC
// Redistributor register map").
#include <array>

#include "vgic/delivery.hpp"

namespace corvisor {

using vgic::Irq;

namespace {

enum class Field : std::uint8_t { kGroup, kEnable, kPending, kActive, kPriority, kConfig };
enum class Write : std::uint8_t { kStore, kSet, kClear };  // kSet/kClear: 1 bits act, 0 bits don't

struct IrqRegisterGroup {
    std::uint16_t base;  ///< offset in GICD_ and in SGI_base
    std::uint8_t bits;   ///< field width per INTID
    Field field;
    Write write;
    constexpr std::uint32_t span() const { return 1024u * bits / 8u; }  // INTIDs 0-1023
};

constexpr std::array<IrqRegisterGroup, 9> kIrqRegisterGroups = {{
    {0x080, 1, Field::kGroup, Write::kStore},     // GICD_IGROUPR<n>, GICR_IGROUPR0
    {0x100, 1, Field::kEnable, Write::kSet},      // GICD_ISENABLER<n>, GICR_ISENABLER0
    {0x180, 1, Field::kEnable, Write::kClear},    // GICD_ICENABLER<n>, GICR_ICENABLER0
    {0x200, 1, Field::kPending, Write::kSet},     // GICD_ISPENDR<n>, GICR_ISPENDR0
    {0x280, 1, Field::kPending, Write::kClear},   // GICD_ICPENDR<n>, GICR_ICPENDR0
    {0x300, 1, Field::kActive, Write::kSet},      // GICD_ISACTIVER<n>, GICR_ISACTIVER0
    {0x380, 1, Field::kActive, Write::kClear},    // GICD_ICACTIVER<n>, GICR_ICACTIVER0
    {0x400, 8, Field::kPriority, Write::kStore},  // GICD_IPRIORITYR<n>, GICR_IPRIORITYR0-7
    {0xc00, 2, Field::kConfig, Write::kStore},    // GICD_ICFGR<n>, GICR_ICFGR0-1
}};
// Not in the table, so RAZ/WI with everything else unlisted: GICD_IGRPMODR<n>/GICR_IGRPMODR0
// and GICR_NSACR (RAZ/WI when GICD_CTLR.DS == 1), GICD_ITARGETSR<n>, GICD_SGIR, GICD_CPENDSGIR
// and GICD_SPENDSGIR (reserved with affinity routing).

std::uint32_t read_field(const Irq& irq, Field field) {
    switch (field) {
        case Field::kGroup:
            return irq.has(vgic::kGroup1) ? 1 : 0;
        case Field::kEnable:
            return irq.has(vgic::kEnabled) ? 1 : 0;
        case Field::kPending:
            return irq.pending() ? 1 : 0;
        case Field::kActive:
            return irq.has(vgic::kActive) ? 1 : 0;
        case Field::kPriority:
            return irq.priority;
        case Field::kConfig:
            // Int_config[1]: 1 = edge-triggered; bit [0] is RES0.
            return irq.has(vgic::kEdge) ? 2 : 0;
    }
    return 0;
}

void write_field(Irq& irq, Field field, Write write, std::uint32_t v) {
    if (write != Write::kStore && v == 0) {
        return;
    }
    const bool set = write == Write::kSet;
    switch (field) {
        case Field::kGroup:
            irq.set(vgic::kGroup1, v != 0);
            return;
        case Field::kEnable:
            irq.set(vgic::kEnabled, set);
            return;
        case Field::kPending:
            // ICPENDR clears the latch only: a level-sensitive interrupt stays pending while its
            // input is asserted (IHI 0069H, "Interrupt lifecycle"), and a hardware-mapped one is
            // withdrawn only by the hypervisor (set_level), which owns the physical interrupt's
            // state.
            if (set) {
                irq.pend();
            } else {
                irq.set(vgic::kLatch | vgic::kRepend, false);
            }
            return;
        case Field::kActive:
            irq.set(vgic::kActive, set);
            return;
        case Field::kPriority:
            irq.priority = static_cast<std::uint8_t>(v & vgic::kPriorityMask);
            return;
        case Field::kConfig:
            // SGIs are always edge-triggered (GICR_ICFGR0 reads 0xaaaaaaaa). PPI configuration
            // is IMPLEMENTATION DEFINED (GICR_ICFGR1): here read-only level-sensitive, which is
            // what the timer and PMU PPIs are; Linux only warns if a PPI will not change.
            if (irq.intid >= vgic::kPrivateIrqs) {
                irq.set(vgic::kEdge, (v & 2) != 0);
            }
            return;
    }
}

}  // namespace

[[gnu::cold]] bool Vgic::irq_register(std::uint32_t vcpu, bool distributor, std::uint64_t offset,
                                      MmioAccess a, std::uint64_t& value) {
    const IrqRegisterGroup* group = nullptr;
    for (const IrqRegisterGroup& g : kIrqRegisterGroups) {
        if (offset >= g.base && offset < g.base + g.span()) {
            group = &g;
            break;
        }
    }
    if (group == nullptr) {
        return false;
    }
    value = 0;
    // Word accesses everywhere, byte accesses to IPRIORITYR too (IHI 0069H, "GIC memory-mapped
    // register access"); other widths are UNPREDICTABLE there and RAZ/WI here.
    const std::uint8_t size = a.size();
    const std::uint64_t rel = offset - group->base;
    if (!(size == 4 || (size == 1 && group->bits == 8)) || rel % size != 0) {
        return true;
    }
    const auto first = static_cast<std::uint32_t>(rel * 8 / group->bits);
    const std::uint32_t count = size * 8u / group->bits;
    const std::uint32_t mask = (1u << group->bits) - 1u;
    for (std::uint32_t k = 0; k < count; ++k) {
        const std::uint32_t intid = first + k;
        // The distributor's words for INTIDs 0-31 are RAZ/WI with affinity routing (GICD_CTLR.ARE
        // = 1); the SGI_base frame has only those. INTIDs the guest does not have: RAZ/WI too.
        if (distributor != (intid >= vgic::kPrivateIrqs)) {
            continue;
        }
        Irq* irq = find(vcpu, intid);
        if (irq == nullptr) {
            continue;
        }
        const unsigned shift = k * group->bits;
        if (a.write()) {
            write_field(*irq, group->field, group->write,
                        static_cast<std::uint32_t>(a.data() >> shift) & mask);
            changed(*irq);
        } else {
            value |= std::uint64_t{read_field(*irq, group->field)} << shift;
        }
    }
    return true;
}

}  // namespace corvisor
