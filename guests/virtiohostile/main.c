/* The virtiohostile guest: a hostile virtio driver for the virtio console
 * (devices/virtio, "corvisor,virtio-console"). It breaks the transmit queue in
 * each of the ways below, checks that the device answers with
 * DEVICE_NEEDS_RESET (status bit 64) and nothing worse, resets it, and after all
 * of them sends one good line, which must reach the console as
 * "[virtiohostile:hvc0] virtiohostile: still works". Prints
 * "virtiohostile: ok" when every answer was the architected one. */
#include "fdt.h"
#include "guest.h"
#include "uart.h"
#include "virtio.h"

enum {
    kStatus = kVirtioStatus,
    kNeedsReset = kVirtioNeedsReset,
    kQueueSize = 8,
    kDescNext = kVirtqDescNext,
    kDescIndirect = kVirtqDescIndirect,
};

static uintptr_t g_base;
static struct virtq_desc g_desc[kQueueSize] __attribute__((aligned(16)));
static volatile uint16_t g_avail[2 + kQueueSize + 1] __attribute__((aligned(4)));
static volatile uint32_t g_used[1 + 2 * kQueueSize + 1] __attribute__((aligned(8)));
static char g_text[64] __attribute__((aligned(8)));

static void reg_write(uint32_t off, uint32_t v) {
    mmio_write32(g_base + off, v);
}
static uint32_t reg_read(uint32_t off) {
    return mmio_read32(g_base + off);
}

/* Reset, negotiate VERSION_1, set up the transmit queue (1), DRIVER_OK. */
static bool start_device(void) {
    reg_write(kStatus, 0);
    for (unsigned i = 0; i < sizeof g_avail / sizeof g_avail[0]; i++) {
        g_avail[i] = 0;
    }
    for (unsigned i = 0; i < sizeof g_used / sizeof g_used[0]; i++) {
        g_used[i] = 0;
    }
    return virtio_start(g_base, 1, kQueueSize, g_desc, g_avail, g_used);
}

/* Offer chain `head` (or the raw ring entry `head`) as available entry 0, notify. */
static void offer(uint16_t head, uint16_t idx) {
    g_avail[2] = head;
    __asm__ volatile("dmb ish" ::: "memory");
    g_avail[1] = idx;
    __asm__ volatile("dmb ish" ::: "memory");
    reg_write(0x050, 1);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    virtq_set_desc(&g_desc[i], addr, len, flags, next);
}

/* One hostile case: the device must end up needing reset. */
static bool refused(const char* what) {
    const uint32_t status = reg_read(kStatus);
    const bool ok = (status & kNeedsReset) != 0;
    uart_printf("virtiohostile: %s: %s\n", what, ok ? "needs reset" : "NOT REFUSED");
    return ok;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const int node = fdt_find_compatible(fdt, -1, "corvisor,virtio-console");
    uint64_t base = 0;
    uint64_t size = 0;
    if (node < 0 || !fdt_reg(fdt, node, 0, &base, &size)) {
        uart_puts("virtiohostile: no virtio console in the DTB\n");
        return 1;
    }
    g_base = (uintptr_t)base;
    bool ok = true;
    uint64_t ram_end = 0;
    bool holds = false;
    ram_end = fdt_ram_end(fdt, (uint64_t)(uintptr_t)g_text, &holds);

    ok = ok && start_device();
    set_desc(0, (uint64_t)(uintptr_t)g_text, 4, kDescNext, 1);
    set_desc(1, (uint64_t)(uintptr_t)g_text, 4, kDescNext, 0);
    offer(0, 1);
    ok = refused("a chain that loops") && ok;

    ok = start_device() && ok;
    set_desc(0, 0x100000000ull, 4, 0, 0); /* beyond its RAM */
    offer(0, 1);
    ok = refused("a buffer outside RAM") && ok;

    ok = start_device() && ok;
    set_desc(0, holds ? ram_end - 2 : 0, 16, 0, 0); /* runs past the end of RAM */
    offer(0, 1);
    ok = refused("a buffer past the end of RAM") && ok;

    ok = start_device() && ok;
    set_desc(0, (uint64_t)(uintptr_t)g_text, 4, kDescNext, 200);
    offer(0, 1);
    ok = refused("a next index beyond the queue") && ok;

    ok = start_device() && ok;
    offer(123, 1);
    ok = refused("a head beyond the queue") && ok;

    ok = start_device() && ok;
    offer(0, 5000);
    ok = refused("an available index far ahead") && ok;

    ok = start_device() && ok;
    set_desc(0, (uint64_t)(uintptr_t)g_text, 16, kDescIndirect, 0);
    offer(0, 1);
    ok = refused("an indirect descriptor") && ok;

    /* The device still works once reset. */
    ok = start_device() && ok;
    const char line[] = "virtiohostile: still works\n";
    for (unsigned i = 0; i < sizeof line - 1; i++) {
        g_text[i] = line[i];
    }
    set_desc(0, (uint64_t)(uintptr_t)g_text, sizeof line - 1, 0, 0);
    offer(0, 1);
    const bool used = g_used[0] >> 16 == 1; /* used idx */
    uart_printf("virtiohostile: good chain %s\n", used ? "used" : "NOT USED");
    ok = ok && used && (reg_read(kStatus) & kNeedsReset) == 0;
    uart_puts(ok ? "virtiohostile: ok\n" : "virtiohostile: FAILED\n");
    return ok ? 0 : 1;
}
