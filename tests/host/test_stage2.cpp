#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "mm/stage2.hpp"
#include "mm/stage2_desc.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t k2M = 2ull << 20;
constexpr std::uint64_t k1G = 1ull << 30;

constexpr Stage2Perms kRwNormal{true, true, false, MemType::kNormal};
constexpr Stage2Perms kRxNormal{true, false, true, MemType::kNormal};
constexpr Stage2Perms kRwDevice{true, true, false, MemType::kDevice};

// Fake physical memory for tables: an arena at kBase with an optional page budget, which
// checks that only allocated tables are touched and nothing is freed twice.
class FakeTableMemory final : public TableMemory {
public:
    static constexpr std::uint64_t kBase = 0x8000'0000;

    explicit FakeTableMemory(std::size_t pages = 256,
                             std::size_t budget = std::numeric_limits<std::size_t>::max())
        : words_(pages * 512), used_(pages, false), budget_(budget) {}

    Result<std::uint64_t> alloc_table() override { return alloc_tables(1); }

    Result<std::uint64_t> alloc_tables(unsigned count) override {
        if (in_use_ + count > budget_) {
            return Error::kOutOfMemory;
        }
        for (std::size_t i = 0; i + count <= used_.size(); i += count) {
            bool free = true;
            for (std::size_t j = i; j < i + count; ++j) {
                free = free && !used_[j];
            }
            if (!free) {
                continue;
            }
            for (std::size_t j = i; j < i + count; ++j) {
                used_[j] = true;
                std::fill_n(&words_[j * 512], 512, 0xdeadbeefull);  // then zeroed, as promised
                std::fill_n(&words_[j * 512], 512, 0ull);
            }
            in_use_ += count;
            return kBase + i * kPage;
        }
        return Error::kOutOfMemory;
    }

    void free_table(std::uint64_t pa) override {
        const std::size_t i = index(pa);
        if (i >= used_.size() || !used_[i]) {
            ++bad_;
            return;
        }
        used_[i] = false;
        --in_use_;
    }

    std::uint64_t* table_ptr(std::uint64_t pa) override {
        const std::size_t i = index(pa);
        if (i >= used_.size() || !used_[i] || pa % kPage != 0) {
            ++bad_;
            return &scratch_[0];
        }
        return &words_[i * 512];
    }

    std::size_t in_use() const { return in_use_; }
    std::size_t bad() const { return bad_; }
    void set_budget(std::size_t budget) { budget_ = budget; }
    std::vector<std::uint64_t> snapshot() const { return words_; }

private:
    static std::size_t index(std::uint64_t pa) {
        return pa < kBase ? std::numeric_limits<std::size_t>::max()
                          : static_cast<std::size_t>((pa - kBase) / kPage);
    }

    std::vector<std::uint64_t> words_;
    std::vector<bool> used_;
    std::size_t budget_;
    std::size_t in_use_ = 0;
    std::size_t bad_ = 0;
    std::uint64_t scratch_[512] = {};
};

// A TableMemory that relies on the default alloc_tables(): single tables only.
class SingleTableMemory final : public TableMemory {
public:
    Result<std::uint64_t> alloc_table() override { return Error::kOutOfMemory; }
    void free_table(std::uint64_t) override {}
    std::uint64_t* table_ptr(std::uint64_t) override { return nullptr; }
};

Stage2Geometry geometry(unsigned ipa_bits) {
    return stage2_geometry(ipa_bits).value();
}

// Reads the raw descriptor for `ipa` at `level` by walking the fake memory independently.
std::uint64_t raw_descriptor(FakeTableMemory& mem, const Stage2Table& t, std::uint64_t ipa,
                             unsigned level) {
    const Stage2Geometry& g = t.geometry();
    std::uint64_t table = t.root_pa();
    for (unsigned l = g.start_level;; ++l) {
        const unsigned shift = 39 - 9 * l;
        std::uint64_t idx = ipa >> shift;
        if (l != g.start_level) {
            idx &= 511;
        }
        const std::uint64_t desc = mem.table_ptr(table + (idx / 512) * kPage)[idx % 512];
        if (l == level) {
            return desc;
        }
        table = desc & 0x0000'ffff'ffff'f000ull;
    }
}

}  // namespace

