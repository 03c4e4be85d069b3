/* The benchmark guest of docs/benchmarks.md. Each figure times one
 * operation N times with CNTVCT_EL0 between two ISBs and prints
 *   BENCH name=<name> iters=<n> min=<t> median=<t> mean=<t> p99=<t> unit=ticks
 * and, for the interrupt figures only, a histogram of the samples right after:
 *   BENCH hist name=<name> bins=<lo>-<hi>:<count>,<lo>-<hi>:<count>,...
 * Bins are in increasing order, bounds inclusive, counts sum to iters. At most
 * 16 distinct values: one bin per value (lo == hi). More: bins of width
 * ceil((max - min + 1) / 16) from min, the last one ending at max (so at most
 * 16 bins); an empty bin is printed with count 0.
 * Bootargs: iters=N (default 10000), only=<name>[,<name>...]. Under
 * -icount shift=4,sleep=off a tick is one instruction.
 *
 * The interrupt figures (ipi_self, eoi, vtimer_latency, wfi_wake) need the
 * GIC and the virtual timer; "handler entry" is the CNTVCT_EL0 the IRQ vector
 * reads as its third instruction (common/exceptions.S). A GIC that faults on
 * first touch makes them "BENCH skip". ipi needs a second vCPU (else "BENCH
 * skip name=ipi reason=one-vcpu"): vCPU 0 sends vCPU 1 an SGI; the figure runs
 * from the counter read before the ICC_SGI1R_EL1 write to vCPU 1's handler
 * entry, vCPU 1 waiting in WFI (on the same virtual clock under -icount). */
#include "cpus.h"
#include "exceptions.h"
#include "gic.h"
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "timer.h"
#include "uart.h"

enum {
    kDefaultIters = 10000,
    kMaxIters = 65536,
    kWarmup = 100,
    /* Timer figures: the deadline lies this many ticks after it is set. */
    kTimerDelta = 1000,
    /* vtimer_latency spins (the vCPU must be running when the timer fires) at
     * most this many loop turns, then waits in WFI. */
    kSpinLimit = 1000000,
    kBenchSgi = 0,
    /* ipi: vCPU 0 -> vCPU 1, and the answer back. */
    kIpiPing = 3,
    kIpiPong = 4,
    /* Most bins of a "BENCH hist" line. */
    kHistBins = 16,
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

/* Whether `name` is one of the comma-separated names of only= (all without it). */
static bool selected(const char* only, size_t only_len, const char* name) {
    if (only == NULL) {
        return true;
    }
    const size_t n = strlen(name);
    size_t start = 0;
    for (size_t i = 0; i <= only_len; i++) {
        if (i == only_len || only[i] == ',') {
            if (i - start == n && strncmp(only + start, name, n) == 0) {
                return true;
            }
            start = i + 1;
        }
    }
    return false;
}

static void report(const char* name, uint32_t iters, bool hist);

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
    report(name, iters, false);
}

/* The "BENCH hist" line of the sorted g_samples[0..iters) (format in the header comment). */
static void report_hist(const char* name, uint32_t iters) {
    const uint32_t lo = g_samples[0];
    const uint32_t hi = g_samples[iters - 1];
    uint32_t distinct = 1;
    for (uint32_t i = 1; i < iters && distinct <= kHistBins; i++) {
        distinct += g_samples[i] != g_samples[i - 1] ? 1 : 0;
    }
    uart_printf("BENCH hist name=%s bins=", name);
    if (distinct <= kHistBins) {
        for (uint32_t i = 0, j = 0; i < iters; i = j) {
            while (j < iters && g_samples[j] == g_samples[i]) {
                j++;
            }
            uart_printf("%s%u-%u:%u", i == 0 ? "" : ",", g_samples[i], g_samples[i], j - i);
        }
    } else {
        const uint64_t width = ((uint64_t)hi - lo + kHistBins) / kHistBins;
        uint32_t j = 0;
        for (uint64_t b = lo; b <= hi; b += width) {
            const uint64_t top = b + width - 1 < hi ? b + width - 1 : hi;
            const uint32_t start = j;
            while (j < iters && g_samples[j] <= top) {
                j++;
            }
            uart_printf("%s%lu-%lu:%u", b == lo ? "" : ",", b, top, j - start);
        }
    }
    uart_putc('\n');
}

