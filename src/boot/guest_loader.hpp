// Creates guests from their configuration: RAM, stage 2, images, DTB, devices, vCPUs; and is the
// VmPlatform they run on (console, reset, stop accounting).
#pragma once

#include <cstdint>

#include "base/limits.hpp"
#include "boot/guest_hw.hpp"
#include "mm/page_alloc.hpp"
#include "mm/stage2.hpp"
#include "vm/guest_config.hpp"
#include "vm/image.hpp"
#include "vm/vm.hpp"

namespace corvisor {

class GuestLoader final : public VmPlatform, private TableMemory {
public:
    /// `shared_pcpu`: more than one vCPU will run on the boot pCPU (WFI must then trap).
    GuestLoader(const void* boot_fdt, PageAllocator& pages, const GuestHardware& hw,
                bool shared_pcpu);

    /// Build and start the guest; reports why and returns false if it cannot run.
    bool create(const GuestConfig& config, Executor& executor);
    std::uint32_t running() const { return running_; }
    /// One line per guest: how it ended and its exits by kind.
    void print_summary() const;

    // VmPlatform
    void guest_console_line(const Vm& vm, std::string_view text) override;
    void guest_event(const Vm& vm, std::string_view text) override;
    void* allocate(std::size_t size, std::size_t align) override;
    Status reload(Vm& vm, std::uint64_t& entry, std::uint64_t& dtb) override;
    void vm_stopped(Vm& vm) override;
    void console_space(Vm& vm) override;
    void guest_console_pending(Vm& vm) override;
    void guest_console_partial(const Vm& vm, std::string_view text) override;

private:
    struct Slot {
        const GuestConfig* config = nullptr;
        Vm* vm = nullptr;
        std::uint64_t ram_pa = 0;
        GuestLayout layout;
    };

    // TableMemory: stage-2 tables from the page allocator, identity-mapped.
    Result<std::uint64_t> alloc_table() override;
    void free_table(std::uint64_t pa) override;
    std::uint64_t* table_ptr(std::uint64_t pa) override;
    Result<std::uint64_t> alloc_tables(unsigned count) override;
    void free_tables(std::uint64_t pa, unsigned count) override;

    Status load_images(Slot& slot, std::uint32_t boot_count);
    Status map_flash(const GuestConfig& config, Stage2Table& s2);
    void print_mmio_by_device(Vm& vm) const;
    Slot* slot_of(const Vm& vm);

    const void* boot_fdt_;
    PageAllocator& pages_;
    GuestHardware hw_;
    bool shared_pcpu_;
    Slot slots_[kMaxGuests];
    std::uint32_t count_ = 0;
    std::uint32_t running_ = 0;
    // Device state and other per-guest objects: a bump arena refilled from the page allocator.
    std::uintptr_t arena_next_ = 0;
    std::uintptr_t arena_end_ = 0;
    std::uint64_t erased_flash_pa_ = 0;  // one erased 2 MiB block, mapped read-only by all
};

}  // namespace corvisor
