// System-register access and typed EL2 control registers. EL2 image only.
#pragma once

#include <cstdint>

#define CV_READ_SYSREG(reg)                          \
    ({                                               \
        std::uint64_t cv_v_;                         \
        asm volatile("mrs %0, " #reg : "=r"(cv_v_)); \
        cv_v_;                                       \
    })
#define CV_WRITE_SYSREG(reg, value) \
    asm volatile("msr " #reg ", %0" ::"r"(static_cast<std::uint64_t>(value)) : "memory")

namespace corvisor {

inline void isb() {
    asm volatile("isb" ::: "memory");
}
inline void dsb_sy() {
    asm volatile("dsb sy" ::: "memory");
}
inline void dsb_ish() {
    asm volatile("dsb ish" ::: "memory");
}

/// A register value built from named fields (Zircon hwreg style).
template <class Derived>
class RegisterValue {
public:
    constexpr std::uint64_t value() const { return value_; }

protected:
    constexpr Derived& set_bit(unsigned bit, bool on) {
        value_ = on ? value_ | (1ull << bit) : value_ & ~(1ull << bit);
        return static_cast<Derived&>(*this);
    }
    constexpr Derived& set_field(unsigned lsb, unsigned width, std::uint64_t v) {
        std::uint64_t mask = ((1ull << width) - 1) << lsb;
        value_ = (value_ & ~mask) | ((v << lsb) & mask);
        return static_cast<Derived&>(*this);
    }
    std::uint64_t value_ = 0;
};

/// HCR_EL2 (Arm ARM D17.2.48).
class HcrEl2 : public RegisterValue<HcrEl2> {
public:
    constexpr HcrEl2& set_vm(bool v) { return set_bit(0, v); }    ///< stage 2 on
    constexpr HcrEl2& set_swio(bool v) { return set_bit(1, v); }  ///< set/way inval -> clean+inval
    constexpr HcrEl2& set_fmo(bool v) { return set_bit(3, v); }   ///< physical FIQ to EL2
    constexpr HcrEl2& set_imo(bool v) { return set_bit(4, v); }   ///< physical IRQ to EL2
    constexpr HcrEl2& set_amo(bool v) { return set_bit(5, v); }   ///< SError to EL2
    constexpr HcrEl2& set_fb(bool v) { return set_bit(9, v); }    ///< broadcast TLB/cache ops
    constexpr HcrEl2& set_bsu_inner(bool v) { return set_field(10, 2, v ? 1 : 0); }
    constexpr HcrEl2& set_twi(bool v) { return set_bit(13, v); }  ///< trap WFI
    constexpr HcrEl2& set_twe(bool v) { return set_bit(14, v); }  ///< trap WFE
    constexpr HcrEl2& set_tsc(bool v) { return set_bit(19, v); }  ///< trap SMC
    constexpr HcrEl2& set_rw(bool v) { return set_bit(31, v); }   ///< EL1 is AArch64
};

/// SCTLR_EL2 (Arm ARM D17.2.119), for E2H=0.
class SctlrEl2 : public RegisterValue<SctlrEl2> {
public:
    constexpr SctlrEl2() { value_ = 0x30c50830; }                 // RES1 bits
    constexpr SctlrEl2& set_m(bool v) { return set_bit(0, v); }   ///< stage-1 MMU
    constexpr SctlrEl2& set_a(bool v) { return set_bit(1, v); }   ///< alignment checks
    constexpr SctlrEl2& set_c(bool v) { return set_bit(2, v); }   ///< data cacheable
    constexpr SctlrEl2& set_sa(bool v) { return set_bit(3, v); }  ///< SP alignment check
    constexpr SctlrEl2& set_i(bool v) { return set_bit(12, v); }  ///< instruction cacheable
    constexpr SctlrEl2& set_wxn(bool v) { return set_bit(19, v); }
};

/// TCR_EL2 (Arm ARM D17.2.131), for E2H=0: one translation regime, TTBR0_EL2.
class TcrEl2 : public RegisterValue<TcrEl2> {
public:
    constexpr TcrEl2() { value_ = (1ull << 31) | (1ull << 23); }  // RES1
    constexpr TcrEl2& set_t0sz(unsigned v) { return set_field(0, 6, v); }
    constexpr TcrEl2& set_irgn0_wbwa() { return set_field(8, 2, 1); }
    constexpr TcrEl2& set_orgn0_wbwa() { return set_field(10, 2, 1); }
    constexpr TcrEl2& set_sh0_inner() { return set_field(12, 2, 3); }
    constexpr TcrEl2& set_tg0_4k() { return set_field(14, 2, 0); }
    constexpr TcrEl2& set_ps(unsigned v) { return set_field(16, 3, v); }
};

}  // namespace corvisor
