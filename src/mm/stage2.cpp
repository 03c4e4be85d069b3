// Stage 2 translation tables: init, map and walk.
#include "mm/stage2.hpp"

#include "mm/stage2_desc.hpp"
#include "mm/stage2_levels.hpp"

namespace corvisor {

using namespace stage2_detail;

namespace {

std::uint64_t leaf_attrs(const Stage2Perms& perms) {
    auto d = Stage2Descriptor{}
                 .set_af(true)
                 .set_s2ap_read(perms.read)
                 .set_s2ap_write(perms.write)
                 .set_xn(perms.exec ? Stage2Descriptor::kXnNone : Stage2Descriptor::kXnAll);
    if (perms.type == MemType::kNormal) {
        d.set_mem_attr(Stage2Descriptor::kMemAttrNormalWb).set_sh(Stage2Descriptor::kShInner);
    } else {
        // SH stays 0: Device memory is treated as Outer Shareable whatever SH says.
        d.set_mem_attr(Stage2Descriptor::kMemAttrDeviceNgnre);
    }
    return d.value();
}

Stage2Perms perms_of(Stage2Descriptor d) {
    // MemAttr[5:4] == 0b00 is Device (with HCR_EL2.FWB == 0).
    const bool device = (d.mem_attr() >> 2) == 0;
    return Stage2Perms{
        .read = d.s2ap_read(),
        .write = d.s2ap_write(),
        .exec = d.xn() == Stage2Descriptor::kXnNone,
        .type = device ? MemType::kDevice : MemType::kNormal,
    };
}

}  // namespace

Stage2Table::Stage2Table(TableMemory& memory, Stage2Geometry geometry)
    : memory_(memory), geometry_(geometry) {}

Status Stage2Table::init() {
    const Result<Stage2Geometry> expected = stage2_geometry(geometry_.ipa_bits);
    if (live_ || !expected.ok() || !(expected.value() == geometry_)) {
        return Error::kInvalidArgument;
    }
    const std::uint64_t root = CV_TRY(memory_.alloc_tables(geometry_.concat_tables));
    // VTTBR_EL2.BADDR must be aligned to the size of the concatenated root.
    if ((root & (geometry_.concat_tables * TableMemory::kTableSize - 1)) != 0) {
        memory_.free_tables(root, geometry_.concat_tables);
        return Error::kNotAligned;
    }
    root_pa_ = root;
    live_ = true;
    return {};
}

std::uint64_t* Stage2Table::entry(std::uint64_t table_pa, unsigned level, std::uint64_t ipa) const {
    std::uint64_t index = ipa >> level_shift(level);
    if (level != geometry_.start_level) {
        index &= kEntriesPerTable - 1;
    }
    // At the start level the index runs over all concatenated tables; ask for each table on
    // its own rather than assume table_ptr() maps the run contiguously.
    std::uint64_t* table =
        memory_.table_ptr(table_pa + (index / kEntriesPerTable) * TableMemory::kTableSize);
    return table + (index % kEntriesPerTable);
}

Status Stage2Table::check_range(std::uint64_t ipa, std::uint64_t size) const {
    if (!live_ || size == 0) {
        return Error::kInvalidArgument;
    }
    if (((ipa | size) & kPageMask) != 0) {
        return Error::kNotAligned;
    }
    const std::uint64_t limit = std::uint64_t{1} << geometry_.ipa_bits;
    if (ipa >= limit || size > limit - ipa) {
        return Error::kOutOfRange;
    }
    return {};
}

Status Stage2Table::map(std::uint64_t ipa, std::uint64_t pa, std::uint64_t size,
                        Stage2Perms perms) {
    if ((pa & kPageMask) != 0) {
        return Error::kNotAligned;
    }
    CV_TRY(check_range(ipa, size));
    if (pa >= kOutputLimit || size > kOutputLimit - pa) {
        return Error::kOutOfRange;
    }
    // Check the whole range first so an overlap changes nothing.
    if (!range_is_unmapped(root_pa_, geometry_.start_level, ipa, size)) {
        return Error::kOverlap;
    }
    const Status mapped =
        map_range(root_pa_, geometry_.start_level, ipa, pa, size, leaf_attrs(perms));
    if (!mapped.ok()) {
        // The range was entirely unmapped, so clearing all of it removes exactly what this
        // call added (never splitting: every leaf written lies inside the range), and frees
        // the tables it allocated.
        clear_range(root_pa_, geometry_.start_level, ipa, size);
        return mapped.error();
    }
    return {};
}

bool Stage2Table::range_is_unmapped(std::uint64_t table_pa, unsigned level, std::uint64_t ipa,
                                    std::uint64_t size) const {
    while (size > 0) {
        const std::uint64_t chunk = chunk_size(level, ipa, size);
        const Stage2Descriptor d{read_entry(entry(table_pa, level, ipa))};
        if (d.is_table(level)) {
            if (!range_is_unmapped(d.address(), level + 1, ipa, chunk)) {
                return false;
            }
        } else if (d.valid()) {
            return false;
        }
        ipa += chunk;
        size -= chunk;
    }
    return true;
}

Status Stage2Table::map_range(std::uint64_t table_pa, unsigned level, std::uint64_t ipa,
                              std::uint64_t pa, std::uint64_t size, std::uint64_t attrs) {
    while (size > 0) {
        const std::uint64_t chunk = chunk_size(level, ipa, size);
        std::uint64_t* e = entry(table_pa, level, ipa);
        // range_is_unmapped() held, so the entry is invalid or a table without valid leaves
        // here (kept rather than replaced by a block, so it cannot leak).
        const Stage2Descriptor d{read_entry(e)};
        if (!d.valid() && chunk == level_span(level) && leaf_allowed(level) &&
            (pa & (chunk - 1)) == 0) {
            write_leaf(e, leaf_descriptor(pa, level, attrs));
        } else {
            std::uint64_t next = d.address();
            if (!d.is_table(level)) {
                next = CV_TRY(memory_.alloc_table());
                write_table(e, next);
            }
            CV_TRY(map_range(next, level + 1, ipa, pa, chunk, attrs));
        }
        ipa += chunk;
        pa += chunk;
        size -= chunk;
    }
    return {};
}

Result<Stage2Walk> Stage2Table::walk(std::uint64_t ipa) const {
    if (!live_) {
        return Error::kNotFound;
    }
    if ((ipa >> geometry_.ipa_bits) != 0) {
        return Error::kOutOfRange;
    }
    std::uint64_t table_pa = root_pa_;
    for (unsigned level = geometry_.start_level; level <= kLastLevel; ++level) {
        const Stage2Descriptor d{read_entry(entry(table_pa, level, ipa))};
        if (!d.valid()) {
            return Error::kNotFound;
        }
        if (d.is_table(level)) {
            table_pa = d.address();
            continue;
        }
        if (!leaf_allowed(level) || (level == kLastLevel && !d.table_or_page())) {
            return Error::kMalformed;  // reserved encodings this code never writes
        }
        return Stage2Walk{
            .pa = d.address() + (ipa & (level_span(level) - 1)),
            .perms = perms_of(d),
            .level = level,
        };
    }
    return Error::kMalformed;
}

}  // namespace corvisor
