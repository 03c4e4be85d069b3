/* GICv3 for the EL1 guests, used the way Linux uses it (Arm IHI 0069):
 * the system-register CPU interface (ICC_*_EL1), affinity routing, group 1,
 * a distributor and one redistributor frame per CPU found from the DTB's
 * "arm,gic-v3" node (reg: distributor first, redistributor region second).
 *
 * Interrupts are taken through the IRQ vector of exceptions.S: gic_handle_irq()
 * reads ICC_IAR1_EL1, calls the handler registered for the INTID and then
 * writes ICC_EOIR1_EL1 (and ICC_DIR_EL1 in EOImode 1) unless the handler says
 * it has taken the end of interrupt over.
 *
 * The guests run with PSTATE.I set; interrupts are taken only inside
 * irq_wait() / irq_window(), which keeps every wait a WFI and every output
 * line in a fixed order. */
#ifndef GUEST_GIC_H
#define GUEST_GIC_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"

enum {
    /* Distributor (GICD_*), IHI 0069 12.9 */
    kGicdCtlr = 0x0000,
    kGicdTyper = 0x0004,
    kGicdIidr = 0x0008,
    kGicdIgroupr = 0x0080,
    kGicdIsenabler = 0x0100,
    kGicdIcenabler = 0x0180,
    kGicdIspendr = 0x0200,
    kGicdIcpendr = 0x0280,
    kGicdIsactiver = 0x0300,
    kGicdIcactiver = 0x0380,
    kGicdIpriorityr = 0x0400,
    kGicdIcfgr = 0x0c00,
    kGicdIrouter = 0x6000,
    kGicdPidr2 = 0xffe8,
    kGicdCtlrEnableGrp1 = 1u << 1, /* EnableGrp1 (DS=1) / EnableGrp1A (NS view, DS=0) */
    kGicdCtlrAre = 1u << 4,        /* ARE (DS=1) / ARE_NS (NS view, DS=0) */
    kGicdCtlrDs = 1u << 6,
    kGicdCtlrRwp = 1u << 31,

    /* Redistributor, RD_base frame (GICR_*), IHI 0069 12.10 */
    kGicrCtlr = 0x0000,
    kGicrTyper = 0x0008, /* 64-bit */
    kGicrWaker = 0x0014,
    kGicrPidr2 = 0xffe8,
    kGicrTyperVlpis = 1u << 1,
    kGicrTyperLast = 1u << 4,
    kGicrWakerProcessorSleep = 1u << 1,
    kGicrWakerChildrenAsleep = 1u << 2,
    /* SGI_base frame (RD_base + 64 KiB) */
    kGicrSgiFrame = 0x10000,
    kGicrIgroupr0 = 0x0080,
    kGicrIsenabler0 = 0x0100,
    kGicrIcenabler0 = 0x0180,
    kGicrIspendr0 = 0x0200,
    kGicrIcpendr0 = 0x0280,
    kGicrIsactiver0 = 0x0300,
    kGicrIcactiver0 = 0x0380,
    kGicrIpriorityr = 0x0400,
    kGicrIcfgr1 = 0x0c04,

    kGicSpurious = 1023,
    kGicDefaultPriority = 0xa0,
    kGicMaxIntid = 1020,
};

/* What gic_probe() found in the DTB (no register has been touched yet). */
struct gic_info {
    uintptr_t gicd;
    uintptr_t gicr_region;
    uint64_t gicr_size;
};

/* Reads the "arm,gic-v3" node. False (with a "gic: ..." line printed) if the
 * node or either reg entry is missing. */
bool gic_probe(const struct fdt* fdt, struct gic_info* out);

/* Brings the GIC up for this CPU: distributor ARE + group 1 (whichever
 * security layout GICD_CTLR shows), every SPI disabled, group 1, priority
 * 0xa0 and routed here; this CPU's redistributor found by affinity and woken;
 * SGIs/PPIs group 1, disabled, inactive, priority 0xa0; CPU interface SRE,
 * PMR 0xff, BPR1 0, EOImode 0, group 1 enabled. Installs gic_handle_irq() as
 * the IRQ handler. False (with a "gic: ..." line) on anything unexpected. */
bool gic_init(const struct gic_info* info);
/* The same for a secondary CPU, once gic_init has run on the first: its
 * redistributor woken, its SGIs/PPIs and its CPU interface as above. */
bool gic_init_cpu(const struct gic_info* info);

/* Polls GICD_CTLR.RWP until the distributor has applied earlier writes
 * (bounded; false with a "gic: ..." line if it never clears). */
bool gic_wait_rwp(void);

uintptr_t gic_dist_base(void);
uintptr_t gic_redist_base(void); /* this CPU's RD_base frame */
uint32_t gic_nr_intids(void);    /* 32 * (GICD_TYPER.ITLinesNumber + 1), at most 1020 */

