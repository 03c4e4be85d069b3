// Stage 2 translation (VMSAv8-64, 4 KiB granule, Arm ARM D8): geometry, VTCR_EL2, and the
// tables that map a VM's IPAs to PAs.
#pragma once

#include <cstdint>

#include "corvisor/result.hpp"

namespace corvisor {

/// Where translation tables come from. EL2 backs it with the PageAllocator and identity
/// mapping; host tests back it with an arena that fakes physical memory.
class TableMemory {
public:
    static constexpr std::uint64_t kTableSize = 4096;

    /// A zeroed, 4 KiB-aligned 4 KiB page: its physical address, or kOutOfMemory.
    virtual Result<std::uint64_t> alloc_table() = 0;
    virtual void free_table(std::uint64_t pa) = 0;
    /// Where the hypervisor can read/write the table at `pa` (identity on EL2, an arena on the
    /// host). Only whole tables are asked for: `pa` is 4 KiB aligned.
    virtual std::uint64_t* table_ptr(std::uint64_t pa) = 0;

    /// `count` (a power of two <= 16) physically contiguous zeroed tables aligned to
    /// count * 4 KiB: the concatenated start-level tables of a stage 2 root, which VTTBR_EL2
    /// addresses as one block (Arm ARM D8.2, concatenated translation tables). The default
    /// only handles count == 1; memory that can give contiguous runs overrides both.
    virtual Result<std::uint64_t> alloc_tables(unsigned count) {
        if (count == 1) {
            return alloc_table();
        }
        return Error::kUnsupported;
    }
    /// Release what alloc_tables(count) returned.
    virtual void free_tables(std::uint64_t pa, unsigned count) {
        for (unsigned i = 0; i < count; ++i) {
            free_table(pa + i * kTableSize);
        }
    }

protected:
    ~TableMemory() = default;
};

/// Shape of a stage 2 table for an IPA size: what VTCR_EL2 needs and where walks start.
struct Stage2Geometry {
    unsigned ipa_bits;       ///< IPA space is [0, 2^ipa_bits)
    unsigned start_level;    ///< 0, 1 or 2
    unsigned concat_tables;  ///< start-level tables concatenated at the root (1..16)
    unsigned t0sz;           ///< VTCR_EL2.T0SZ = 64 - ipa_bits
    unsigned sl0;            ///< VTCR_EL2.SL0 for start_level with the 4 KiB granule
    bool operator==(const Stage2Geometry&) const = default;
};

/// The geometry for `ipa_bits` in [32, 48], else kUnsupported. Starts as deep as the 16-table
/// concatenation limit allows: 32-34 bits at level 2 (4-16 tables), 35-39 at level 1 (one
/// table), 40-43 at level 1 (2-16 tables), 44-48 at level 0 (one table).
Result<Stage2Geometry> stage2_geometry(unsigned ipa_bits);

/// Physical address bits for an ID_AA64MMFR0_EL1.PARange value: 0->32, 1->36, 2->40, 3->42,
/// 4->44, 5->48; 6 (52 bits) and later encodings are capped to 48 (no FEAT_LPA/LPA2 support).
unsigned pa_range_bits(unsigned id_aa64mmfr0_parange_field);

/// VTCR_EL2 for `geometry`: T0SZ and SL0 from it, table walks Inner/Outer WBWA and Inner
/// Shareable, 4 KiB granule, PS = `ps_field` (PARange encoding), RES1 bit 31. 8-bit VMIDs.
std::uint64_t vtcr_el2_value(const Stage2Geometry& geometry, unsigned ps_field);

enum class MemType : std::uint8_t { kNormal, kDevice };

/// What the guest may do with a mapping, and how memory behaves (Normal Write-Back, or
/// Device-nGnRE for pass-through MMIO).
struct Stage2Perms {
    bool read;
    bool write;
    bool exec;
    MemType type;
    bool operator==(const Stage2Perms&) const = default;
};

/// A translated IPA: `pa` is the output address of the IPA itself (not of its block), `level`
/// the level of the leaf descriptor (1: 1 GiB block, 2: 2 MiB block, 3: 4 KiB page).
struct Stage2Walk {
    std::uint64_t pa;
    Stage2Perms perms;
    unsigned level;
};

/// One VM's stage 2 translation tables.
///
/// Descriptors are written with single-copy-atomic plain stores (table descriptors with release
/// order so a walker never sees a table before its contents). TLB/cache maintenance is the
/// caller's (EL2) job: after unmap() or a failed map(), `dsb ishst; tlbi ipas2e1is/vmalls12e1is;
/// dsb ish` for this VMID before the memory is reused, including tables freed to TableMemory.
class Stage2Table {
public:
    Stage2Table(TableMemory& memory, Stage2Geometry geometry);
    Stage2Table(const Stage2Table&) = delete;
    Stage2Table& operator=(const Stage2Table&) = delete;

