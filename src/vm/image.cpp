#include "vm/image.hpp"

#include <limits>

namespace corvisor {
namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t k2MiB = 0x200000;
constexpr std::uint64_t kHeaderSize = 0x40;

std::uint64_t align_down(std::uint64_t v, std::uint64_t a) {
    return v & ~(a - 1);
}

std::optional<std::uint64_t> align_up(std::uint64_t v, std::uint64_t a) {
    const std::uint64_t rest = v & (a - 1);
    if (rest == 0) {
        return v;
    }
    if (v > std::numeric_limits<std::uint64_t>::max() - (a - rest)) {
        return std::nullopt;
    }
    return v + (a - rest);
}

// The header is little-endian whatever the CPU, and an incbin image is only 4-byte aligned in
// the DTB: assemble bytes rather than load words.
std::uint64_t load_le(const unsigned char* p, std::uint32_t bytes) {
    std::uint64_t v = 0;
    for (std::uint32_t i = bytes; i != 0; --i) {
        v = (v << 8) | p[i - 1];
    }
    return v;
}

Reason& start(LayoutProblem& problem, LayoutPart part) {
    problem.part = part;
    problem.reason.clear();
    return problem.reason;
}

}  // namespace

std::optional<Arm64ImageHeader> read_arm64_header(const ImageRef& image) {
    if (image.data == nullptr || image.size < kHeaderSize) {
        return std::nullopt;
    }
    const auto* p = static_cast<const unsigned char*>(image.data);
    if (load_le(p + 0x38, 4) != kArm64ImageMagic) {
        return std::nullopt;
    }
    return Arm64ImageHeader{load_le(p + 0x08, 8), load_le(p + 0x10, 8), load_le(p + 0x18, 8)};
}

