#include "gic.h"

#include "exceptions.h"
#include "guest.h"
#include "uart.h"

/* Bounds on the register polls (RWP, ChildrenAsleep): the GIC answers these
 * at once; a model that never does must not hang the guest. They are polls
 * of a register, not waits for another CPU, so they need no WFI. */
enum { kPollLimit = 100000 };

static uintptr_t g_gicd;
/* Each CPU's RD_base, by MPIDR Aff0 (the guests here have at most 8 vCPUs, Aff0 = index). */
enum { kMaxCpus = 8 };
static uintptr_t g_rds[kMaxCpus];
#define g_rd g_rds[read_mpidr() % kMaxCpus]
static uint32_t g_nr_intids;
static bool g_split_eoi;
static gic_handler g_handlers[kGicMaxIntid];

volatile uint64_t irq_entry_cntvct;

uintptr_t gic_dist_base(void) {
    return g_gicd;
}

uintptr_t gic_redist_base(void) {
    return g_rd;
}

uint32_t gic_nr_intids(void) {
    return g_nr_intids;
}

int gic_spec_to_intid(const void* spec) {
    uint32_t type = fdt_be32(spec);
    uint32_t num = fdt_be32((const uint8_t*)spec + 4);
    if (type == 0 && num < 988) {
        return (int)(num + 32);
    }
    if (type == 1 && num < 16) {
        return (int)(num + 16);
    }
    return -1;
}

bool gic_probe(const struct fdt* fdt, struct gic_info* out) {
    int node = fdt_find_compatible(fdt, -1, "arm,gic-v3");
    uint64_t dist = 0;
    uint64_t dist_size = 0;
    uint64_t redist = 0;
    uint64_t redist_size = 0;
    if (node < 0) {
        uart_puts("gic: no arm,gic-v3 node\n");
        return false;
    }
    if (!fdt_reg(fdt, node, 0, &dist, &dist_size) ||
        !fdt_reg(fdt, node, 1, &redist, &redist_size) || dist_size < 0x10000 ||
        redist_size < 0x20000) {
        uart_puts("gic: arm,gic-v3 reg needs a distributor and a redistributor region\n");
        return false;
    }
    uint32_t cells = 0;
    if (!fdt_prop_u32(fdt, node, "#interrupt-cells", &cells) || cells != 3) {
        uart_puts("gic: #interrupt-cells is not 3\n");
        return false;
    }
    out->gicd = (uintptr_t)dist;
    out->gicr_region = (uintptr_t)redist;
    out->gicr_size = redist_size;
    return true;
}

bool gic_wait_rwp(void) {
    for (uint32_t i = 0; i < kPollLimit; i++) {
        if ((mmio_read32(g_gicd + kGicdCtlr) & kGicdCtlrRwp) == 0) {
            return true;
        }
    }
    uart_puts("gic: GICD_CTLR.RWP stuck\n");
    return false;
}

/* GICR_TYPER.Affinity_Value (bits 63:32) holds Aff3.Aff2.Aff1.Aff0. */
static uint32_t mpidr_to_gicr_affinity(uint64_t mpidr) {
    return (uint32_t)(((mpidr >> 32) & 0xff) << 24) | (uint32_t)(mpidr & 0xffffff);
}

static uintptr_t find_redistributor(const struct gic_info* info) {
    const uint32_t want = mpidr_to_gicr_affinity(read_mpidr());
    uintptr_t frame = info->gicr_region;
    const uintptr_t end = info->gicr_region + info->gicr_size;
    while (frame + 0x20000 <= end) {
        uint64_t typer = mmio_read64(frame + kGicrTyper);
        if ((uint32_t)(typer >> 32) == want) {
            return frame;
        }
        if ((typer & kGicrTyperLast) != 0) {
            break;
        }
        frame += (typer & kGicrTyperVlpis) != 0 ? 0x40000 : 0x20000;
    }
    return 0;
}

static void dist_init(void) {
    /* SPIs: disabled, inactive, not pending, group 1, level, priority 0xa0, routed here. */
    const uint64_t route = mpidr_affinity(read_mpidr());
    for (uint32_t i = 32; i < g_nr_intids; i += 32) {
        mmio_write32(g_gicd + kGicdIcenabler + i / 8, 0xffffffffu);
        mmio_write32(g_gicd + kGicdIcactiver + i / 8, 0xffffffffu);
        mmio_write32(g_gicd + kGicdIcpendr + i / 8, 0xffffffffu);
        mmio_write32(g_gicd + kGicdIgroupr + i / 8, 0xffffffffu);
    }
    for (uint32_t i = 32; i < g_nr_intids; i += 16) {
        mmio_write32(g_gicd + kGicdIcfgr + i / 4, 0);
    }
    for (uint32_t i = 32; i < g_nr_intids; i += 4) {
        mmio_write32(g_gicd + kGicdIpriorityr + i, 0xa0a0a0a0u);
    }
    for (uint32_t i = 32; i < g_nr_intids; i++) {
        mmio_write64(g_gicd + kGicdIrouter + 8 * i, route);
    }
}

