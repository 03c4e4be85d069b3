/* The delaydev guest: drives the device guide's example device (examples/device,
 * compatible "corvisor,example-delay"), which an image built with
 * `--devices examples/device` has. Reads its ID, sets a 2 ms delay, makes a slow
 * read (the device defers it: this vCPU waits, the answer comes no earlier than the
 * delay) and rings the doorbell, whose interrupt comes with no access pending; it
 * waits for it in WFI. Prints "delaydev: ok" when all of it behaved. */
#include "fdt.h"
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

enum {
    kId = 0x00,
    kDelayUs = 0x04,
    kSlow = 0x08,
    kDoorbell = 0x0c,
    kStatus = 0x10,
    kDelay = 2000, /* microseconds */
};

static uintptr_t g_base;
static volatile uint32_t g_rang;
static volatile uint32_t g_status;

static bool on_doorbell(uint32_t iar) {
    (void)iar;
    g_status = mmio_read32(g_base + kStatus);
    mmio_write32(g_base + kStatus, 1); /* the line drops before the EOI */
    g_rang = 1;
    return false;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const int node = fdt_find_compatible(fdt, -1, "corvisor,example-delay");
    uint64_t base = 0;
    uint64_t size = 0;
    uint32_t len = 0;
    const void* irq = node >= 0 ? fdt_getprop(fdt, node, "interrupts", &len) : 0;
    struct gic_info gic;
    if (node < 0 || !fdt_reg(fdt, node, 0, &base, &size) || irq == 0 || len < 12 ||
        !gic_probe(fdt, &gic) || !timer_probe(fdt) || !gic_init(&gic)) {
        uart_puts("delaydev: no example device (or no GIC) in the DTB\n");
        return 1;
    }
    g_base = (uintptr_t)base;
    const uint32_t intid = 32 + fdt_be32((const char*)irq + 4);
    bool ok = true;

    const uint32_t id = mmio_read32(g_base + kId);
    uart_printf("delaydev: id %x\n", id);
    ok = ok && id == 0x434f5256;

    mmio_write32(g_base + kDelayUs, kDelay);
    const uint64_t t0 = timer_now();
    const uint32_t slow = mmio_read32(g_base + kSlow);
    const uint64_t waited = timer_now() - t0;
    const bool late_enough = waited >= kDelay * timer_freq() / 1000000;
    uart_printf("delaydev: slow read %u, %s\n", slow,
                late_enough ? "after its delay" : "TOO EARLY");
    ok = ok && slow == 1 && late_enough;

    gic_set_handler(intid, on_doorbell);
    gic_enable_irq(intid, kGicDefaultPriority);
    mmio_write32(g_base + kDoorbell, 1);
    irq_wait(&g_rang);
    uart_printf("delaydev: doorbell interrupt, status %u\n", g_status);
    ok = ok && g_status == 1 && mmio_read32(g_base + kStatus) == 0;
    gic_disable_irq(intid);
    uart_puts(ok ? "delaydev: ok\n" : "delaydev: FAILED\n");
    return ok ? 0 : 1;
}