/* Returns true if the handler took over the end of interrupt (it writes
 * ICC_EOIR1_EL1 / ICC_DIR_EL1 itself, possibly later), false to let
 * gic_handle_irq() do it. `iar` is the ICC_IAR1_EL1 value. */
typedef bool (*gic_handler)(uint32_t iar);
void gic_set_handler(uint32_t intid, gic_handler fn);

/* Configures and enables one interrupt: SGI/PPI in this CPU's redistributor,
 * SPI in the distributor (group 1, level-sensitive, routed to this CPU). */
void gic_enable_irq(uint32_t intid, uint8_t priority);
void gic_disable_irq(uint32_t intid);
bool gic_is_pending(uint32_t intid);
bool gic_is_active(uint32_t intid);
void gic_clear_pending(uint32_t intid);

/* ICC_CTLR_EL1.EOImode: 0 = EOIR drops priority and deactivates, 1 = EOIR
 * drops priority only, ICC_DIR_EL1 deactivates. */
void gic_set_eoimode(bool split);
bool gic_eoimode_split(void);

/* The ICC_SGI1R_EL1 value that sends SGI `intid` to this CPU alone. */
uint64_t gic_sgi1r_self(uint32_t intid);
void gic_send_sgi_self(uint32_t intid);

/* Called from the IRQ vector. */
void gic_handle_irq(void);

/* CNTVCT_EL0 recorded by the IRQ vector as its third instruction (exceptions.S). */
extern volatile uint64_t irq_entry_cntvct;

/* Waits in WFI (IRQs masked, so a wake-up cannot be lost) until *flag is
 * non-zero, opening an IRQ window after each wake. Returns with IRQs masked. */
void irq_wait(volatile uint32_t* flag);
/* Unmasks IRQs for one instruction-synchronised window and masks them again:
 * whatever is pending and enabled is taken there. */
void irq_window(void);

static inline void irq_mask(void) {
    __asm__ volatile("msr daifset, #2" ::: "memory");
}
static inline void irq_unmask(void) {
    __asm__ volatile("msr daifclr, #2\n\tisb" ::: "memory");
}

/* CPU interface registers (IHI 0069 12.11). */
#define GIC_SYSREG_READ(name)                                   \
    static inline uint64_t read_##name(void) {                  \
        uint64_t v;                                             \
        __asm__ volatile("mrs %0, " #name : "=r"(v)::"memory"); \
        return v;                                               \
    }
#define GIC_SYSREG_WRITE(name)                                     \
    static inline void write_##name(uint64_t v) {                  \
        __asm__ volatile("msr " #name ", %0" ::"r"(v) : "memory"); \
    }
GIC_SYSREG_READ(icc_iar1_el1)
GIC_SYSREG_READ(icc_hppir1_el1)
GIC_SYSREG_READ(icc_rpr_el1)
GIC_SYSREG_READ(icc_ctlr_el1)
GIC_SYSREG_READ(icc_pmr_el1)
GIC_SYSREG_READ(icc_sre_el1)
GIC_SYSREG_READ(icc_igrpen1_el1)
GIC_SYSREG_WRITE(icc_eoir1_el1)
GIC_SYSREG_WRITE(icc_dir_el1)
GIC_SYSREG_WRITE(icc_sgi1r_el1)
GIC_SYSREG_WRITE(icc_ctlr_el1)
GIC_SYSREG_WRITE(icc_pmr_el1)
GIC_SYSREG_WRITE(icc_bpr1_el1)
GIC_SYSREG_WRITE(icc_sre_el1)
GIC_SYSREG_WRITE(icc_igrpen1_el1)
#undef GIC_SYSREG_READ
#undef GIC_SYSREG_WRITE

static inline void isb(void) {
    __asm__ volatile("isb" ::: "memory");
}

/* Device accesses are single load/store instructions with one register, as Linux's readq/writeq
 * are: the compiler may otherwise merge or split them (into LDP/STP), and a trapped access
 * without a syndrome cannot be emulated by a hypervisor (it gets an abort). */
static inline uint64_t mmio_read64(uintptr_t addr) {
    uint64_t v;
    __asm__ volatile("ldr %x0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}
static inline void mmio_write64(uintptr_t addr, uint64_t v) {
    __asm__ volatile("str %x0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline void mmio_write8(uintptr_t addr, uint8_t v) {
    __asm__ volatile("strb %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline uint8_t mmio_read8(uintptr_t addr) {
    uint8_t v;
    __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

/* The interrupt specifier <type number flags> of a 3-cell GIC binding as an
 * INTID (type 0: SPI, number + 32; type 1: PPI, number + 16), or -1. */
int gic_spec_to_intid(const void* spec);
/* The console UART's (stdout-path, else the first arm,pl011) interrupt as an INTID, or -1. */
int gic_uart_intid(const struct fdt* fdt);

#endif