bool gic_init(const struct gic_info* info) {
    g_gicd = info->gicd;
    const uint32_t typer = mmio_read32(g_gicd + kGicdTyper);
    uint32_t n = 32 * ((typer & 0x1f) + 1);
    g_nr_intids = n > kGicMaxIntid ? kGicMaxIntid : n;

    /* Distributor: off, then ARE + group 1. With two security states (DS=0)
     * these are the Non-secure view's ARE_NS and EnableGrp1A, at the same
     * bit positions as ARE and EnableGrp1 of the single-state layout. */
    uint32_t ctlr = mmio_read32(g_gicd + kGicdCtlr);
    mmio_write32(g_gicd + kGicdCtlr, ctlr & kGicdCtlrAre);
    if (!gic_wait_rwp()) {
        return false;
    }
    dist_init();
    mmio_write32(g_gicd + kGicdCtlr, kGicdCtlrAre | kGicdCtlrEnableGrp1);
    if (!gic_wait_rwp()) {
        return false;
    }
    ctlr = mmio_read32(g_gicd + kGicdCtlr);
    if ((ctlr & (kGicdCtlrAre | kGicdCtlrEnableGrp1)) != (kGicdCtlrAre | kGicdCtlrEnableGrp1)) {
        uart_printf("gic: GICD_CTLR reads 0x%x after enabling ARE and group 1\n", ctlr);
        return false;
    }

    return gic_init_cpu(info);
}

bool gic_init_cpu(const struct gic_info* info) {
    /* This CPU's redistributor, awake. */
    g_rd = find_redistributor(info);
    if (g_rd == 0) {
        uart_printf("gic: no redistributor for MPIDR 0x%lx\n", read_mpidr());
        return false;
    }
    uint32_t waker = mmio_read32(g_rd + kGicrWaker);
    mmio_write32(g_rd + kGicrWaker, waker & ~(uint32_t)kGicrWakerProcessorSleep);
    bool awake = false;
    for (uint32_t i = 0; i < kPollLimit && !awake; i++) {
        awake = (mmio_read32(g_rd + kGicrWaker) & kGicrWakerChildrenAsleep) == 0;
    }
    if (!awake) {
        uart_puts("gic: GICR_WAKER.ChildrenAsleep stays set\n");
        return false;
    }

    /* SGIs and PPIs: group 1, disabled, inactive, not pending, priority 0xa0. */
    const uintptr_t sgi = g_rd + kGicrSgiFrame;
    mmio_write32(sgi + kGicrIcactiver0, 0xffffffffu);
    mmio_write32(sgi + kGicrIcenabler0, 0xffffffffu);
    mmio_write32(sgi + kGicrIcpendr0, 0xffffffffu);
    mmio_write32(sgi + kGicrIgroupr0, 0xffffffffu);
    for (uint32_t i = 0; i < 32; i += 4) {
        mmio_write32(sgi + kGicrIpriorityr + i, 0xa0a0a0a0u);
    }

    /* CPU interface. */
    write_icc_sre_el1(read_icc_sre_el1() | 1);
    isb();
    if ((read_icc_sre_el1() & 1) == 0) {
        uart_puts("gic: ICC_SRE_EL1.SRE does not stick\n");
        return false;
    }
    write_icc_pmr_el1(0xff);
    write_icc_bpr1_el1(0);
    gic_set_eoimode(false);
    write_icc_igrpen1_el1(1);
    isb();
    exceptions_set_irq_handler(gic_handle_irq);
    return true;
}

void gic_set_handler(uint32_t intid, gic_handler fn) {
    if (intid < kGicMaxIntid) {
        g_handlers[intid] = fn;
    }
}

/* Register word/byte of `intid` in the frame that owns it. */
static uintptr_t bank(uint32_t intid, uint32_t dist_offset) {
    return intid < 32 ? g_rd + kGicrSgiFrame + dist_offset
                      : g_gicd + dist_offset + (intid / 32) * 4;
}

