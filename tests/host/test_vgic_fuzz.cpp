// Random register traffic against the vGIC: no crash, no phantom INTIDs, LR invariants kept.
#include <random>

#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

TEST_CASE("Random MMIO never crashes and never delivers an INTID that does not exist", "[vgic]") {
    constexpr std::uint32_t kVcpus = 3, kSpis = 64;
    VgicFixture f(kVcpus, kSpis);
    std::mt19937_64 rng(12345);
    const std::array<std::uint8_t, 4> sizes = {1, 2, 4, 8};
    for (int i = 0; i < 200000; ++i) {
        const std::uint8_t size = sizes[rng() % 4];
        const bool write = (rng() & 1) != 0;
        const std::uint64_t data = (rng() & 1) != 0 ? ~0ull : rng();
        const bool dist = (rng() & 1) != 0;
        const std::uint64_t span = dist ? kGicDistSize : (kVcpus + 1) * gicr::kStride;
        std::uint64_t offset = rng() % span;
        if ((rng() & 3) != 0) {
            offset &= dist ? 0xfff : (gicr::kStride - 1) & ~0xf000ull;  // the busy parts
            if (!dist && (rng() & 1) != 0) {
                offset += gicr::kSgiBase + (rng() % kVcpus) * gicr::kStride;
            }
        }
        offset &= ~std::uint64_t{size - 1u};  // the bus only passes aligned accesses
        f.access(dist ? f.gic->distributor() : f.gic->redistributors(), offset, data, size, write);
        const auto v = static_cast<std::uint32_t>(rng() % kVcpus);
        switch (rng() % 8) {
            case 0:
                f.gic->sgi(v, rng());
                break;
            case 1:
                f.gic->set_level(v, static_cast<std::uint32_t>(rng() % 400), (rng() & 1) != 0);
                break;
            case 2: {
                f.flush(v);
                // The guest acknowledges or completes something.
                const auto n = static_cast<std::uint32_t>(rng() % 4);
                if ((f.lrs[v].in_use & (1u << n)) != 0) {
                    f.guest_sets(v, n, rng() % 4 == 0 ? LrState::kInvalid : LrState::kActive);
                }
                f.sync(v);
                break;
            }
            default:
                break;
        }
        if (i % 1000 == 0) {
            f.gic->distributor().reset();
        }
    }
    for (std::uint32_t v = 0; v < kVcpus; ++v) {
        f.flush(v);
        for (std::uint32_t n = 0; n < 4; ++n) {
            if (f.lr(v, n).state() != LrState::kInvalid) {
                CHECK(f.lr(v, n).vintid() < 32 + kSpis);
            }
        }
        if (f.gic->deliverable(v)) {
            bool found = false;
            for (std::uint32_t intid = 0; intid < 32 + kSpis; ++intid) {
                found = found || (f.gic->pending(v, intid) && f.gic->enabled(v, intid));
            }
            CHECK(found);
        }
    }
}

TEST_CASE("Random traffic keeps LR invariants", "[vgic]") {
    constexpr std::uint32_t kVcpus = 2, kSpis = 32;
    VgicFixture f(kVcpus, kSpis);
    f.dist_write(gicd::kCtlr, 3);
    for (std::uint64_t w = 1; w < 2; ++w) {
        f.dist_write(gicd::kIsenabler + 4 * w, 0xffffffff);
    }
    for (std::uint32_t v = 0; v < kVcpus; ++v) {
        f.sgi_write(v, gicd::kIsenabler, 0xffffffff);
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 50000; ++i) {
        const auto v = static_cast<std::uint32_t>(rng() % kVcpus);
        const auto intid = static_cast<std::uint32_t>(rng() % (32 + kSpis));
        switch (rng() % 6) {
            case 0:
                f.gic->set_level(v, intid, (rng() & 1) != 0);
                break;
            case 1:
                f.dist_write(gicd::kIrouter + 8 * (32 + rng() % kSpis), rng() % 3, 8);
                break;
            case 2:
                f.dist_write(gicd::kIpriorityr + 32 + rng() % kSpis, rng() & 0xff, 1);
                break;
            case 3:
                f.gic->sgi(v, (rng() & 0xf) | (rng() % 16) << 24 | (rng() % 2ull) << 40);
                break;
            default: {
                f.flush(v);
                const auto n = static_cast<std::uint32_t>(rng() % 4);
                const LrState s = f.lr(v, n).state();
                if (s == LrState::kPending) {
                    f.guest_sets(v, n, LrState::kActive);
                } else if (s == LrState::kActive || s == LrState::kPendingActive) {
                    f.guest_sets(v, n, static_cast<LrState>(static_cast<int>(s) & 1));
                }
                f.sync(v);
                break;
            }
        }
        // No INTID twice in one vCPU's LRs; no SPI in two vCPUs' LRs.
        std::array<int, 32 + kSpis> spi_holders{};
        for (std::uint32_t w = 0; w < kVcpus; ++w) {
            std::array<int, 32 + kSpis> seen{};
            for (std::uint32_t n = 0; n < 4; ++n) {
                if ((f.lrs[w].in_use & (1u << n)) != 0) {
                    const std::uint32_t id = f.lr(w, n).vintid();
                    REQUIRE(id < 32 + kSpis);
                    REQUIRE(++seen[id] == 1);
                    if (id >= 32) {
                        REQUIRE(++spi_holders[id] == 1);
                    }
                }
            }
        }
    }
}