/* hist: also print the histogram line (the interrupt figures). */
static void report(const char* name, uint32_t iters, bool hist) {
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
    if (hist) {
        report_hist(name, iters);
    }
}

/* --- Interrupt figures ------------------------------------------------- */

static volatile uint32_t g_seen;  /* set by the handlers */
static volatile uint32_t g_iar;   /* the SGI's IAR value, when its EOI is deferred */
static volatile bool g_defer_eoi; /* the SGI handler leaves the EOI to the timed code */
static uint64_t g_sgi1r;          /* ICC_SGI1R_EL1 value: kBenchSgi to this CPU */

static bool on_sgi(uint32_t iar) {
    g_iar = iar;
    g_seen = 1;
    return g_defer_eoi;
}

static bool on_timer(uint32_t iar) {
    (void)iar;
    timer_set_ctl(0); /* the level drops before the EOI */
    g_seen = 1;
    return false;
}

/* ipi_self: counter read before the ICC_SGI1R_EL1 write to the handler's entry. */
static uint32_t measure_ipi_self(void) {
    uint64_t t0;
    g_seen = 0;
    irq_unmask();
    __asm__ volatile("isb\n\tmrs %[t0], cntvct_el0\n\tmsr icc_sgi1r_el1, %[v]\n\tisb"
                     : [t0] "=&r"(t0)
                     : [v] "r"(g_sgi1r)
                     : "memory");
    irq_mask();
    irq_wait(&g_seen);
    return (uint32_t)(irq_entry_cntvct - t0);
}

/* eoi: the ICC_EOIR1_EL1 write alone, for an SGI taken and left active. */
static uint32_t measure_eoi(void) {
    uint64_t t0;
    uint64_t t1;
    g_seen = 0;
    g_defer_eoi = true;
    gic_send_sgi_self(kBenchSgi);
    irq_wait(&g_seen);
    g_defer_eoi = false;
    const uint64_t iar = g_iar;
    TIMED("msr icc_eoir1_el1, %[v]", : [v] "r"(iar) : "memory");
    return (uint32_t)(t1 - t0);
}

/* vtimer_latency: the vCPU runs when the timer fires; handler entry minus CVAL. */
static uint32_t measure_vtimer(void) {
    g_seen = 0;
    irq_unmask();
    const uint64_t cval = timer_now() + kTimerDelta;
    timer_arm_at(cval);
    for (uint32_t i = 0; i < kSpinLimit && g_seen == 0; i++) {
    }
    irq_mask();
    irq_wait(&g_seen);
    return (uint32_t)(irq_entry_cntvct - cval);
}

/* wfi_wake: IRQs masked, WFI until the timer fires; the first instruction
 * after WFI reads the counter (a wake before the deadline waits again). */
static uint32_t measure_wfi_wake(void) {
    uint64_t t1;
    g_seen = 0;
    irq_mask();
    const uint64_t cval = timer_now() + kTimerDelta;
    timer_arm_at(cval);
    __asm__ volatile("1: wfi\n\tmrs %[t1], cntvct_el0\n\tcmp %[t1], %[c]\n\tb.lo 1b"
                     : [t1] "=&r"(t1)
                     : [c] "r"(cval)
                     : "cc", "memory");
    irq_wait(&g_seen); /* takes the interrupt: the handler stops the timer */
    return (uint32_t)(t1 - cval);
}

/* ipi: vCPU 1's side. It brings up its redistributor and waits in WFI for the ping, saying so
 * first (g_ipi_armed); its handler records the entry time, and once the handler has returned
 * (the ping deactivated) the loop answers with the pong. The sender pings only when vCPU 1 is
 * about to wait, so under QEMU's round-robin of its CPUs the ping finds vCPU 1 in WFI, not in
 * the tail of the previous round. */
static const struct gic_info* g_ipi_gic;
static volatile uint64_t g_ipi_t1;
static volatile uint32_t g_ipi_ready;  /* 1: waiting for pings; 2: its GIC failed */
static volatile uint32_t g_ipi_armed;  /* vCPU 1 is about to wait in WFI */
static volatile uint32_t g_ipi_pinged; /* the ping's handler ran */
static uint64_t g_ipi_sgi1r;           /* ICC_SGI1R_EL1 value: kIpiPing to vCPU 1 */

