/* The GIC-abusing guest: pokes its GIC the way a buggy or hostile guest would,
 * checks that the architected answers come back, then proves the GIC still
 * delivers (an SGI and a virtual-timer interrupt). Every line it prints is the
 * same on any correct GICv3 of any size (bare QEMU or a vGIC):
 *  - all-ones to every GICD_IGROUPR, ISENABLER, ICENABLER, ISPENDR word
 *    (0x080..0x27c: INTIDs 0..1023, implemented or not), then back (the saved
 *    IGROUPR values, all-ones to ICENABLER and ICPENDR);
 *  - GICD_IPRIORITYR bytes and GICD_IROUTER of INTIDs beyond its SPIs;
 *  - SGIs whose target lists name only CPUs it does not have;
 *  - reads of reserved distributor and redistributor offsets (RAZ);
 *  - a write to the read-only GICD_TYPER. */
#include "exceptions.h"
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

enum { kWords = 32 };

static volatile uint32_t g_sgi_taken;
static volatile uint32_t g_timer_taken;

static bool on_sgi(uint32_t iar) {
    (void)iar;
    g_sgi_taken = 1;
    return false;
}

static bool on_timer(uint32_t iar) {
    (void)iar;
    timer_set_ctl(0);
    g_timer_taken = 1;
    return false;
}

static bool abuse_bitmaps(uintptr_t gicd, uint32_t nr) {
    uint32_t groups[kWords];
    const uint32_t typer = mmio_read32(gicd + kGicdTyper);
    for (uint32_t w = 0; w < kWords; w++) {
        groups[w] = mmio_read32(gicd + kGicdIgroupr + 4 * w);
    }
    static const uint32_t kBlocks[] = {kGicdIgroupr, kGicdIsenabler, kGicdIcenabler, kGicdIspendr};
    for (uint32_t b = 0; b < sizeof(kBlocks) / sizeof(kBlocks[0]); b++) {
        for (uint32_t w = 0; w < kWords; w++) {
            mmio_write32(gicd + kBlocks[b] + 4 * w, 0xffffffffu);
        }
    }
    for (uint32_t w = 0; w < kWords; w++) {
        mmio_write32(gicd + kGicdIcpendr + 4 * w, 0xffffffffu);
        mmio_write32(gicd + kGicdIcenabler + 4 * w, 0xffffffffu);
        mmio_write32(gicd + kGicdIgroupr + 4 * w, groups[w]);
    }
    (void)gic_wait_rwp();
    mmio_write32(gicd + kGicdTyper, ~typer);
    bool ok = true;
    for (uint32_t w = 1; w < nr / 32; w++) {
        const uint32_t group = mmio_read32(gicd + kGicdIgroupr + 4 * w);
        const uint32_t enabled = mmio_read32(gicd + kGicdIsenabler + 4 * w);
        const uint32_t pending = mmio_read32(gicd + kGicdIspendr + 4 * w);
        if (group != groups[w] || enabled != 0 || pending != 0) {
            uart_printf(
                "gicabuse: word %u BAD igroupr=0x%x (was 0x%x) isenabler=0x%x ispendr=0x%x\n", w,
                group, groups[w], enabled, pending);
            ok = false;
        }
    }
    const uint32_t typer_after = mmio_read32(gicd + kGicdTyper);
    if (typer_after != typer) {
        uart_printf("gicabuse: GICD_TYPER BAD 0x%x, was 0x%x\n", typer_after, typer);
        ok = false;
    }
    return ok;
}

/* Priorities and routes of INTIDs beyond GICD_TYPER.ITLinesNumber: reserved,
 * and they must not spill into the last real SPI. (What they read back is not
 * checked: QEMU's GICv3 keeps state for 32 INTIDs past the 256 it reports.) */
static bool abuse_beyond(uintptr_t gicd, uint32_t nr) {
    const uint32_t last = nr - 1;
    const uint8_t prio_before = mmio_read8(gicd + kGicdIpriorityr + last);
    const uint64_t route_before = mmio_read64(gicd + kGicdIrouter + 8 * last);
    bool ok = true;
    for (uint32_t i = nr; i < 1024; i++) {
        mmio_write8(gicd + kGicdIpriorityr + i, 0x00);
        mmio_write8(gicd + kGicdIpriorityr + i, 0xff);
    }
    for (uint32_t i = nr; i < 1024; i++) {
        mmio_write64(gicd + kGicdIrouter + 8 * i, 0xff00ffffffull | (1ull << 31));
    }
    const uint8_t prio_after = mmio_read8(gicd + kGicdIpriorityr + last);
    const uint64_t route_after = mmio_read64(gicd + kGicdIrouter + 8 * last);
    if (prio_after != prio_before || route_after != route_before) {
        uart_printf("gicabuse: last SPI BAD ipriorityr 0x%x -> 0x%x irouter 0x%lx -> 0x%lx\n",
                    prio_before, prio_after, route_before, route_after);
        ok = false;
    }
    return ok;
}

