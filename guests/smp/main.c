/* The SMP guest: its vCPUs, started with PSCI CPU_ON, exercise what crosses
 * pCPUs when the hypervisor spreads them. One mode per boot, from bootargs:
 *  pingpong=N  vCPU 0 and vCPU 1 bounce an SGI N times (0 -> 1: SGI 1, 1 -> 0:
 *              SGI 2), each waiting for its SGI in WFI; a lost SGI hangs it.
 *              Prints "smp: pingpong N/N".
 *  onoff=N     vCPU 0 turns vCPU 1 on N times; each time vCPU 1 counts itself
 *              and turns itself off (CPU_OFF); vCPU 0 waits (WFE between
 *              AFFINITY_INFO calls) until it is off. Prints "smp: onoff N/N".
 *  reset       every vCPU is started and reports in (vCPU 0 prints who came
 *              up); on the first boot vCPU 0 then resets the guest
 *              (SYSTEM_RESET), on the second it reports "smp: reset ok: boot 1,
 *              K/K vcpus up" and powers off.
 *  spi=N       vCPU 1 routes the UART's SPI to itself (GICD_IROUTER, by
 *              gic_enable_irq there) and waits in WFI; N times vCPU 0 unmasks
 *              the UART's transmit interrupt (UARTIMSC.TXIM), which is pending
 *              while the FIFO is empty, and waits until vCPU 1's handler has
 *              masked it again. Prints "smp: spi N/N on vcpu 1".
 *  busy=MS     every vCPU is started; vCPU 1 computes in a loop that never
 *              traps, the others wait in WFI; vCPU 0 waits MS milliseconds of
 *              its virtual counter (WFE between looks) and powers the guest off,
 *              which stops the busy vCPU wherever it runs.
 * The vCPUs wait in WFI or WFE, never in a bare loop. */
#include "cpus.h"
#include "gic.h"
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "uart.h"

enum {
    kAffinityOff = 1,
    kSgiPing = 1,
    kSgiPong = 2,
    kPl011Imsc = 0x038,
    kPl011Txim = 1u << 5,
};

static struct gic_info g_gic;
static volatile uint32_t g_mode; /* 1 pingpong, 2 onoff, 3 reset, 4 busy, 5 spi */
static volatile uint32_t g_pings, g_pongs, g_ons, g_up;
static volatile uint32_t g_cpu_up[kCpusMax]; /* boot count + 1 once vCPU i is up */
static volatile uint64_t g_spins;
static volatile uint32_t g_spis, g_spi_cpu, g_uart_spi;
static volatile uint32_t g_boot;

static void send_sgi(uint32_t intid, uint32_t target) {
    write_icc_sgi1r_el1(((uint64_t)(intid & 0xf) << 24) | (1ull << target));
    isb();
}

static bool on_ping(uint32_t iar) {
    (void)iar;
    g_pings = g_pings + 1;
    send_sgi(kSgiPong, 0);
    return false;
}

static bool on_pong(uint32_t iar) {
    (void)iar;
    g_pongs = g_pongs + 1;
    return false;
}

static bool on_uart_spi(uint32_t iar) {
    (void)iar;
    mmio_write32(uart_base() + kPl011Imsc, 0); /* the level drops before the EOI */
    g_spi_cpu = (uint32_t)(read_mpidr() & 0xff);
    __asm__ volatile("dmb sy" ::: "memory");
    g_spis = g_spis + 1;
    __asm__ volatile("sev" ::: "memory");
    return false;
}

static void smp_secondary(uint32_t me) {
    if (g_mode == 2) {
        g_ons = g_ons + 1;
        return; /* cpu_start's entry turns it off (CPU_OFF) */
    }
    if (!gic_init_cpu(&g_gic)) {
        uart_printf("smp: vcpu %u: gic init failed\n", me);
        return;
    }
    if (g_mode == 3 || g_mode == 4) {
        g_cpu_up[me % kCpusMax] = g_boot + 1;
        if (g_mode == 4 && me == 1) {
            for (;;) {
                g_spins = g_spins + 1; /* computes, never traps */
            }
        }
        for (;;) {
            __asm__ volatile("wfi" ::: "memory");
        }
    }
    if (g_mode == 5) {
        gic_set_handler(g_uart_spi, on_uart_spi);
        gic_enable_irq(g_uart_spi, kGicDefaultPriority); /* routed to this vCPU */
    } else {
        gic_set_handler(kSgiPing, on_ping);
        gic_enable_irq(kSgiPing, kGicDefaultPriority);
    }
    g_up = 1;
    irq_mask();
    for (;;) {
        __asm__ volatile("wfi" ::: "memory");
        irq_window();
    }
}

static void pingpong(uint64_t n) {
    gic_set_handler(kSgiPong, on_pong);
    gic_enable_irq(kSgiPong, kGicDefaultPriority);
    if (cpu_start(1, smp_secondary) != kPsciSuccess) {
        uart_puts("smp: cpu-on vcpu 1 failed\n");
        return;
    }
    while (g_up == 0) {
        __asm__ volatile("wfe" ::: "memory");
    }
    irq_mask();
    for (uint64_t i = 0; i < n; i++) {
        send_sgi(kSgiPing, 1);
        while (g_pongs <= i) {
            __asm__ volatile("wfi" ::: "memory");
            irq_window();
        }
    }
    uart_printf("smp: pingpong %u/%lu (vcpu 1 took %u)\n", g_pongs, n, g_pings);
}

