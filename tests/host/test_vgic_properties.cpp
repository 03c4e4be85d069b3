// Properties of the vGIC's incrementally kept delivery state: after any sequence of operations it
// equals a recomputation from scratch (Vgic::consistent), and every flush leaves the LRs as the
// priority rules say. Also the access hook's exceptions and hardware mappings of pending inputs.
#include <random>

#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

namespace {

using Ids = std::vector<std::uint32_t>;

/// One random operation of any kind: register writes (including GICD_CTLR and GICD_IROUTER),
/// inputs, SGIs, the guest acknowledging and deactivating, sync, flush, resets.
template <typename Rng>
void random_op(VgicFixture& f, Rng& rng, std::uint32_t vcpus, std::uint32_t spis) {
    const auto v = static_cast<std::uint32_t>(rng() % vcpus);
    const auto intid = static_cast<std::uint32_t>(rng() % (32 + spis + 8));
    const std::uint64_t word = 4 * (rng() % (1 + spis / 32));
    const std::uint64_t bits = (rng() & 1) != 0 ? rng() : 1ull << (rng() % 32);
    switch (rng() % 20) {
        case 0:
            f.dist_write(gicd::kCtlr, rng() % 4);
            break;
        case 1:
            f.dist_write((rng() & 1) != 0 ? gicd::kIsenabler + word : gicd::kIcenabler + word,
                         bits);
            break;
        case 2:
            f.dist_write((rng() & 1) != 0 ? gicd::kIspendr + word : gicd::kIcpendr + word, bits);
            break;
        case 3:
            f.dist_write((rng() & 1) != 0 ? gicd::kIsactiver + word : gicd::kIcactiver + word,
                         bits);
            break;
        case 4:
            f.dist_write(gicd::kIpriorityr + 32 + rng() % (spis + 8), rng() & 0xff, 1);
            break;
        case 5:
            f.dist_write(gicd::kIcfgr + 8 + 4 * (rng() % (spis / 16 + 1)), rng());
            break;
        case 6:
            f.dist_write(gicd::kIrouter + 8 * (32 + rng() % spis), rng() % (vcpus + 1), 8);
            break;
        case 7:
            f.sgi_write(v, (rng() & 1) != 0 ? gicd::kIsenabler : gicd::kIgroupr, bits);
            break;
        case 8:
            f.sgi_write(v, (rng() & 1) != 0 ? gicd::kIspendr : gicd::kIcactiver, bits);
            break;
        case 9:
        case 10:
            f.gic->set_level(v, intid, (rng() & 1) != 0);
            break;
        case 11:
            f.gic->sgi(v, (rng() & 0xff) | (rng() % 16) << 24 | (rng() % 4 == 0 ? 1ull << 40 : 0));
            break;
        case 12:
        case 13: {
            // What a guest does to an LR: acknowledge, deactivate, sometimes both at once.
            const auto n = static_cast<std::uint32_t>(rng() % 4);
            const LrState s = f.lr(v, n).state();
            if (s == LrState::kPending) {
                f.guest_sets(v, n, rng() % 3 == 0 ? LrState::kInvalid : LrState::kActive);
            } else if (s != LrState::kInvalid) {
                f.guest_sets(v, n, static_cast<LrState>(static_cast<int>(s) & 1));
            }
            break;
        }
        case 14:
        case 15:
            f.sync(v);
            break;
        case 16:
            if (rng() % 100 == 0) {
                f.gic->distributor().reset();
            }
            break;
        default:
            f.flush(v);
            break;
    }
}

}  // namespace

TEST_CASE("Incremental delivery state matches a full recomputation after random operations",
          "[vgic]") {
    const std::array<std::array<std::uint32_t, 3>, 4> configs = {{
        {1, 32, 4},  // vCPUs, SPIs, LRs
        {2, 64, 4},
        {3, 32, 2},
        {4, 96, 1},
    }};
    for (const auto& [vcpus, spis, lr_count] : configs) {
        VgicFixture f(vcpus, spis);
        for (ListRegisterFile& lrs : f.lrs) {
            lrs.count = lr_count;
        }
        f.gic->map_hardware(0, 27, 27);
        f.dist_write(gicd::kCtlr, 3);
        std::mt19937_64 rng(vcpus * 1000 + spis);
        for (int i = 0; i < 20000; ++i) {
            random_op(f, rng, vcpus, spis);
            REQUIRE(f.gic->consistent());
        }
    }
}

