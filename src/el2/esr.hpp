// Typed decoding of ESR_EL2 (Arm ARM D17.2.37), done once per exit; handlers take the value types.
#pragma once

#include <cstdint>

namespace corvisor {

/// Exception classes corvisor handles (ESR_ELx.EC, Arm ARM D17.2.37 table).
enum class ExceptionClass : std::uint8_t {
    kUnknown = 0x00,
    kWfx = 0x01,
    kFpAccess = 0x07,
    kIllegalState = 0x0e,
    kSvc64 = 0x15,
    kHvc64 = 0x16,
    kSmc64 = 0x17,
    kSysReg = 0x18,
    kSve = 0x19,
    kInstAbortLower = 0x20,
    kInstAbortSame = 0x21,
    kPcAlign = 0x22,
    kDataAbortLower = 0x24,
    kDataAbortSame = 0x25,
    kSpAlign = 0x26,
    kSError = 0x2f,
    kBrk64 = 0x3c,
};

class Esr {
public:
    constexpr explicit Esr(std::uint64_t raw) : raw_(raw) {}
    constexpr std::uint64_t raw() const { return raw_; }
    constexpr ExceptionClass ec() const { return static_cast<ExceptionClass>((raw_ >> 26) & 0x3f); }
    constexpr std::uint8_t ec_raw() const { return static_cast<std::uint8_t>((raw_ >> 26) & 0x3f); }
    /// IL: 32-bit instruction (true) or 16-bit (false; never for AArch64 guests).
    constexpr bool il() const { return ((raw_ >> 25) & 1) != 0; }
    constexpr std::uint32_t iss() const { return static_cast<std::uint32_t>(raw_ & 0x1ffffff); }

private:
    std::uint64_t raw_;
};

/// ISS of a data abort (Arm ARM D17.2.37, "ISS encoding for an exception from a Data Abort").
class DataAbortIss {
public:
    constexpr explicit DataAbortIss(std::uint32_t iss) : iss_(iss) {}
    constexpr std::uint32_t raw() const { return iss_; }
    /// Syndrome valid: the fields below mean something. A load/store pair or a write-back form
    /// gives ISV=0 (FACTS.md): we then inject an abort rather than guess.
    constexpr bool isv() const { return bit(24); }
    /// Access size in bytes (SAS: 1, 2, 4, 8).
    constexpr std::uint8_t access_size() const {
        return static_cast<std::uint8_t>(1u << ((iss_ >> 22) & 3));
    }
    constexpr bool sign_extend() const { return bit(21); }          ///< SSE
    constexpr unsigned srt() const { return (iss_ >> 16) & 0x1f; }  ///< transfer register
    constexpr bool sixty_four() const { return bit(15); }           ///< SF: Xt (true) or Wt
    constexpr bool acquire_release() const { return bit(14); }      ///< AR
    constexpr bool s1ptw() const { return bit(7); }  ///< fault on a stage-1 table walk
    constexpr bool write() const { return bit(6); }  ///< WnR
    constexpr std::uint8_t fsc() const { return static_cast<std::uint8_t>(iss_ & 0x3f); }
    /// Translation fault at any level (DFSC 0b0001LL): the IPA has no stage-2 mapping.
    constexpr bool translation_fault() const { return (fsc() & 0x3c) == 0x04; }

private:
    constexpr bool bit(unsigned n) const { return ((iss_ >> n) & 1) != 0; }
    std::uint32_t iss_;
};

/// ISS of a trapped MSR/MRS/system instruction (EC 0x18).
class SysRegIss {
public:
    constexpr explicit SysRegIss(std::uint32_t iss) : iss_(iss) {}
    constexpr bool read() const { return (iss_ & 1) != 0; }  ///< MRS (true) or MSR
    constexpr unsigned rt() const { return (iss_ >> 5) & 0x1f; }
    constexpr unsigned op0() const { return (iss_ >> 20) & 3; }
    constexpr unsigned op1() const { return (iss_ >> 14) & 7; }
    constexpr unsigned op2() const { return (iss_ >> 17) & 7; }
    constexpr unsigned crn() const { return (iss_ >> 10) & 0xf; }
    constexpr unsigned crm() const { return (iss_ >> 1) & 0xf; }
    /// The register's encoding with the direction and Rt masked out, for table lookups.
    constexpr std::uint32_t encoding() const { return iss_ & 0x3ffc1e; }

private:
    std::uint32_t iss_;
};

/// ISS of a trapped WFI/WFE (EC 0x01).
class WfxIss {
public:
    constexpr explicit WfxIss(std::uint32_t iss) : iss_(iss) {}
    constexpr bool is_wfe() const { return (iss_ & 1) != 0; }

private:
    std::uint32_t iss_;
};

/// The immediate of a trapped HVC/SMC (ISS[15:0]).
constexpr std::uint16_t hvc_immediate(std::uint32_t iss) {
    return static_cast<std::uint16_t>(iss & 0xffff);
}

/// The faulting IPA from HPFAR_EL2.FIPA (bits [43:4] hold IPA[51:12]) and FAR's page offset.
constexpr std::uint64_t fault_ipa(std::uint64_t hpfar, std::uint64_t far) {
    return ((hpfar & 0x00000ffffffffff0ull) << 8) | (far & 0xfff);
}

}  // namespace corvisor
