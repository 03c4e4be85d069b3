// Exit accounting: per-vCPU counters of exits by kind, printed in the shutdown summary.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace corvisor {

enum class ExitCounter : std::uint8_t {
    kMmio,
    kHvc,
    kSmc,
    kSysReg,
    kWfx,
    kIrq,
    kMaintenance,
    kAbortInjected,
    kOther,
    kCount
};

constexpr std::string_view to_string(ExitCounter c) {
    switch (c) {
        case ExitCounter::kMmio:
            return "mmio";
        case ExitCounter::kHvc:
            return "hvc";
        case ExitCounter::kSmc:
            return "smc";
        case ExitCounter::kSysReg:
            return "sysreg";
        case ExitCounter::kWfx:
            return "wfx";
        case ExitCounter::kIrq:
            return "irq";
        case ExitCounter::kMaintenance:
            return "maintenance";
        case ExitCounter::kAbortInjected:
            return "aborts-injected";
        case ExitCounter::kOther:
            return "other";
        case ExitCounter::kCount:
            break;
    }
    return "?";
}

struct ExitStats {
    std::array<std::uint64_t, static_cast<std::size_t>(ExitCounter::kCount)> counts{};
    void count(ExitCounter c) { ++counts[static_cast<std::size_t>(c)]; }
    std::uint64_t operator[](ExitCounter c) const { return counts[static_cast<std::size_t>(c)]; }
    void add(const ExitStats& o) {
        for (std::size_t i = 0; i < counts.size(); ++i) {
            counts[i] += o.counts[i];
        }
    }
};

}  // namespace corvisor
