// Stage 2 translation tables: unmap (splitting blocks), and teardown.
#include "mm/stage2.hpp"
#include "mm/stage2_desc.hpp"
#include "mm/stage2_levels.hpp"

namespace corvisor {

using namespace stage2_detail;

void Stage2Table::clear_range(std::uint64_t table_pa, unsigned level, std::uint64_t ipa,
                              std::uint64_t size) {
    while (size > 0) {
        const std::uint64_t chunk = chunk_size(level, ipa, size);
        std::uint64_t* e = entry(table_pa, level, ipa);
        const Stage2Descriptor d{read_entry(e)};
        if (d.is_table(level)) {
            clear_range(d.address(), level + 1, ipa, chunk);
            if (table_is_empty(d.address())) {
                write_leaf(e, 0);
                memory_.free_table(d.address());
            }
        } else if (d.valid() && chunk == level_span(level)) {
            write_leaf(e, 0);
        }
        // A valid leaf only partly inside the range cannot occur: unmap() splits both ends
        // first and map() rolls back only leaves it wrote. Leaving it mapped is the safe side.
        ipa += chunk;
        size -= chunk;
    }
}

Status Stage2Table::split_at(std::uint64_t ipa) {
    if ((ipa >> geometry_.ipa_bits) != 0) {
        return {};  // the end of the IPA space is no block's middle
    }
    std::uint64_t table_pa = root_pa_;
    for (unsigned level = geometry_.start_level; level < kLastLevel; ++level) {
        std::uint64_t* e = entry(table_pa, level, ipa);
        const Stage2Descriptor d{read_entry(e)};
        if (!d.valid()) {
            return {};
        }
        if (!d.is_table(level)) {
            if ((ipa & (level_span(level) - 1)) == 0) {
                return {};  // a block boundary already
            }
            // Replace the block by a table of next-level leaves with the same attributes and
            // output addresses, filled before it is published.
            const std::uint64_t next = CV_TRY(memory_.alloc_table());
            std::uint64_t* t = memory_.table_ptr(next);
            const std::uint64_t attrs = d.value() & Stage2Descriptor::kLeafAttrMask;
            const std::uint64_t step = level_span(level + 1);
            for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
                write_leaf(t + i, leaf_descriptor(d.address() + i * step, level + 1, attrs));
            }
            write_table(e, next);
            table_pa = next;
            continue;
        }
        table_pa = d.address();
    }
    return {};
}

Status Stage2Table::unmap(std::uint64_t ipa, std::uint64_t size) {
    CV_TRY(check_range(ipa, size));
    // Splits keep every translation as it was, so a failure after them unmaps nothing.
    CV_TRY(split_at(ipa));
    CV_TRY(split_at(ipa + size));
    clear_range(root_pa_, geometry_.start_level, ipa, size);
    return {};
}

bool Stage2Table::table_is_empty(std::uint64_t table_pa) const {
    const std::uint64_t* t = memory_.table_ptr(table_pa);
    for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
        if (Stage2Descriptor{read_entry(t + i)}.valid()) {
            return false;
        }
    }
    return true;
}

void Stage2Table::free_subtree(std::uint64_t table_pa, unsigned level, std::uint64_t entries) {
    for (std::uint64_t i = 0; i < entries; ++i) {
        const std::uint64_t* t =
            memory_.table_ptr(table_pa + (i / kEntriesPerTable) * TableMemory::kTableSize);
        const Stage2Descriptor d{read_entry(t + (i % kEntriesPerTable))};
        if (d.is_table(level)) {
            free_subtree(d.address(), level + 1, kEntriesPerTable);
            memory_.free_table(d.address());
        }
    }
}

void Stage2Table::destroy() {
    if (!live_) {
        return;
    }
    free_subtree(root_pa_, geometry_.start_level, geometry_.concat_tables * kEntriesPerTable);
    memory_.free_tables(root_pa_, geometry_.concat_tables);
    root_pa_ = 0;
    live_ = false;
}

}  // namespace corvisor
