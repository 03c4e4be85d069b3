/* The echo guest: console input by interrupt. Enables the PL011's receive
 * interrupts (IMSC RXIM | RTIM) and the UART's SPI (from the UART node's
 * "interrupts", routed to itself), sleeps in WFI, and prints every line it
 * receives as "echo(<name>): <line>" (name from bootargs name=, default
 * "echo"). A line "quit" ends it: "echo(<name>): done", then SYSTEM_OFF.
 * CR, LF and CR LF all end a line; empty lines and other control bytes are
 * dropped. */
#include "gic.h"
#include "guest.h"
#include "libc.h"
#include "uart.h"

enum {
    kPl011Imsc = 0x38,
    kPl011Icr = 0x44,
    kPl011FrRxfe = 1u << 4,
    kPl011IntRx = 1u << 4,
    kPl011IntRt = 1u << 6,
    kRing = 256,
    kLineMax = 120,
};

static uint8_t g_ring[kRing];
static volatile uint32_t g_head; /* written by the IRQ handler */
static volatile uint32_t g_tail; /* written by the main loop */
static volatile uint32_t g_dropped;

static bool on_uart(uint32_t iar) {
    (void)iar;
    const uintptr_t base = uart_base();
    while ((mmio_read32(base + kPl011Fr) & kPl011FrRxfe) == 0) {
        const uint8_t c = (uint8_t)mmio_read32(base + kPl011Dr);
        if (g_head - g_tail < kRing) {
            g_ring[g_head % kRing] = c;
            g_head = g_head + 1;
        } else {
            g_dropped = g_dropped + 1;
        }
    }
    mmio_write32(base + kPl011Icr, kPl011IntRx | kPl011IntRt);
    return false;
}

/* The next received byte; sleeps in WFI while there is none. */
static uint8_t next_byte(void) {
    irq_mask();
    while (g_head == g_tail) {
        __asm__ volatile("wfi" ::: "memory");
        irq_window();
    }
    const uint8_t c = g_ring[g_tail % kRing];
    g_tail = g_tail + 1;
    return c;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const char* args = guest_bootargs();
    char name[32] = "echo";
    const char* v;
    size_t len;
    if (bootargs_value(args, "name", &v, &len) && len > 0 && len < sizeof(name)) {
        memcpy(name, v, len);
        name[len] = '\0';
    }
    struct gic_info gic;
    const int intid = gic_uart_intid(fdt);
    if (intid < 32) {
        uart_printf("echo(%s): the UART node has no SPI in \"interrupts\"\n", name);
        return 1;
    }
    if (!gic_probe(fdt, &gic) || !gic_init(&gic)) {
        uart_printf("echo(%s): no usable GIC\n", name);
        return 1;
    }
    gic_set_handler((uint32_t)intid, on_uart);
    gic_enable_irq((uint32_t)intid, kGicDefaultPriority);
    mmio_write32(uart_base() + kPl011Imsc, kPl011IntRx | kPl011IntRt);
    uart_printf("echo(%s): ready, uart irq %d\n", name, intid);

    char line[kLineMax + 1];
    uint32_t n = 0;
    for (;;) {
        const char c = (char)next_byte();
        if (c == '\r' || c == '\n' || n == kLineMax) {
            if (n == 0) {
                continue;
            }
            line[n] = '\0';
            uart_printf("echo(%s): %s\n", name, line);
            n = 0;
            if (strcmp(line, "quit") == 0) {
                break;
            }
            if (c == '\r' || c == '\n') {
                continue;
            }
        }
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) {
            line[n++] = c;
        }
    }
    mmio_write32(uart_base() + kPl011Imsc, 0);
    gic_disable_irq((uint32_t)intid);
    if (g_dropped != 0) {
        uart_printf("echo(%s): %u byte(s) dropped\n", name, g_dropped);
    }
    uart_printf("echo(%s): done\n", name);
    return 0;
}
