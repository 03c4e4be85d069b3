// libFuzzer target: stage-2 map/unmap sequences (src/mm/stage2.cpp) checked against a reference
// model kept page by page: after every operation each page the operation touched (and a few
// others) translates exactly as the model says, failures change nothing, no table leaks, and
// the page-table memory is never touched outside what was allocated.
#include <map>
#include <vector>

#include "fuzz_input.hpp"
#include "mm/stage2.hpp"

using namespace corvisor;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kWindowPages = 16384;  // IPAs [0, 64 MiB): blocks and pages both
constexpr std::uint64_t kTableBase = 0x8000'0000;

/// Tables from a small arena with a budget (so that out-of-memory paths run too).
class ArenaTables final : public TableMemory {
public:
    explicit ArenaTables(std::size_t pages) : words_(pages * 512), used_(pages, false) {}
    Result<std::uint64_t> alloc_table() override { return alloc_tables(1); }
    Result<std::uint64_t> alloc_tables(unsigned count) override {
        if (in_use_ + count > budget) {
            return Error::kOutOfMemory;
        }
        for (std::size_t i = 0; i + count <= used_.size(); i += count) {
            bool free = true;
            for (std::size_t j = i; j < i + count; ++j) {
                free = free && !used_[j];
            }
            if (free) {
                for (std::size_t j = i; j < i + count; ++j) {
                    used_[j] = true;
                    std::fill_n(&words_[j * 512], 512, 0ull);
                }
                in_use_ += count;
                return kTableBase + i * kPage;
            }
        }
        return Error::kOutOfMemory;
    }
    void free_table(std::uint64_t pa) override {
        const std::size_t i = (pa - kTableBase) / kPage;
        if (pa < kTableBase || i >= used_.size() || !used_[i]) {
            fuzz::fail();  // freed twice, or never allocated
        }
        used_[i] = false;
        --in_use_;
    }
    std::uint64_t* table_ptr(std::uint64_t pa) override {
        const std::size_t i = (pa - kTableBase) / kPage;
        if (pa < kTableBase || i >= used_.size() || !used_[i] || pa % kPage != 0) {
            fuzz::fail();  // a table that is not one
        }
        return &words_[i * 512];
    }
    std::size_t in_use() const { return in_use_; }
    std::size_t budget = 64;

private:
    std::vector<std::uint64_t> words_;
    std::vector<bool> used_;
    std::size_t in_use_ = 0;
};

struct Mapping {
    std::uint64_t pa_page;
    Stage2Perms perms;
};

Stage2Perms perms_of(std::uint8_t bits) {
    return Stage2Perms{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0,
                       (bits & 8) != 0 ? MemType::kDevice : MemType::kNormal};
}

void check_page(const Stage2Table& s2, const std::map<std::uint64_t, Mapping>& model,
                std::uint64_t page) {
    const Result<Stage2Walk> w = s2.walk(page * kPage + 0x123);
    const auto it = model.find(page);
    if (it == model.end()) {
        if (w) {
            fuzz::fail();  // translates, but the model has it unmapped
        }
        return;
    }
    if (!w || w->pa != it->second.pa_page * kPage + 0x123 || !(w->perms == it->second.perms)) {
        fuzz::fail();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    ArenaTables tables(96);
    Result<Stage2Geometry> geometry = stage2_geometry(32);
    if (!geometry) {
        fuzz::fail();
    }
    std::map<std::uint64_t, Mapping> model;
    {
        Stage2Table s2(tables, *geometry);
        if (!s2.init()) {
            fuzz::fail();
        }
        const std::size_t root_tables = tables.in_use();
        int steps = 0;
        while (!in.empty() && ++steps < 64) {
            const std::uint8_t op = in.u8();
            // Sizes and places that make 2 MiB blocks likely: a unit of 1 page or 512 pages.
            const std::uint64_t unit = (op & 0x10) != 0 ? 512 : 1;
            const std::uint64_t first = (in.u16() * unit) % kWindowPages;
            std::uint64_t count = (in.u8() % 8 + 1) * unit;
            if (first + count > kWindowPages) {
                count = kWindowPages - first;
            }
            tables.budget = root_tables + in.u8() % 48;
            if ((op & 1) == 0) {
                const std::uint64_t pa_first = (in.u16() * unit) % (1u << 20);
                const Stage2Perms perms = perms_of(in.u8());
                bool overlap = false;
                for (std::uint64_t p = first; p < first + count && !overlap; ++p) {
                    overlap = model.count(p) != 0;
                }
                const Status st = s2.map(first * kPage, pa_first * kPage, count * kPage, perms);
                if (overlap && (st || st.error() != Error::kOverlap)) {
                    fuzz::fail();  // an overlap must be refused as one
                }
                if (st) {
                    for (std::uint64_t p = 0; p < count; ++p) {
                        model[first + p] = Mapping{pa_first + p, perms};
                    }
                } else if (!overlap && st.error() != Error::kOutOfMemory) {
                    fuzz::fail();  // the only other reason a good map may fail
                }
            } else {
                const Status st = s2.unmap(first * kPage, count * kPage);
                if (st) {
                    for (std::uint64_t p = first; p < first + count; ++p) {
                        model.erase(p);
                    }
                } else if (st.error() != Error::kOutOfMemory) {
                    fuzz::fail();
                }
            }
            for (std::uint64_t p = first; p < first + count; ++p) {
                check_page(s2, model, p);
            }
            if (first > 0) {
                check_page(s2, model, first - 1);
            }
            if (first + count < kWindowPages) {
                check_page(s2, model, first + count);
            }
        }
        if (model.empty() && tables.in_use() != root_tables) {
            fuzz::fail();  // everything unmapped: only the root is left
        }
        s2.destroy();
    }
    if (tables.in_use() != 0) {
        fuzz::fail();  // destroy() gave back every table
    }
    return 0;
}
