/* The heartbeat guest: the companion of Linux in the default guest list. It
 * prints one numbered line per period (bootargs period-ms=M, default 1000) from
 * its EL1 virtual timer, sleeping in WFI in between, beats=N times (default
 * 30), then "heartbeat: done" and powers off. So it visibly keeps running
 * beside another guest for a known time, and ends by itself: the machine powers
 * off when the last guest has stopped.
 * Prints "heartbeat: N beats every M ms", "heartbeat: beat i/N" per beat,
 * "heartbeat: done". */
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

enum { kDefaultBeats = 30, kDefaultPeriodMs = 1000, kMaxBeats = 100000, kMaxPeriodMs = 3600000 };

static volatile uint32_t g_fired;

static bool on_timer(uint32_t iar) {
    (void)iar;
    timer_set_ctl(0); /* the level drops before the EOI */
    g_fired = 1;
    return false;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const uint64_t beats = bootargs_u64("heartbeat", "beats", kDefaultBeats, kMaxBeats);
    const uint64_t period_ms = bootargs_u64("heartbeat", "period-ms", kDefaultPeriodMs, kMaxPeriodMs);
    struct gic_info gic;
    if (!gic_probe(fdt, &gic) || !timer_probe(fdt) || !gic_init(&gic)) {
        uart_puts("heartbeat: no usable GIC or timer\n");
        return 1;
    }
    const uint32_t intid = timer_virt_intid();
    gic_set_handler(intid, on_timer);
    gic_enable_irq(intid, kGicDefaultPriority);
    uart_printf("heartbeat: %lu beats every %lu ms\n", beats, period_ms);
    /* Fixed rate: each deadline follows the previous one, not the wake-up. */
    const uint64_t period = period_ms * timer_freq() / 1000;
    uint64_t deadline = timer_now();
    for (uint64_t i = 1; i <= beats; i++) {
        deadline += period;
        g_fired = 0;
        timer_arm_at(deadline);
        irq_wait(&g_fired);
        uart_printf("heartbeat: beat %lu/%lu\n", i, beats);
    }
    gic_disable_irq(intid);
    uart_puts("heartbeat: done\n");
    return 0;
}
