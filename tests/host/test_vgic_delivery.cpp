// The vGIC's delivery: list-register allocation, level and edge semantics, hardware mappings.
#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

TEST_CASE("A pending level SPI goes into an LR with its priority, group and EOI bit", "[vgic]") {
    VgicFixture f;
    f.prepare(0, 40, 0xa0);
    CHECK_FALSE(f.gic->deliverable(0));
    f.gic->set_level(0, 40, true);
    CHECK(f.gic->deliverable(0));
    CHECK(f.flush(0));
    const ListRegister lr = f.lr(0, 0);
    CHECK(lr.vintid() == 40);
    CHECK(lr.priority() == 0xa0);
    CHECK(lr.group1());
    CHECK_FALSE(lr.hw());
    CHECK(lr.state() == LrState::kPending);
    CHECK((lr.raw() & kEoiBit) != 0);
    CHECK(f.lrs[0].hcr == IchHcrEl2{}.set_en(true).value());
    CHECK(f.lrs[0].in_use == 0x1);
    CHECK_FALSE(f.flush(0));  // nothing changed
    CHECK(f.gic->deliverable(0));
    CHECK_FALSE(f.gic->deliverable(1));
}

TEST_CASE("Group 0 interrupts need EnableGrp0 and use LR.Group = 0", "[vgic]") {
    VgicFixture f;
    f.dist_write(gicd::kIsenabler + 4, 1);  // SPI 32, group 0 from reset
    f.dist_write(gicd::kIspendr + 4, 1);
    f.dist_write(gicd::kCtlr, gicd::kCtlrGrp1);
    CHECK_FALSE(f.gic->deliverable(0));
    f.flush(0);
    CHECK(f.lrs[0].in_use == 0);
    f.dist_write(gicd::kCtlr, gicd::kCtlrGrp0);
    CHECK(f.gic->deliverable(0));
    f.flush(0);
    CHECK(f.lr(0, 0).vintid() == 32);
    CHECK_FALSE(f.lr(0, 0).group1());
    // Disabling the group takes a pending entry back out of its LR.
    f.dist_write(gicd::kCtlr, 0);
    CHECK(f.flush(0));
    CHECK(f.lrs[0].in_use == 0);
    CHECK(f.lr(0, 0).state() == LrState::kInvalid);
    CHECK(f.gic->pending(0, 32));
}

TEST_CASE("LR allocation: priority order, ties by INTID, overflow, UIE and refill", "[vgic]") {
    VgicFixture f;
    const std::array<std::uint8_t, 6> prio = {0x80, 0x40, 0x40, 0xc0, 0x20, 0x80};  // SPIs 32..37
    for (std::uint32_t i = 0; i < prio.size(); ++i) {
        f.prepare(0, 32 + i, prio[i]);
        f.make_edge(32 + i);
    }
    f.dist_write(gicd::kIspendr + 4, 0x3f);
    CHECK(f.flush(0));
    CHECK(f.lr_intids(0) == Ids{36, 33, 34, 32});
    CHECK(f.lrs[0].hcr == (IchHcrEl2{}.set_en(true).set_uie(true).value()));
    CHECK(f.lrs[0].in_use == 0xf);
    CHECK((f.lr(0, 0).raw() & kEoiBit) == 0);  // edge: no EOI maintenance

    // The guest takes and completes two (LRs 0 and 1 invalid); a maintenance exit syncs.
    f.guest_sets(0, 0, LrState::kInvalid);
    f.guest_sets(0, 1, LrState::kInvalid);
    f.sync(0);
    CHECK(f.lrs[0].in_use == 0xc);
    CHECK_FALSE(f.gic->pending(0, 36));
    CHECK_FALSE(f.gic->active(0, 33));
    CHECK(f.flush(0));
    CHECK(f.lr_intids(0) == Ids{37, 35, 34, 32});
    CHECK(f.lrs[0].hcr == IchHcrEl2{}.set_en(true).value());

    // Eight LRs take them all at once.
    VgicFixture g;
    g.lrs[0].count = 8;
    for (std::uint32_t i = 0; i < 6; ++i) {
        g.prepare(0, 32 + i, prio[i]);
    }
    g.dist_write(gicd::kIspendr + 4, 0x3f);
    g.flush(0);
    CHECK(g.lr_intids(0) == Ids{36, 33, 34, 32, 37, 35, kNoLr, kNoLr});
    CHECK(g.lrs[0].hcr == IchHcrEl2{}.set_en(true).value());

    // A single LR: UIE would be asserted at every entry, so it is not used.
    VgicFixture h;
    h.lrs[0].count = 1;
    h.prepare(0, 32);
    h.prepare(0, 33);
    h.dist_write(gicd::kIspendr + 4, 0x3);
    h.flush(0);
    CHECK(h.lr_intids(0) == Ids{32});
    CHECK(h.lrs[0].hcr == IchHcrEl2{}.set_en(true).value());
}

TEST_CASE("A higher-priority interrupt displaces the lowest pending entry", "[vgic]") {
    VgicFixture f;
    for (std::uint32_t i = 0; i < 4; ++i) {
        f.prepare(0, 32 + i, 0x80);
    }
    f.prepare(0, 40, 0x10);
    f.dist_write(gicd::kIspendr + 4, 0xf);
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);  // SPI 32 acknowledged: it cannot leave its LR
    f.sync(0);
    f.dist_write(gicd::kIspendr + 4, 1u << 8);  // SPI 40
    CHECK(f.flush(0));
    CHECK(f.lr_intids(0) == Ids{32, 33, 34, 40});
    CHECK(f.lr(0, 3).state() == LrState::kPending);
    CHECK(f.gic->pending(0, 35));  // back in the model, waiting
    CHECK(IchHcrEl2(f.lrs[0].hcr).uie());
}

