/* The feature probe: what a guest is offered of the CPU. It prints the ID register fields of
 * the features corvisor hides, then touches each hidden feature's registers and prints whether
 * that was an UNDEF (EC 0, "unknown reason"), as on a CPU without the feature. Run it on any CPU
 * model (-cpu max has them all); the test driver judges the lines. */
#include "exceptions.h"
#include "guest.h"
#include "libc.h"
#include "uart.h"

#define READ_SYSREG(name)                                \
    ({                                                   \
        uint64_t v_;                                     \
        __asm__ volatile("mrs %0, " name : "=r"(v_)::"memory"); \
        v_;                                              \
    })

static unsigned field(uint64_t reg, unsigned lsb) {
    return (unsigned)(reg >> lsb) & 0xf;
}

/* One access that may trap: recorded, skipped, reported. */
#define PROBE(label, insn)                                                                 \
    do {                                                                                   \
        struct fault_record rec;                                                           \
        uint64_t v_ = 0;                                                                   \
        fault_expect(&rec);                                                                \
        __asm__ volatile(insn : "+r"(v_)::"memory");                                       \
        fault_disarm();                                                                    \
        if (rec.taken) {                                                                   \
            uart_printf("features: %s -> %s (esr 0x%lx)\n", label,                         \
                        esr_ec(rec.esr) == kEcUnknown ? "undef" : "fault", rec.esr);       \
        } else {                                                                           \
            uart_printf("features: %s -> accessible (0x%lx)\n", label, v_);                \
        }                                                                                  \
    } while (0)

int guest_main(const void* dtb) {
    if (!guest_platform_init(dtb)) {
        return 1;
    }
    const uint64_t pfr0 = READ_SYSREG("id_aa64pfr0_el1");
    const uint64_t pfr1 = READ_SYSREG("id_aa64pfr1_el1");
    const uint64_t dfr0 = READ_SYSREG("id_aa64dfr0_el1");
    const uint64_t isar1 = READ_SYSREG("id_aa64isar1_el1");
    const uint64_t mmfr1 = READ_SYSREG("id_aa64mmfr1_el1");
    const uint64_t zfr0 = READ_SYSREG("s3_0_c0_c4_4");  /* ID_AA64ZFR0_EL1 */
    const uint64_t smfr0 = READ_SYSREG("s3_0_c0_c4_5"); /* ID_AA64SMFR0_EL1 */
    uart_printf("features: id el2=%u el3=%u ras=%u sve=%u amu=%u\n", field(pfr0, 8),
                field(pfr0, 12), field(pfr0, 28), field(pfr0, 32), field(pfr0, 44));
    uart_printf("features: id mte=%u sme=%u pmu=%u pms=%u apa=%u api=%u gpa=%u gpi=%u lo=%u\n",
                field(pfr1, 8), field(pfr1, 24), field(dfr0, 8), field(dfr0, 32), field(isar1, 4),
                field(isar1, 8), field(isar1, 24), field(isar1, 28), field(mmfr1, 16));
    uart_printf("features: id zfr0=0x%lx smfr0=0x%lx fp=%u asimd=%u\n", zfr0, smfr0,
                field(pfr0, 16), field(pfr0, 20));

    /* FP/SIMD on, as every OS does at boot: from then on, an SVE-less CPU answers the SVE
     * registers with an UNDEF (before, CPACR_EL1.FPEN itself traps them at EL1). */
    __asm__ volatile("msr cpacr_el1, %0\n\tisb" ::"r"((uint64_t)3 << 20));
    uart_printf("features: cpacr_el1 = 0x%lx\n", READ_SYSREG("cpacr_el1"));
    PROBE("zcr_el1", "mrs %0, s3_0_c1_c2_0");           /* SVE: CPTR_EL2.TZ */
    PROBE("svcr", "mrs %0, s3_3_c4_c2_2");              /* SME: CPTR_EL2.TSM */
    PROBE("apiakeylo_el1", "mrs %0, s3_0_c2_c1_0");     /* PAuth keys: HCR_EL2.APK = 0 */
    PROBE("pmcr_el0", "mrs %0, s3_3_c9_c12_0");         /* PMU: MDCR_EL2.TPM/TPMCR */
    PROBE("pmccntr_el0", "mrs %0, s3_3_c9_c13_0");
    PROBE("erridr_el1", "mrs %0, s3_0_c5_c3_0");        /* RAS: HCR_EL2.TERR */
    PROBE("lorid_el1", "mrs %0, s3_0_c10_c4_7");        /* LOR: HCR_EL2.TLOR */
    PROBE("amcr_el0", "mrs %0, s3_3_c13_c2_0");         /* AMU: CPTR_EL2.TAM */
    PROBE("gcr_el1", "mrs %0, s3_0_c1_c0_6");           /* MTE: HCR_EL2.ATA = 0 */
    PROBE("impdef_s3_0_c15_c0_0", "mrs %0, s3_0_c15_c0_0"); /* IMPDEF: HCR_EL2.TIDCP */
    PROBE("actlr_el1", "mrs %0, actlr_el1");            /* HCR_EL2.TACR: reads 0 */
    PROBE("id_aa64pfr0_el1 write", "msr id_aa64pfr0_el1, %0"); /* read-only: undef */
    uart_puts("features: done\n");
    return 0;
}