static bool on_ipi_ping(uint32_t iar) {
    (void)iar;
    g_ipi_t1 = irq_entry_cntvct;
    g_ipi_pinged = 1;
    return false;
}

static bool on_ipi_pong(uint32_t iar) {
    (void)iar;
    g_seen = 1;
    return false;
}

static void ipi_receiver(uint32_t cpu) {
    (void)cpu;
    if (!gic_init_cpu(g_ipi_gic)) {
        g_ipi_ready = 2;
        return;
    }
    gic_enable_irq(kIpiPing, kGicDefaultPriority);
    irq_mask();
    g_ipi_ready = 1;
    for (;;) {
        g_ipi_armed = 1;
        __asm__ volatile("dsb ish\n\tsev\n\twfi" ::: "memory");
        irq_window();
        if (g_ipi_pinged != 0) {
            g_ipi_pinged = 0;
            write_icc_sgi1r_el1(((uint64_t)kIpiPong << 24) | 1u); /* vCPU 0 (Aff0 0) */
            isb();
        }
    }
}

static uint32_t measure_ipi(void) {
    uint64_t t0;
    while (g_ipi_armed == 0) {
        __asm__ volatile("wfe" ::: "memory");
    }
    g_ipi_armed = 0;
    g_seen = 0;
    __asm__ volatile("isb\n\tmrs %[t0], cntvct_el0\n\tmsr icc_sgi1r_el1, %[v]\n\tisb"
                     : [t0] "=&r"(t0)
                     : [v] "r"(g_ipi_sgi1r)
                     : "memory");
    irq_wait(&g_seen);
    return (uint32_t)(g_ipi_t1 - t0);
}

/* Starts vCPU 1 for ipi; false (with a BENCH skip line) if it cannot run. */
static bool start_ipi_receiver(const struct gic_info* gic) {
    if (cpu_count() < 2) {
        uart_puts("BENCH skip name=ipi reason=one-vcpu\n");
        return false;
    }
    g_ipi_gic = gic;
    g_ipi_sgi1r = ((uint64_t)kIpiPing << 24) | (1u << 1); /* vCPU 1 (Aff0 1) */
    gic_set_handler(kIpiPing, on_ipi_ping);
    gic_set_handler(kIpiPong, on_ipi_pong);
    gic_enable_irq(kIpiPong, kGicDefaultPriority);
    const int64_t r = cpu_start(1, ipi_receiver);
    if (r != kPsciSuccess) {
        uart_printf("BENCH skip name=ipi reason=cpu-on-%ld\n", (long)r);
        return false;
    }
    while (g_ipi_ready == 0) {
        __asm__ volatile("wfe" ::: "memory");
    }
    if (g_ipi_ready != 1) {
        uart_puts("BENCH skip name=ipi reason=gic-on-vcpu1\n");
        return false;
    }
    return true;
}

static void run_irq(const char* name, uint32_t (*measure_fn)(void), uint32_t iters) {
    for (uint32_t i = 0; i < kWarmup; i++) {
        (void)measure_fn();
    }
    for (uint32_t i = 0; i < iters; i++) {
        g_samples[i] = measure_fn();
    }
    report(name, iters, true);
}

/* Why the GIC cannot be used. Each first touch of the distributor, the
 * redistributor and the CPU interface is guarded: a system that answers with
 * an exception is reported, not fatal. */
struct unusable {
    const char* reason; /* NULL: the GIC works */
    const char* reg;    /* for reason "exception": what faulted */
    uint64_t esr;
};

