// PSCI 1.1 (Arm DEN0022) and the SMCCC 1.1 Arm Architecture calls (Arm DEN0028) as a guest sees
// them: a pure function of the call's registers and the VM's vCPU states, so the vCPU loop only
// carries out the returned action and the whole protocol is tested on the host.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

namespace corvisor {

/// SMCCC function identifiers handled here (DEN0028 "Function Identifiers"; PSCI's in DEN0022
/// "Function prototypes"). Bit 30 set: SMC64/HVC64 form.
enum class SmcccFunction : std::uint32_t {
    kSmcccVersion = 0x8000'0000,
    kSmcccArchFeatures = 0x8000'0001,
    kPsciVersion = 0x8400'0000,
    kCpuSuspend32 = 0x8400'0001,
    kCpuSuspend64 = 0xC400'0001,
    kCpuOff = 0x8400'0002,
    kCpuOn32 = 0x8400'0003,
    kCpuOn64 = 0xC400'0003,
    kAffinityInfo32 = 0x8400'0004,
    kAffinityInfo64 = 0xC400'0004,
    kMigrateInfoType = 0x8400'0006,
    kSystemOff = 0x8400'0008,
    kSystemReset = 0x8400'0009,
    kPsciFeatures = 0x8400'000A,
};

/// PSCI return codes (DEN0022 "Return error codes"); SMCCC's NOT_SUPPORTED is the same -1.
enum class PsciStatus : std::int32_t {
    kSuccess = 0,
    kNotSupported = -1,
    kInvalidParameters = -2,
    kDenied = -3,
    kAlreadyOn = -4,
    kOnPending = -5,
    kInternalFailure = -6,
    kNotPresent = -7,
    kDisabled = -8,
    kInvalidAddress = -9,
};

/// The value a status leaves in X0: the 32-bit code sign-extended to 64 bits.
constexpr std::uint64_t psci_x0(PsciStatus s) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(s)));
}

enum class VcpuPower : std::uint8_t { kOff, kOn, kOnPending };

/// What PSCI needs to know about the calling VM (implemented by the VM).
class PsciTarget {
public:
    virtual std::uint32_t vcpu_count() const = 0;
    /// The vCPU whose MPIDR has these Aff3..Aff0 fields (MT and U ignored), if any.
    virtual std::optional<std::uint32_t> vcpu_by_mpidr(std::uint64_t mpidr) const = 0;
    virtual VcpuPower vcpu_power(std::uint32_t index) const = 0;
    /// Whether `ipa` is executable guest RAM (a valid CPU_ON entry point).
    virtual bool ipa_is_ram(std::uint64_t ipa) const = 0;

protected:
    ~PsciTarget() = default;
};

/// What the vCPU loop must do besides writing X0.
struct PsciAction {
    enum class Kind : std::uint8_t {
        kNone,
        kCpuOn,        ///< start vCPU `target` at psci_cpu_on_args(regs); it is pending now
        kCpuOff,       ///< power the caller off; it never returns from the call
        kSystemOff,    ///< stop the whole guest
        kSystemReset,  ///< reset the whole guest
        /// CPU_SUSPEND: wait as for WFI, then return X0. Every state, power-down included, is
        /// treated as standby (DEN0022A 5.4.2 allows it; KVM does the same), so the caller resumes
        /// after the call and `entry` is unused. Returning at once is also correct (a spurious
        /// wake-up), just less efficient.
        kCpuSuspend,
    };
    Kind kind = Kind::kNone;
    std::uint32_t target = 0;
};

struct PsciResult {
    std::uint64_t x0;  ///< value for the guest's X0 (negative codes sign-extended to 64 bits)
    PsciAction action;
};

// 16 bytes, trivially copyable: returned in x0/x1 on the HVC trap path rather than through memory.
static_assert(sizeof(PsciResult) == 16 && std::is_trivially_copyable_v<PsciResult>);

/// Entry point and context id of a CPU_ON call (X2, X3; W2, W3 for the SMC32 form).
struct PsciCpuOnArgs {
    std::uint64_t entry;
    std::uint64_t context_id;
};
PsciCpuOnArgs psci_cpu_on_args(const std::uint64_t regs[4]);

/// Handle one HVC #0 or SMC #0 from the guest. `regs` are X0..X3 at the call; `smc64_allowed` is
/// false for an AArch32 caller (SMC64 calls are then unknown); `caller` is the calling vCPU.
/// Unknown or unsupported calls answer NOT_SUPPORTED (-1) with no action.
PsciResult handle_psci_call(const std::uint64_t regs[4], bool smc64_allowed, std::uint32_t caller,
                            const PsciTarget& target);

}  // namespace corvisor
