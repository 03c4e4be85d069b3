// The DTB a guest boots with, built from its GuestConfig (docs/platform.md, "What an unmodified
// guest needs in the DTB its hypervisor builds").
#pragma once

#include <cstdint>

#include "corvisor/result.hpp"
#include "vm/guest_config.hpp"
#include "vm/image.hpp"

namespace corvisor {

/// Phandles of the nodes the builder creates (device nodes lose any phandle they had).
constexpr std::uint32_t kGuestGicPhandle = 1;
constexpr std::uint32_t kGuestClockPhandle = 2;

/// Writes `guest`'s DTB into `buf` and returns its size (fdt totalsize). Contents: QEMU virt's
/// map (memory, cpus with PSCI enable-method, psci, GICv3, the architected timer's four PPIs, a
/// 24 MHz fixed clock), every device node copied from the guest list in `boot_fdt` (PL011s get
/// "arm,primecell" and the clock Linux needs to bind them), and /chosen (stdout-path of the
/// first PL011, bootargs, the initrd placed by `layout`, and "corvisor,boot-count" =
/// `boot_count`, which tells a guest rebooted by SYSTEM_RESET from its first boot).
/// kOutOfMemory if `buf_size` is too small (nothing is written past it), kOutOfRange if the
/// result exceeds `layout.dtb_size_max`, kMalformed if `boot_fdt` cannot be read.
/// Calls libfdt, which may use FP/SIMD: only at VM creation, never on the trap path.
Result<std::uint32_t> build_guest_dtb(const GuestConfig& guest, const GuestLayout& layout,
                                      const void* boot_fdt, void* buf, std::uint32_t buf_size,
                                      std::uint32_t boot_count);

}  // namespace corvisor
