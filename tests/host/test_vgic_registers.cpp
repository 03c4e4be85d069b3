// The vGIC's distributor and redistributor register models, register by register.
#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

TEST_CASE("GICD identification and control registers reset as a DS=1, ARE=1 GICv3", "[vgic]") {
    VgicFixture f;
    CHECK(f.dist_read(gicd::kCtlr) == (gicd::kCtlrAre | gicd::kCtlrDs));
    CHECK(f.dist_read(gicd::kIidr) == 0x43b);
    CHECK(f.dist_read(gicd::kTyper2) == 0);
    CHECK(f.dist_read(gicd::kPidr2) == 0x3b);  // ArchRev = 3
    CHECK(f.dist_read(gicd::kPidr0) == 0x92);
    CHECK(f.dist_read(gicd::kPidr1) == 0xb4);
    CHECK(f.dist_read(gicd::kPidr4) == 0x44);
    CHECK(f.dist_read(gicd::kCidr0) == 0x0d);
    CHECK(f.dist_read(gicd::kCidr0 + 4) == 0xf0);
    CHECK(f.dist_read(gicd::kCidr0 + 8) == 0x05);
    CHECK(f.dist_read(gicd::kCidr0 + 12) == 0xb1);
    f.dist_write(gicd::kPidr2, 0);  // read-only
    CHECK(f.dist_read(gicd::kPidr2) == 0x3b);
}

TEST_CASE("GICD_TYPER.ITLinesNumber follows the SPI count, and IDbits is 9", "[vgic]") {
    for (std::uint32_t spis : {0u, 32u, 64u, 160u, 256u}) {
        VgicFixture f(1, spis);
        const std::uint64_t typer = f.dist_read(gicd::kTyper);
        // Largest SPI INTID = 32(N + 1) - 1.
        CHECK(32 * ((typer & 0x1f) + 1) - 1 == 31 + spis);
        CHECK(((typer >> 19) & 0x1f) == 9);
        CHECK((typer & ~0xf8001full) == 0);  // LPIS, MBIS, SecurityExtn, A3V, No1N: 0
        CHECK(f.gic->spis() == spis);
    }
    VgicFixture odd(1, 100);  // rounded down to whole blocks of 32
    CHECK(odd.gic->spis() == 96);
    CHECK((odd.dist_read(gicd::kTyper) & 0x1f) == 3);
}

TEST_CASE("GICD_CTLR: group enables RW, ARE and DS RAO/WI, RWP reads 0", "[vgic]") {
    VgicFixture f;
    f.dist_write(gicd::kCtlr, 0xffffffff);
    CHECK(f.dist_read(gicd::kCtlr) == 0x53);
    f.dist_write(gicd::kCtlr, 0);
    CHECK(f.dist_read(gicd::kCtlr) == 0x50);
    f.dist_write(gicd::kCtlr, gicd::kCtlrGrp1);
    CHECK(f.dist_read(gicd::kCtlr) == 0x52);
    CHECK(f.dist_read(gicd::kCtlr, 8) == 0);  // a width the register does not have: RAZ/WI
    f.dist_write(gicd::kCtlr, 0, 2);
    CHECK(f.dist_read(gicd::kCtlr) == 0x52);
}

TEST_CASE("All-ones over every IGROUPR and ISENABLER word touches only existing SPIs", "[vgic]") {
    VgicFixture f(2, 64);
    for (std::uint64_t off = 0; off < 0x80; off += 4) {
        f.dist_write(gicd::kIgroupr + off, 0xffffffff);
        f.dist_write(gicd::kIsenabler + off, 0xffffffff);
    }
    CHECK(f.dist_read(gicd::kIgroupr) == 0);  // INTIDs 0-31: RAZ/WI with ARE = 1
    CHECK(f.dist_read(gicd::kIsenabler) == 0);
    for (std::uint64_t word : {1ull, 2ull}) {
        CHECK(f.dist_read(gicd::kIgroupr + 4 * word) == 0xffffffff);
        CHECK(f.dist_read(gicd::kIsenabler + 4 * word) == 0xffffffff);
        CHECK(f.dist_read(gicd::kIcenabler + 4 * word) == 0xffffffff);
    }
    for (std::uint64_t word = 3; word < 32; ++word) {
        CHECK(f.dist_read(gicd::kIgroupr + 4 * word) == 0);
        CHECK(f.dist_read(gicd::kIsenabler + 4 * word) == 0);
    }
    CHECK(f.sgi_read(0, gicd::kIsenabler) == 0);  // the SGI/PPI bank is the redistributor's
    CHECK(f.gic->enabled(0, 95));
    CHECK_FALSE(f.gic->enabled(0, 96));
    CHECK_FALSE(f.gic->deliverable(0));
    CHECK_FALSE(f.gic->deliverable(1));
    CHECK(f.notified.empty());
    f.dist_write(gicd::kIcenabler + 4, 0x1);  // ICENABLER: write 1 to clear
    CHECK(f.dist_read(gicd::kIsenabler + 4) == 0xfffffffe);
}

