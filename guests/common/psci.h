/* PSCI and SMCCC calls (Arm DEN 0022 PSCI, DEN 0028 SMCCC) through the conduit
 * the DTB's /psci "method" names. */
#ifndef GUEST_PSCI_H
#define GUEST_PSCI_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"

enum {
    kPsciVersion = 0x84000000,
    kPsciCpuOn64 = 0xC4000003,
    kPsciAffinityInfo64 = 0xC4000004,
    kPsciSystemOff = 0x84000008,
    kPsciSystemReset = 0x84000009,
    kPsciFeatures = 0x8400000A,
    kSmcccVersion = 0x80000000,
};

enum {
    kPsciSuccess = 0,
    kPsciNotSupported = -1,
    kPsciInvalidParameters = -2,
    kPsciDenied = -3,
    kPsciAlreadyOn = -4,
    kPsciInvalidAddress = -9,
};

/* Reads /psci "method": "smc" selects SMC, anything else (or no node) HVC. */
void psci_init(const struct fdt* fdt);
bool psci_uses_smc(void);
const char* psci_conduit_name(void);

/* Issues the call with x0 = fid, x1..x3 = a1..a3 and returns x0. */
int64_t psci_call(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);

#endif
