/* What every guest shares: the DTB it was given, the platform found in it,
 * the boot arguments, and power-off. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdt.h"

/* Entered from start.S with the DTB pointer from x0. */
int guest_main(const void* dtb);

/* Parses the DTB and sets up the UART (stdout-path, else the first arm,pl011)
 * and the PSCI conduit. Returns false if the blob is not a valid FDT; the UART
 * then stays silent and PSCI defaults to HVC. */
bool guest_platform_init(const void* dtb);
const struct fdt* guest_fdt(void);

/* /chosen "bootargs", or "" when absent. */
const char* guest_bootargs(void);
/* True if `args` holds the space-separated word `word`. */
bool bootargs_has_word(const char* args, const char* word);
/* For a word "key=value": the value and its length. */
bool bootargs_value(const char* args, const char* key, const char** value, size_t* len);
/* Decimal (or 0x-prefixed hex) number of `len` characters; false if malformed. */
bool parse_u64(const char* s, size_t len, uint64_t* out);
/* The number of bootargs word "key=N", 1..max; `dflt` if absent, or (said on the console,
 * prefixed with `who`) if malformed or out of range. */
uint64_t bootargs_u64(const char* who, const char* key, uint64_t dflt, uint64_t max);

/* PSCI SYSTEM_OFF; if that returns, waits for interrupts forever. */
__attribute__((noreturn)) void guest_power_off(void);

static inline uint64_t read_mpidr(void) {
    uint64_t v;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
    return v;
}

/* The affinity fields Aff3..Aff0 of an MPIDR, as PSCI takes them. */
static inline uint64_t mpidr_affinity(uint64_t mpidr) {
    return mpidr & 0xff00ffffffull;
}

#endif