TEST_CASE("GICD pending and active: set and clear registers", "[vgic]") {
    VgicFixture f;
    f.dist_write(gicd::kIspendr + 4, 0x5);  // SPIs 32 and 34
    CHECK(f.dist_read(gicd::kIspendr + 4) == 0x5);
    CHECK(f.dist_read(gicd::kIcpendr + 4) == 0x5);
    CHECK(f.gic->pending(0, 34));
    f.dist_write(gicd::kIcpendr + 4, 0x1);
    CHECK(f.dist_read(gicd::kIspendr + 4) == 0x4);
    f.dist_write(gicd::kIsactiver + 8, 0x80000000);  // SPI 95
    CHECK(f.gic->active(0, 95));
    CHECK(f.dist_read(gicd::kIcactiver + 8) == 0x80000000);
    f.dist_write(gicd::kIcactiver + 8, 0xffffffff);
    CHECK_FALSE(f.gic->active(0, 95));
    // A level-sensitive SPI stays pending while its input is high, whatever ICPENDR says.
    f.gic->set_level(0, 40, true);
    f.dist_write(gicd::kIcpendr + 4, 1u << 8);
    CHECK(f.gic->pending(0, 40));
    f.gic->set_level(0, 40, false);
    CHECK_FALSE(f.gic->pending(0, 40));
}

TEST_CASE("GICD_IPRIORITYR: byte and word accesses, five priority bits", "[vgic]") {
    VgicFixture f;
    f.dist_write(gicd::kIpriorityr + 40, 0xff, 1);
    CHECK(f.dist_read(gicd::kIpriorityr + 40, 1) == 0xf8);
    CHECK(f.gic->priority(0, 40) == 0xf8);
    CHECK(f.dist_read(gicd::kIpriorityr + 40) == 0xf8);
    f.dist_write(gicd::kIpriorityr + 32, 0x12345678);
    CHECK(f.dist_read(gicd::kIpriorityr + 32) == 0x10305078);
    CHECK(f.dist_read(gicd::kIpriorityr + 34, 1) == 0x30);
    CHECK(f.gic->priority(0, 35) == 0x10);
    f.dist_write(gicd::kIpriorityr + 36, 0xffff, 2);  // halfword: RAZ/WI
    CHECK(f.dist_read(gicd::kIpriorityr + 36) == 0);
    CHECK(f.dist_read(gicd::kIpriorityr + 32, 2) == 0);
    f.dist_write(gicd::kIpriorityr + 8, 0xffffffff);  // INTIDs 8-11: the redistributor's
    CHECK(f.dist_read(gicd::kIpriorityr + 8) == 0);
    f.dist_write(gicd::kIpriorityr + 96, 0xffffffff);  // past the last SPI
    CHECK(f.dist_read(gicd::kIpriorityr + 96) == 0);
}

TEST_CASE("GICD_ICFGR: SPIs configurable, Int_config[0] RES0, others RAZ/WI", "[vgic]") {
    VgicFixture f;
    f.dist_write(gicd::kIcfgr + 8, 0xffffffff);  // SPIs 32-47
    CHECK(f.dist_read(gicd::kIcfgr + 8) == 0xaaaaaaaa);
    f.dist_write(gicd::kIcfgr + 8, 0x0000000a);
    CHECK(f.dist_read(gicd::kIcfgr + 8) == 0x0000000a);
    CHECK(f.dist_read(gicd::kIcfgr) == 0);        // SGIs: RAZ in the distributor with ARE = 1
    CHECK(f.dist_read(gicd::kIcfgr + 4) == 0);    // PPIs
    f.dist_write(gicd::kIcfgr + 24, 0xffffffff);  // SPIs 96-111: do not exist
    CHECK(f.dist_read(gicd::kIcfgr + 24) == 0);
    f.dist_write(gicd::kIgrpmodr + 4, 0xffffffff);  // RAZ/WI with DS = 1
    CHECK(f.dist_read(gicd::kIgrpmodr + 4) == 0);
}

