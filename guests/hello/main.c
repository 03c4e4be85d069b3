/* The greeting guest: proves the DTB, the PL011 and PSCI a hypervisor gives a
 * guest, and its reset path (bootargs "reset-once" with corvisor,boot-count).
 * Bootargs: name=NAME, resets=N (reset N times, checking RAM is zeroed each
 * boot), mark (that check on every boot, however restarted), linger (wait in
 * WFI instead of powering off). */
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "uart.h"

static const uint32_t kPl011Id[8] = {0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

static void print_name(const struct fdt* fdt, const char* args) {
    const char* name;
    size_t len;
    if (bootargs_value(args, "name", &name, &len) && len > 0) {
        uart_puts("hello: ");
        for (size_t i = 0; i < len; i++) {
            uart_putc(name[i]);
        }
        uart_puts(" greets from EL1\n");
        return;
    }
    const char* model = fdt_prop_string(fdt, 0, "model");
    uart_printf("hello: %s greets from EL1\n", model != NULL ? model : "(no model)");
}

static void check_pl011_id(void) {
    uintptr_t base = uart_base();
    uint32_t id[8];
    bool ok = true;
    for (uint32_t i = 0; i < 8; i++) {
        id[i] = mmio_read32(base + kPl011PeriphId0 + 4 * i);
        ok = ok && id[i] == kPl011Id[i];
    }
    if (ok) {
        uart_puts("hello: pl011 id ok\n");
        return;
    }
    uart_puts("hello: pl011 id BAD");
    for (uint32_t i = 0; i < 8; i++) {
        uart_printf(" 0x%x", id[i]);
    }
    uart_puts("\n");
}

/* The same ID registers, each loaded straight into one of x19..x26, and an IMSC store from
 * x24 read back through x25: a hypervisor that keeps those registers live across traps (as
 * corvisor's run loop does) must still deliver and take MMIO data there. x27/x28 must survive. */
static void check_high_registers(void) {
    uintptr_t base = uart_base();
    uint64_t got[8];
    uint64_t imsc = 0;
    uint64_t keep27 = 0;
    uint64_t keep28 = 0;
    __asm__ volatile(
        "mov x27, #0x2727\n\t"
        "mov x28, #0x2828\n\t"
        "ldr w19, [%[b], #0xfe0]\n\t"
        "ldr w20, [%[b], #0xfe4]\n\t"
        "ldr w21, [%[b], #0xfe8]\n\t"
        "ldr w22, [%[b], #0xfec]\n\t"
        "ldr w23, [%[b], #0xff0]\n\t"
        "ldr w24, [%[b], #0xff4]\n\t"
        "ldr w25, [%[b], #0xff8]\n\t"
        "ldr w26, [%[b], #0xffc]\n\t"
        "stp x19, x20, [%[g], #0]\n\t"
        "stp x21, x22, [%[g], #16]\n\t"
        "stp x23, x24, [%[g], #32]\n\t"
        "stp x25, x26, [%[g], #48]\n\t"
        "mov w24, #0x10\n\t"
        "str w24, [%[b], #0x38]\n\t"
        "ldr w25, [%[b], #0x38]\n\t"
        "str wzr, [%[b], #0x38]\n\t"
        "mov %[imsc], x25\n\t"
        "mov %[k27], x27\n\t"
        "mov %[k28], x28"
        : [imsc] "=&r"(imsc), [k27] "=&r"(keep27), [k28] "=&r"(keep28)
        : [b] "r"(base), [g] "r"(got)
        : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "memory");
    bool ok = imsc == 0x10 && keep27 == 0x2727 && keep28 == 0x2828;
    for (uint32_t i = 0; i < 8; i++) {
        ok = ok && got[i] == kPl011Id[i];
    }
    if (ok) {
        uart_puts("hello: high-register mmio ok\n");
    } else {
        uart_printf("hello: high-register mmio BAD imsc=0x%lx x27=0x%lx x28=0x%lx id0=0x%lx\n",
                    imsc, keep27, keep28, got[0]);
    }
}

/* PSCI and SMCCC both encode versions as major << 16 | minor. */
static void print_version(const char* what, int64_t v) {
    if (v < 0) {
        uart_printf("hello: %s error %ld\n", what, v);
    } else {
        uart_printf("hello: %s %lu.%lu\n", what, (uint64_t)v >> 16, (uint64_t)v & 0xffff);
    }
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1; /* no DTB: no UART to complain on; start.S powers off */
    }
    const struct fdt* fdt = guest_fdt();
    const char* args = guest_bootargs();

    print_name(fdt, args);
    check_pl011_id();
    check_high_registers();

    print_version("psci version", psci_call(kPsciVersion, 0, 0, 0));
    int64_t features = psci_call(kPsciFeatures, kSmcccVersion, 0, 0);
    uart_printf("hello: psci features smccc_version %ld\n", features);
    /* SMCCC v1.1+ section 7.2.1: SMCCC_VERSION may only be called once
     * PSCI_FEATURES says it exists; otherwise the caller assumes v1.0. */
    if (features >= 0) {
        print_version("smccc version", psci_call(kSmcccVersion, 0, 0, 0));
    } else {
        uart_puts("hello: smccc version 1.0 (assumed)\n");
    }

    uint32_t boot_count = 0;
    bool have_count =
        fdt_prop_u32(fdt, fdt_path(fdt, "/chosen"), "corvisor,boot-count", &boot_count);
    uart_printf("hello: boot-count %u\n", boot_count);

    /* resets=N: reset N times (each boot after the first checks that the marker the one before
     * left at the end of RAM is gone: the hypervisor zeroes RAM on reset). */
    /* "mark": the same marker check on every boot, whatever restarted it (a reset, or the
     * monitor's stop and start). */
    const uint64_t resets = bootargs_u64("hello", "resets", 0, 100000);
    const bool mark = bootargs_has_word(args, "mark");
    if ((resets != 0 || mark) && have_count) {
        volatile uint64_t* marker = (volatile uint64_t*)(uintptr_t)(fdt_ram_end(fdt, 0, NULL) - 8);
        if (boot_count > 0) {
            uart_printf("hello: ram %s\n", *marker == 0 ? "zeroed" : "NOT zeroed");
        }
        if (mark) {
            *marker = 0x6d61726b65720000ull | boot_count;
        }
        if (boot_count < resets) {
            *marker = 0x6d61726b65720000ull | boot_count;
            psci_call(kPsciSystemReset, 0, 0, 0);
            uart_puts("hello: SYSTEM_RESET returned\n");
        }
    }
    if (bootargs_has_word(args, "reset-once") && boot_count == 0) {
        /* Without corvisor,boot-count the next boot would look like this one
         * and reset again, forever (bare QEMU): refuse. */
        if (!have_count) {
            uart_puts("hello: reset-once needs corvisor,boot-count; not resetting\n");
        } else {
            uart_puts("hello: resetting\n");
            int64_t r = psci_call(kPsciSystemReset, 0, 0, 0);
            uart_printf("hello: SYSTEM_RESET returned %ld\n", r);
        }
    }
    uart_puts("hello: done\n");
    if (bootargs_has_word(args, "linger")) {
        /* "linger": stay (in WFI, nothing enabled to wake it) until the hypervisor stops it. */
        for (;;) {
            __asm__ volatile("wfi" ::: "memory");
        }
    }
    guest_power_off();
}
