// Exception syndromes as typed values (Arm ARM D19.2, ESR_EL2 and its ISS encodings), decoded
// once per exit; handlers take the value types. The same types build the syndromes corvisor
// writes into a guest's ESR_EL1 when it injects an exception (arch/exception.hpp).
#pragma once

#include <cstdint>

#include "arch/bitfield.hpp"

namespace corvisor {

/// The exception classes corvisor tells apart (ESR_ELx.EC). Anything else is "unknown to us":
/// handle_unemulated answers it with an UNDEF.
enum class ExceptionClass : std::uint8_t {
    kUnknown = 0x00,
    kWfx = 0x01,
    kPauth = 0x09,  ///< a pointer authentication instruction (HCR_EL2.API = 0)
    kHvc64 = 0x16,
    kSmc64 = 0x17,
    kSysReg = 0x18,
    kSve = 0x19,  ///< SVE (CPTR_EL2.TZ)
    kSme = 0x1d,  ///< SME (CPTR_EL2.TSM)
    kInstAbortLower = 0x20,
    kInstAbortSame = 0x21,
    kDataAbortLower = 0x24,
    kDataAbortSame = 0x25,
    kSError = 0x2f,
};

/// ESR_ELx: exception class, instruction length and the class-specific syndrome.
class Esr {
    CV_REGISTER(Esr, std::uint64_t, 0)
    CV_FIELD_AS(24, 0, iss, std::uint32_t)
    CV_BIT(25, il)  ///< 32-bit instruction (always, for AArch64)
    CV_FIELD_AS(31, 26, ec, ExceptionClass)

    constexpr std::uint64_t raw() const { return value_; }
    constexpr std::uint8_t ec_raw() const { return static_cast<std::uint8_t>(ec()); }
};

/// ISS of a data abort (the "ISS encoding for an exception from a Data Abort").
class DataAbortIss {
    CV_REGISTER(DataAbortIss, std::uint32_t, 0)
    CV_FIELD_AS(5, 0, fsc, std::uint8_t)  ///< fault status code
    CV_BIT(6, write)                      ///< WnR
    CV_BIT(7, s1ptw)                      ///< fault on a stage-1 table walk
    CV_BIT(14, acquire_release)
    CV_BIT(15, sixty_four)              ///< SF: the transfer register is an X register
    CV_FIELD_AS(20, 16, srt, unsigned)  ///< transfer register
    CV_BIT(21, sign_extend)
    CV_FIELD_AS(23, 22, sas, unsigned)  ///< access size: 1 << SAS bytes
    /// Syndrome valid: the fields above mean something. A load/store pair or a write-back form
    /// gives ISV=0 (docs/platform.md): the hypervisor then injects an abort rather than guess.
    CV_BIT(24, isv)

    /// FSC values corvisor produces or tests for.
    static constexpr std::uint64_t kFscSyncExternal = 0b010000;
    static constexpr std::uint64_t kFscTranslationL3 = 0b000111;

    constexpr std::uint32_t raw() const { return value_; }
    /// WnR as 0 or 1.
    constexpr std::uint32_t write_bit() const { return (value_ >> 6) & 1u; }
    constexpr std::uint8_t access_size() const { return static_cast<std::uint8_t>(1u << sas()); }
    constexpr DataAbortIss& set_access_size(std::uint8_t bytes) {
        return set_sas(bytes >= 8 ? 3u : bytes >= 4 ? 2u : bytes >= 2 ? 1u : 0u);
    }
    /// Translation fault at any level (FSC 0b0001LL): the IPA has no stage-2 mapping.
    constexpr bool translation_fault() const { return (fsc() & 0x3c) == 0x04; }
    /// The fields that decide how a loaded value is extended (SAS, SSE, SF), and their value for
    /// the common case, a 32-bit load into a W register.
    static constexpr std::uint32_t kLoadShapeMask = static_cast<std::uint32_t>(
        BitField<23, 22>::kMask | BitField<21, 21>::kMask | BitField<15, 15>::kMask);
    static constexpr std::uint32_t kWordLoadIntoW = 2u << 22;
};

/// ISS of a trapped MSR/MRS/system instruction (EC 0x18).
class SysRegIss {
    CV_REGISTER(SysRegIss, std::uint32_t, 0)
    CV_BIT(0, read)  ///< MRS (true) or MSR
    CV_FIELD_AS(4, 1, crm, unsigned)
    CV_FIELD_AS(9, 5, rt, unsigned)
    CV_FIELD_AS(13, 10, crn, unsigned)
    CV_FIELD_AS(16, 14, op1, unsigned)
    CV_FIELD_AS(19, 17, op2, unsigned)
    CV_FIELD_AS(21, 20, op0, unsigned)

    /// An MRS of the ID register group 3 (op0 3, op1 0, CRn 0: what HCR_EL2.TID3 traps, CRm
    /// 1..7; no other encoding of op1 0, CRn 0 is trapped), tested bit by bit for the trap path.
    constexpr bool is_id_group_read() const {
        return (value_ & kOp1CrnMask) == 0 && ((value_ >> 21) & 1u) != 0 &&
               ((value_ >> 20) & 1u) != 0 && (value_ & 1u) != 0;
    }
    /// An ID register's slot in IdRegisterFile: CRm * 8 + op2, always inside the table (CRm's
    /// top bit is dropped: CRm 8..15 of this group is never trapped).
    constexpr unsigned id_index() const { return ((value_ >> 1) & 7u) * 8 + ((value_ >> 17) & 7u); }
    /// The register's encoding with the direction and Rt masked out, for table lookups.
    constexpr std::uint32_t encoding() const { return value_ & kEncodingMask; }
    /// The same encoding for a register named by its op0, op1, CRn, CRm, op2.
    static constexpr std::uint32_t encode(unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                                          unsigned op2) {
        return static_cast<std::uint32_t>(
            SysRegIss{}.set_op0(op0).set_op1(op1).set_crn(crn).set_crm(crm).set_op2(op2).value());
    }

private:
    static constexpr std::uint32_t kEncodingMask = 0x3ffc1e;
    static constexpr std::uint32_t kOp1CrnMask = 0x1fc00;
};

/// ISS of a trapped WFI/WFE (EC 0x01).
class WfxIss {
    CV_REGISTER(WfxIss, std::uint32_t, 0)
    CV_BIT(0, is_wfe)
};

/// ISS of an HVC/SMC (EC 0x16/0x17): the instruction's immediate.
class HvcIss {
    CV_REGISTER(HvcIss, std::uint32_t, 0)
    CV_FIELD_AS(15, 0, imm16, std::uint16_t)
};

/// HPFAR_EL2: the faulting IPA's page of a stage-2 abort (FIPA holds IPA[51:12]).
class HpfarEl2 {
    CV_REGISTER(HpfarEl2, std::uint64_t, 0)
    CV_FIELD(43, 4, fipa)
    /// The whole faulting IPA, with the page offset taken from FAR_EL2.
    constexpr std::uint64_t ipa(std::uint64_t far) const { return (fipa() << 12) | (far & 0xfff); }
};

}  // namespace corvisor