TEST_CASE("GICD_IROUTER: 64-bit and 32-bit halves, RES0 bits, routing", "[vgic]") {
    VgicFixture f(2, 64);
    const std::uint64_t r33 = gicd::kIrouter + 8 * 33;
    CHECK(f.dist_read(r33, 8) == 0);
    f.dist_write(r33, 0xffff'ffff'ffff'ffffull, 8);
    CHECK(f.dist_read(r33, 8) == 0x80ff'ffffull);  // Aff3 RES0 with A3V = 0
    CHECK(f.dist_read(r33) == 0x80ff'ffffull);
    CHECK(f.dist_read(r33 + 4) == 0);
    f.dist_write(r33, 0x1);  // low half
    CHECK(f.dist_read(r33, 8) == 0x1);
    f.dist_write(r33 + 4, 0xff);  // high half: Aff3, RES0
    CHECK(f.dist_read(r33, 8) == 0x1);
    CHECK(f.dist_read(r33 + 2, 2) == 0);                  // other widths: RAZ/WI
    CHECK(f.dist_read(gicd::kIrouter + 8 * 31, 8) == 0);  // INTIDs < 32 have no IROUTER
    f.dist_write(gicd::kIrouter + 8 * 96, 1, 8);          // no SPI 96
    CHECK(f.dist_read(gicd::kIrouter + 8 * 96, 8) == 0);

    // Routing: SPI 33 to vCPU 1, then IRM = 1 ("any": vCPU 0), then to no vCPU at all.
    f.prepare(0, 33);
    f.dist_write(gicd::kIspendr + 4, 1u << 1);
    CHECK(f.gic->deliverable(1));
    CHECK_FALSE(f.gic->deliverable(0));
    f.dist_write(r33, 0x8000'0001ull, 8);
    CHECK(f.gic->deliverable(0));
    CHECK_FALSE(f.gic->deliverable(1));
    f.dist_write(r33, 0x0000'0100ull, 8);  // Aff1 = 1: nobody
    CHECK_FALSE(f.gic->deliverable(0));
    CHECK_FALSE(f.gic->deliverable(1));
    CHECK(f.notified == std::vector<std::uint32_t>{1, 0});
}

TEST_CASE("GICD unknown offsets and unsupported widths read as zero and ignore writes", "[vgic]") {
    VgicFixture f;
    for (std::uint64_t off : {0x10ull, 0x40ull, 0x800ull, 0xf00ull, 0x8000ull, 0xfffcull + 4}) {
        f.dist_write(off, 0xffffffff);
        CHECK(f.dist_read(off) == 0);
    }
    f.dist_write(gicd::kIsenabler + 4, 0xffffffff, 8);  // 64-bit access to a 32-bit group
    CHECK(f.dist_read(gicd::kIsenabler + 4) == 0);
    f.dist_write(gicd::kIsenabler + 4, 0xff, 1);
    CHECK(f.dist_read(gicd::kIsenabler + 4) == 0);
}

TEST_CASE("GICR_TYPER: affinity, processor number and Last per vCPU", "[vgic]") {
    VgicFixture f(3, 32);
    for (std::uint32_t v = 0; v < 3; ++v) {
        const std::uint64_t typer = f.rd_read(v, gicr::kTyper, 8);
        CHECK(typer >> 32 == v);              // Affinity_Value: 0.0.0.v
        CHECK(((typer >> 8) & 0xffff) == v);  // Processor_Number
        CHECK(((typer >> 4) & 1) == (v == 2 ? 1u : 0u));
        CHECK((typer & 0xf) == 0);  // PLPIS, VLPIS, Dirty, DirectLPI
        CHECK(f.rd_read(v, gicr::kTyper) == (typer & 0xffffffff));
        CHECK(f.rd_read(v, gicr::kTyper + 4) == typer >> 32);
    }
    CHECK(f.rd_read(0, gicr::kCtlr) == 0);
    CHECK(f.rd_read(1, gicr::kIidr) == 0x43b);
    CHECK(f.rd_read(2, gicr::kPidr2) == 0x3b);
    CHECK(f.rd_read(2, gicr::kPidr0) == 0x93);
    f.rd_write(0, gicr::kCtlr, 0xffffffff);
    CHECK(f.rd_read(0, gicr::kCtlr) == 0);
    // Past the last vCPU's frames: RAZ/WI.
    CHECK(f.rd_read(3, gicr::kTyper, 8) == 0);
    CHECK(f.rd_read(3, gicr::kPidr2) == 0);
    f.rd_write(3, gicr::kSgiBase + gicd::kIsenabler, 0xffffffff);
    CHECK(f.rd_read(3, gicr::kSgiBase + gicd::kIsenabler) == 0);
}

TEST_CASE("GICR_WAKER: the ProcessorSleep / ChildrenAsleep handshake", "[vgic]") {
    VgicFixture f(2, 32);
    CHECK(f.rd_read(0, gicr::kWaker) == 0x6);  // asleep from reset
    f.rd_write(0, gicr::kWaker, 0);
    CHECK(f.rd_read(0, gicr::kWaker) == 0);  // ChildrenAsleep follows at once
    CHECK(f.rd_read(1, gicr::kWaker) == 0x6);
    f.rd_write(0, gicr::kWaker, 0x4);  // ChildrenAsleep is read-only
    CHECK(f.rd_read(0, gicr::kWaker) == 0);
    f.rd_write(0, gicr::kWaker, 0x2);
    CHECK(f.rd_read(0, gicr::kWaker) == 0x6);
}

TEST_CASE("GICR SGI_base: banked SGI/PPI registers", "[vgic]") {
    VgicFixture f(2, 32);
    f.sgi_write(1, gicd::kIsenabler, 0xffffffff);
    CHECK(f.sgi_read(1, gicd::kIsenabler) == 0xffffffff);
    CHECK(f.sgi_read(0, gicd::kIsenabler) == 0);
    CHECK(f.gic->enabled(1, 27));
    f.sgi_write(1, gicd::kIcenabler, 0xffff0000);
    CHECK(f.sgi_read(1, gicd::kIsenabler) == 0x0000ffff);
    f.sgi_write(0, gicd::kIgroupr, 0xffffffff);
    CHECK(f.sgi_read(0, gicd::kIgroupr) == 0xffffffff);
    CHECK(f.sgi_read(0, gicr::kIcfgr0) == 0xaaaaaaaa);  // SGIs: edge, read-only
    f.sgi_write(0, gicr::kIcfgr0, 0);
    CHECK(f.sgi_read(0, gicr::kIcfgr0) == 0xaaaaaaaa);
    CHECK(f.sgi_read(0, gicr::kIcfgr1) == 0);  // PPIs: level, read-only here
    f.sgi_write(0, gicr::kIcfgr1, 0xffffffff);
    CHECK(f.sgi_read(0, gicr::kIcfgr1) == 0);
    f.sgi_write(0, gicd::kIpriorityr + 27, 0xa5, 1);
    CHECK(f.sgi_read(0, gicd::kIpriorityr + 24) == 0xa0000000);
    CHECK(f.gic->priority(0, 27) == 0xa0);
    f.sgi_write(0, gicd::kIpriorityr + 32, 0xffffffff);  // past IPRIORITYR7
    CHECK(f.sgi_read(0, gicd::kIpriorityr + 32) == 0);
    f.sgi_write(0, gicd::kIspendr, 0x8);
    CHECK(f.gic->pending(0, 3));
    CHECK(f.sgi_read(0, gicd::kIcpendr) == 0x8);
    f.sgi_write(0, gicd::kIsactiver, 0x10);
    CHECK(f.sgi_read(0, gicd::kIcactiver) == 0x10);
    for (std::uint64_t off : {gicd::kIgrpmodr, gicr::kNsacr, gicd::kIsenabler + 4}) {
        f.sgi_write(0, off, 0xffffffff);
        CHECK(f.sgi_read(0, off) == 0);
    }
}

TEST_CASE("Distributor reset restores the reset state and keeps hardware mappings", "[vgic]") {
    VgicFixture f(1, 32);
    f.gic->map_hardware(0, 27, 27);
    f.prepare(0, 27);
    f.prepare(0, 40);
    f.gic->set_level(0, 40, true);
    f.dist_write(gicd::kIrouter + 8 * 40, 0x8000'0000ull, 8);
    CHECK(f.flush(0));
    f.gic->distributor().reset();
    CHECK(f.dist_read(gicd::kCtlr) == 0x50);
    CHECK(f.dist_read(gicd::kIsenabler + 4) == 0);
    CHECK(f.dist_read(gicd::kIrouter + 8 * 40, 8) == 0);
    CHECK(f.rd_read(0, gicr::kWaker) == 0x6);
    CHECK_FALSE(f.gic->deliverable(0));
    CHECK(f.flush(0));  // the image is cleared: its entries predate the reset
    CHECK(f.lrs[0].in_use == 0);
    CHECK(f.lr_intids(0) == std::vector<std::uint32_t>(4, 0xffffffffu));
    f.prepare(0, 27);
    f.gic->set_level(0, 27, true);
    f.flush(0);
    CHECK(f.lr(0, 0).hw());
}
