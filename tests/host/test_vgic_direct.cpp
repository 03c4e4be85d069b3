// Direct injection (Vgic::refire, Vgic::sgi_refire): a hardware-linked PPI or an SGI to self
// that fires again while the model still holds it in an LR the guest has emptied is written
// back into that LR alone. These tests hold it to the general way (sync, input, flush).
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

namespace {

constexpr std::uint32_t kTimer = 27;  // the virtual timer's PPI, hardware-linked to PPI 27
constexpr std::uint32_t kSpi = 40;    // level-sensitive, software

/// ICC_SGI1R_EL1 for SGI `intid` to the vCPUs in `targets` (Aff0 bits).
constexpr std::uint64_t sgi1r(std::uint32_t intid, std::uint32_t targets) {
    return std::uint64_t{intid} << 24 | targets;
}

/// What ICH_ELRSR_EL2 shows for an LR image (IHI 0069H 12.5.6).
std::uint32_t empty_of(const ListRegisterFile& lrs) {
    std::uint32_t empty = 0;
    for (std::uint32_t n = 0; n < lrs.count; ++n) {
        const ListRegister lr = lrs.lr[n];
        if (lr.state() == LrState::kInvalid && (lr.hw() || !lr.eoi_maintenance())) {
            empty |= 1u << n;
        }
    }
    return empty;
}

constexpr std::uint32_t kNone = Vgic::kNoLr;

std::uint32_t lr_of(VgicFixture& f, std::uint32_t vcpu, std::uint32_t intid) {
    return lr_holding(f.lrs[vcpu].lr.data(), f.lrs[vcpu].count, intid);
}

void setup_timer(VgicFixture& f) {
    f.gic->map_hardware(0, kTimer, kTimer);
    f.prepare(0, kTimer);
}

}  // namespace

TEST_CASE("refire writes a hardware PPI back into the LR the guest emptied, and nothing else",
          "[vgic]") {
    VgicFixture f(1, 32);
    setup_timer(f);
    f.gic->set_level(0, kTimer, true);
    REQUIRE(f.flush(0));
    const std::uint32_t n = lr_of(f, 0, kTimer);
    REQUIRE(n != kNone);
    const ListRegister written = f.lr(0, n);
    CHECK(written.hw());
    CHECK(written.pintid() == kTimer);
    CHECK(written.state() == LrState::kPending);

    // Not emptied yet (pending, then active): no direct way.
    CHECK(f.gic->refire(0, kTimer, empty_of(f.lrs[0]), f.lrs[0]) == Vgic::kNoLr);
    f.guest_sets(0, n, LrState::kActive);
    CHECK(f.gic->refire(0, kTimer, empty_of(f.lrs[0]), f.lrs[0]) == Vgic::kNoLr);
    CHECK(f.lr(0, n).state() == LrState::kActive);

    // Deactivated: the next firing rewrites exactly that LR as the flush wrote it.
    f.guest_sets(0, n, LrState::kInvalid);
    f.notified.clear();
    CHECK(f.gic->refire(0, kTimer, empty_of(f.lrs[0]), f.lrs[0]) == n);
    CHECK(f.lr(0, n).raw() == written.raw());
    CHECK(f.notified.empty());
    CHECK(f.gic->consistent());
    // The model needs nothing: a sync finds the LR as written, a flush has nothing to do.
    f.sync(0);
    CHECK_FALSE(f.flush(0));
    CHECK(f.gic->pending(0, kTimer));
    CHECK(f.gic->deliverable(0));
}

