// The vGIC's routing: SGI decoding, SPI ownership across vCPUs, wake-up notifications.
#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

TEST_CASE("SGIs: target lists, range selector, affinity, broadcast", "[vgic]") {
    VgicFixture f(4, 32);
    for (std::uint32_t v = 0; v < 4; ++v) {
        f.prepare(v, 3);
    }
    const auto sgi1r = [](std::uint64_t targets, std::uint64_t intid) {
        return targets | intid << 24;
    };
    f.gic->sgi(0, sgi1r(0b0110, 3));
    CHECK(f.notified == Ids{1, 2});
    CHECK_FALSE(f.gic->pending(0, 3));
    CHECK(f.gic->pending(1, 3));
    CHECK(f.gic->pending(2, 3));
    CHECK_FALSE(f.gic->pending(3, 3));
    f.notified.clear();

    f.gic->sgi(0, sgi1r(0xfff0, 5));            // vCPUs 4-15 do not exist
    f.gic->sgi(0, sgi1r(0b1, 5) | 1ull << 44);  // RS = 1: Aff0 16
    f.gic->sgi(0, sgi1r(0b1, 5) | 1ull << 16);  // Aff1 = 1
    f.gic->sgi(0, sgi1r(0b1, 5) | 1ull << 32);  // Aff2 = 1
    f.gic->sgi(0, sgi1r(0b1, 5) | 1ull << 48);  // Aff3 = 1
    for (std::uint32_t v = 0; v < 4; ++v) {
        CHECK_FALSE(f.gic->pending(v, 5));
    }
    f.set_bit(gicd::kIgroupr, 3, 7);  // Group 1, left disabled
    f.gic->sgi(3, sgi1r(0b1000, 7));  // to itself
    CHECK(f.gic->pending(3, 7));
    CHECK(f.notified.empty());  // SGI 7 is not enabled

    f.gic->sgi(2, sgi1r(0, 3) | 1ull << 40);  // IRM: everyone but the sender
    CHECK(f.gic->pending(0, 3));
    CHECK(f.gic->pending(3, 3));
    CHECK(f.notified == Ids{0, 3});  // 1 and 2 were pending already

    f.flush(1);
    CHECK(f.lr(1, 0).vintid() == 3);
    CHECK_FALSE(f.lr(1, 0).hw());
    CHECK((f.lr(1, 0).raw() & kEoiBit) == 0);  // SGIs are edge-triggered
}

TEST_CASE("Notify fires exactly when an interrupt becomes deliverable or changes in an LR",
          "[vgic]") {
    VgicFixture f(2, 32);
    f.gic->set_level(0, 40, true);  // disabled: nothing
    CHECK(f.notified.empty());
    f.prepare(0, 40);  // group 1, enabled: now deliverable
    CHECK(f.notified == Ids{0});
    f.gic->set_level(0, 40, true);
    f.dist_write(gicd::kIspendr + 4, 1u << 8);  // already pending
    CHECK(f.notified == Ids{0});
    f.dist_write(gicd::kCtlr, 0);
    f.dist_write(gicd::kCtlr, gicd::kCtlrGrp1);
    CHECK(f.notified == Ids{0, 0});
    f.dist_write(gicd::kIcenabler + 4, 1u << 8);
    f.dist_write(gicd::kIsenabler + 4, 1u << 8);
    CHECK(f.notified == Ids{0, 0, 0});
    f.dist_write(gicd::kIrouter + 8 * 40, 1, 8);  // moves to vCPU 1
    CHECK(f.notified == Ids{0, 0, 0, 1});
    CHECK_FALSE(f.gic->deliverable(0));
    f.flush(1);  // in vCPU 1's LR now: stays there even when rerouted
    f.notified.clear();
    f.dist_write(gicd::kIrouter + 8 * 40, 0, 8);
    CHECK(f.gic->deliverable(1));
    CHECK_FALSE(f.gic->deliverable(0));
    // Each change of an interrupt in an LR tells that LR's vCPU to flush before it runs on.
    CHECK(f.notified == Ids{1});
    f.gic->set_level(0, 40, false);
    f.dist_write(gicd::kIcpendr + 4, 1u << 8);
    CHECK(f.notified == Ids{1, 1, 1});
    f.flush(1);
    CHECK(f.lrs[1].in_use == 0);
    f.gic->set_level(0, 40, true);  // out of the LR: follows the new route
    CHECK(f.notified == Ids{1, 1, 1, 0});
    // PPIs and the ISPENDR of an SGI.
    f.notified.clear();
    f.prepare(1, 20);
    f.gic->set_level(1, 20, true);
    f.prepare(1, 2);
    f.sgi_write(1, gicd::kIspendr, 1u << 2);
    CHECK(f.notified == Ids{1, 1});
    // Inputs for INTIDs or vCPUs that do not exist.
    f.gic->set_level(2, 20, true);
    f.gic->set_level(0, 64, true);
    f.gic->set_level(0, 5, true);
    f.gic->map_hardware(0, 300, 27);
    CHECK(f.notified == Ids{1, 1});
    CHECK_FALSE(f.flush(2));
}

TEST_CASE("An SPI in one vCPU's LR is never in another's, and an INTID fills one LR", "[vgic]") {
    VgicFixture f(2, 32);
    f.prepare(0, 40);
    f.gic->set_level(0, 40, true);
    f.flush(0);
    f.dist_write(gicd::kIrouter + 8 * 40, 1, 8);
    f.flush(1);
    CHECK(f.lrs[1].in_use == 0);
    f.flush(0);
    CHECK(f.lr_intids(0) == Ids{40, kNoLr, kNoLr, kNoLr});
    f.guest_sets(0, 0, LrState::kInvalid);  // completed on vCPU 0; still high
    f.notified.clear();
    f.sync(0);
    CHECK(f.notified == Ids{1});  // now it goes to vCPU 1
    f.flush(0);
    CHECK(f.lrs[0].in_use == 0);
    f.flush(1);
    CHECK(f.lr_intids(1) == Ids{40, kNoLr, kNoLr, kNoLr});
}

TEST_CASE("SGIs reach only targets whose SGI is in the group the register generates", "[vgic]") {
    // DS = 1: ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 generate Group 1 SGIs, ICC_SGI0R_EL1 Group 0 ones.
    VgicFixture f(2, 32);
    f.prepare(1, 3);                          // SGI 3 of vCPU 1: Group 1
    const std::uint64_t to_1 = 0b10;          // TargetList: vCPU 1
    f.gic->sgi(0, to_1 | 3ull << 24, false);  // Group 0: not for a Group 1 SGI
    CHECK_FALSE(f.gic->pending(1, 3));
    f.gic->sgi(0, to_1 | 3ull << 24, true);
    CHECK(f.gic->pending(1, 3));
    // SGI 4 left in Group 0 (its reset state): only the Group 0 register reaches it.
    f.gic->sgi(0, to_1 | 4ull << 24, true);
    CHECK_FALSE(f.gic->pending(1, 4));
    f.gic->sgi(0, to_1 | 4ull << 24, false);
    CHECK(f.gic->pending(1, 4));
    // The same for several targets at once.
    f.prepare(0, 5);
    f.gic->sgi(1, 0b11 | 5ull << 24, true);  // vCPU 0 has SGI 5 in Group 1, vCPU 1 in Group 0
    CHECK(f.gic->pending(0, 5));
    CHECK_FALSE(f.gic->pending(1, 5));
}
