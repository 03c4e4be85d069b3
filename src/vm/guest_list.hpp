// The guest list: which guests to run, read from the DTB the hypervisor was booted with.
//
// Format (a node at /chosen/corvisor, in the spirit of Xen's dom0less):
//
//   / {
//       chosen {
//           corvisor {
//               compatible = "corvisor,guest-list";
//               guest-a {                       // one node per guest
//                   compatible = "corvisor,guest";
//                   guest-name = "hello-a";     // optional; default: the node name.
//                                               // 1..31 chars of [A-Za-z0-9_-], unique.
//                                               // (Not `name`: dtc reserves that one.)
//                   memory = <0x0 0x40000000 0x0 0x04000000>;
//                                               // guest-physical base, size: 2+2 cells,
//                                               // both 4 KiB aligned, size >= 1 MiB
//                   cpus = <1>;                 // vCPUs, 1..8
//                   cpu-affinity = <0>;         // optional: pCPU of each vCPU, one cell per
//                                               // vCPU; default: all on pCPU 0
//                   kernel = /incbin/("hello.bin");  // image embedded in the DTB, or
//                   // kernel-addr = <0x0 0x50000000 0x0 0x200000>;
//                                               // host-physical base, size (2+2 cells) of an
//                                               // image placed by the loader (QEMU's
//                                               // -device loader,file=...,addr=...)
//                   initrd = /incbin/("rootfs.cpio");  // optional; or initrd-addr, as above
//                   bootargs = "console=ttyAMA0";      // optional
//                   psci-method = "hvc";        // optional: "hvc" (default) or "smc"
//                   uart@9000000 {              // virtual devices: child nodes, matched to
//                       compatible = "arm,pl011";  // the device registry by compatible
//                       reg = <0x0 0x09000000 0x0 0x1000>;  // 1..4 regions of 2+2 cells
//                       interrupts = <0 1 4>;   // optional, up to 4 of <type number flags>:
//                                               // type 0 = SPI (INTID number + 32),
//                                               // 1 = PPI (INTID number + 16)
//                   };
//               };
//           };
//       };
//   };
//
// A guest node may also carry `#address-cells = <2>` and `#size-cells = <2>` (only those
// values) to quiet dtc, and `phandle`. Any other property is an error, so a misspelt optional
// property is reported instead of ignored. Device nodes may carry any further properties
// (their device reads them); they are copied into the guest's DTB.
//
// Kernel images with the arm64 Image header are placed by the Linux boot protocol, raw
// binaries at the start of RAM (see plan_guest_layout in image.hpp). Every guest also gets
// QEMU virt's GICv3 (distributor 0x08000000, redistributors from 0x080a0000), which its RAM
// and devices must not overlap.
//
// A bad guest node is reported (node path, property, reason) and skipped; the others still
// load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "vm/guest_config.hpp"

namespace corvisor {

constexpr std::string_view kGuestListPath = "/chosen/corvisor";

/// Receives one message per rejected node (or missing guest list).
class Diagnostics {
public:
    /// `node`: full DTB path; `property`: the property at fault, or "" for the node itself.
    virtual void report(std::string_view node, std::string_view property,
                        std::string_view reason) = 0;

protected:
    ~Diagnostics() = default;
};

/// The oldest DTB version the parser reads (older ones store node names as full paths).
inline constexpr std::uint32_t kMinDtbVersion = 17;

struct GuestListLimits {
    std::uint32_t pcpus = 1;  ///< physical CPUs that vCPUs may be placed on
    /// Whether a device model exists for `compatible`; nullptr: ask the device registry.
    bool (*compatible_known)(std::string_view compatible) = nullptr;
    /// Makes host-physical [base, base + size) of a `kernel-addr`/`initrd-addr` image readable
    /// (the identity at EL2), or returns nullptr if it is no memory a guest image may come
    /// from (the hypervisor's own image, MMIO). nullptr hook: addresses are recorded, never read.
    const void* (*host_memory)(std::uint64_t base, std::uint64_t size) = nullptr;
    std::uint32_t ipa_bits = 40;                    ///< guest-physical address space (stage 2)
    std::uint64_t dtb_size_max = kGuestDtbMaxSize;  ///< room for each guest's DTB
};

/// Parses the guest list of the boot DTB `fdt` into `out`; returns how many guests were written
/// (the good ones, in DTB order). Trusts the header's totalsize: for a blob from the boot
/// loader. Everything inside the blob is checked.
std::uint32_t parse_guest_list(const void* fdt, std::span<GuestConfig> out, Diagnostics& diag,
                               const GuestListLimits& limits);

/// The same for a blob of `fdt_size` bytes that may be truncated or garbage.
std::uint32_t parse_guest_list(const void* fdt, std::size_t fdt_size, std::span<GuestConfig> out,
                               Diagnostics& diag, const GuestListLimits& limits);

}  // namespace corvisor
