/* The EL1 virtual timer (Arm ARM D11.2: CNTV_CTL_EL0, CNTV_CVAL_EL0,
 * CNTV_TVAL_EL0, CNTVCT_EL0) and its PPI from the DTB's "arm,armv8-timer"
 * node (interrupts: secure, non-secure physical, virtual, hypervisor). */
#ifndef GUEST_TIMER_H
#define GUEST_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"

enum {
    kCntCtlEnable = 1u << 0,
    kCntCtlImask = 1u << 1,
    kCntCtlIstatus = 1u << 2,
};

/* Finds the virtual timer's INTID (the third interrupt of "arm,armv8-timer")
 * and reads CNTFRQ_EL0. False (with a "timer: ..." line) if absent. */
bool timer_probe(const struct fdt* fdt);
uint32_t timer_virt_intid(void);
uint64_t timer_freq(void);

/* CNTVCT_EL0 after an ISB (not read ahead of earlier instructions). */
static inline uint64_t timer_now(void) {
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

static inline void timer_set_cval(uint64_t v) {
    __asm__ volatile("msr cntv_cval_el0, %0" ::"r"(v) : "memory");
}
static inline uint64_t timer_cval(void) {
    uint64_t v;
    __asm__ volatile("mrs %0, cntv_cval_el0" : "=r"(v)::"memory");
    return v;
}
static inline void timer_set_tval(uint32_t v) {
    __asm__ volatile("msr cntv_tval_el0, %0" ::"r"((uint64_t)v) : "memory");
}
/* Writes CNTV_CTL_EL0 and synchronises, so the new state reaches the GIC. */
static inline void timer_set_ctl(uint32_t v) {
    __asm__ volatile("msr cntv_ctl_el0, %0\n\tisb" ::"r"((uint64_t)v) : "memory");
}
static inline uint32_t timer_ctl(void) {
    uint64_t v;
    __asm__ volatile("mrs %0, cntv_ctl_el0" : "=r"(v)::"memory");
    return (uint32_t)v;
}

/* Arms the timer to fire at `cval` (enabled, unmasked). */
static inline void timer_arm_at(uint64_t cval) {
    timer_set_cval(cval);
    timer_set_ctl(kCntCtlEnable);
}

#endif
