/* The benchmark guest of shared/BENCHMARKS.md. Each figure times one
 * operation N times with CNTVCT_EL0 between two ISBs and prints
 *   BENCH name=<name> iters=<n> min=<t> median=<t> mean=<t> p99=<t> unit=ticks
 * Bootargs: iters=N (default 10000), only=<name>. Under
 * -icount shift=4,sleep=off a tick is one instruction. */
#include "exceptions.h"
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "uart.h"

enum {
    kDefaultIters = 10000,
    kMaxIters = 65536,
    kWarmup = 100,
    kGicdTyper = 0x4,
};

/* BSS: 256 KiB of samples, zeroed by start.S, counted in image_size. */
static uint32_t g_samples[kMaxIters];

enum bench_op {
    kOpCall,      /* hvc #0 or smc #0 (the DTB's conduit) with x0 = PSCI_VERSION */
    kOpMmioRead,  /* 32-bit ldr */
    kOpMmioWrite, /* 32-bit str of 0 */
    kOpSysreg,    /* mrs ID_AA64PFR0_EL1: trapped under HCR_EL2.TID3 */
};

/* The timed sequences. Only the operation sits between the two counter
 * reads, plus the ISB that keeps the second read from being speculated ahead
 * of it; operands are set up before the first ISB. */
#define TIMED(op_asm, ...)                                                                        \
    __asm__ volatile("isb\n\tmrs %[t0], cntvct_el0\n\t" op_asm "\n\tisb\n\tmrs %[t1], cntvct_el0" \
                     : [t0] "=&r"(t0), [t1] "=r"(t1)__VA_ARGS__)

#define CALL_CLOBBERS                                                                        \
    "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", \
        "x15", "x16", "x17", "memory"

static uint32_t measure(enum bench_op op, uintptr_t addr) {
    uint64_t t0;
    uint64_t t1;
    switch (op) {
        case kOpCall: {
            /* Ask for the conduit first: a call would clobber x0 once it is loaded. */
            const bool smc = psci_uses_smc();
            register uint64_t x0 __asm__("x0") = kPsciVersion;
            if (smc) {
                TIMED("smc #0", , "+r"(x0) : : CALL_CLOBBERS);
            } else {
                TIMED("hvc #0", , "+r"(x0) : : CALL_CLOBBERS);
            }
            break;
        }
        case kOpMmioRead: {
            uint32_t v;
            TIMED("ldr %w[v], [%[a]]", , [v] "=r"(v) : [a] "r"(addr) : "memory");
            break;
        }
        case kOpMmioWrite:
            TIMED("str wzr, [%[a]]", : [a] "r"(addr) : "memory");
            break;
        case kOpSysreg: {
            uint64_t v;
            TIMED("mrs %[v], id_aa64pfr0_el1", , [v] "=r"(v) : : "memory");
            break;
        }
        default:
            return 0;
    }
    return (uint32_t)(t1 - t0);
}

/* Heap sort: O(n log n) without recursion or extra memory. */
static void sift_down(uint32_t* a, uint32_t root, uint32_t n) {
    for (;;) {
        uint32_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && a[child + 1] > a[child]) {
            child++;
        }
        if (a[root] >= a[child]) {
            return;
        }
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint32_t* a, uint32_t n) {
    for (uint32_t i = n / 2; i-- > 0;) {
        sift_down(a, i, n);
    }
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

static bool selected(const char* only, size_t only_len, const char* name) {
    return only == NULL || (strlen(name) == only_len && strncmp(only, name, only_len) == 0);
}

static void run(const char* name, enum bench_op op, uintptr_t addr, uint32_t iters) {
    /* One guarded try first: an operation the system answers with an
     * exception is reported instead of panicking the whole run. */
    struct fault_record rec;
    fault_expect(&rec);
    (void)measure(op, addr);
    fault_disarm();
    if (rec.taken) {
        uart_printf("BENCH skip name=%s reason=exception ec=0x%x esr=0x%lx\n", name,
                    esr_ec(rec.esr), rec.esr);
        return;
    }
    for (uint32_t i = 0; i < kWarmup; i++) {
        (void)measure(op, addr);
    }
    for (uint32_t i = 0; i < iters; i++) {
        g_samples[i] = measure(op, addr);
    }
    heap_sort(g_samples, iters);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < iters; i++) {
        sum += g_samples[i];
    }
    /* Lower median; p99 by nearest rank (the ceil(0.99 n)-th smallest). */
    uint32_t median = g_samples[(iters - 1) / 2];
    uint32_t p99 = g_samples[(uint32_t)(((uint64_t)iters * 99 + 99) / 100) - 1];
    uart_printf("BENCH name=%s iters=%u min=%u median=%u mean=%lu p99=%u unit=ticks\n", name, iters,
                g_samples[0], median, sum / iters, p99);
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const char* args = guest_bootargs();

    uint64_t iters = kDefaultIters;
    const char* v;
    size_t len;
    if (bootargs_value(args, "iters", &v, &len) && (!parse_u64(v, len, &iters) || iters == 0)) {
        uart_puts("bench: bad iters=, using 10000\n");
        iters = kDefaultIters;
    }
    if (iters > kMaxIters) {
        uart_printf("bench: iters capped at %u\n", (unsigned)kMaxIters);
        iters = kMaxIters;
    }
    const char* only = NULL;
    size_t only_len = 0;
    (void)bootargs_value(args, "only", &only, &only_len);

    uint64_t gicd = 0;
    uint64_t gicd_size = 0;
    int gic = fdt_find_compatible(fdt, -1, "arm,gic-v3");
    if (gic < 0 || !fdt_reg(fdt, gic, 0, &gicd, &gicd_size)) {
        gicd = 0;
    }
    uint64_t frq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frq));
    uart_printf("bench: conduit=%s uart=0x%lx gicd=0x%lx cntfrq=%lu\n", psci_conduit_name(),
                (uint64_t)uart_base(), gicd, frq);

    uint32_t n = (uint32_t)iters;
    uintptr_t uart = uart_base();
    /* The figure is "hvc" even when the conduit is SMC: it is the PSCI call path. */
    if (selected(only, only_len, "hvc")) {
        run("hvc", kOpCall, 0, n);
    }
    if (uart != 0 && selected(only, only_len, "mmio_read_uart")) {
        run("mmio_read_uart", kOpMmioRead, uart + kPl011Fr, n);
    }
    /* A NUL: invisible on a terminal, and dropped by corvisor's console. */
    if (uart != 0 && selected(only, only_len, "mmio_write_uart")) {
        run("mmio_write_uart", kOpMmioWrite, uart + kPl011Dr, n);
    }
    if (gicd != 0 && selected(only, only_len, "mmio_read_vgic")) {
        run("mmio_read_vgic", kOpMmioRead, (uintptr_t)gicd + kGicdTyper, n);
    }
    if (selected(only, only_len, "sysreg_trap")) {
        run("sysreg_trap", kOpSysreg, 0, n);
    }
    uart_puts("BENCH done\n");
    guest_power_off();
}