    /// Allocate the (zeroed) root. kInvalidArgument if the geometry is not one stage2_geometry()
    /// returns or init() already ran; kOutOfMemory; kNotAligned if TableMemory broke its contract.
    Status init();

    /// Map [ipa, ipa+size) to [pa, pa+size), using 1 GiB and 2 MiB blocks wherever ipa, pa and
    /// the remaining size allow. kNotAligned (ipa/pa/size not 4 KiB aligned), kInvalidArgument
    /// (size 0, or no init()), kOutOfRange (beyond ipa_bits or a 48-bit PA), kOverlap (any part
    /// already mapped), kOutOfMemory (tables exhausted). On failure nothing is mapped.
    Status map(std::uint64_t ipa, std::uint64_t pa, std::uint64_t size, Stage2Perms perms);

    /// Unmap [ipa, ipa+size) (holes are fine), splitting blocks that straddle its ends and
    /// freeing tables left empty. kOutOfMemory if a split cannot get a table: then nothing is
    /// unmapped (blocks already split still translate exactly as before).
    /// Splitting replaces a valid block with a table: a change of block size, which needs
    /// break-before-make (Arm ARM D8, "Using break-before-make when updating translation table
    /// entries") unless FEAT_BBM level 2. So split only while the VM's vCPUs are stopped, and
    /// invalidate this VMID's TLB entries before they run again.
    Status unmap(std::uint64_t ipa, std::uint64_t size);

    /// Translate `ipa`: kNotFound if unmapped, kOutOfRange beyond ipa_bits.
    Result<Stage2Walk> walk(std::uint64_t ipa) const;

    /// Physical address of the root, for VTTBR_EL2.BADDR (aligned to concat_tables * 4 KiB).
    std::uint64_t root_pa() const { return root_pa_; }
    const Stage2Geometry& geometry() const { return geometry_; }

    /// Free every table, root included. The table is unusable until init() runs again.
    void destroy();

private:
    std::uint64_t* entry(std::uint64_t table_pa, unsigned level, std::uint64_t ipa) const;
    Status check_range(std::uint64_t ipa, std::uint64_t size) const;
    bool range_is_unmapped(std::uint64_t table_pa, unsigned level, std::uint64_t ipa,
                           std::uint64_t size) const;
    Status map_range(std::uint64_t table_pa, unsigned level, std::uint64_t ipa, std::uint64_t pa,
                     std::uint64_t size, std::uint64_t attrs);
    void clear_range(std::uint64_t table_pa, unsigned level, std::uint64_t ipa, std::uint64_t size);
    Status split_at(std::uint64_t ipa);
    bool table_is_empty(std::uint64_t table_pa) const;
    void free_subtree(std::uint64_t table_pa, unsigned level, std::uint64_t entries);

    TableMemory& memory_;
    Stage2Geometry geometry_;
    std::uint64_t root_pa_ = 0;
    bool live_ = false;
};

}  // namespace corvisor
