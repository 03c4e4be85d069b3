/* The debug-register guest: a guest's breakpoint and watchpoint registers are its own. With
 * bootargs "role=writer" it programs DBGBVR0/DBGBCR0 and DBGWVR0/DBGWCR0 (left disabled), sleeps
 * in WFI while another guest runs on the same pCPU, and reads them back; with "role=reader" it
 * sleeps first, then reads them (a fresh guest must see zero, whatever the writer wrote) and
 * writes values of its own. Prints "debugregs: <role> ..."; the test driver judges the lines. */
#include "gic.h"
#include "guest.h"
#include "timer.h"
#include "uart.h"

static volatile uint32_t g_woken;

static bool on_timer(uint32_t iar) {
    (void)iar;
    timer_set_ctl(0);
    g_woken = 1;
    return false;
}

static void sleep_ms(uint64_t ms) {
    g_woken = 0;
    timer_arm_at(timer_now() + ms * timer_freq() / 1000);
    irq_wait(&g_woken);
}

#define READ(reg)                                             \
    ({                                                        \
        uint64_t v_;                                          \
        __asm__ volatile("mrs %0, " reg : "=r"(v_)::"memory"); \
        v_;                                                   \
    })
#define WRITE(reg, v) __asm__ volatile("msr " reg ", %0\n\tisb" ::"r"((uint64_t)(v)) : "memory")

static void report(const char* role, const char* when) {
    uart_printf("debugregs: %s %s bvr0=0x%lx bcr0=0x%lx wvr0=0x%lx wcr0=0x%lx\n", role, when,
                READ("dbgbvr0_el1"), READ("dbgbcr0_el1"), READ("dbgwvr0_el1"),
                READ("dbgwcr0_el1"));
}

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    struct gic_info gic;
    if (!gic_probe(guest_fdt(), &gic) || !timer_probe(guest_fdt()) || !gic_init(&gic)) {
        uart_puts("debugregs: no usable GIC or timer\n");
        return 1;
    }
    const uint32_t intid = timer_virt_intid();
    gic_set_handler(intid, on_timer);
    gic_enable_irq(intid, kGicDefaultPriority);
    const bool writer = bootargs_has_word(guest_bootargs(), "role=writer");
    const char* role = writer ? "writer" : "reader";
    if (writer) {
        /* Values an enabled breakpoint would take (BAS = 0b1111, E left 0: nothing fires). */
        WRITE("dbgbvr0_el1", 0x40001000);
        WRITE("dbgbcr0_el1", 0x1e0);
        WRITE("dbgwvr0_el1", 0x40002000);
        WRITE("dbgwcr0_el1", 0x1f0);
        report(role, "wrote");
        sleep_ms(40);
        report(role, "after sleep");
    } else {
        sleep_ms(10);
        report(role, "first read");
        WRITE("dbgbvr0_el1", 0x40003000);
        sleep_ms(10);
        report(role, "after sleep");
    }
    gic_disable_irq(intid);
    uart_printf("debugregs: %s done\n", role);
    return 0;
}
