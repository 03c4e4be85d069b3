#include "psci.h"

#include "libc.h"

static bool g_smc;

void psci_init(const struct fdt* fdt) {
    const char* method = fdt_prop_string(fdt, fdt_path(fdt, "/psci"), "method");
    g_smc = method != NULL && strcmp(method, "smc") == 0;
}

bool psci_uses_smc(void) {
    return g_smc;
}

const char* psci_conduit_name(void) {
    return g_smc ? "smc" : "hvc";
}

/* SMCCC v1.0 lets the callee clobber x0-x17 (v1.1 preserves x4-x17 only when
 * the caller knows it is v1.1), so everything up to x17 is clobbered here. */
#define PSCI_CLOBBERS                                                                           \
    "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", \
        "memory"

int64_t psci_call(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    if (g_smc) {
        __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : PSCI_CLOBBERS);
    } else {
        __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : PSCI_CLOBBERS);
    }
    return (int64_t)x0;
}
