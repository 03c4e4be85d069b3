/* The EL1 exception vectors (exceptions.S) and their C side.
 *
 * A synchronous exception taken from EL1 itself goes to guest_sync_handler().
 * If a fault_record is armed, the exception is recorded, the faulting
 * instruction is skipped (ELR_EL1 += 4) and the record disarmed: a guest can
 * probe an access that may fault and look at the syndrome afterwards. For an
 * instruction abort (a branch to an address nothing can execute) there is no
 * instruction to skip: execution resumes at x30, so probe such an address with
 * BLR.
 * An IRQ goes to the handler exceptions_set_irq_handler() installed. Anything
 * else prints "GUEST PANIC esr=.. elr=.. far=.." and powers off.
 */
#ifndef GUEST_EXCEPTIONS_H
#define GUEST_EXCEPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Saved by exceptions.S; the offsets are part of the assembly contract. */
struct exc_frame {
    uint64_t x[31];
    uint64_t elr;
    uint64_t spsr;
    uint64_t esr;
    uint64_t far;
    uint64_t vector; /* index of the vector entry, 0..15 (offset / 0x80) */
};

_Static_assert(offsetof(struct exc_frame, elr) == 248, "exceptions.S frame layout");
_Static_assert(offsetof(struct exc_frame, spsr) == 256, "exceptions.S frame layout");
_Static_assert(offsetof(struct exc_frame, esr) == 264, "exceptions.S frame layout");
_Static_assert(offsetof(struct exc_frame, far) == 272, "exceptions.S frame layout");
_Static_assert(offsetof(struct exc_frame, vector) == 280, "exceptions.S frame layout");
_Static_assert(sizeof(struct exc_frame) == 288, "exceptions.S frame size (16-byte multiple)");

struct fault_record {
    volatile bool taken;
    volatile uint64_t esr;
    volatile uint64_t far;
    volatile uint64_t elr;
};

/* Arms `rec` (clearing it) for the next synchronous exception. */
void fault_expect(struct fault_record* rec);
void fault_disarm(void);

void guest_sync_handler(struct exc_frame* frame);

/* The function an IRQ taken at EL1 on SP_EL1 calls (gic_init() installs
 * gic_handle_irq); without one an IRQ panics like any other exception. */
void exceptions_set_irq_handler(void (*fn)(void));

/* Arm ARM D17.2.37 ESR_ELx: exception class in bits [31:26]. */
static inline uint32_t esr_ec(uint64_t esr) {
    return (uint32_t)(esr >> 26) & 0x3f;
}

enum {
    kEcUnknown = 0x00,
    kEcHvc64 = 0x16,
    kEcInstAbortSameEl = 0x21,
    kEcDataAbortLowerEl = 0x24,
    kEcDataAbortSameEl = 0x25,
};

#endif
