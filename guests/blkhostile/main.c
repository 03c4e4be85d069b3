/* The blkhostile guest: a hostile virtio driver for the virtio block device
 * (devices/virtio, "corvisor,virtio-blk"). Its disk is the first 4 KiB of its
 * own image (the guest list embeds them), so a good read must give back what
 * the guest was loaded from. Between good requests it breaks requests in each
 * of the ways below and checks the architected answer: an error status for a
 * request the device cannot do, DEVICE_NEEDS_RESET (status bit 64) for a chain
 * it cannot even answer. The device serves requests after the notifying store,
 * so each wait is for its interrupt, in WFI. Prints "blkhostile: ok" when every
 * answer was the expected one. */
#include "fdt.h"
#include "gic.h"
#include "guest.h"
#include "uart.h"
#include "virtio.h"

enum {
    kStatus = kVirtioStatus,
    kInterruptStatus = 0x060,
    kInterruptAck = 0x064,
    kNeedsReset = kVirtioNeedsReset,
    kQueueSize = 32,
    kDescNext = kVirtqDescNext,
    kDescWrite = kVirtqDescWrite,
    kIn = 0,
    kOut = 1,
    kOk = 0,
    kIoErr = 1,
};

struct header {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

extern const char _start[];

static uintptr_t g_base;
static struct virtq_desc g_desc[kQueueSize] __attribute__((aligned(16)));
static volatile uint16_t g_avail[2 + kQueueSize + 1] __attribute__((aligned(4)));
static volatile uint32_t g_used[1 + 2 * kQueueSize + 1] __attribute__((aligned(8)));
static struct header g_header __attribute__((aligned(16)));
static volatile uint8_t g_status;
static uint8_t g_data[4096] __attribute__((aligned(4096)));
static volatile uint32_t g_irq;
static uint16_t g_avail_idx;

static void reg_write(uint32_t off, uint32_t v) {
    mmio_write32(g_base + off, v);
}
static uint32_t reg_read(uint32_t off) {
    return mmio_read32(g_base + off);
}

static bool on_disk_irq(uint32_t iar) {
    (void)iar;
    reg_write(kInterruptAck, reg_read(kInterruptStatus));
    g_irq = 1;
    return false;
}

/* Reset, negotiate VERSION_1 (nothing else), set up the request queue, DRIVER_OK. */
static bool start_device(void) {
    reg_write(kStatus, 0);
    for (unsigned i = 0; i < sizeof g_avail / sizeof g_avail[0]; i++) {
        g_avail[i] = 0;
    }
    for (unsigned i = 0; i < sizeof g_used / sizeof g_used[0]; i++) {
        g_used[i] = 0;
    }
    g_avail_idx = 0;
    return virtio_start(g_base, 0, kQueueSize, g_desc, g_avail, g_used);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    virtq_set_desc(&g_desc[i], addr, len, flags, next);
}

/* Offer chain 0, notify, and wait in WFI for the device's interrupt. */
static void submit(void) {
    g_status = 0xee;
    g_irq = 0;
    g_avail[2 + g_avail_idx % kQueueSize] = 0;
    __asm__ volatile("dmb ish" ::: "memory");
    g_avail[1] = ++g_avail_idx;
    __asm__ volatile("dmb ish" ::: "memory");
    reg_write(0x050, 0);
    irq_wait(&g_irq);
}

/* A request: header, one data buffer (unless len is 0), the status byte. */
static void request(uint32_t type, uint64_t sector, uint64_t data, uint32_t len) {
    g_header.type = type;
    g_header.reserved = 0;
    g_header.sector = sector;
    set_desc(0, (uint64_t)(uintptr_t)&g_header, sizeof g_header, kDescNext, 1);
    if (len != 0) {
        set_desc(1, data, len, (uint16_t)(kDescNext | (type == kIn ? kDescWrite : 0)), 2);
        set_desc(2, (uint64_t)(uintptr_t)&g_status, 1, kDescWrite, 0);
    } else {
        set_desc(1, (uint64_t)(uintptr_t)&g_status, 1, kDescWrite, 0);
    }
    submit();
}

static bool check(const char* what, bool ok, const char* answer) {
    uart_printf("blkhostile: %s: %s\n", what, ok ? answer : "WRONG ANSWER");
    return ok;
}
static bool status_is(const char* what, uint8_t want) {
    const bool needs_reset = (reg_read(kStatus) & kNeedsReset) != 0;
    return check(what, g_status == want && !needs_reset, want == kOk ? "ok" : "error status");
}
static bool refused(const char* what) {
    return check(what, (reg_read(kStatus) & kNeedsReset) != 0, "needs reset");
}

static bool same(const uint8_t* a, const char* b, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        if (a[i] != (uint8_t)b[i]) {
            return false;
        }
    }
    return true;
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const int node = fdt_find_compatible(fdt, -1, "virtio,mmio");
    uint64_t base = 0;
    uint64_t size = 0;
    uint32_t len = 0;
    const void* irq = node < 0 ? 0 : fdt_getprop(fdt, node, "interrupts", &len);
    struct gic_info gic;
    if (node < 0 || !fdt_reg(fdt, node, 0, &base, &size) || irq == 0 || len < 12 ||
        !gic_probe(fdt, &gic) || !gic_init(&gic)) {
        uart_puts("blkhostile: no virtio disk or GIC in the DTB\n");
        return 1;
    }
    g_base = (uintptr_t)base;
    const int intid = gic_spec_to_intid(irq);
    gic_set_handler((uint32_t)intid, on_disk_irq);
    gic_enable_irq((uint32_t)intid, kGicDefaultPriority);
    bool holds = false;
    const uint64_t ram_end = fdt_ram_end(fdt, (uint64_t)(uintptr_t)g_data, &holds);
    const uint64_t data = (uint64_t)(uintptr_t)g_data;
    bool ok = reg_read(0x008) == 2 && start_device();
    const uint64_t sectors = reg_read(0x100);

