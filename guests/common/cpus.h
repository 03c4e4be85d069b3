/* Secondary vCPUs: start one at a C function, on a stack of its own. */
#ifndef GUEST_CPUS_H
#define GUEST_CPUS_H

#include <stdint.h>

enum { kCpusMax = 8, kCpuStackSize = 4096 };

typedef void (*cpu_main_fn)(uint32_t cpu);

/* PSCI CPU_ON of vCPU `cpu` (MPIDR Aff0 = cpu, 1..kCpusMax-1): it enters
 * fn(cpu) with IRQs masked, the guest's exception vectors and its own stack;
 * when fn returns it turns itself off (CPU_OFF). Returns PSCI's status. */
int64_t cpu_start(uint32_t cpu, cpu_main_fn fn);

/* The guest's vCPUs: those AFFINITY_INFO knows, from 0 up (at most kCpusMax). */
uint32_t cpu_count(void);

#endif
