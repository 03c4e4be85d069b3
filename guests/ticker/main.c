/* The ticker guest: the EL1 virtual timer at a fixed rate of 1 kHz (from
 * CNTFRQ_EL0), N interrupts (bootargs ticks=N, default 20) taken from WFI,
 * each checked to arrive at or after its deadline; then the timer's level
 * semantics as the GIC shows them in GICR_ISPENDR0:
 *   fired and masked (IMASK) -> not pending; then unmasked -> pending.
 * Prints "ticker: N ticks", "ticker: deadlines ok", "ticker: level ok". */
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

enum { kDefaultTicks = 20, kMaxTicks = 100000 };

static uint64_t g_period;
static uint64_t g_deadline;
static uint32_t g_target;
static volatile uint32_t g_ticks;
static volatile uint32_t g_early; /* taken before the deadline */
static volatile uint32_t g_quiet; /* taken with CNTV_CTL_EL0.ISTATUS clear */
static volatile uint32_t g_done;

static bool on_tick(uint32_t iar) {
    (void)iar;
    if (irq_entry_cntvct < g_deadline) {
        g_early++;
    }
    if ((timer_ctl() & kCntCtlIstatus) == 0) {
        g_quiet++;
    }
    g_ticks++;
    if (g_ticks >= g_target) {
        timer_set_ctl(0);
        g_done = 1;
    } else {
        /* Fixed rate: the next deadline follows the last one, not "now". The
         * new CVAL lies ahead, so the level drops before the EOI. */
        g_deadline += g_period;
        timer_set_cval(g_deadline);
        isb();
    }
    return false;
}

static void check_level(uint32_t intid) {
    /* IRQs are masked (PSTATE.I): the pending state stays visible. */
    timer_set_cval(timer_now());
    timer_set_ctl(kCntCtlEnable | kCntCtlImask);
    const bool fired = (timer_ctl() & kCntCtlIstatus) != 0;
    const bool masked = gic_is_pending(intid);
    timer_set_ctl(kCntCtlEnable);
    const bool unmasked = gic_is_pending(intid);
    /* Stopped with IRQs still masked: the interrupt is never taken. */
    timer_set_ctl(0);
    if (fired && !masked && unmasked) {
        uart_puts("ticker: level ok\n");
    } else {
        uart_printf("ticker: level BAD istatus=%d pending: masked=%d unmasked=%d\n", fired, masked,
                    unmasked);
    }
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const char* args = guest_bootargs();
    uint64_t ticks = kDefaultTicks;
    const char* v;
    size_t len;
    if (bootargs_value(args, "ticks", &v, &len) &&
        (!parse_u64(v, len, &ticks) || ticks == 0 || ticks > kMaxTicks)) {
        uart_printf("ticker: bad ticks=, using %u\n", (unsigned)kDefaultTicks);
        ticks = kDefaultTicks;
    }
    struct gic_info gic;
    if (!gic_probe(fdt, &gic) || !timer_probe(fdt) || !gic_init(&gic)) {
        uart_puts("ticker: no usable GIC or timer\n");
        return 1;
    }
    const uint32_t intid = timer_virt_intid();
    g_target = (uint32_t)ticks;
    g_period = timer_freq() / 1000;
    gic_set_handler(intid, on_tick);
    gic_enable_irq(intid, kGicDefaultPriority);

    g_deadline = timer_now() + g_period;
    timer_arm_at(g_deadline);
    irq_wait(&g_done);

    uart_printf("ticker: %u ticks\n", g_ticks);
    if (g_early == 0 && g_quiet == 0) {
        uart_puts("ticker: deadlines ok\n");
    } else {
        uart_printf("ticker: deadlines BAD early=%u without-istatus=%u\n", g_early, g_quiet);
    }
    check_level(intid);
    gic_disable_irq(intid);
    uart_puts("ticker: done\n");
    return 0;
}
