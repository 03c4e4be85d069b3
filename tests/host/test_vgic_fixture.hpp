// Shared helpers of the vGIC tests: a Vgic with its notifications recorded, MMIO helpers for both
// regions and a per-vCPU list-register image standing in for the hardware.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "fake_device_host.hpp"
#include "vgic/vgic.hpp"

namespace corvisor::test {

/// What the LR finders return for "in no LR", the EOI-maintenance bit of a software LR, a set
/// of INTIDs.
inline constexpr std::uint32_t kNoLr = 0xffffffffu;
inline constexpr std::uint64_t kEoiBit = ListRegister{}.set_eoi_maintenance(true).raw();
using Ids = std::vector<std::uint32_t>;

// Offsets written out from IHI 0069H (register maps), not taken from the model.
namespace gicd {
constexpr std::uint64_t kCtlr = 0x0, kTyper = 0x4, kIidr = 0x8, kTyper2 = 0xc, kIgroupr = 0x80,
                        kIsenabler = 0x100, kIcenabler = 0x180, kIspendr = 0x200, kIcpendr = 0x280,
                        kIsactiver = 0x300, kIcactiver = 0x380, kIpriorityr = 0x400, kIcfgr = 0xc00,
                        kIgrpmodr = 0xd00, kIrouter = 0x6000, kPidr4 = 0xffd0, kPidr0 = 0xffe0,
                        kPidr1 = 0xffe4, kPidr2 = 0xffe8, kCidr0 = 0xfff0;
constexpr std::uint32_t kCtlrGrp0 = 1, kCtlrGrp1 = 2, kCtlrAre = 0x10, kCtlrDs = 0x40;
}  // namespace gicd
namespace gicr {
constexpr std::uint64_t kCtlr = 0x0, kIidr = 0x4, kTyper = 0x8, kWaker = 0x14, kPidr0 = 0xffe0,
                        kPidr2 = 0xffe8, kSgiBase = 0x10000, kStride = 0x20000, kNsacr = 0xe00,
                        kIcfgr0 = 0xc00, kIcfgr1 = 0xc04;
}  // namespace gicr

/// The first of `count` list registers that shows `intid` (pending, active or both), or
/// Vgic::kNoLr.
inline std::uint32_t lr_holding(const ListRegister* lrs, std::uint32_t count, std::uint32_t intid) {
    for (std::uint32_t n = 0; n < count && n < kMaxListRegisters; ++n) {
        if (lrs[n].state() != LrState::kInvalid && lrs[n].vintid() == intid) {
            return n;
        }
    }
    return Vgic::kNoLr;
}

struct VgicFixture {
    explicit VgicFixture(std::uint32_t vcpus = 2, std::uint32_t spis = 64)
        : gic(std::make_unique<Vgic>(Vgic::Config{vcpus, spis})) {
        gic->set_notify(&on_notify, this);
        for (ListRegisterFile& f : lrs) {
            f.count = 4;
        }
    }

    static void on_notify(void* ctx, std::uint32_t vcpu) {
        static_cast<VgicFixture*>(ctx)->notified.push_back(vcpu);
    }

    std::uint64_t access(Device& dev, std::uint64_t offset, std::uint64_t data, std::uint8_t size,
                         bool write, std::uint32_t vcpu = 0) {
        MmioAccess a = write ? mmio_write(offset, data, size) : mmio_read(offset, size);
        a.set_vcpu(vcpu);
        MmioResult r = dev.mmio(a);
        REQUIRE(r.kind() == MmioResult::Kind::kDone);
        return r.value();
    }
    std::uint64_t dist_read(std::uint64_t offset, std::uint8_t size = 4) {
        return access(gic->distributor(), offset, 0, size, false);
    }
    void dist_write(std::uint64_t offset, std::uint64_t value, std::uint8_t size = 4) {
        access(gic->distributor(), offset, value, size, true);
    }
    std::uint64_t rd_read(std::uint32_t vcpu, std::uint64_t offset, std::uint8_t size = 4) {
        return access(gic->redistributors(), vcpu * gicr::kStride + offset, 0, size, false, vcpu);
    }
    void rd_write(std::uint32_t vcpu, std::uint64_t offset, std::uint64_t value,
                  std::uint8_t size = 4) {
        access(gic->redistributors(), vcpu * gicr::kStride + offset, value, size, true, vcpu);
    }
    std::uint64_t sgi_read(std::uint32_t vcpu, std::uint64_t offset, std::uint8_t size = 4) {
        return rd_read(vcpu, gicr::kSgiBase + offset, size);
    }
    void sgi_write(std::uint32_t vcpu, std::uint64_t offset, std::uint64_t value,
                   std::uint8_t size = 4) {
        rd_write(vcpu, gicr::kSgiBase + offset, value, size);
    }

    /// One bit-per-INTID register write for `intid` (distributor for SPIs, SGI frame otherwise).
    /// Read-modify-write, as IGROUPR needs (a plain store register).
    void set_bit(std::uint64_t base, std::uint32_t vcpu, std::uint32_t intid) {
        const std::uint64_t value = 1ull << (intid % 32);
        if (intid < 32) {
            sgi_write(vcpu, base, sgi_read(vcpu, base) | value);
        } else {
            const std::uint64_t reg = base + intid / 32 * 4;
            dist_write(reg, dist_read(reg) | value);
        }
    }
    /// Group 1, enabled, with `priority`; GICD_CTLR.EnableGrp1 on.
    void prepare(std::uint32_t vcpu, std::uint32_t intid, std::uint8_t priority = 0xa0) {
        dist_write(gicd::kCtlr, gicd::kCtlrGrp1 | (dist_read(gicd::kCtlr) & gicd::kCtlrGrp0));
        set_bit(gicd::kIgroupr, vcpu, intid);
        if (intid < 32) {
            sgi_write(vcpu, gicd::kIpriorityr + intid, priority, 1);
        } else {
            dist_write(gicd::kIpriorityr + intid, priority, 1);
        }
        set_bit(gicd::kIsenabler, vcpu, intid);
    }
    void make_edge(std::uint32_t intid) {
        const std::uint64_t reg = gicd::kIcfgr + intid / 16 * 4;
        dist_write(reg, dist_read(reg) | (2ull << (intid % 16 * 2)));
    }

    bool flush(std::uint32_t vcpu) { return gic->flush(vcpu, lrs[vcpu]); }
    void sync(std::uint32_t vcpu) { gic->sync(vcpu, lrs[vcpu]); }
    ListRegister& lr(std::uint32_t vcpu, std::uint32_t n) { return lrs[vcpu].lr[n]; }
    /// What the guest does to an LR: acknowledge (pending -> active), deactivate (-> invalid)...
    void guest_sets(std::uint32_t vcpu, std::uint32_t n, LrState s) { lr(vcpu, n).set_state(s); }
    /// The INTIDs in `vcpu`'s LRs, LR 0 first (0xffffffff for an invalid LR).
    std::vector<std::uint32_t> lr_intids(std::uint32_t vcpu) {
        std::vector<std::uint32_t> out;
        for (std::uint32_t n = 0; n < lrs[vcpu].count; ++n) {
            out.push_back(lr(vcpu, n).state() == LrState::kInvalid ? 0xffffffffu
                                                                   : lr(vcpu, n).vintid());
        }
        return out;
    }

    std::unique_ptr<Vgic> gic;
    std::vector<std::uint32_t> notified;
    std::array<ListRegisterFile, kMaxVcpus> lrs{};
};

}  // namespace corvisor::test