TEST_CASE("Level interrupts are re-sampled when the guest deactivates them", "[vgic]") {
    VgicFixture f;
    f.prepare(0, 40);
    f.gic->set_level(0, 40, true);
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);  // acknowledged
    f.sync(0);
    CHECK(f.gic->active(0, 40));
    CHECK_FALSE(f.gic->deliverable(0));
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kActive);  // not pending and active: level
    f.guest_sets(0, 0, LrState::kInvalid);          // deactivated (EOI maintenance exit)
    f.sync(0);
    CHECK_FALSE(f.gic->active(0, 40));
    CHECK(f.gic->pending(0, 40));  // still asserted
    CHECK(f.gic->deliverable(0));
    CHECK(f.notified == Ids{0});  // no notification to the vCPU that is syncing
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kPending);
    // The device lowers its line before the guest took it: the entry leaves its LR.
    f.gic->set_level(0, 40, false);
    CHECK_FALSE(f.gic->deliverable(0));
    CHECK(f.flush(0));
    CHECK(f.lrs[0].in_use == 0);
    // Lowered while active: the LR stays active; deactivation leaves it idle.
    f.gic->set_level(0, 40, true);
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);
    f.sync(0);
    f.gic->set_level(0, 40, false);
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kActive);
    f.guest_sets(0, 0, LrState::kInvalid);
    f.sync(0);
    CHECK_FALSE(f.gic->pending(0, 40));
    CHECK(f.lrs[0].in_use == 0);
    CHECK(f.lr(0, 0).raw() == 0);  // the invalid entry, EOI bit and all, is cleared...
    CHECK(f.flush(0));             // ...and flush says so, for the hardware LR to be rewritten
    CHECK_FALSE(f.flush(0));
}

TEST_CASE("Edge interrupts pended again while active show pending and active", "[vgic]") {
    VgicFixture f;
    f.prepare(0, 41);
    f.make_edge(41);
    f.gic->set_level(0, 41, true);
    f.gic->set_level(0, 41, false);
    f.gic->set_level(0, 41, true);  // a second edge before the guest took the first: merged
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);
    f.sync(0);
    CHECK_FALSE(f.gic->pending(0, 41));
    f.gic->set_level(0, 41, false);
    f.gic->set_level(0, 41, true);
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kPendingActive);
    f.guest_sets(0, 0, LrState::kPending);  // the first deactivated
    f.sync(0);
    CHECK_FALSE(f.gic->active(0, 41));
    CHECK(f.gic->pending(0, 41));
    f.guest_sets(0, 0, LrState::kInvalid);  // the second taken and completed
    f.sync(0);
    CHECK_FALSE(f.gic->pending(0, 41));
    CHECK(f.lrs[0].in_use == 0);

    // An edge that arrives after the exit but before sync survives the acknowledge sync finds.
    f.dist_write(gicd::kIspendr + 4, 1u << 9);
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);
    f.dist_write(gicd::kIspendr + 4, 1u << 9);
    f.sync(0);
    CHECK(f.gic->pending(0, 41));
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kPendingActive);
}

TEST_CASE("Hardware-mapped interrupts: HW bit, pINTID, LR-owned state, withdrawal", "[vgic]") {
    VgicFixture f;
    f.gic->map_hardware(0, 27, 27);
    f.prepare(0, 27);
    f.gic->set_level(0, 27, true);
    f.flush(0);
    ListRegister lr = f.lr(0, 0);
    CHECK(lr.hw());
    CHECK(lr.pintid() == 27);
    CHECK(lr.vintid() == 27);
    CHECK(lr.state() == LrState::kPending);
    CHECK(lr.group1());
    f.gic->set_level(0, 27, true);  // in an LR: not pended again
    CHECK_FALSE(f.flush(0));
    // Withdrawn before the guest took it (timer masked or re-armed).
    f.gic->set_level(0, 27, false);
    CHECK_FALSE(f.gic->deliverable(0));
    CHECK(f.flush(0));
    CHECK(f.lrs[0].in_use == 0);
    CHECK(f.lr(0, 0).state() == LrState::kInvalid);
    // Taken and completed: inactive and not pending, though nobody lowered the level.
    f.gic->set_level(0, 27, true);
    f.flush(0);
    f.guest_sets(0, 0, LrState::kActive);
    f.sync(0);
    CHECK(f.gic->active(0, 27));
    CHECK_FALSE(f.gic->pending(0, 27));
    f.gic->set_level(0, 27, false);  // withdrawal has no effect on an active one
    f.flush(0);
    CHECK(f.lr(0, 0).state() == LrState::kActive);
    f.guest_sets(0, 0, LrState::kInvalid);
    f.sync(0);
    CHECK_FALSE(f.gic->active(0, 27));
    CHECK_FALSE(f.gic->pending(0, 27));
    CHECK(f.lrs[0].in_use == 0);
    f.gic->set_level(0, 27, true);  // fires again
    f.flush(0);
    f.guest_sets(0, 0, LrState::kInvalid);  // acknowledged and deactivated in one run
    f.sync(0);
    CHECK_FALSE(f.gic->pending(0, 27));
    CHECK_FALSE(f.gic->deliverable(0));
    // vCPU 1's PPI 27 is not mapped.
    f.prepare(1, 27);
    f.gic->set_level(1, 27, true);
    f.flush(1);
    CHECK_FALSE(f.lr(1, 0).hw());
    CHECK((f.lr(1, 0).raw() & kEoiBit) != 0);
}