TEST_CASE("Stage2 geometry follows the 4K-granule start-level rules", "[mm]") {
    struct Row {
        unsigned bits, level, concat, sl0;
    };
    const Row rows[] = {
        {32, 2, 4, 0}, {33, 2, 8, 0}, {34, 2, 16, 0}, {35, 1, 1, 1}, {36, 1, 1, 1}, {39, 1, 1, 1},
        {40, 1, 2, 1}, {42, 1, 8, 1}, {43, 1, 16, 1}, {44, 0, 1, 2}, {47, 0, 1, 2}, {48, 0, 1, 2},
    };
    for (const Row& r : rows) {
        INFO("ipa_bits " << r.bits);
        const Stage2Geometry g = geometry(r.bits);
        CHECK(g.ipa_bits == r.bits);
        CHECK(g.start_level == r.level);
        CHECK(g.concat_tables == r.concat);
        CHECK(g.sl0 == r.sl0);
        CHECK(g.t0sz == 64 - r.bits);
    }
    CHECK(stage2_geometry(31).error() == Error::kUnsupported);
    CHECK(stage2_geometry(49).error() == Error::kUnsupported);
    CHECK(stage2_geometry(52).error() == Error::kUnsupported);
}

TEST_CASE("Stage2 PARange decoding and VTCR_EL2", "[mm]") {
    const unsigned expected[] = {32, 36, 40, 42, 44, 48, 48, 48};
    for (unsigned f = 0; f < 8; ++f) {
        CHECK(pa_range_bits(f) == expected[f]);
    }
    // T0SZ 24, SL0 1, IRGN0 1, ORGN0 1, SH0 3, TG0 0, PS 2, RES1 bit 31.
    CHECK(vtcr_el2_value(geometry(40), 2) == 0x8002'3558ull);
    const VtcrEl2 v{vtcr_el2_value(geometry(48), 5)};
    CHECK(v.t0sz() == 16);
    CHECK(v.sl0() == 2);
    CHECK(v.ps() == 5);
    CHECK(v.tg0() == 0);
    CHECK((v.value() & VtcrEl2::kRes1) != 0);
}

TEST_CASE("Stage2 picks 1G blocks, 2M blocks and pages by alignment", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());
    CHECK(t.root_pa() % (2 * kPage) == 0);  // two concatenated level 1 tables

    // [1G, 2G+2M+4K) -> [4G, ...): one 1G block, one 2M block, one page.
    REQUIRE(t.map(k1G, 4 * k1G, k1G + k2M + kPage, kRwNormal).ok());
    CHECK(t.walk(k1G).value().level == 1);
    CHECK(t.walk(k1G + 0x1234'5000).value().pa == 4 * k1G + 0x1234'5000);
    CHECK(t.walk(2 * k1G).value().level == 2);
    CHECK(t.walk(2 * k1G + k2M).value().level == 3);
    CHECK(t.walk(2 * k1G + k2M + kPage).error() == Error::kNotFound);

    // PA only 2 MiB aligned: 2M blocks although the IPA is 1G aligned.
    REQUIRE(t.map(8 * k1G, 0x1'0020'0000, k1G, kRwNormal).ok());
    const Stage2Walk w = t.walk(8 * k1G + k1G - 1).value();
    CHECK(w.level == 2);
    CHECK(w.pa == 0x1'0020'0000 + k1G - 1);

    // 4K-aligned IPA: pages up to the 2M boundary, then a block.
    REQUIRE(t.map(16 * k1G + k2M - 2 * kPage, 0x2000'0000 - 2 * kPage, 2 * kPage + k2M, kRwNormal)
                .ok());
    CHECK(t.walk(16 * k1G + k2M - kPage).value().level == 3);
    CHECK(t.walk(16 * k1G + k2M).value().level == 2);
    CHECK(t.walk(16 * k1G + k2M + 5).value().pa == 0x2000'0005);

    // The second concatenated root table (IPA bit 39 set) works too.
    REQUIRE(t.map((1ull << 40) - k1G, 0, k1G, kRwNormal).ok());
    CHECK(t.walk((1ull << 40) - 1).value().pa == k1G - 1);
    CHECK(mem.bad() == 0);
}

TEST_CASE("Stage2 with a level 2 start (32-bit IPA) uses 2M blocks at the root", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(32));
    REQUIRE(t.init().ok());
    CHECK(mem.in_use() == 4);
    CHECK(t.root_pa() % (4 * kPage) == 0);
    REQUIRE(t.map(3 * k1G, 3 * k1G, k1G, kRwNormal).ok());
    CHECK(mem.in_use() == 4);  // 512 2M blocks in the root, no new table
    CHECK(t.walk(4 * k1G - 1).value().level == 2);
    CHECK(t.map(4 * k1G - kPage, 0, 2 * kPage, kRwNormal).error() == Error::kOutOfRange);
    t.destroy();
    CHECK(mem.in_use() == 0);

    SingleTableMemory single;
    Stage2Table u(single, geometry(32));
    CHECK(u.init().error() == Error::kUnsupported);
}

TEST_CASE("Stage2 permissions and memory types round-trip", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(39));
    REQUIRE(t.init().ok());
    std::uint64_t ipa = 0;
    for (unsigned bits = 0; bits < 16; ++bits) {
        const Stage2Perms p{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0,
                            (bits & 8) != 0 ? MemType::kDevice : MemType::kNormal};
        REQUIRE(t.map(ipa, 0x9000'0000 + ipa, kPage, p).ok());
        const Stage2Walk w = t.walk(ipa + 8).value();
        CHECK(w.perms == p);
        CHECK(w.pa == 0x9000'0008 + ipa);
        ipa += kPage;
    }
}

TEST_CASE("Stage2 descriptor bits are pinned", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());
    REQUIRE(t.map(0x8000'0000, 0x4000'1000, kPage, kRwNormal).ok());
    REQUIRE(t.map(0x0900'0000, 0x0900'0000, k2M, kRwDevice).ok());
    REQUIRE(t.map(0x4000'0000, 0xc000'0000, k1G, kRxNormal).ok());

    // Page: valid|page (0b11), MemAttr 0b1111, S2AP 0b11, SH 0b11, AF, XN 0b10 (bit 54).
    CHECK(raw_descriptor(mem, t, 0x8000'0000, 3) == 0x0040'0000'4000'17ffull);
    // 2M Device block: 0b01, MemAttr 0b0001 (nGnRE), S2AP 0b11, SH 0, AF, XN.
    CHECK(raw_descriptor(mem, t, 0x0900'0000, 2) == 0x0040'0000'0900'04c5ull);
    // 1G block, read-only executable: S2AP 0b01, XN 0b00.
    CHECK(raw_descriptor(mem, t, 0x4000'0000, 1) == 0x0000'0000'c000'077dull);
    // Table descriptors: 0b11 and the next table's address, nothing else.
    const std::uint64_t table = raw_descriptor(mem, t, 0x8000'0000, 1);
    CHECK((table & 3) == 3);
    CHECK((table & ~0x0000'ffff'ffff'f000ull) == 3);
    CHECK(Stage2Descriptor{raw_descriptor(mem, t, 0x8000'0000, 3)}.xn() ==
          Stage2Descriptor::kXnAll);
}

TEST_CASE("Stage2 rejects overlaps and leaves the table unchanged", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());
    REQUIRE(t.map(0x4000'0000, 0x1'0000'0000, k2M, kRwNormal).ok());
    REQUIRE(t.map(0x4060'0000, 0x1'0060'0000, kPage, kRwNormal).ok());
    const auto before = mem.snapshot();
    const std::size_t tables = mem.in_use();

    // Overlapping the end of the block, straddling the page, covering everything.
    CHECK(t.map(0x401f'f000 - k2M, 0, k2M + kPage, kRwNormal).error() == Error::kOverlap);
    CHECK(t.map(0x4060'0000 - kPage, 0, 2 * kPage, kRxNormal).error() == Error::kOverlap);
    CHECK(t.map(0, 0, 4 * k1G, kRwNormal).error() == Error::kOverlap);
    CHECK(mem.snapshot() == before);
    CHECK(mem.in_use() == tables);
    CHECK(t.walk(0x4000'1000).value().pa == 0x1'0000'1000);
    CHECK(t.walk(0x4060'0000).value().pa == 0x1'0060'0000);
}

TEST_CASE("Stage2 unmap makes walks fail and frees empty tables", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());
    const std::size_t root_only = mem.in_use();
    REQUIRE(t.map(0x4000'0000, 0x4000'0000, 3 * kPage, kRwNormal).ok());
    REQUIRE(t.map(2 * k1G, 2 * k1G, k1G, kRwNormal).ok());
    REQUIRE(t.unmap(0x4000'1000, kPage).ok());
    CHECK(t.walk(0x4000'1000).error() == Error::kNotFound);
    CHECK(t.walk(0x4000'2000).ok());
    REQUIRE(t.unmap(0, 4 * k1G).ok());  // holes are fine
    CHECK(t.walk(0x4000'0000).error() == Error::kNotFound);
    CHECK(t.walk(2 * k1G).error() == Error::kNotFound);
    CHECK(mem.in_use() == root_only);
    // The space can be mapped again.
    REQUIRE(t.map(0x4000'0000, 0x5000'0000, kPage, kRwNormal).ok());
    CHECK(t.walk(0x4000'0000).value().pa == 0x5000'0000);
    t.destroy();
    CHECK(mem.in_use() == 0);
    CHECK(mem.bad() == 0);
}

TEST_CASE("Stage2 unmap of a page inside a block splits it", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());

    SECTION("2M block") {
        REQUIRE(t.map(0x4000'0000, 0x1'4000'0000, k2M, kRwDevice).ok());
        REQUIRE(t.unmap(0x4000'5000, kPage).ok());
        CHECK(t.walk(0x4000'5000).error() == Error::kNotFound);
        for (std::uint64_t off = 0; off < k2M; off += kPage) {
            if (off == 0x5000) {
                continue;
            }
            const Stage2Walk w = t.walk(0x4000'0000 + off + 0x10).value();
            CHECK(w.pa == 0x1'4000'0010 + off);
            CHECK(w.level == 3);
            CHECK(w.perms == kRwDevice);
        }
    }
    SECTION("1G block, split twice") {
        REQUIRE(t.map(k1G, 5 * k1G, k1G, kRxNormal).ok());
        REQUIRE(t.unmap(k1G + 3 * k2M + kPage, kPage).ok());
        CHECK(t.walk(k1G + 3 * k2M + kPage).error() == Error::kNotFound);
        CHECK(t.walk(k1G).value().level == 2);
        CHECK(t.walk(k1G + 3 * k2M).value().level == 3);
        CHECK(t.walk(k1G + 3 * k2M + 2 * kPage).value().pa == 5 * k1G + 3 * k2M + 2 * kPage);
        CHECK(t.walk(2 * k1G - 1).value().pa == 6 * k1G - 1);
        CHECK(t.walk(2 * k1G - 1).value().perms == kRxNormal);
    }
    SECTION("range spanning two blocks, split at both ends") {
        REQUIRE(t.map(0, 0x1000'0000, 2 * k2M, kRwNormal).ok());
        REQUIRE(t.unmap(k2M - kPage, 2 * kPage).ok());
        CHECK(t.walk(k2M - kPage).error() == Error::kNotFound);
        CHECK(t.walk(k2M).error() == Error::kNotFound);
        CHECK(t.walk(k2M - 2 * kPage).value().pa == 0x1000'0000 + k2M - 2 * kPage);
        CHECK(t.walk(k2M + kPage).value().pa == 0x1000'0000 + k2M + kPage);
    }
    t.destroy();
    CHECK(mem.in_use() == 0);
    CHECK(mem.bad() == 0);
}

TEST_CASE("Stage2 table exhaustion leaves no partial mapping", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(40));
    REQUIRE(t.init().ok());
    REQUIRE(t.map(0x4000'0000, 0x4000'0000, kPage, kRwNormal).ok());  // L2 + L3 tables
    const auto before = mem.snapshot();
    const std::size_t tables = mem.in_use();

    // IPA [0x4010'0000, 0x4040'1000) with a PA that is not 2M aligned: pages in the existing
    // level 3 table, then two new level 3 tables. The second allocation fails after the
    // first two parts are written, so they must be rolled back.
    mem.set_budget(tables + 1);
    const Status s = t.map(0x4010'0000, 0x1'0010'1000, 0x30'1000, kRwNormal);
    CHECK(s.error() == Error::kOutOfMemory);
    CHECK(mem.snapshot() == before);
    CHECK(mem.in_use() == tables);
    for (std::uint64_t ipa = 0x4010'0000; ipa < 0x4040'1000; ipa += kPage) {
        REQUIRE(t.walk(ipa).error() == Error::kNotFound);
    }
    CHECK(t.walk(0x4000'0000).ok());

    // A split that cannot get a table unmaps nothing.
    mem.set_budget(std::numeric_limits<std::size_t>::max());
    REQUIRE(t.map(2 * k1G, 2 * k1G, k1G, kRwNormal).ok());
    mem.set_budget(mem.in_use() + 1);  // the 1G -> 2M split fits, 2M -> 4K does not
    CHECK(t.unmap(2 * k1G + kPage, 3 * k2M).error() == Error::kOutOfMemory);
    for (std::uint64_t ipa = 2 * k1G; ipa < 3 * k1G; ipa += k2M / 4) {
        REQUIRE(t.walk(ipa).value().pa == ipa);
    }
    mem.set_budget(std::numeric_limits<std::size_t>::max());
    REQUIRE(t.unmap(2 * k1G + kPage, 3 * k2M).ok());
    CHECK(t.walk(2 * k1G).value().pa == 2 * k1G);
    CHECK(t.walk(2 * k1G + kPage).error() == Error::kNotFound);
    CHECK(t.walk(2 * k1G + 3 * k2M + kPage).value().level == 3);
    CHECK(mem.bad() == 0);
}

TEST_CASE("Stage2 argument errors", "[mm]") {
    FakeTableMemory mem;
    Stage2Table t(mem, geometry(36));
    CHECK(t.map(0, 0, kPage, kRwNormal).error() == Error::kInvalidArgument);  // no init()
    CHECK(t.walk(0).error() == Error::kNotFound);
    REQUIRE(t.init().ok());
    CHECK(t.init().error() == Error::kInvalidArgument);

    CHECK(t.map(0x800, 0, kPage, kRwNormal).error() == Error::kNotAligned);
    CHECK(t.map(0, 0x800, kPage, kRwNormal).error() == Error::kNotAligned);
    CHECK(t.map(0, 0, 0x800, kRwNormal).error() == Error::kNotAligned);
    CHECK(t.map(0, 0, 0, kRwNormal).error() == Error::kInvalidArgument);
    CHECK(t.map(1ull << 36, 0, kPage, kRwNormal).error() == Error::kOutOfRange);
    CHECK(t.map((1ull << 36) - kPage, 0, 2 * kPage, kRwNormal).error() == Error::kOutOfRange);
    CHECK(t.map(0, 1ull << 48, kPage, kRwNormal).error() == Error::kOutOfRange);
    CHECK(t.map(0, 0, ~std::uint64_t{0xfff}, kRwNormal).error() == Error::kOutOfRange);
    CHECK(t.unmap(0x10, kPage).error() == Error::kNotAligned);
    CHECK(t.unmap(1ull << 36, kPage).error() == Error::kOutOfRange);
    CHECK(t.walk(1ull << 36).error() == Error::kOutOfRange);
    CHECK(t.walk(0).error() == Error::kNotFound);
    CHECK(mem.in_use() == 1);

    Stage2Geometry bogus = geometry(36);
    bogus.start_level = 0;
    Stage2Table u(mem, bogus);
    CHECK(u.init().error() == Error::kInvalidArgument);
}