static struct unusable gic_unusable(const struct fdt* fdt, const struct gic_info* gic) {
    struct unusable u = {NULL, NULL, 0};
    if (gic == NULL) {
        u.reason = "no-gic-v3-node";
        return u;
    }
    /* Arrays of characters, not of pointers: no absolute addresses (start.S). */
    static const char kRegs[3][12] = {"GICD_CTLR", "GICR_TYPER", "ICC_SRE_EL1"};
    for (uint32_t i = 0; i < 3; i++) {
        struct fault_record rec;
        fault_expect(&rec);
        if (i == 0) {
            (void)mmio_read32(gic->gicd + kGicdCtlr);
        } else if (i == 1) {
            (void)mmio_read32(gic->gicr_region + kGicrTyper);
        } else {
            (void)read_icc_sre_el1();
        }
        fault_disarm();
        if (rec.taken) {
            u.reason = "exception";
            u.reg = kRegs[i];
            u.esr = rec.esr;
            return u;
        }
    }
    if (!timer_probe(fdt)) {
        u.reason = "no-virtual-timer";
    } else if (!gic_init(gic)) {
        u.reason = "gic-init-failed";
    }
    return u;
}

static void run_interrupt_figures(const struct fdt* fdt, const struct gic_info* gic,
                                  const char* only, size_t only_len, uint32_t n) {
    static const char kNames[5][16] = {"ipi_self", "eoi", "vtimer_latency", "wfi_wake", "ipi"};
    bool any = false;
    for (uint32_t i = 0; i < 5; i++) {
        any = any || selected(only, only_len, kNames[i]);
    }
    if (!any) {
        return;
    }
    const struct unusable u = gic_unusable(fdt, gic);
    if (u.reason != NULL) {
        for (uint32_t i = 0; i < 5; i++) {
            if (!selected(only, only_len, kNames[i])) {
                continue;
            }
            if (u.reg != NULL) {
                uart_printf("BENCH skip name=%s reason=exception ec=0x%x esr=0x%lx on %s\n",
                            kNames[i], esr_ec(u.esr), u.esr, u.reg);
            } else {
                uart_printf("BENCH skip name=%s reason=%s\n", kNames[i], u.reason);
            }
        }
        return;
    }
    g_sgi1r = gic_sgi1r_self(kBenchSgi);
    gic_set_handler(kBenchSgi, on_sgi);
    gic_enable_irq(kBenchSgi, kGicDefaultPriority);
    gic_set_handler(timer_virt_intid(), on_timer);
    gic_enable_irq(timer_virt_intid(), kGicDefaultPriority);
    irq_mask();
    if (selected(only, only_len, "ipi_self")) {
        run_irq("ipi_self", measure_ipi_self, n);
    }
    if (selected(only, only_len, "eoi")) {
        run_irq("eoi", measure_eoi, n);
    }
    if (selected(only, only_len, "vtimer_latency")) {
        run_irq("vtimer_latency", measure_vtimer, n);
    }
    if (selected(only, only_len, "wfi_wake")) {
        run_irq("wfi_wake", measure_wfi_wake, n);
    }
    if (selected(only, only_len, "ipi") && start_ipi_receiver(gic)) {
        run_irq("ipi", measure_ipi, n);
    }
    gic_disable_irq(kBenchSgi);
    gic_disable_irq(timer_virt_intid());
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

    struct gic_info gic;
    const bool have_gic = gic_probe(fdt, &gic);
    const uintptr_t gicd = have_gic ? gic.gicd : 0;
    uint64_t frq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frq));
    uart_printf("bench: conduit=%s uart=0x%lx gicd=0x%lx cntfrq=%lu\n", psci_conduit_name(),
                (uint64_t)uart_base(), (uint64_t)gicd, frq);

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
        run("mmio_read_vgic", kOpMmioRead, gicd + kGicdTyper, n);
    }
    /* The ID register of the device guide's example, a device built out of tree (bench/run.sh
     * builds an image with it for bench_plugin.dts). */
    if (selected(only, only_len, "mmio_read_plugin")) {
        const int dev = fdt_find_compatible(fdt, -1, "corvisor,example-delay");
        uint64_t base = 0;
        uint64_t size = 0;
        if (dev >= 0 && fdt_reg(fdt, dev, 0, &base, &size)) {
            run("mmio_read_plugin", kOpMmioRead, (uintptr_t)base, n);
        } else {
            uart_puts("BENCH skip name=mmio_read_plugin reason=no-plugin-device\n");
        }
    }
    if (selected(only, only_len, "sysreg_trap")) {
        run("sysreg_trap", kOpSysreg, 0, n);
    }
    run_interrupt_figures(fdt, have_gic ? &gic : NULL, only, only_len, n);
    uart_puts("BENCH done\n");
    guest_power_off();
}