    request(kIn, 0, data, 4096);
    ok = status_is("a read of the disk", kOk) && ok;
    ok = check("the disk holds the guest's image", same(g_data, _start, 4096), "yes") && ok;

    request(kIn, sectors, data, 512);
    ok = status_is("a read beyond the disk", kIoErr) && ok;
    request(kIn, ~0ull / 256, data, 512);
    ok = status_is("a sector that overflows", kIoErr) && ok;
    request(kIn, 0, data, 100);
    ok = status_is("a length that is not whole sectors", kIoErr) && ok;
    request(kIn, 0, 0x100000000ull, 512);
    ok = status_is("a data buffer outside RAM", kIoErr) && ok;
    request(kIn, 0, holds ? ram_end - 256 : 0, 512);
    ok = status_is("a data buffer past the end of RAM", kIoErr) && ok;
    request(kOut, 0, gic_dist_base(), 512);
    ok = status_is("a write from the GIC's registers", kIoErr) && ok;

    set_desc(0, (uint64_t)(uintptr_t)&g_header, sizeof g_header, kDescNext, 1);
    set_desc(1, data, 512, kDescNext | kDescWrite, 0);
    submit();
    ok = refused("a chain that loops") && ok;

    ok = start_device() && ok;
    set_desc(0, 0x100000000ull, 16, kDescNext, 1);
    set_desc(1, (uint64_t)(uintptr_t)&g_status, 1, kDescWrite, 0);
    submit();
    ok = refused("a header outside RAM") && ok;

    ok = start_device() && ok;
    set_desc(0, (uint64_t)(uintptr_t)&g_header, sizeof g_header, 0, 0);
    submit();
    ok = refused("no status byte") && ok;

    ok = start_device() && ok;
    g_header.type = kIn;
    g_header.sector = 0;
    set_desc(0, (uint64_t)(uintptr_t)&g_header, sizeof g_header, kDescNext, 1);
    for (unsigned i = 1; i < 20; i++) { /* 18 data buffers: more than seg_max (14) */
        set_desc(i, data + 512 * (i % 8), 512, kDescNext | kDescWrite, (uint16_t)(i + 1));
    }
    set_desc(20, (uint64_t)(uintptr_t)&g_status, 1, kDescWrite, 0);
    submit();
    ok = refused("a chain longer than seg_max") && ok;

    /* The device still works once reset: write a sector, read it back. */
    ok = start_device() && ok;
    for (unsigned i = 0; i < 512; i++) {
        g_data[i] = (uint8_t)(i * 7);
    }
    request(kOut, 5, data, 512);
    ok = status_is("a good write", kOk) && ok;
    for (unsigned i = 0; i < 512; i++) {
        g_data[i] = 0;
    }
    request(kIn, 5, data, 512);
    bool back = g_status == kOk;
    for (unsigned i = 0; i < 512; i++) {
        back = back && g_data[i] == (uint8_t)(i * 7);
    }
    ok = check("the write reads back", back, "yes") && ok;
    uart_puts(ok ? "blkhostile: ok\n" : "blkhostile: FAILED\n");
    return ok ? 0 : 1;
}
