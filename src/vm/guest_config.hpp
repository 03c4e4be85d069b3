// One guest as the guest list in the boot DTB describes it: plain data, filled by
// parse_guest_list (guest_list.hpp) and read by VM creation and the guest-DTB builder.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "arch/gic.hpp"
#include "base/limits.hpp"
#include "corvisor/device.hpp"

namespace corvisor {

// QEMU virt's GICv3 (hw/arm/virt.c: VIRT_GIC_DIST, VIRT_GIC_REDIST). Software built for virt
// hard-codes these, so every guest sees them unless a future guest property overrides them.
constexpr std::uint64_t kVirtGicDistBase = 0x08000000;
constexpr std::uint64_t kVirtGicRedistBase = 0x080a0000;

// QEMU virt's flash (hw/arm/virt.c VIRT_FLASH): two 64 MiB banks from IPA 0. Firmware built for
// virt runs from the first and keeps its environment in the second.
constexpr std::uint64_t kVirtFlashBase = 0;
constexpr std::uint64_t kVirtFlashSize = 0x08000000;

// Room reserved in guest RAM for the guest's DTB; build_guest_dtb fails rather than exceed it.
constexpr std::uint64_t kGuestDtbMaxSize = 0x10000;

enum class PsciConduit : std::uint8_t { kHvc, kSmc };

/// A kernel or initrd image. `data` points into the boot DTB (`kernel = /incbin/(...)`) or at
/// host-physical memory (`kernel-addr`, readable because EL2 is identity-mapped). `data` is
/// nullptr for a `*-addr` image when no GuestListLimits::host_memory hook was given (host tests,
/// which only check the numbers): such an image is never read.
struct ImageRef {
    const void* data = nullptr;
    std::uint64_t size = 0;
    std::uint64_t host_addr = 0;  ///< host-physical base of a `*-addr` image, else 0
};

struct DeviceConfig {
    std::array<char, kMaxNameLength + 1> node_name{};  ///< "uart@9000000", NUL-terminated
    const char* compatible = nullptr;  ///< the entry the registry knows, inside the boot DTB
    std::array<MmioRegion, kMaxDeviceRegs> regs{};
    std::uint32_t reg_count = 0;
    std::array<std::uint32_t, kMaxDeviceIrqs> irqs{};  ///< GIC INTIDs (SPI n -> n + 32)
    std::uint32_t irq_count = 0;
    int node_offset = -1;  ///< the device node in the boot DTB
    /// `corvisor,image-addr`: an image the loader placed in host memory (a disk), which the
    /// device reads as its `corvisor,image` (DeviceNode::bytes); size 0: none.
    ImageRef host_image;

    std::string_view name() const { return node_name.data(); }
    std::span<const MmioRegion> region_list() const { return {regs.data(), reg_count}; }
    std::span<const std::uint32_t> irq_list() const { return {irqs.data(), irq_count}; }
};

struct GuestConfig {
    std::array<char, kMaxNameLength + 1> name{};  ///< NUL-terminated
    std::uint64_t ram_base = 0;                   ///< guest-physical
    std::uint64_t ram_size = 0;
    std::uint32_t vcpus = 0;
    std::array<std::uint32_t, kMaxVcpus> affinity{};  ///< pCPU of each vCPU (`cpu-affinity`)
    bool has_affinity = false;  ///< else the boot spreads the vCPUs over the pCPUs
    ImageRef kernel;
    ImageRef initrd;  ///< size 0: none
    ImageRef flash;   ///< size 0: no flash; else its image, from IPA kVirtFlashBase
    bool kernel_is_host_addr = false;
    bool initrd_is_host_addr = false;
    bool flash_is_host_addr = false;
    /// `load-addr`: where a raw kernel (no arm64 header) is copied; else the start of RAM.
    std::optional<std::uint64_t> load_addr;
    /// `dtb-addr`: where the guest's DTB goes; else the placement rules (image.hpp).
    std::optional<std::uint64_t> dtb_addr;
    const char* bootargs = nullptr;  ///< inside the boot DTB; nullptr: none
    /// `firmware-bootcmd`: the guest DTB's /config/bootcmd (U-Boot runs it); nullptr: none.
    const char* firmware_bootcmd = nullptr;
    PsciConduit conduit = PsciConduit::kHvc;
    std::uint64_t gic_dist_base = kVirtGicDistBase;
    std::uint64_t gic_redist_base = kVirtGicRedistBase;
    std::array<DeviceConfig, kMaxDevices> devices{};
    std::uint32_t device_count = 0;
    int node_offset = -1;  ///< the guest node in the boot DTB

    std::string_view name_view() const { return name.data(); }
    std::span<const DeviceConfig> device_list() const { return {devices.data(), device_count}; }
    std::uint64_t gic_redist_size() const { return kGicRedistStride * vcpus; }
    bool has_flash() const { return flash.size != 0; }
};

/// Text built without a heap, for diagnostics ("expected 4 cells, got 3"). Always
/// NUL-terminated; silently truncated when full.
template <std::size_t N>
class FixedText {
public:
    FixedText& add(std::string_view s) {
        for (char c : s) {
            put(c);
        }
        return *this;
    }
    FixedText& dec(std::uint64_t v) { return number(v, 10); }
    /// `prefix` false gives DTB unit-address style ("9000000").
    FixedText& hex(std::uint64_t v, bool prefix = true) {
        if (prefix) {
            add("0x");
        }
        return number(v, 16);
    }
    /// `s` in double quotes; bytes outside printable ASCII (a hostile DTB's) become '?'.
    FixedText& quoted(std::string_view s) {
        put('"');
        for (char c : s) {
            put(c >= 0x20 && c < 0x7f ? c : '?');
        }
        put('"');
        return *this;
    }
    void clear() {
        size_ = 0;
        text_[0] = '\0';
    }
    std::string_view view() const { return {text_.data(), size_}; }
    const char* c_str() const { return text_.data(); }
    bool empty() const { return size_ == 0; }

private:
    void put(char c) {
        if (size_ + 1 < N) {
            text_[size_++] = c;
            text_[size_] = '\0';
        }
    }
    FixedText& number(std::uint64_t v, std::uint32_t base) {
        std::array<char, 20> digits{};
        std::size_t n = 0;
        do {
            const auto d = static_cast<char>(v % base);
            digits[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
            v /= base;
        } while (v != 0);
        while (n != 0) {
            put(digits[--n]);
        }
        return *this;
    }

    std::array<char, N> text_{};
    std::size_t size_ = 0;
};

using Reason = FixedText<128>;

}  // namespace corvisor
