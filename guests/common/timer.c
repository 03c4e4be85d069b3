#include "timer.h"

#include "gic.h"
#include "uart.h"

static uint32_t g_virt_intid;
static uint64_t g_freq;

bool timer_probe(const struct fdt* fdt) {
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(g_freq));
    int node = fdt_find_compatible(fdt, -1, "arm,armv8-timer");
    uint32_t len = 0;
    const uint8_t* irqs = node >= 0 ? fdt_getprop(fdt, node, "interrupts", &len) : NULL;
    /* The virtual timer is the third specifier of three cells (12 bytes). */
    int intid = irqs != NULL && len >= 36 ? gic_spec_to_intid(irqs + 24) : -1;
    if (intid < 16 || intid >= 32) {
        uart_puts("timer: no virtual timer PPI in arm,armv8-timer\n");
        return false;
    }
    if (g_freq == 0) {
        uart_puts("timer: CNTFRQ_EL0 is 0\n");
        return false;
    }
    g_virt_intid = (uint32_t)intid;
    return true;
}

uint32_t timer_virt_intid(void) {
    return g_virt_intid;
}

uint64_t timer_freq(void) {
    return g_freq;
}