Result<GuestLayout> plan_guest_layout(const GuestConfig& guest, std::uint64_t dtb_size_max,
                                      LayoutProblem* problem) {
    LayoutProblem scratch;
    LayoutProblem& p = problem != nullptr ? *problem : scratch;
    const std::uint64_t base = guest.ram_base;
    const std::uint64_t size = guest.ram_size;
    if (size == 0 || base % kPage != 0 || size % kPage != 0 ||
        base > std::numeric_limits<std::uint64_t>::max() - size) {
        start(p, LayoutPart::kMemory).add("memory is empty, wraps or is not 4 KiB aligned");
        return Error::kInvalidArgument;
    }
    const std::uint64_t end = base + size;
    // booting.rst: the DTB must not exceed 2 MiB.
    if (dtb_size_max == 0 || dtb_size_max > k2MiB) {
        start(p, LayoutPart::kDtb).add("DTB room of ").hex(dtb_size_max).add(" is not 1..2 MiB");
        return Error::kInvalidArgument;
    }
    if (guest.kernel.size == 0 && !guest.has_flash()) {
        start(p, LayoutPart::kKernel).add("no kernel image");
        return Error::kInvalidArgument;
    }

    GuestLayout l;
    l.dtb_size_max = *align_up(dtb_size_max, kPage);
    l.kernel_size = guest.kernel.size;
    bool dtb_at_top = true;
    const std::optional<Arm64ImageHeader> header =
        guest.kernel.size != 0 ? read_arm64_header(guest.kernel) : std::nullopt;
    l.arm64_header = header.has_value();
    if (guest.kernel.size == 0) {
        // Firmware in flash and nothing in RAM: the DTB at the start of RAM, where QEMU virt
        // puts it for firmware (and where U-Boot looks, whatever x0 says).
        l.kernel_ipa = base;
        l.kernel_footprint = 0;
        dtb_at_top = false;
    } else if (header) {
        // image_size covers the BSS; 0 means an old kernel that does not say.
        l.kernel_footprint =
            header->image_size > l.kernel_size ? header->image_size : l.kernel_size;
        // text_offset 0 (v3.17+, "placeable anywhere"): leave the first 2 MiB to the DTB.
        const std::uint64_t offset = header->text_offset != 0 ? header->text_offset : k2MiB;
        const std::optional<std::uint64_t> aligned = align_up(base, k2MiB);
        if (!aligned || *aligned >= end || offset >= end - *aligned) {
            start(p, LayoutPart::kKernel)
                .add("load offset ")
                .hex(offset)
                .add(" from a 2 MiB-aligned base is beyond RAM ending at ")
                .hex(end);
            return Error::kOutOfRange;
        }
        l.kernel_ipa = *aligned + offset;
        dtb_at_top = l.kernel_ipa - base < l.dtb_size_max;
    } else if (guest.load_addr) {
        // A raw image at the address its guest node names; the DTB at the start of RAM when it
        // fits below the image.
        l.kernel_footprint = l.kernel_size;
        l.kernel_ipa = *guest.load_addr;
        dtb_at_top = l.kernel_ipa - base < l.dtb_size_max;
    } else {
        l.kernel_footprint = l.kernel_size;
        l.kernel_ipa = base;
    }
    if (l.kernel_footprint > size) {
        start(p, LayoutPart::kKernel)
            .add("image of ")
            .hex(l.kernel_footprint)
            .add(" bytes does not fit in ")
            .hex(size)
            .add(" of RAM");
        return Error::kOutOfRange;
    }
    if (l.kernel_footprint > end - l.kernel_ipa) {
        start(p, LayoutPart::kKernel)
            .add("image of ")
            .hex(l.kernel_footprint)
            .add(" bytes at ")
            .hex(l.kernel_ipa)
            .add(" runs past the end of RAM at ")
            .hex(end);
        return Error::kOutOfRange;
    }
    const std::uint64_t kernel_end = l.kernel_ipa + l.kernel_footprint;

    if (guest.dtb_addr) {
        // Where the guest node says (in RAM and aligned: the parser checked).
        const std::uint64_t dtb = *guest.dtb_addr;
        if (l.dtb_size_max > end - dtb) {
            start(p, LayoutPart::kDtb)
                .add("DTB room of ")
                .hex(l.dtb_size_max)
                .add(" bytes at ")
                .hex(dtb)
                .add(" runs past the end of RAM at ")
                .hex(end);
            return Error::kOutOfRange;
        }
        if (l.kernel_footprint != 0 && dtb < kernel_end && l.kernel_ipa < dtb + l.dtb_size_max) {
            start(p, LayoutPart::kDtb)
                .add("DTB at ")
                .hex(dtb)
                .add(" overlaps the kernel at ")
                .hex(l.kernel_ipa)
                .add("..")
                .hex(kernel_end);
            return Error::kOutOfRange;
        }
        l.dtb_ipa = dtb;
    } else if (dtb_at_top) {
        if (l.dtb_size_max > size) {
            start(p, LayoutPart::kDtb).add("no room for the DTB");
            return Error::kOutOfRange;
        }
        std::uint64_t dtb = end - l.dtb_size_max;
        // booting.rst: the kernel maps the DTB with blocks of up to 2 MiB, so it must not
        // straddle a 2 MiB boundary; the only boundary it can straddle is the last one in RAM.
        const std::uint64_t boundary = align_down(end, k2MiB);
        if (align_down(dtb, k2MiB) != align_down(end - 1, k2MiB) && boundary >= base &&
            boundary - base >= l.dtb_size_max) {
            dtb = boundary - l.dtb_size_max;
        }
        if (kernel_end > dtb) {
            start(p, LayoutPart::kKernel)
                .add("image of ")
                .hex(l.kernel_footprint)
                .add(" bytes at ")
                .hex(l.kernel_ipa)
                .add(" overlaps the DTB at ")
                .hex(dtb);
            return Error::kOutOfRange;
        }
        l.dtb_ipa = dtb;
    } else {
        l.dtb_ipa = base;
    }

    if (guest.initrd.size != 0) {
        // Just below the DTB if the DTB lies above the kernel, else at the top of RAM (and
        // above the DTB when the DTB lies at the bottom).
        const bool dtb_above = l.kernel_footprint != 0 ? l.dtb_ipa >= kernel_end : l.dtb_ipa > base;
        const std::uint64_t limit = dtb_above ? l.dtb_ipa : end;
        const std::uint64_t low = dtb_above || l.dtb_ipa + l.dtb_size_max <= kernel_end
                                      ? kernel_end
                                      : l.dtb_ipa + l.dtb_size_max;
        const std::uint64_t ipa =
            guest.initrd.size > limit ? 0 : align_down(limit - guest.initrd.size, kPage);
        if (limit < low || guest.initrd.size > limit - low || ipa < low) {
            start(p, LayoutPart::kInitrd)
                .add("initrd of ")
                .hex(guest.initrd.size)
                .add(" bytes does not fit between ")
                .hex(low)
                .add(" and ")
                .hex(limit);
            return Error::kOutOfRange;
        }
        l.initrd_ipa = ipa;
        l.initrd_size = guest.initrd.size;
    }
    // With flash, the vCPU starts at its first instruction, as a CPU out of reset does; a
    // kernel given too waits in RAM for the firmware to boot it.
    l.entry_ipa = guest.has_flash() ? kVirtFlashBase : l.kernel_ipa;
    return l;
}

}  // namespace corvisor
