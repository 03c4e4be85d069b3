#include "vdev/psci.hpp"

namespace corvisor {

namespace {

// Bit 30 of a function identifier selects the SMC64/HVC64 calling convention (DEN0028).
constexpr std::uint32_t kSmc64 = 1u << 30;
// Versions are major in [31:16], minor in [15:0].
constexpr std::uint64_t kPsciVersion_1_1 = 0x0001'0001;
constexpr std::uint64_t kSmcccVersion_1_1 = 0x0001'0001;
// MIGRATE_INFO_TYPE: "Trusted OS is either not present or does not require migration" (DEN0022
// MIGRATE_INFO_TYPE); so MIGRATE and MIGRATE_INFO_UP_CPU are not needed and are not supported.
constexpr std::uint64_t kMigrateNotRequired = 2;
// AFFINITY_INFO results (DEN0022 AFFINITY_INFO).
constexpr std::uint64_t kAffinityOn = 0;
constexpr std::uint64_t kAffinityOff = 1;
constexpr std::uint64_t kAffinityOnPending = 2;
// A target affinity is Aff3 in [39:32] and Aff2..Aff0 in [23:0]; all other bits must be zero
// (DEN0022 CPU_ON, target_cpu), so MT, U and the RES1 bit 31 of an MPIDR copy are rejected.
constexpr std::uint64_t kAffinityFields = 0xFF'00FF'FFFF;

PsciResult status(PsciStatus s) {
    return PsciResult{psci_x0(s), {}};
}
PsciResult value(std::uint64_t v) {
    return PsciResult{v, {}};
}
PsciResult action(PsciStatus s, PsciAction::Kind kind) {
    PsciResult r{psci_x0(s), {}};
    r.action.kind = kind;
    return r;
}

bool implemented(std::uint32_t fid, bool smc64_allowed) {
    // An AArch32 caller cannot make an SMC64 call; such an identifier is unknown (DEN0028).
    if ((fid & kSmc64) != 0 && !smc64_allowed) {
        return false;
    }
    switch (static_cast<SmcccFunction>(fid)) {
        case SmcccFunction::kSmcccVersion:
        case SmcccFunction::kSmcccArchFeatures:
        case SmcccFunction::kPsciVersion:
        case SmcccFunction::kCpuSuspend32:
        case SmcccFunction::kCpuSuspend64:
        case SmcccFunction::kCpuOff:
        case SmcccFunction::kCpuOn32:
        case SmcccFunction::kCpuOn64:
        case SmcccFunction::kAffinityInfo32:
        case SmcccFunction::kAffinityInfo64:
        case SmcccFunction::kMigrateInfoType:
        case SmcccFunction::kSystemOff:
        case SmcccFunction::kSystemReset:
        case SmcccFunction::kPsciFeatures:
            return true;
    }
    return false;
}

std::optional<std::uint32_t> find_vcpu(std::uint64_t affinity, const PsciTarget& vm) {
    if ((affinity & ~kAffinityFields) != 0) {
        return std::nullopt;
    }
    const std::optional<std::uint32_t> index = vm.vcpu_by_mpidr(affinity);
    if (!index || *index >= vm.vcpu_count()) {
        return std::nullopt;
    }
    return index;
}

PsciResult cpu_on(std::uint64_t target_cpu, std::uint64_t entry, std::uint64_t context_id,
                  std::uint32_t caller, const PsciTarget& vm) {
    const std::optional<std::uint32_t> index = find_vcpu(target_cpu, vm);
    if (!index) {
        return status(PsciStatus::kInvalidParameters);
    }
    if (*index == caller) {
        return status(PsciStatus::kAlreadyOn);
    }
    switch (vm.vcpu_power(*index)) {
        case VcpuPower::kOn:
            return status(PsciStatus::kAlreadyOn);
        case VcpuPower::kOnPending:
            return status(PsciStatus::kOnPending);
        case VcpuPower::kOff:
            break;
    }
    // The target starts in the caller's execution state, AArch64 here (DEN0022 CPU_ON), whose
    // instructions are word aligned: a misaligned entry would only fault, so it is invalid.
    if ((entry & 3) != 0 || !vm.ipa_is_ram(entry)) {
        return status(PsciStatus::kInvalidAddress);
    }
    (void)context_id;  // any value is valid; the vCPU reads it with psci_cpu_on_args
    PsciResult r = action(PsciStatus::kSuccess, PsciAction::Kind::kCpuOn);
    r.action.target = *index;
    return r;
}

PsciResult affinity_info(std::uint64_t target_affinity, std::uint64_t lowest_level,
                         const PsciTarget& vm) {
    // Only level 0 (a single core) is supported: higher levels are optional from PSCI 1.0 and
    // this VM has no cluster power domains to report on.
    if (lowest_level != 0) {
        return status(PsciStatus::kInvalidParameters);
    }
    const std::optional<std::uint32_t> index = find_vcpu(target_affinity, vm);
    if (!index) {
        return status(PsciStatus::kInvalidParameters);
    }
    switch (vm.vcpu_power(*index)) {
        case VcpuPower::kOn:
            return value(kAffinityOn);
        case VcpuPower::kOff:
            return value(kAffinityOff);
        case VcpuPower::kOnPending:
            return value(kAffinityOnPending);
    }
    return status(PsciStatus::kInternalFailure);
}

PsciResult psci_features(std::uint32_t fid, bool smc64_allowed) {
    // Defined for PSCI functions and SMCCC_VERSION (DEN0022 PSCI_FEATURES); SMCCC_ARCH_FEATURES
    // is discovered through SMCCC_VERSION instead. 0 for CPU_SUSPEND means the original
    // power_state format and platform-coordinated mode only.
    if (fid == static_cast<std::uint32_t>(SmcccFunction::kSmcccArchFeatures) ||
        !implemented(fid, smc64_allowed)) {
        return status(PsciStatus::kNotSupported);
    }
    return status(PsciStatus::kSuccess);
}

PsciResult arch_features(std::uint32_t fid) {
    // SMCCC_VERSION and SMCCC_ARCH_FEATURES are mandatory from SMCCC 1.1 and reported as present,
    // as Arm's Trusted Firmware does. No SMCCC_ARCH_WORKAROUND_n or SOC_ID is implemented:
    // NOT_SUPPORTED tells the guest no firmware mitigation exists (DEN0028 SMCCC_ARCH_FEATURES).
    switch (static_cast<SmcccFunction>(fid)) {
        case SmcccFunction::kSmcccVersion:
        case SmcccFunction::kSmcccArchFeatures:
            return status(PsciStatus::kSuccess);
        default:
            return status(PsciStatus::kNotSupported);
    }
}

}  // namespace

PsciResult handle_psci_call_slow(const std::uint64_t regs[4], bool smc64_allowed,
                                 std::uint32_t caller, const PsciTarget& target);

PsciCpuOnArgs psci_cpu_on_args(const std::uint64_t regs[4]) {
    const auto fid = static_cast<std::uint32_t>(regs[0]);
    const std::uint64_t arg_mask = (fid & kSmc64) != 0 ? ~std::uint64_t{0} : 0xFFFF'FFFFu;
    return PsciCpuOnArgs{regs[2] & arg_mask, regs[3] & arg_mask};
}

PsciResult handle_psci_call(const std::uint64_t regs[4], bool smc64_allowed, std::uint32_t caller,
                            const PsciTarget& target) {
    // The queries answered by constants are what guests call most (Linux probes them; the
    // benchmark's `hvc` figure is PSCI_VERSION): they return from this leaf at once.
    switch (static_cast<std::uint32_t>(regs[0])) {
        case static_cast<std::uint32_t>(SmcccFunction::kPsciVersion):
            return value(kPsciVersion_1_1);
        case static_cast<std::uint32_t>(SmcccFunction::kSmcccVersion):
            return value(kSmcccVersion_1_1);
        case static_cast<std::uint32_t>(SmcccFunction::kMigrateInfoType):
            return value(kMigrateNotRequired);
        default:
            return handle_psci_call_slow(regs, smc64_allowed, caller, target);
    }
}

[[gnu::noinline]] PsciResult handle_psci_call_slow(const std::uint64_t regs[4], bool smc64_allowed,
                                                   std::uint32_t caller, const PsciTarget& target) {
    // The function identifier is W0 in both conventions (DEN0028, register use in SMC and HVC
    // calls): the upper half of X0 is ignored.
    const auto fid = static_cast<std::uint32_t>(regs[0]);
    if ((fid & kSmc64) != 0 && !smc64_allowed) {
        return status(PsciStatus::kNotSupported);
    }
    // SMC32/HVC32 arguments are W1..W3: the upper halves are ignored, whatever the caller left.
    const std::uint64_t arg_mask = (fid & kSmc64) != 0 ? ~std::uint64_t{0} : 0xFFFF'FFFFu;
    const std::uint64_t a1 = regs[1] & arg_mask;
    const std::uint64_t a2 = regs[2] & arg_mask;
    const std::uint64_t a3 = regs[3] & arg_mask;

    switch (static_cast<SmcccFunction>(fid)) {
        case SmcccFunction::kSmcccVersion:
            return value(kSmcccVersion_1_1);
        case SmcccFunction::kSmcccArchFeatures:
            return arch_features(static_cast<std::uint32_t>(a1));
        case SmcccFunction::kPsciVersion:
            return value(kPsciVersion_1_1);
        case SmcccFunction::kCpuSuspend32:
        case SmcccFunction::kCpuSuspend64: {
            // power_state in the original format (PSCI_FEATURES says so, DEN0022 5.4.2):
            // StateID [15:0], StateType [16], PowerLevel [25:24]; bits [23:17] and [31:26] are
            // reserved and must be zero. A guest's vCPUs form one cluster: power levels 0 (the
            // core) and 1 (the cluster). Anything else is INVALID_PARAMETERS.
            constexpr std::uint64_t kReserved = 0xfc00'0000ull | 0x00fe'0000ull;
            const std::uint64_t power_state = a1 & 0xffff'ffffull;
            // (power_state is a 32-bit parameter: the upper half of X1 is not looked at.)
            if ((power_state & kReserved) != 0 || ((power_state >> 24) & 3) > 1) {
                return status(PsciStatus::kInvalidParameters);
            }
            PsciResult r = action(PsciStatus::kSuccess, PsciAction::Kind::kCpuSuspend);
            r.action.target = caller;
            return r;
        }
        case SmcccFunction::kCpuOff: {
            // CPU_OFF returns only if it fails, and DENIED is its one failure code (DEN0022
            // CPU_OFF): a caller the VM does not power off sees that.
            PsciResult r = action(PsciStatus::kDenied, PsciAction::Kind::kCpuOff);
            r.action.target = caller;
            return r;
        }
        case SmcccFunction::kCpuOn32:
        case SmcccFunction::kCpuOn64:
            return cpu_on(a1, a2, a3, caller, target);
        case SmcccFunction::kAffinityInfo32:
        case SmcccFunction::kAffinityInfo64:
            return affinity_info(a1, a2, target);
        case SmcccFunction::kMigrateInfoType:
            return value(kMigrateNotRequired);
        // SYSTEM_OFF and SYSTEM_RESET do not return; should the VM fail to carry them out, the
        // guest sees INTERNAL_FAILURE (as KVM answers when userspace resumes such a vCPU).
        case SmcccFunction::kSystemOff:
            return action(PsciStatus::kInternalFailure, PsciAction::Kind::kSystemOff);
        case SmcccFunction::kSystemReset:
            return action(PsciStatus::kInternalFailure, PsciAction::Kind::kSystemReset);
        case SmcccFunction::kPsciFeatures:
            return psci_features(static_cast<std::uint32_t>(a1), smc64_allowed);
        default:
            // Everything else, vendor and standard ranges alike, is unknown here (one switch:
            // this is the HVC trap path).
            return status(PsciStatus::kNotSupported);
    }
}

}  // namespace corvisor
