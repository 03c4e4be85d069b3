// Creates guests from their configuration: RAM, stage 2, images, DTB, devices, vCPUs; and is the
// VmPlatform they run on (console, reset, stop accounting).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "base/limits.hpp"
#include "boot/guest_hw.hpp"
#include "exec/cpu.hpp"
#include "exec/spinlock.hpp"
#include "mm/page_alloc.hpp"
#include "mm/stage2.hpp"
#include "vm/guest_config.hpp"
#include "vm/image.hpp"
#include "vm/vm.hpp"

namespace corvisor {

class GuestLoader final : public VmPlatform, private TableMemory {
public:
    GuestLoader(const void* boot_fdt, PageAllocator& pages, const GuestHardware& hw);

    /// Build and start the guest with its vCPUs on the pCPUs `placement` names; reports why and
    /// returns false if it cannot run.
    struct Placement {
        std::array<std::uint32_t, kMaxVcpus> pcpu{};
    };
    bool create(const GuestConfig& config, const Placement& placement);
    std::uint32_t running() const { return running_.load(std::memory_order_acquire); }
    /// One line per guest: how it ended and its exits by kind.
    void print_summary() const;
    /// Exits taken by the vCPUs placed on pCPU `pcpu`.
    std::uint64_t exits_on(std::uint32_t pcpu) const;
    /// The hypervisor's own memory for one vCPU (its state and run-loop frame) and for one
    /// guest besides its vCPUs (VM, vGIC, stage-2 object, configuration, console queue), beyond
    /// guest RAM and page tables: all static, reserved for every slot.
    static std::size_t bytes_per_vcpu();
    static std::size_t bytes_per_guest();

    // VmPlatform
    void guest_console_line(const Vm& vm, std::string_view text) override;
    void guest_event(const Vm& vm, std::string_view text) override;
    void guest_device_line(const Vm& vm, std::string_view prefix, std::string_view text) override;
    void* allocate(std::size_t size, std::size_t align) override;
    Status reload(Vm& vm, std::uint64_t& entry, std::uint64_t& dtb) override;
    /// A stopped guest's RAM is zeroed and given back (vm_stopped); a start takes it afresh.
    void vm_stopped(Vm& vm) override;
    Status prepare_start(Vm& vm) override;
    void start_failed(Vm& vm) override;
    void vm_started(Vm& vm) override;
    void vm_parked(Vm& vm) override;
    /// Bytes that stopped guests have given back (RAM and the stage-2 tables mapping it) and
    /// not taken again.
    std::uint64_t ram_returned() const { return ram_returned_.load(std::memory_order_relaxed); }
    void console_space(Vm& vm) override;
    void guest_console_pending(Vm& vm) override;
    void guest_console_partial(const Vm& vm, std::string_view text) override;

private:
    struct Slot {
        const GuestConfig* config = nullptr;
        Vm* vm = nullptr;
        std::uint64_t ram_pa = 0;  // 0 while stopped (given back)
        Stage2Table* s2 = nullptr;
        GuestLayout layout;
    };

    // TableMemory: stage-2 tables from the page allocator, identity-mapped.
    Result<std::uint64_t> alloc_table() override;
    void free_table(std::uint64_t pa) override;
    std::uint64_t* table_ptr(std::uint64_t pa) override;
    Result<std::uint64_t> alloc_tables(unsigned count) override;
    void free_tables(std::uint64_t pa, unsigned count) override;

    Status load_images(Slot& slot, std::uint32_t boot_count);
    void release_ram(Slot& slot);
    Status map_flash(const GuestConfig& config, Stage2Table& s2);
    void print_mmio_by_device(Vm& vm) const;
    static void print_device_counters(const Vm& vm);
    Slot* slot_of(const Vm& vm);

    const void* boot_fdt_;
    PageAllocator& pages_;
    GuestHardware hw_;
    Slot slots_[kMaxGuests];
    std::uint32_t count_ = 0;
    std::atomic<std::uint32_t> running_{0};
    // Device state and other per-guest objects: a bump arena refilled from the page allocator.
    std::uintptr_t arena_next_ = 0;
    std::uintptr_t arena_end_ = 0;
    std::uint64_t erased_flash_pa_ = 0;  // one erased 2 MiB block, mapped read-only by all
    SpinLock images_lock_;               // load_images (its one guest DTB buffer)
    // The page allocator and the arena: a guest may stop (and give its RAM back) or start on
    // any pCPU, also while later guests are still being created.
    RecursiveSpinLock pages_lock_;
    struct PagesGuard {
        explicit PagesGuard(RecursiveSpinLock& l) : lock(l) { lock.lock(&this_cpu()); }
        ~PagesGuard() { lock.unlock(); }
        PagesGuard(const PagesGuard&) = delete;
        PagesGuard& operator=(const PagesGuard&) = delete;
        RecursiveSpinLock& lock;
    };
    std::atomic<std::uint64_t> ram_returned_{0};
};

}  // namespace corvisor
