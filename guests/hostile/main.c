/* The hostile guest: does what a buggy or malicious guest does and checks it
 * gets architected answers. Each step prints "hostile: <step> -> <outcome>"
 * with what actually happened; nothing here fails hard, the test driver
 * judges the lines. With bootargs "fatal" it finally makes itself
 * unrecoverable: the hypervisor must stop this guest alone. */
#include "exceptions.h"
#include "guest.h"
#include "libc.h"
#include "psci.h"
#include "uart.h"

/* Does [addr] fall inside some node's "reg" (RAM and every device)? On a hit,
 * *end gets the end of the region that holds it. Addresses are taken as CPU
 * physical addresses: the guests' DTBs have no translating "ranges". */
static bool claimed(const struct fdt* fdt, uint64_t addr, uint64_t* end) {
    int depth = 0;
    int node = 0;
    while ((node = fdt_next_node(fdt, node, &depth)) >= 0) {
        uint64_t base;
        uint64_t size;
        for (uint32_t i = 0; fdt_reg(fdt, node, i, &base, &size); i++) {
            if (size != 0 && addr >= base && addr - base < size) {
                *end = base + size;
                return true;
            }
        }
    }
    return false;
}

/* The first address at or above the end of RAM that no node claims. */
static uint64_t find_unclaimed(const struct fdt* fdt) {
    uint64_t addr = fdt_ram_end(fdt, 0, NULL);
    uint64_t end;
    for (int tries = 0; tries < 64 && claimed(fdt, addr, &end); tries++) {
        addr = end;
    }
    return addr;
}

static void print_fault(const char* step, const struct fault_record* rec) {
    uart_printf("hostile: %s -> abort ec=0x%x esr=0x%lx far=0x%lx\n", step, esr_ec(rec->esr),
                rec->esr, rec->far);
}

static void load_step(const char* step, uintptr_t addr) {
    struct fault_record rec;
    uint32_t v = 0xdeadbeef;
    fault_expect(&rec);
    __asm__ volatile("ldr %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
    fault_disarm();
    if (rec.taken) {
        print_fault(step, &rec);
    } else {
        uart_printf("hostile: %s -> no abort, read 0x%x\n", step, v);
    }
}

static void store_step(const char* step, uintptr_t addr) {
    struct fault_record rec;
    fault_expect(&rec);
    __asm__ volatile("str %w0, [%1]" : : "r"(0x5a5a5a5au), "r"(addr) : "memory");
    fault_disarm();
    if (rec.taken) {
        print_fault(step, &rec);
    } else {
        uart_printf("hostile: %s -> no abort\n", step);
    }
}

/* A load pair gives the hypervisor no syndrome (ISV=0). Reads UARTDR and
 * UARTRSR: harmless on an idle UART. */
static void ldp_step(const char* step, uintptr_t addr) {
    struct fault_record rec;
    uint32_t a = 0xdeadbeef;
    uint32_t b = 0xdeadbeef;
    fault_expect(&rec);
    __asm__ volatile("ldp %w0, %w1, [%2]" : "+r"(a), "+r"(b) : "r"(addr) : "memory");
    fault_disarm();
    if (rec.taken) {
        print_fault(step, &rec);
    } else {
        uart_printf("hostile: %s -> no abort, read 0x%x 0x%x\n", step, a, b);
    }
}

/* A PSCI/SMCCC call that must come back; an exception instead (an UNDEF
 * HVC, say) is reported and skipped. */
static void call_step(const char* step, uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    struct fault_record rec;
    fault_expect(&rec);
    int64_t r = psci_call(fid, a1, a2, a3);
    fault_disarm();
    if (rec.taken) {
        uart_printf("hostile: %s -> exception ec=0x%x esr=0x%lx\n", step, esr_ec(rec.esr), rec.esr);
    } else {
        uart_printf("hostile: %s -> x0=%ld\n", step, r);
    }
}

static bool cpu_exists(const struct fdt* fdt, uint64_t mpidr) {
    int cpus = fdt_path(fdt, "/cpus");
    uint32_t ac = fdt_address_cells(fdt, cpus);
    int depth = 0;
    int node = cpus;
    if (cpus < 0 || ac == 0 || ac > 2) {
        return false;
    }
    while ((node = fdt_next_node(fdt, node, &depth)) >= 0 && depth > 0) {
        const char* type = fdt_prop_string(fdt, node, "device_type");
        uint32_t len;
        const void* reg = fdt_getprop(fdt, node, "reg", &len);
        if (depth == 1 && type != NULL && strcmp(type, "cpu") == 0 && reg != NULL &&
            len >= ac * 4 && fdt_read_cells(reg, ac) == mpidr) {
            return true;
        }
    }
    return false;
}

static void fatal(uintptr_t bad) {
    uart_printf("hostile: fatal: VBAR_EL1=0, loading 0x%lx\n", (uint64_t)bad);
    uint32_t v;
    /* The abort now vectors to 0x200, which is not RAM: nothing in this guest
     * can handle it any more. */
    __asm__ volatile("msr vbar_el1, xzr\n\tisb\n\tldr %w0, [%1]" : "=r"(v) : "r"(bad) : "memory");
    uart_printf("hostile: fatal: still running (read 0x%x)\n", v);
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const struct fdt* fdt = guest_fdt();
    const char* args = guest_bootargs();
    uintptr_t bad = (uintptr_t)find_unclaimed(fdt);
    uint64_t self = mpidr_affinity(read_mpidr());
    uart_printf("hostile: unclaimed address 0x%lx, uart 0x%lx, conduit %s, mpidr 0x%lx\n",
                (uint64_t)bad, (uint64_t)uart_base(), psci_conduit_name(), self);

    load_step("load-unclaimed", bad);
    store_step("store-unclaimed", bad);
    ldp_step("ldp-uart", uart_base());

    call_step("hvc-unknown-0xc2001234", 0xC2001234, 0, 0, 0);
    call_step("hvc-vendor-0x86000000", 0x86000000, 0, 0, 0);

    uint64_t absent = 7;
    while (absent == self || cpu_exists(fdt, absent)) {
        absent++;
    }
    uart_printf("hostile: cpu-on-absent target 0x%lx\n", absent);
    call_step("cpu-on-absent", kPsciCpuOn64, absent, 0x10, 0);
    /* A real secondary if there is one (MPIDR 1, else the absent one again),
     * with an entry point outside RAM: PSCI says INVALID_ADDRESS (-9). */
    uint64_t other = (self != 1 && cpu_exists(fdt, 1)) ? 1 : absent;
    bool in_ram;
    (void)fdt_ram_end(fdt, 0x10, &in_ram);
    uart_printf("hostile: cpu-on-bad-entry target 0x%lx entry 0x10 (%s)\n", other,
                in_ram ? "in RAM!" : "outside RAM");
    call_step("cpu-on-bad-entry", kPsciCpuOn64, other, 0x10, 0);
    call_step("affinity-info-level-3", kPsciAffinityInfo64, self, 3, 0);

    uart_puts("hostile: survived\n");
    if (bootargs_has_word(args, "fatal")) {
        fatal(bad);
    }
    guest_power_off();
}
