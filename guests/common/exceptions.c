#include "exceptions.h"

#include "guest.h"
#include "uart.h"

enum { kVectorCurrentElSpxSync = 4, kVectorCurrentElSpxIrq = 5 };

static void (*volatile g_irq_handler)(void);

void exceptions_set_irq_handler(void (*fn)(void)) {
    g_irq_handler = fn;
}

static struct fault_record* volatile g_expected;

void fault_expect(struct fault_record* rec) {
    rec->taken = false;
    rec->esr = 0;
    rec->far = 0;
    rec->elr = 0;
    g_expected = rec;
    __asm__ volatile("" ::: "memory");
}

void fault_disarm(void) {
    __asm__ volatile("" ::: "memory");
    g_expected = NULL;
}

__attribute__((noreturn)) static void panic(const struct exc_frame* f) {
    static bool panicking;
    if (panicking) {
        /* The power-off call itself faulted (a wrong conduit, say): stop here. */
        for (;;) {
            __asm__ volatile("wfi");
        }
    }
    panicking = true;
    uart_printf("GUEST PANIC esr=0x%lx elr=0x%lx far=0x%lx vector=0x%lx\n", f->esr, f->elr, f->far,
                f->vector * 0x80);
    guest_power_off();
}

void guest_sync_handler(struct exc_frame* f) {
    struct fault_record* rec = g_expected;
    if (rec == NULL) {
        panic(f);
    }
    g_expected = NULL;
    rec->esr = f->esr;
    rec->far = f->far;
    rec->elr = f->elr;
    rec->taken = true;
    if (esr_ec(f->esr) == kEcInstAbortSameEl) {
        /* A fetch that faulted has no instruction to skip: the probe reached it with BLR, so
         * resume at its return address. */
        f->elr = f->x[30];
        return;
    }
    f->elr += 4;
}

/* Called by exceptions.S for every vector entry. */
void guest_exception(struct exc_frame* f);

void guest_exception(struct exc_frame* f) {
    if (f->vector == kVectorCurrentElSpxSync) {
        guest_sync_handler(f);
        return;
    }
    if (f->vector == kVectorCurrentElSpxIrq && g_irq_handler != NULL) {
        g_irq_handler();
        return;
    }
    /* An IRQ nobody handles, FIQ, SError, or anything from SP_EL0 or a lower EL: nothing a guest
     * here is prepared for. ESR/FAR are only meaningful for synchronous ones. */
    panic(f);
}