TEST_CASE("Every flush leaves the highest-priority pending interrupts in the LRs", "[vgic]") {
    // One vCPU, SPIs routed to it: what waits outside the LRs never outranks a pending-only LR,
    // and waits only when every LR is in use (with UIE set to come back for it).
    constexpr std::uint32_t kSpis = 64;
    VgicFixture f(1, kSpis);
    f.dist_write(gicd::kCtlr, 3);
    std::mt19937_64 rng(99);
    for (int i = 0; i < 20000; ++i) {
        const auto intid = static_cast<std::uint32_t>(rng() % (32 + kSpis));
        switch (rng() % 6) {
            case 0:
                f.prepare(0, intid, static_cast<std::uint8_t>(rng() & 0xf8));
                break;
            case 1:
                f.gic->set_level(0, intid, (rng() & 1) != 0);
                break;
            case 2:
                f.gic->sgi(0, 1 | (rng() % 16) << 24);
                break;
            default: {
                const auto n = static_cast<std::uint32_t>(rng() % 4);
                if (f.lr(0, n).state() == LrState::kPending) {
                    f.guest_sets(0, n, LrState::kActive);
                } else if (f.lr(0, n).state() != LrState::kInvalid) {
                    f.guest_sets(0, n, LrState::kInvalid);
                }
                f.sync(0);
                break;
            }
        }
        f.flush(0);
        std::uint32_t lowest_pending_lr = 0;  // the numerically highest priority value
        std::array<bool, 32 + kSpis> in_lr{};
        for (std::uint32_t n = 0; n < 4; ++n) {
            const ListRegister lr = f.lr(0, n);
            REQUIRE(((f.lrs[0].in_use >> n) & 1) == (lr.state() != LrState::kInvalid));
            if (lr.state() != LrState::kInvalid) {
                in_lr[lr.vintid()] = true;
            }
            if (lr.state() == LrState::kPending && lr.priority() > lowest_pending_lr) {
                lowest_pending_lr = lr.priority();
            }
        }
        bool waiting = false;
        for (std::uint32_t id = 0; id < 32 + kSpis; ++id) {
            const bool deliverable =
                f.gic->pending(0, id) && f.gic->enabled(0, id) && !f.gic->active(0, id);
            if (deliverable && !in_lr[id]) {
                waiting = true;
                REQUIRE(f.lrs[0].in_use == 0xf);
                REQUIRE(f.gic->priority(0, id) >= lowest_pending_lr);
            }
        }
        REQUIRE(f.lrs[0].hcr == (IchHcrEl2{}.set_en(true).set_uie(waiting).value()));
        REQUIRE(f.gic->consistent());
    }
}

TEST_CASE("Reads of constant distributor registers skip the access hook", "[vgic]") {
    VgicFixture f;
    int calls = 0;
    f.gic->set_access_hook([](void* ctx, std::uint32_t, bool) { ++*static_cast<int*>(ctx); },
                           &calls);
    CHECK(f.dist_read(gicd::kTyper) == ((9u << 19) | 2));
    CHECK(f.dist_read(gicd::kIidr) == 0x43b);
    CHECK(f.dist_read(gicd::kTyper2) == 0);
    CHECK(f.dist_read(gicd::kPidr2) == 0x3b);
    CHECK(calls == 0);
    f.dist_read(gicd::kCtlr);
    f.dist_read(gicd::kIspendr + 4);
    f.dist_write(gicd::kTyper, 0);  // a write: the hook runs, whatever it does
    f.dist_read(gicd::kTyper, 1);   // another width: RAZ, through the general path
    f.rd_read(0, gicr::kTyper);
    CHECK(calls == 5);
    CHECK(f.dist_read(gicd::kTyper, 1) == 0);
}

TEST_CASE("Mapping a pending input to hardware refreshes its deliverability", "[vgic]") {
    // An edge-configured SPI with its line high and no edge latched is not pending; once mapped
    // to hardware it pends on its level, at once.
    VgicFixture f;
    f.prepare(0, 40);
    f.make_edge(40);
    f.gic->set_level(0, 40, true);
    f.dist_write(gicd::kIcpendr + 4, 1u << 8);
    f.notified.clear();
    CHECK_FALSE(f.gic->deliverable(0));
    f.gic->map_hardware(0, 40, 40);
    CHECK(f.gic->deliverable(0));
    CHECK(f.notified == Ids{0});
    CHECK(f.flush(0));
    CHECK(f.lr(0, 0).hw());
    CHECK(f.gic->consistent());
}
