// The EL2 image's definitions of the hot calls that arch/arch.hpp declares `inline`: each is one
// or a few instructions on the trap path, so it is inlined into the run loop. Included only
// through arch/arch.hpp (this folder is on the include path of the EL2 build alone).
#pragma once

#include <cstdint>

#include "arch/asm_offsets.h"

namespace corvisor {

inline std::uint32_t arch_irq_ack() {
    std::uint64_t iar;
    asm volatile("mrs %0, icc_iar1_el1" : "=r"(iar));
    return static_cast<std::uint32_t>(iar & 0xffffff);
}

inline void arch_irq_priority_drop(std::uint32_t intid) {
    asm volatile("msr icc_eoir1_el1, %0" ::"r"(std::uint64_t{intid}));
}

inline void arch_irq_deactivate(std::uint32_t intid) {
    asm volatile("msr icc_dir_el1, %0" ::"r"(std::uint64_t{intid}));
}

inline std::uint32_t arch_lr_empty() {
    std::uint64_t elrsr;
    asm volatile("mrs %0, ich_elrsr_el2" : "=r"(elrsr));
    return static_cast<std::uint32_t>(elrsr);
}

// ICH_LR<n>_EL2 is not indexable: one MSR per register, picked by `index` (0..15). The one
// table of list-register accessors; arch_vcpu.cpp builds the whole-file copies from it.
#define CV_FOR_EACH_LR(X) \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

inline void arch_write_lr(std::uint32_t n, ListRegister lr) {
    switch (n) {
#define CV_LR_WRITE_CASE(i)                                                  \
    case i:                                                                  \
        asm volatile("msr ich_lr" #i "_el2, %0" ::"r"(lr.raw()) : "memory"); \
        break;
        CV_FOR_EACH_LR(CV_LR_WRITE_CASE)
#undef CV_LR_WRITE_CASE
        default:
            break;
    }
}

inline void* arch_cpu_data() {
    std::uint64_t v;
    asm("mrs %0, tpidr_el2" : "=r"(v));  // not volatile: constant while this pCPU runs
    return reinterpret_cast<void*>(v);
}

inline void arch_wait_event() {
    asm volatile("wfe" ::: "memory");
}

inline void arch_send_event() {
    asm volatile("dsb ish\n sev" ::: "memory");
}

inline void arch_dma_barrier() {
    asm volatile("dmb ish" ::: "memory");
}

inline std::uint64_t arch_fault_far() {
    std::uint64_t far;
    asm volatile("mrs %0, far_el2" : "=r"(far));
    return far;
}

inline std::uint64_t arch_fault_ipa() {
    std::uint64_t hpfar;
    asm volatile("mrs %0, hpfar_el2" : "=r"(hpfar));
    return HpfarEl2(hpfar).ipa(arch_fault_far());
}

inline void arch_load_pc_state(const GuestRegs& regs) {
    asm volatile("msr elr_el2, %0\n\tmsr spsr_el2, %1" ::"r"(regs.elr), "r"(regs.spsr));
}
inline void arch_save_pc_state(GuestRegs& regs) {
    asm volatile("mrs %0, elr_el2\n\tmrs %1, spsr_el2" : "=r"(regs.elr), "=r"(regs.spsr));
}
inline void arch_advance_pc(GuestRegs&) {
    std::uint64_t elr;
    asm volatile("mrs %0, elr_el2\n\tadd %0, %0, #4\n\tmsr elr_el2, %0" : "=&r"(elr));
}

// The world switch and the live x19..x26 exist only where the compiler leaves those registers
// alone (-ffixed-x19..x26, which also defines CORVISOR_GUEST_REGS_FIXED): elsewhere they stay
// undefined, so a use is a compile error ("used but never defined", -Werror).
#if defined(CORVISOR_GUEST_REGS_FIXED)
inline GuestExit enter_guest(GuestRegs* regs) {
    register GuestRegs* x28 asm("x28") = regs;
    register std::uint64_t x0 asm("x0");
    register std::uint64_t x2 asm("x2");
    asm volatile("bl cv_world_switch"
                 : "=r"(x0), "=r"(x2)
                 : "r"(x28)
                 : "x1", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                   "x14", "x15", "x16", "x17", "x18", "x30", "cc", "memory");
    return GuestExit{static_cast<ExitKind>(x0), x2};
}

// x19..x26 as four pairs at GUEST_REGS_X(19) and up in GuestRegs, at 0 and up in `host`.
#define CV_GUEST_PAIR(op, a, b, base) \
    op " x" #a ", x" #b ", [%" #base ", #" CV_ASM_STR(GUEST_REGS_X(a)) "]\n\t"
#define CV_HOST_PAIR(op, a, b, base) \
    op " x" #a ", x" #b ", [%" #base ", #" CV_ASM_STR(GUEST_REGS_X(a - 19)) "]\n\t"
#define CV_PAIRS(PAIR, op, base) \
    PAIR(op, 19, 20, base) PAIR(op, 21, 22, base) PAIR(op, 23, 24, base) PAIR(op, 25, 26, base)

inline void arch_enter_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]) {
    asm volatile(CV_PAIRS(CV_HOST_PAIR, "stp", 1) CV_PAIRS(CV_GUEST_PAIR, "ldp", 0)::"r"(regs.x),
                 "r"(host)
                 : "memory");
}
inline void arch_leave_fast_path(GuestRegs& regs, std::uint64_t (&host)[8]) {
    asm volatile(CV_PAIRS(CV_GUEST_PAIR, "stp", 0) CV_PAIRS(CV_HOST_PAIR, "ldp", 1)::"r"(regs.x),
                 "r"(host)
                 : "memory");
}
inline void arch_spill_live_regs(GuestRegs& regs) {
    asm volatile(CV_PAIRS(CV_GUEST_PAIR, "stp", 0)::"r"(regs.x) : "memory");
}
inline void arch_fill_live_regs(const GuestRegs& regs) {
    asm volatile(CV_PAIRS(CV_GUEST_PAIR, "ldp", 0)::"r"(regs.x) : "memory");
}
#undef CV_GUEST_PAIR
#undef CV_HOST_PAIR
#undef CV_PAIRS
#endif

}  // namespace corvisor
