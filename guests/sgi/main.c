/* The SGI guest: sends itself each of the 16 SGIs through ICC_SGI1R_EL1 (its
 * own affinity from MPIDR_EL1) and takes them, first in EOImode 0 (EOIR drops
 * the priority and deactivates), then in EOImode 1 (EOIR drops the priority,
 * ICC_DIR_EL1 deactivates). For each SGI it checks: ICC_HPPIR1_EL1 names it
 * while IRQs are masked; ICC_IAR1_EL1 returns it; ICC_RPR_EL1 shows its
 * priority in the handler; GICR_ISACTIVER0 shows it active in the handler;
 * in EOImode 1 still active after EOIR, with the running priority back to idle,
 * and inactive after DIR; inactive after the handler in both modes.
 * Prints "sgi: eoimode0 ok N", "sgi: eoimode1 ok N" (N = SGIs that passed). */
#include "gic.h"
#include "guest.h"
#include "uart.h"

enum { kSgis = 16, kPriority = 0xa0, kIdlePriority = 0xff };

static volatile uint32_t g_taken;
static volatile uint32_t g_intid;
static volatile uint32_t g_faults; /* bit mask of the checks that failed in the handler */

enum {
    kBadRpr = 1u << 0,
    kBadActive = 1u << 1,
    kBadRprAfterEoi = 1u << 2,
    kBadActiveAfterEoi = 1u << 3,
    kBadActiveAfterDir = 1u << 4,
};

static bool on_sgi(uint32_t iar) {
    const uint32_t intid = iar & 0xffffff;
    uint32_t faults = 0;
    g_intid = intid;
    if ((read_icc_rpr_el1() & 0xff) != kPriority) {
        faults |= kBadRpr;
    }
    if (!gic_is_active(intid)) {
        faults |= kBadActive;
    }
    if (!gic_eoimode_split()) {
        g_faults = faults;
        g_taken = 1;
        return false; /* gic_handle_irq writes EOIR */
    }
    write_icc_eoir1_el1(iar);
    isb();
    if ((read_icc_rpr_el1() & 0xff) != kIdlePriority) {
        faults |= kBadRprAfterEoi;
    }
    if (!gic_is_active(intid)) {
        faults |= kBadActiveAfterEoi;
    }
    write_icc_dir_el1(iar);
    isb();
    if (gic_is_active(intid)) {
        faults |= kBadActiveAfterDir;
    }
    g_faults = faults;
    g_taken = 1;
    return true;
}

static uint32_t run_round(bool split) {
    const char* mode = split ? "eoimode1" : "eoimode0";
    uint32_t ok = 0;
    gic_set_eoimode(split);
    for (uint32_t sgi = 0; sgi < kSgis; sgi++) {
        g_taken = 0;
        g_intid = kGicSpurious;
        g_faults = 0;
        irq_mask();
        gic_send_sgi_self(sgi);
        const uint32_t hppir = (uint32_t)read_icc_hppir1_el1() & 0xffffff;
        irq_wait(&g_taken);
        const bool inactive = !gic_is_active(sgi);
        if (hppir == sgi && g_intid == sgi && g_faults == 0 && inactive) {
            ok++;
        } else {
            uart_printf("sgi: %s sgi %u BAD hppir=%u iar=%u faults=0x%x inactive-after=%d\n", mode,
                        sgi, hppir, g_intid, g_faults, inactive);
        }
    }
    uart_printf("sgi: %s ok %u\n", mode, ok);
    return ok;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    struct gic_info gic;
    if (!gic_probe(guest_fdt(), &gic) || !gic_init(&gic)) {
        uart_puts("sgi: no usable GIC\n");
        return 1;
    }
    for (uint32_t sgi = 0; sgi < kSgis; sgi++) {
        gic_set_handler(sgi, on_sgi);
        gic_enable_irq(sgi, kPriority);
    }
    uart_printf("sgi: mpidr 0x%lx sgi1r 0x%lx\n", mpidr_affinity(read_mpidr()), gic_sgi1r_self(0));
    (void)run_round(false);
    (void)run_round(true);
    gic_set_eoimode(false);
    uart_puts("sgi: done\n");
    return 0;
}
