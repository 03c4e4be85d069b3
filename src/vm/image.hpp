// Where a guest's kernel, DTB and initrd go in its RAM (Linux
// Documentation/arch/arm64/booting.rst for images with the arm64 header).
#pragma once

#include <cstdint>
#include <optional>

#include "corvisor/result.hpp"
#include "vm/guest_config.hpp"

namespace corvisor {

/// The fields of the arm64 Image header that placement needs (booting.rst, "Call the kernel
/// image"); the header is little-endian at offset 0, magic "ARM\x64" at 0x38.
struct Arm64ImageHeader {
    std::uint64_t text_offset = 0;
    std::uint64_t image_size = 0;  ///< 0 in kernels before v3.17: unknown
    std::uint64_t flags = 0;
};

constexpr std::uint32_t kArm64ImageMagic = 0x644d5241;

/// The header of `image`, or nullopt for a raw binary or an image that cannot be read.
std::optional<Arm64ImageHeader> read_arm64_header(const ImageRef& image);

struct GuestLayout {
    std::uint64_t kernel_ipa = 0;        ///< where the image's first byte is copied
    std::uint64_t kernel_size = 0;       ///< bytes to copy
    std::uint64_t kernel_footprint = 0;  ///< bytes the kernel owns from kernel_ipa (with its BSS)
    std::uint64_t entry_ipa = 0;         ///< PC of vCPU 0 at first entry, with x0 = dtb_ipa
    std::uint64_t dtb_ipa = 0;           ///< 4 KiB aligned, inside one 2 MiB-aligned region
    std::uint64_t dtb_size_max = 0;      ///< room at dtb_ipa
    std::uint64_t initrd_ipa = 0;        ///< page aligned; 0 with initrd_size 0: no initrd
    std::uint64_t initrd_size = 0;
    bool arm64_header = false;
};

/// Which part of the layout failed, so the parser can name the property at fault.
enum class LayoutPart : std::uint8_t { kMemory, kKernel, kDtb, kInitrd };

struct LayoutProblem {
    LayoutPart part = LayoutPart::kMemory;
    Reason reason;
};

/// Places the kernel, DTB (with `dtb_size_max` bytes of room, at most 2 MiB) and initrd in the
/// guest's RAM. With the arm64 header: kernel at a 2 MiB-aligned base + text_offset (+ 2 MiB
/// when text_offset is 0), DTB at the start of RAM if it fits below the kernel (QEMU virt puts
/// it there and some software expects that), else at the top; initrd at the top of RAM or just
/// below a top DTB. A raw binary loads at the start of RAM, the DTB goes in its last 2 MiB.
/// kOutOfRange (with `problem` filled, if given) when something does not fit or overlaps;
/// kInvalidArgument for a config the parser would have rejected.
Result<GuestLayout> plan_guest_layout(const GuestConfig& guest, std::uint64_t dtb_size_max,
                                      LayoutProblem* problem = nullptr);

}  // namespace corvisor
