// Architectural pieces of exception injection that need no hardware (host-tested).
#pragma once

#include <cstdint>

namespace corvisor {

/// PSTATE of a guest after taking an exception to EL1: EL1h with D, A, I and F masked.
inline constexpr std::uint64_t kSpsrEl1hMasked = 0x3c5;

/// Offset of the synchronous vector for an exception taken from `spsr` to EL1 (Arm ARM D1.10.2,
/// table "Vector offsets from vector table base address").
constexpr std::uint64_t sync_vector_offset(std::uint64_t spsr) {
    if ((spsr & 0x10) != 0) {
        return 0x600;  // from AArch32 EL0
    }
    switch (spsr & 0xf) {
        case 0x4:
            return 0x000;  // EL1t: current EL with SP_EL0
        case 0x5:
            return 0x200;  // EL1h: current EL with SP_ELx
        default:
            return 0x400;  // EL0t: lower EL, AArch64
    }
}

constexpr bool from_el0(std::uint64_t spsr) {
    return (spsr & 0xc) == 0;
}

/// ESR_EL1 for a synchronous external abort on a data access (EC 0x24 from EL0, 0x25 from EL1,
/// DFSC 0b010000, WnR kept so the guest can tell loads from stores).
constexpr std::uint64_t external_data_abort_esr(std::uint64_t spsr, bool write) {
    std::uint64_t ec = from_el0(spsr) ? 0x24 : 0x25;
    return (ec << 26) | (1ull << 25) | (write ? (1ull << 6) : 0) | 0x10;
}

/// ESR_EL1 for a synchronous external abort on an instruction fetch (EC 0x20 / 0x21).
constexpr std::uint64_t external_inst_abort_esr(std::uint64_t spsr) {
    std::uint64_t ec = from_el0(spsr) ? 0x20 : 0x21;
    return (ec << 26) | (1ull << 25) | 0x10;
}

/// ESR_EL1 for an Undefined Instruction (EC 0, IL=1).
inline constexpr std::uint64_t kUndefinedEsr = 1ull << 25;

}  // namespace corvisor
