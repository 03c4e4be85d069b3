// Architectural pieces of exception injection that need no hardware (host-tested): the vector a
// synchronous exception to EL1 enters, the PSTATE it enters with, and the syndromes corvisor
// gives a guest.
#pragma once

#include <cstdint>

#include "arch/esr.hpp"

namespace corvisor {

/// VBAR_EL1's table: 16 vectors of 0x80 bytes (Arm ARM D1.10.2).
inline constexpr std::uint64_t kVectorTableSize = 0x800;

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
/// DFSC "synchronous external abort", WnR kept so the guest can tell loads from stores).
constexpr std::uint64_t external_data_abort_esr(std::uint64_t spsr, bool write) {
    const auto iss = DataAbortIss{}.set_write(write).set_fsc(DataAbortIss::kFscSyncExternal);
    return Esr{}
        .set_ec(from_el0(spsr) ? ExceptionClass::kDataAbortLower : ExceptionClass::kDataAbortSame)
        .set_il(true)
        .set_iss(iss.raw())
        .raw();
}

/// ESR_EL1 for a synchronous external abort on an instruction fetch (EC 0x20 / 0x21).
constexpr std::uint64_t external_inst_abort_esr(std::uint64_t spsr) {
    return Esr{}
        .set_ec(from_el0(spsr) ? ExceptionClass::kInstAbortLower : ExceptionClass::kInstAbortSame)
        .set_il(true)
        .set_iss(static_cast<std::uint32_t>(DataAbortIss::kFscSyncExternal))
        .raw();
}

/// ESR_EL1 for an Undefined Instruction (EC 0, IL=1).
inline constexpr std::uint64_t kUndefinedEsr = Esr{}.set_il(true).raw();

}  // namespace corvisor
