#include "cpus.h"

#include "psci.h"

enum { kPsciCpuOff = 0x84000002 };

/* A secondary enters here with its MMU off and x0 = its index (the CPU_ON context id):
 * interrupts masked, SP_EL1, the stack g_cpu_stacks[index], the vectors, then C. */
__asm__(
    ".pushsection .text\n"
    ".balign 4\n"
    ".globl cpu_secondary_entry\n"
    "cpu_secondary_entry:\n"
    "    msr     daifset, #0xf\n"
    "    msr     spsel, #1\n"
    "    adrp    x1, g_cpu_stacks\n"
    "    add     x1, x1, :lo12:g_cpu_stacks\n"
    "    add     x2, x0, #1\n"
    "    add     x1, x1, x2, lsl #12\n" /* kCpuStackSize */
    "    mov     sp, x1\n"
    "    adrp    x1, exception_vectors\n"
    "    add     x1, x1, :lo12:exception_vectors\n"
    "    msr     vbar_el1, x1\n"
    "    isb\n"
    "    bl      cpu_secondary_main\n"
    "1:  wfi\n"
    "    b       1b\n"
    ".popsection\n");
void cpu_secondary_entry(void);
void cpu_secondary_main(uint64_t cpu);

_Static_assert(kCpuStackSize == 1 << 12, "cpu_secondary_entry shifts by 12");
uint8_t g_cpu_stacks[kCpusMax][kCpuStackSize] __attribute__((aligned(16)));
static cpu_main_fn volatile g_cpu_fns[kCpusMax];

void cpu_secondary_main(uint64_t cpu) {
    g_cpu_fns[cpu % kCpusMax]((uint32_t)cpu);
    psci_call(kPsciCpuOff, 0, 0, 0);
}

int64_t cpu_start(uint32_t cpu, cpu_main_fn fn) {
    if (cpu == 0 || cpu >= kCpusMax) {
        return kPsciInvalidParameters;
    }
    g_cpu_fns[cpu] = fn;
    return psci_call(kPsciCpuOn64, cpu, (uint64_t)(uintptr_t)&cpu_secondary_entry, cpu);
}

uint32_t cpu_count(void) {
    uint32_t n = 1;
    while (n < kCpusMax && psci_call(kPsciAffinityInfo64, n, 0, 0) >= 0) {
        n++;
    }
    return n;
}