TEST_CASE("refire refuses what only the general way can do", "[vgic]") {
    VgicFixture f(1, 32);
    setup_timer(f);
    f.prepare(0, kSpi);
    f.prepare(0, 3);

    SECTION("an interrupt in no LR") {
        CHECK(f.gic->refire(0, kTimer, 0xf, f.lrs[0]) == Vgic::kNoLr);
        f.gic->set_level(0, kTimer, true);  // pending, but not flushed yet
        CHECK(f.gic->refire(0, kTimer, 0xf, f.lrs[0]) == Vgic::kNoLr);
    }
    SECTION("an LR the model changed since the flush") {
        f.gic->set_level(0, kTimer, true);
        f.flush(0);
        const std::uint32_t n = lr_of(f, 0, kTimer);
        f.guest_sets(0, n, LrState::kInvalid);
        f.sgi_write(0, gicd::kIcenabler, 1u << kTimer);  // disabled meanwhile
        const ListRegisterFile before = f.lrs[0];
        CHECK(f.gic->refire(0, kTimer, empty_of(f.lrs[0]), f.lrs[0]) == Vgic::kNoLr);
        for (std::uint32_t i = 0; i < kMaxListRegisters; ++i) {
            CHECK(f.lrs[0].lr[i].raw() == before.lr[i].raw());
        }
    }
    SECTION("an LR the hardware does not show empty (level-sensitive: EOI maintenance owed)") {
        f.gic->set_level(0, kSpi, true);
        f.flush(0);
        const std::uint32_t n = lr_of(f, 0, kSpi);
        REQUIRE(f.lr(0, n).eoi_maintenance());
        f.guest_sets(0, n, LrState::kInvalid);
        CHECK((empty_of(f.lrs[0]) >> n & 1u) == 0);
        CHECK(f.gic->refire(0, kSpi, empty_of(f.lrs[0]), f.lrs[0]) == Vgic::kNoLr);
    }
    SECTION("an SGI to anyone but the sender alone") {
        VgicFixture g(2, 32);
        g.prepare(0, 3);
        g.prepare(1, 3);
        g.gic->sgi(0, sgi1r(3, 1));
        g.flush(0);
        const std::uint32_t n = lr_of(g, 0, 3);
        REQUIRE(n != kNone);
        g.guest_sets(0, n, LrState::kInvalid);
        const std::uint32_t empty = empty_of(g.lrs[0]);
        CHECK(g.gic->sgi_refire(0, sgi1r(3, 0b10), empty, g.lrs[0]) == Vgic::kNoLr);  // vCPU 1
        CHECK(g.gic->sgi_refire(0, sgi1r(3, 0b11), empty, g.lrs[0]) == Vgic::kNoLr);  // both
        CHECK(g.gic->sgi_refire(0, sgi1r(3, 1) | 1ull << 40, empty, g.lrs[0]) == Vgic::kNoLr);
        CHECK(g.gic->sgi_refire(0, sgi1r(3, 1) | 1ull << 16, empty, g.lrs[0]) == Vgic::kNoLr);
        CHECK(g.gic->sgi_refire(0, sgi1r(4, 1), empty, g.lrs[0]) == Vgic::kNoLr);  // not in LR
        CHECK(g.gic->sgi_refire(0, sgi1r(3, 1), empty, g.lrs[0]) == n);
        CHECK(g.lr(0, n).vintid() == 3);
        CHECK(g.lr(0, n).state() == LrState::kPending);
        CHECK(g.gic->consistent());
    }
}

