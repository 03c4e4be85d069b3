/* The spin-wait guest: what test suites and firmware do that well-behaved
 * guests never do.
 *  1. It branches to an address outside its RAM and expects a prefetch abort
 *     it can handle (a synchronous external abort on the fetch).
 *  2. vCPU 0 starts vCPU 1 with PSCI CPU_ON and then waits for it in a busy
 *     loop, with no WFI or WFE: on a pCPU the two vCPUs share, only the
 *     hypervisor's time slice can let vCPU 1 run.
 * Each step prints "spinwait: <step> ..."; the test driver judges the lines. */
#include "cpus.h"
#include "exceptions.h"
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "uart.h"

static volatile uint32_t g_secondary_ran;
static volatile uint64_t g_secondary_mpidr;

static void secondary_main(uint32_t cpu) {
    (void)cpu;
    g_secondary_mpidr = read_mpidr();
    g_secondary_ran = 1;  /* then cpu_start's entry turns it off */
}

static void fetch_outside_ram(const struct fdt* fdt) {
    const uint64_t target = fdt_ram_end(fdt, 0, NULL) + 0x100000;
    struct fault_record rec;
    fault_expect(&rec);
    __asm__ volatile("blr %0" ::"r"(target)
                     : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                       "x12", "x13", "x14", "x15", "x16", "x17", "x30", "memory", "cc");
    fault_disarm();
    if (!rec.taken) {
        uart_printf("spinwait: fetch-outside-ram 0x%lx -> no abort\n", target);
        return;
    }
    uart_printf("spinwait: fetch-outside-ram 0x%lx -> abort ec=0x%x esr=0x%lx far=0x%lx\n",
                target, esr_ec(rec.esr), rec.esr, rec.far);
}

static void spin_for_secondary(void) {
    int64_t r = cpu_start(1, secondary_main);
    /* A busy loop on purpose, straight after the call: no WFI, no WFE, no trap. */
    while (r == kPsciSuccess && g_secondary_ran == 0) {
        __asm__ volatile("" ::: "memory");
    }
    uart_printf("spinwait: cpu-on vcpu1 -> x0=%ld\n", (long)r);
    if (r != kPsciSuccess) {
        return;
    }
    /* Whether vCPU 0 got to spin at all before its slice ended depends on the host's speed:
     * not reported. Without a slice this loop never ends. */
    uart_printf("spinwait: secondary ran (mpidr 0x%lx) while vcpu0 busy-waited\n",
                g_secondary_mpidr);
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    fetch_outside_ram(guest_fdt());
    spin_for_secondary();
    uart_puts("spinwait: done\n");
    return 0;
}