static void onoff(uint64_t n) {
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t r = cpu_start(1, smp_secondary);
        if (r != kPsciSuccess) {
            uart_printf("smp: onoff round %lu: cpu-on -> %ld\n", i, (long)r);
            break;
        }
        while (g_ons <= i || psci_call(kPsciAffinityInfo64, 1, 0, 0) != kAffinityOff) {
            __asm__ volatile("wfe" ::: "memory");
        }
        ok++;
    }
    uart_printf("smp: onoff %lu/%lu\n", ok, n);
}

/* Starts every other vCPU and waits until each has reported in; their count, with vCPU 0. */
static uint32_t start_all(void) {
    const uint32_t cpus = cpu_count();
    for (uint32_t c = 1; c < cpus; c++) {
        g_cpu_up[c] = 0;
        if (cpu_start(c, smp_secondary) != kPsciSuccess) {
            uart_printf("smp: cpu-on vcpu %u failed\n", c);
            return 0;
        }
    }
    for (uint32_t c = 1; c < cpus; c++) {
        while (g_cpu_up[c] != g_boot + 1) {
            __asm__ volatile("wfe" ::: "memory");
        }
        g_up = g_up + 1;
    }
    return cpus;
}

static void reset_all(void) {
    const uint32_t cpus = start_all();
    if (cpus == 0) {
        return;
    }
    uart_printf("smp: boot %u: %u vcpus up\n", g_boot, cpus);
    if (g_boot == 0) {
        uart_puts("smp: resetting\n");
        psci_call(kPsciSystemReset, 0, 0, 0);
        uart_puts("smp: SYSTEM_RESET returned\n");
        return;
    }
    uart_printf("smp: reset ok: boot %u, %u/%u vcpus up\n", g_boot, g_up + 1, cpus);
}

static void spi(uint64_t n) {
    const int intid = gic_uart_intid(guest_fdt());
    if (intid < 32) {
        uart_puts("smp: no UART interrupt in the DTB\n");
        return;
    }
    g_uart_spi = (uint32_t)intid;
    if (cpu_start(1, smp_secondary) != kPsciSuccess) {
        uart_puts("smp: cpu-on vcpu 1 failed\n");
        return;
    }
    while (g_up == 0) {
        __asm__ volatile("wfe" ::: "memory");
    }
    uint32_t on_other = 0;
    for (uint64_t i = 0; i < n; i++) {
        mmio_write32(uart_base() + kPl011Imsc, kPl011Txim);
        while (g_spis <= i) {
            __asm__ volatile("wfe" ::: "memory");
        }
        on_other += g_spi_cpu == 1 ? 1u : 0u;
    }
    uart_printf("smp: spi %u/%lu on vcpu 1\n", on_other, n);
}

static uint64_t counter(void) {
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

static void busy(uint64_t ms) {
    const uint32_t cpus = start_all();
    if (cpus == 0) {
        return;
    }
    uint64_t hz;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
    uart_printf("smp: busy: %u vcpus up, vcpu 1 computing for %lu ms\n", cpus, ms);
    const uint64_t end = counter() + hz / 1000 * ms;
    while (counter() < end) {
        __asm__ volatile("wfe" ::: "memory");
    }
    uart_printf("smp: busy: vcpu 1 %s\n", g_spins != 0 ? "ran" : "never ran");
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    if (!gic_probe(fdt, &g_gic) || !gic_init(&g_gic)) {
        uart_puts("smp: no GIC\n");
        return 1;
    }
    uint32_t boot = 0;
    fdt_prop_u32(fdt, fdt_path(fdt, "/chosen"), "corvisor,boot-count", &boot);
    g_boot = boot;
    const char* args = guest_bootargs();
    const char* v = NULL;
    size_t len = 0;
    if (bootargs_value(args, "pingpong", &v, &len)) {
        g_mode = 1;
        pingpong(bootargs_u64("smp", "pingpong", 1, 1000000));
    } else if (bootargs_value(args, "onoff", &v, &len)) {
        g_mode = 2;
        onoff(bootargs_u64("smp", "onoff", 1, 1000000));
    } else if (bootargs_has_word(args, "reset")) {
        g_mode = 3;
        reset_all();
    } else if (bootargs_value(args, "spi", &v, &len)) {
        g_mode = 5;
        spi(bootargs_u64("smp", "spi", 1, 1000000));
    } else if (bootargs_value(args, "busy", &v, &len)) {
        g_mode = 4;
        busy(bootargs_u64("smp", "busy", 1000, 60000));
    } else {
        uart_puts("smp: no mode (pingpong=N, onoff=N, reset, spi=N, busy=MS)\n");
    }
    uart_puts("smp: done\n");
    return 0;
}