void gic_enable_irq(uint32_t intid, uint8_t priority) {
    if (intid >= g_nr_intids) {
        return;
    }
    const uint32_t bit = 1u << (intid % 32);
    if (intid < 32) {
        const uintptr_t sgi = g_rd + kGicrSgiFrame;
        mmio_write32(sgi + kGicrIgroupr0, mmio_read32(sgi + kGicrIgroupr0) | bit);
        mmio_write8(sgi + kGicrIpriorityr + intid, priority);
        mmio_write32(sgi + kGicrIsenabler0, bit);
        return;
    }
    const uintptr_t group = g_gicd + kGicdIgroupr + (intid / 32) * 4;
    mmio_write32(group, mmio_read32(group) | bit);
    const uintptr_t cfg = g_gicd + kGicdIcfgr + (intid / 16) * 4;
    mmio_write32(cfg, mmio_read32(cfg) & ~(2u << (2 * (intid % 16)))); /* level */
    mmio_write8(g_gicd + kGicdIpriorityr + intid, priority);
    mmio_write64(g_gicd + kGicdIrouter + 8 * intid, mpidr_affinity(read_mpidr()));
    mmio_write32(g_gicd + kGicdIsenabler + (intid / 32) * 4, bit);
}

void gic_disable_irq(uint32_t intid) {
    if (intid < g_nr_intids) {
        mmio_write32(bank(intid, kGicdIcenabler), 1u << (intid % 32));
        if (intid >= 32) {
            (void)gic_wait_rwp();
        }
    }
}

bool gic_is_pending(uint32_t intid) {
    return intid < g_nr_intids && (mmio_read32(bank(intid, kGicdIspendr)) >> (intid % 32) & 1) != 0;
}

bool gic_is_active(uint32_t intid) {
    return intid < g_nr_intids &&
           (mmio_read32(bank(intid, kGicdIsactiver)) >> (intid % 32) & 1) != 0;
}

void gic_clear_pending(uint32_t intid) {
    if (intid < g_nr_intids) {
        mmio_write32(bank(intid, kGicdIcpendr), 1u << (intid % 32));
    }
}

void gic_set_eoimode(bool split) {
    uint64_t ctlr = read_icc_ctlr_el1();
    ctlr = split ? (ctlr | 2u) : (ctlr & ~(uint64_t)2u);
    write_icc_ctlr_el1(ctlr);
    isb();
    g_split_eoi = split;
}

bool gic_eoimode_split(void) {
    return g_split_eoi;
}

uint64_t gic_sgi1r_self(uint32_t intid) {
    const uint64_t mpidr = read_mpidr();
    const uint64_t aff0 = mpidr & 0xff;
    const uint64_t aff1 = (mpidr >> 8) & 0xff;
    const uint64_t aff2 = (mpidr >> 16) & 0xff;
    const uint64_t aff3 = (mpidr >> 32) & 0xff;
    /* TargetList [15:0] names Aff0 = RS * 16 + bit; Aff1 [23:16]; INTID
     * [27:24]; Aff2 [39:32]; IRM [40] = 0; RS [47:44]; Aff3 [55:48]. */
    return (1ull << (aff0 % 16)) | (aff1 << 16) | ((uint64_t)(intid & 0xf) << 24) | (aff2 << 32) |
           ((aff0 / 16) << 44) | (aff3 << 48);
}

void gic_send_sgi_self(uint32_t intid) {
    write_icc_sgi1r_el1(gic_sgi1r_self(intid));
    isb();
}

void gic_handle_irq(void) {
    const uint64_t iar = read_icc_iar1_el1();
    const uint32_t intid = (uint32_t)iar & 0xffffff;
    if (intid >= 1020 && intid <= 1023) {
        return; /* spurious: nothing to acknowledge */
    }
    gic_handler h = intid < kGicMaxIntid ? g_handlers[intid] : NULL;
    if (h == NULL) {
        /* Nobody asked for it: disable it so a level interrupt cannot storm. */
        uart_printf("gic: unexpected interrupt %u, disabled\n", intid);
        gic_disable_irq(intid);
    } else if (h((uint32_t)iar)) {
        return;
    }
    write_icc_eoir1_el1(iar);
    if (g_split_eoi) {
        write_icc_dir_el1(iar);
    }
    isb();
}

void irq_window(void) {
    __asm__ volatile("msr daifclr, #2\n\tisb\n\tmsr daifset, #2" ::: "memory");
}

void irq_wait(volatile uint32_t* flag) {
    irq_mask();
    while (*flag == 0) {
        __asm__ volatile("wfi" ::: "memory");
        irq_window();
    }
}

int gic_uart_intid(const struct fdt* fdt) {
    int node = fdt_stdout_node(fdt);
    if (node < 0 || !fdt_is_compatible(fdt, node, "arm,pl011")) {
        node = fdt_find_compatible(fdt, -1, "arm,pl011");
    }
    uint32_t len = 0;
    const uint8_t* irq = node >= 0 ? fdt_getprop(fdt, node, "interrupts", &len) : NULL;
    return irq != NULL && len >= 12 ? gic_spec_to_intid(irq) : -1;
}
