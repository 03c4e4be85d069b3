/* The sleeper guest: K times (bootargs sleeps=K, default 5) arms its virtual
 * timer ms milliseconds ahead (ms=M, default 10) and sleeps in WFI until the
 * timer interrupt wakes it; checks each wake came at or after the deadline.
 * Prints "sleeper: woke K" and "sleeper: on time". A hypervisor must block the
 * vCPU in WFI and let the other guests run meanwhile. */
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

enum { kDefaultSleeps = 5, kDefaultMs = 10, kMaxSleeps = 10000, kMaxMs = 10000 };

static uint64_t g_deadline;
static volatile uint32_t g_woken;
static volatile uint32_t g_early;

static bool on_timer(uint32_t iar) {
    (void)iar;
    if (irq_entry_cntvct < g_deadline) {
        g_early++;
    }
    timer_set_ctl(0); /* the level drops before the EOI */
    g_woken = 1;
    return false;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const uint32_t sleeps = (uint32_t)bootargs_u64("sleeper", "sleeps", kDefaultSleeps, kMaxSleeps);
    const uint64_t ms = bootargs_u64("sleeper", "ms", kDefaultMs, kMaxMs);
    struct gic_info gic;
    if (!gic_probe(fdt, &gic) || !timer_probe(fdt) || !gic_init(&gic)) {
        uart_puts("sleeper: no usable GIC or timer\n");
        return 1;
    }
    const uint32_t intid = timer_virt_intid();
    gic_set_handler(intid, on_timer);
    gic_enable_irq(intid, kGicDefaultPriority);
    uart_printf("sleeper: %u x %lu ms\n", sleeps, ms);
    uint32_t woke = 0;
    for (uint32_t i = 0; i < sleeps; i++) {
        g_woken = 0;
        g_deadline = timer_now() + ms * timer_freq() / 1000;
        timer_arm_at(g_deadline);
        irq_wait(&g_woken);
        woke++;
    }
    uart_printf("sleeper: woke %u\n", woke);
    if (g_early == 0) {
        uart_puts("sleeper: on time\n");
    } else {
        uart_printf("sleeper: EARLY %u time(s)\n", g_early);
    }
    gic_disable_irq(intid);
    uart_puts("sleeper: done\n");
    return 0;
}