/* ICC_SGI1R_EL1 from its fields (IHI 0069 12.11.24). */
static uint64_t sgi1r(uint64_t aff3, uint64_t aff2, uint64_t aff1, uint64_t targets,
                      uint32_t intid) {
    return (aff3 << 48) | (aff2 << 32) | ((uint64_t)intid << 24) | (aff1 << 16) | targets;
}

/* SGIs to nobody: every target list names CPUs this guest does not have
 * (it is a one-CPU guest with Aff0 < 16). */
static bool abuse_sgis(void) {
    const uint64_t mpidr = read_mpidr();
    const uint64_t aff1 = (mpidr >> 8) & 0xff;
    const uint64_t aff2 = (mpidr >> 16) & 0xff;
    const uint64_t aff3 = (mpidr >> 32) & 0xff;
    const uint64_t others = 0xffff & ~(1ull << (mpidr & 0xf));
    const uint64_t values[] = {
        sgi1r(aff3, aff2, aff1, others, 1),  /* its cluster but itself: 0xfffe */
        sgi1r(aff3, aff2, 5, 0xfffe, 2),     /* Aff1 = 5 */
        sgi1r(aff3, aff2, 5, 0xffff, 3),     /* Aff1 = 5, every Aff0 */
        sgi1r(0xff, 0xff, aff1, 0xffff, 4),  /* Aff3.Aff2 = 255.255 */
        sgi1r(aff3, aff2, aff1, 0, 5),       /* an empty target list */
        (1ull << 40) | sgi1r(0, 0, 0, 0, 6), /* IRM = 1: everyone but itself */
    };
    for (uint32_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        write_icc_sgi1r_el1(values[i]);
        isb();
    }
    const uint32_t hppir = (uint32_t)read_icc_hppir1_el1() & 0xffffff;
    const uint32_t pending =
        mmio_read32(gic_redist_base() + kGicrSgiFrame + kGicrIspendr0) & 0xffff;
    if (hppir != kGicSpurious || pending != 0) {
        uart_printf("gicabuse: SGIs to absent CPUs BAD hppir=%u pending=0x%x\n", hppir, pending);
        return false;
    }
    return true;
}

/* No pointers in initialised data (start.S): the frame is a letter. */
struct probe {
    char frame; /* 'd': distributor, 'r': RD_base, 's': SGI_base */
    uint16_t offset;
};

static bool reserved_reads(void) {
    static const struct probe kProbes[] = {
        {'d', 0x0014}, {'d', 0x0044}, {'d', 0x005c}, {'d', 0x0f30}, {'d', 0x7fe0},
        {'d', 0xc000}, {'r', 0x0100}, {'r', 0x1000}, {'s', 0x0500}, {'s', 0x1000},
    };
    bool ok = true;
    for (uint32_t i = 0; i < sizeof(kProbes) / sizeof(kProbes[0]); i++) {
        const struct probe* p = &kProbes[i];
        uintptr_t base = gic_dist_base();
        const char* frame = "gicd";
        if (p->frame == 'r') {
            base = gic_redist_base();
            frame = "gicr";
        } else if (p->frame == 's') {
            base = gic_redist_base() + kGicrSgiFrame;
            frame = "gicr-sgi";
        }
        struct fault_record rec;
        fault_expect(&rec);
        const uint32_t v = mmio_read32(base + p->offset);
        fault_disarm();
        if (rec.taken) {
            uart_printf("gicabuse: read %s+0x%x BAD abort esr=0x%lx\n", frame, p->offset, rec.esr);
            ok = false;
        } else if (v != 0) {
            uart_printf("gicabuse: read %s+0x%x BAD 0x%x\n", frame, p->offset, v);
            ok = false;
        }
    }
    return ok;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    struct gic_info gic;
    if (!gic_probe(fdt, &gic) || !timer_probe(fdt) || !gic_init(&gic)) {
        uart_puts("gicabuse: no usable GIC or timer\n");
        return 1;
    }
    const uintptr_t gicd = gic_dist_base();
    const uint32_t nr = gic_nr_intids();
    irq_mask();
    if (abuse_bitmaps(gicd, nr)) {
        uart_puts("gicabuse: bitmaps abused and restored\n");
    }
    if (abuse_beyond(gicd, nr)) {
        uart_puts("gicabuse: absent INTIDs ignored\n");
    }
    if (abuse_sgis()) {
        uart_puts("gicabuse: SGIs to absent CPUs dropped\n");
    }
    if (reserved_reads()) {
        uart_puts("gicabuse: reserved offsets read as zero\n");
    }

    /* Still works: an SGI to itself, then the virtual timer 1 ms ahead. */
    gic_set_handler(0, on_sgi);
    gic_enable_irq(0, kGicDefaultPriority);
    gic_send_sgi_self(0);
    irq_wait(&g_sgi_taken);
    const uint32_t intid = timer_virt_intid();
    gic_set_handler(intid, on_timer);
    gic_enable_irq(intid, kGicDefaultPriority);
    timer_arm_at(timer_now() + timer_freq() / 1000);
    irq_wait(&g_timer_taken);
    uart_puts("gicabuse: still works\n");
    return 0;
}