// Two vGICs see the same guest: `fast` takes the direct way whenever it applies and syncs its
// LRs only when the vCPU would (notified, a refire refused, a maintenance interrupt, a vGIC
// access, interrupts waiting for an LR); `general` syncs and flushes at every entry and never
// refires. After every entry the
// guest must see the same interrupts in the same states, and the models must agree.
TEST_CASE("Direct injection shows the guest what the general way shows", "[vgic]") {
    VgicFixture fast(1, 32);
    VgicFixture general(1, 32);
    const std::vector<std::uint32_t> ids = {0, 1, 2, kTimer, kSpi};
    std::mt19937 rng(11);
    for (VgicFixture* f : {&fast, &general}) {
        setup_timer(*f);
        std::mt19937 prio(3);  // the same priorities in both
        for (std::uint32_t id : ids) {
            f->prepare(0, id, static_cast<std::uint8_t>(prio() & 0xf8));
        }
    }
    bool attention = true;
    bool timer_active = false;  // the physical PPI: from firing until the guest deactivates it
    int refired = 0;
    int general_way = 0;
    auto on_both = [&](auto&& fn) {
        fn(fast);
        fn(general);
    };
    // "intid:state" of each valid LR (state 1 pending, 2 active, 3 both), by INTID.
    auto shown = [](VgicFixture& f) {
        std::vector<std::string> out;
        for (std::uint32_t n = 0; n < f.lrs[0].count; ++n) {
            const ListRegister lr = f.lr(0, n);
            if (lr.state() != LrState::kInvalid) {
                out.push_back(std::to_string(lr.vintid()) + ":" +
                              std::to_string(static_cast<int>(lr.state())) + (lr.hw() ? "hw" : ""));
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    auto guest_runs = [&] {
        // A few acknowledges and deactivations, the same in both (the guest sees the same LRs).
        for (auto k = static_cast<std::uint32_t>(rng() % 6); k != 0; --k) {
            // One of the interrupts it sees: what `fast` shows in some LR.
            const ListRegister seen = fast.lr(0, static_cast<std::uint32_t>(rng() % 4));
            if (seen.state() == LrState::kInvalid) {
                continue;
            }
            const std::uint32_t id = seen.vintid();
            const bool ack = (rng() & 1) != 0;
            bool deactivated = false;
            on_both([&](VgicFixture& f) {
                const std::uint32_t n = lr_of(f, 0, id);
                if (n == kNone) {
                    return;
                }
                const LrState s = f.lr(0, n).state();
                if (ack && s == LrState::kPending) {
                    f.guest_sets(0, n, LrState::kActive);
                } else if (!ack && s == LrState::kActive) {
                    f.guest_sets(0, n, LrState::kInvalid);
                    deactivated = true;
                } else if (!ack && s == LrState::kPendingActive) {
                    f.guest_sets(0, n, LrState::kPending);
                }
            });
            if (deactivated && id == kTimer) {
                timer_active = false;
            }
        }
    };
    for (int step = 0; step < 40000; ++step) {
        guest_runs();
        // One exit, with at most one input.
        const std::uint32_t id = ids[rng() % ids.size()];
        // Weighted: timer 6, SGI 6, device line 2, vGIC access 1, nothing 5 (in 20).
        const auto pick = rng() % 20;
        const int op = pick < 6 ? 0 : pick < 12 ? 1 : pick < 14 ? 2 : pick < 15 ? 3 : 4;
        switch (op) {
            case 0:  // the timer fires (the physical PPI cannot while still active)
                if (timer_active) {
                    break;
                }
                timer_active = true;
                if (fast.gic->refire(0, kTimer, empty_of(fast.lrs[0]), fast.lrs[0]) !=
                    Vgic::kNoLr) {
                    ++refired;
                } else {
                    ++general_way;
                    fast.sync(0);
                    attention = true;
                    fast.gic->set_level(0, kTimer, true);
                }
                general.sync(0);
                general.gic->set_level(0, kTimer, true);
                break;
            case 1: {  // an SGI to itself
                const std::uint64_t v = sgi1r(id % 3, 1);
                if (fast.gic->sgi_refire(0, v, empty_of(fast.lrs[0]), fast.lrs[0]) != Vgic::kNoLr) {
                    ++refired;
                } else {
                    ++general_way;
                    fast.gic->sgi(0, v);
                }
                general.gic->sgi(0, v);
                break;
            }
            case 2: {  // the device's line
                const bool level = (rng() & 1) != 0;
                on_both([&](VgicFixture& f) { f.gic->set_level(0, kSpi, level); });
                break;
            }
            case 3:  // a vGIC register access: the access hook syncs
                fast.sync(0);
                attention = true;
                general.sync(0);
                for (std::uint32_t i : ids) {
                    REQUIRE(fast.gic->pending(0, i) == general.gic->pending(0, i));
                    REQUIRE(fast.gic->active(0, i) == general.gic->active(0, i));
                }
                break;
            default:  // an exit that has nothing to do with interrupts
                break;
        }
        REQUIRE(fast.gic->consistent());
        // Entry. EOI maintenance: an LR the guest emptied whose EOI bit asks for it.
        for (std::uint32_t n = 0; n < fast.lrs[0].count; ++n) {
            const ListRegister lr = fast.lr(0, n);
            if (lr.state() == LrState::kInvalid && lr.eoi_maintenance() && !lr.hw()) {
                attention = true;
            }
        }
        if (attention || !fast.notified.empty()) {
            fast.sync(0);
            fast.flush(0);
        }
        // While interrupts wait for a free LR (UIE), the vCPU syncs at every entry.
        attention = IchHcrEl2(fast.lrs[0].hcr).uie();
        fast.notified.clear();
        general.sync(0);
        general.flush(0);
        INFO("step " << step);
        REQUIRE(shown(fast) == shown(general));
        REQUIRE(fast.gic->consistent());
    }
    // Both ways were taken, many times.
    INFO("refired " << refired << " general " << general_way);
    CHECK(refired > 1000);
    CHECK(general_way > 1000);
}

// The SGI mailbox (Vcpu::post_sgi): an SGI from a vCPU on another pCPU, taken on the target's
// own pCPU by take_sgi / take_sgis, must end as sgi() would leave it.
TEST_CASE("A mailed SGI is written back into the LR the guest emptied, else pends in the model",
          "[vgic]") {
    for (const bool shared : {false, true}) {
        VgicFixture f(2, 32);
        f.gic = std::make_unique<Vgic>(Vgic::Config{2, 32, shared});
        f.gic->set_notify(&VgicFixture::on_notify, &f);
        f.prepare(1, 3);
        f.prepare(1, 5);
        INFO("shared " << shared);

        // First one: in no LR yet, so through the model (pending, vCPU 1 notified).
        CHECK(f.gic->take_sgi(1, 3, 0xf, f.lrs[1]) == Vgic::kNoLr);
        CHECK(f.gic->pending(1, 3));
        CHECK(f.notified == std::vector<std::uint32_t>{1});
        REQUIRE(f.flush(1));
        const std::uint32_t n = lr_of(f, 1, 3);
        REQUIRE(n != kNone);
        const ListRegister written = f.lr(1, n);

        // Taken and deactivated by the guest: the next one goes straight back into that LR.
        f.guest_sets(1, n, LrState::kInvalid);
        f.notified.clear();
        CHECK(f.gic->take_sgi(1, 3, empty_of(f.lrs[1]), f.lrs[1]) == n);
        CHECK(f.lr(1, n).raw() == written.raw());
        CHECK(f.notified.empty());
        CHECK(f.gic->consistent());
        const std::uint32_t m = n;

        // Two at once (take_sgis): SGI 3 refired into its LR, SGI 5 through the model.
        f.guest_sets(1, m, LrState::kInvalid);
        const std::uint32_t w =
            f.gic->take_sgis(1, (1u << 3) | (1u << 5), empty_of(f.lrs[1]), f.lrs[1]);
        CHECK(w == 1u << m);
        CHECK(f.gic->pending(1, 5));
        CHECK(f.gic->consistent());
    }
}

TEST_CASE("A mailed SGI whose LR the guest has not emptied pends in the model", "[vgic]") {
    VgicFixture f(2, 32);
    f.prepare(1, 3);
    CHECK(f.gic->take_sgi(1, 3, 0, f.lrs[1]) == Vgic::kNoLr);
    REQUIRE(f.flush(1));
    const std::uint32_t n = lr_of(f, 1, 3);
    REQUIRE(n != kNone);
    f.guest_sets(1, n, LrState::kActive);  // in its handler
    CHECK(f.gic->take_sgi(1, 3, empty_of(f.lrs[1]), f.lrs[1]) == Vgic::kNoLr);
    f.sync(1);
    CHECK(f.gic->active(1, 3));
    CHECK(f.gic->pending(1, 3));  // pending and active, as sgi() leaves it
    CHECK(f.gic->consistent());
}

TEST_CASE("A mailed SGI of the other group, or to a vCPU that does not exist, is not signalled",
          "[vgic]") {
    VgicFixture f(2, 32);
    f.prepare(1, 3);  // Group 1
    // Mailbox bit 16 + 3: a Group 0 SGI 3 (ICC_SGI0R_EL1), not signalled to a Group 1 SGI.
    CHECK(f.gic->take_sgi(1, 16 + 3, 0xf, f.lrs[1]) == Vgic::kNoLr);
    CHECK_FALSE(f.gic->pending(1, 3));
    CHECK(f.gic->take_sgi(2, 3, 0xf, f.lrs[1]) == Vgic::kNoLr);
    CHECK(f.gic->take_sgis(7, 1u << 3, 0xf, f.lrs[1]) == 0);
    CHECK(f.notified.empty());
    CHECK(f.gic->take_sgi(1, 3, 0xf, f.lrs[1]) == Vgic::kNoLr);
    CHECK(f.gic->pending(1, 3));
    CHECK(f.gic->consistent());
}
