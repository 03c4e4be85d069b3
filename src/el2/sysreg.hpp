// System-register access and barriers. EL2 image only; the registers' typed values are in
// arch/registers.hpp.
#pragma once

#include <cstdint>

#include "arch/registers.hpp"

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

}  // namespace corvisor
