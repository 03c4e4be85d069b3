#include "boot/guest_loader.hpp"

#include <libfdt.h>

#include <limits>
#include <new>
#include <string_view>

#include "arch/arch.hpp"
#include "base/log.hpp"
#include "boot/console_input.hpp"
#include "boot/monitor.hpp"
#include "exec/cpu.hpp"
#include "vdev/flash.hpp"
#include "vdev/pl011.hpp"
#include "vgic/vgic.hpp"
#include "vm/guest_dtb.hpp"

namespace corvisor {

namespace {

constexpr std::uint64_t kTwoMiB = 2ull << 20;
constexpr std::size_t kArenaChunk = 64 * 1024;

alignas(Vm) std::byte g_vm_storage[kMaxGuests][sizeof(Vm)];
alignas(Stage2Table) std::byte g_s2_storage[kMaxGuests][sizeof(Stage2Table)];
alignas(Vgic) std::byte g_vgic_storage[kMaxGuests][sizeof(Vgic)];
alignas(8) std::byte g_dtb_buffer[kGuestDtbMaxSize];

/// A device node from the guest list, as a device factory sees it.
struct DeviceCookie {
    const void* fdt;
    const DeviceConfig* device;
};

/// Adapts a device node from the guest list to what a device factory sees. An image the
/// loader placed (`corvisor,image-addr`, checked and kept out of guest RAM at boot) is what the
/// device reads as `corvisor,image`.
const void* device_property(const void* cookie, const char* name, int* len) {
    const auto* c = static_cast<const DeviceCookie*>(cookie);
    const ImageRef& host = c->device->host_image;
    if (host.size != 0 && host.data != nullptr && std::string_view(name) == "corvisor,image" &&
        host.size <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
        if (len != nullptr) {
            *len = static_cast<int>(host.size);
        }
        return host.data;
    }
    return fdt_getprop(c->fdt, c->device->node_offset, name, len);
}

}  // namespace

GuestLoader::GuestLoader(const void* boot_fdt, PageAllocator& pages, const GuestHardware& hw)
    : boot_fdt_(boot_fdt), pages_(pages), hw_(hw) {}

Result<std::uint64_t> GuestLoader::alloc_table() {
    return alloc_tables(1);
}

Result<std::uint64_t> GuestLoader::alloc_tables(unsigned count) {
    const PagesGuard pages(pages_lock_);
    std::uint64_t size = kTableSize * count;
    std::uint64_t pa = CV_TRY(pages_.alloc(size, size));
    __builtin_memset(reinterpret_cast<void*>(pa), 0, size);
    return pa;
}

void GuestLoader::free_table(std::uint64_t pa) {
    const PagesGuard pages(pages_lock_);
    pages_.free(pa, kTableSize);
}
void GuestLoader::free_tables(std::uint64_t pa, unsigned count) {
    const PagesGuard pages(pages_lock_);
    pages_.free(pa, kTableSize * count);
}
std::uint64_t* GuestLoader::table_ptr(std::uint64_t pa) {
    return reinterpret_cast<std::uint64_t*>(pa);
}

void* GuestLoader::allocate(std::size_t size, std::size_t align) {
    const PagesGuard pages(pages_lock_);
    std::uintptr_t p = (arena_next_ + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
    if (arena_next_ == 0 || p + size > arena_end_) {
        std::size_t chunk = size + align > kArenaChunk ? size + align : kArenaChunk;
        Result<std::uint64_t> pa = pages_.alloc(chunk, 4096);
        if (!pa) {
            return nullptr;
        }
        arena_next_ = *pa;
        arena_end_ = *pa + chunk;
        p = (arena_next_ + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
    }
    arena_next_ = p + size;
    __builtin_memset(reinterpret_cast<void*>(p), 0, size);
    return reinterpret_cast<void*>(p);
}

bool GuestLoader::create(const GuestConfig& config, const Placement& placement) {
    // Guests created earlier may already stop (and give their RAM back) on other pCPUs.
    const PagesGuard pages(pages_lock_);
    std::string_view name = config.name_view();
    if (count_ >= kMaxGuests) {
        log_error("guest {}: more than {} guests; skipped", name, kMaxGuests);
        return false;
    }
    Slot& slot = slots_[count_];
    slot.config = &config;

    Result<std::uint64_t> ram = pages_.alloc(config.ram_size, kTwoMiB);
    if (!ram) {
        log_error("guest {}: cannot allocate {} MiB of RAM: {}; skipped", name,
                  config.ram_size >> 20, to_string(ram.error()));
        return false;
    }
    slot.ram_pa = *ram;
    __builtin_memset(reinterpret_cast<void*>(slot.ram_pa), 0, config.ram_size);

    auto* s2 = new (g_s2_storage[count_]) Stage2Table(*this, hw_.geometry);
    slot.s2 = s2;
    Status st = s2->init();
    if (st) {
        st = s2->map(config.ram_base, slot.ram_pa, config.ram_size,
                     Stage2Perms{true, true, true, MemType::kNormal});
    }
    if (!st) {
        log_error("guest {}: stage-2 map of RAM failed: {}; skipped", name, to_string(st.error()));
        s2->destroy();
        pages_.free(slot.ram_pa, config.ram_size);
        return false;
    }
    if (config.has_flash()) {
        if (Status f = map_flash(config, *s2); !f) {
            log_error("guest {}: cannot map its flash: {}; skipped", name, to_string(f.error()));
            s2->destroy();
            pages_.free(slot.ram_pa, config.ram_size);
            return false;
        }
    }

    Result<GuestLayout> layout = plan_guest_layout(config, kGuestDtbMaxSize);
    if (!layout) {
        log_error("guest {}: images do not fit: {}; skipped", name, to_string(layout.error()));
        s2->destroy();
        pages_.free(slot.ram_pa, config.ram_size);
        return false;
    }
    slot.layout = *layout;

    Vm::Config vc;
    vc.name = name;
    vc.id = count_ + 1;  // VMID 0 is left unused
    vc.vcpus = config.vcpus;
    vc.ram_base = config.ram_base;
    vc.ram_size = config.ram_size;
    vc.vttbr = s2->root_pa() | (static_cast<std::uint64_t>(vc.id) << 48);
    vc.hcr = hw_.hcr_alone;
    vc.hcr_shared = hw_.hcr_shared;
    vc.pcpu = placement.pcpu;
    vc.cntvoff = arch_now();  // the guest's virtual counter starts near 0
    vc.id_registers = &hw_.guest_ids;
    vc.cpacr_force = hw_.cpacr_force;
    vc.mdcr = hw_.controls.mdcr.value();
    vc.ram_host = reinterpret_cast<std::byte*>(slot.ram_pa);
    Vm* vm = new (g_vm_storage[count_]) Vm(*this, vc);
    slot.vm = vm;

    // The guest's GICv3: ITLinesNumber covers its highest SPI (at least one block of 32).
    std::uint32_t max_spi = 0;
    for (const DeviceConfig& d : config.device_list()) {
        for (std::uint32_t irq : d.irq_list()) {
            max_spi = irq >= 32 && irq - 31 > max_spi ? irq - 31 : max_spi;
        }
    }
    std::uint32_t spis = (max_spi + 31) / 32 * 32;
    spis = spis < 32 ? 32 : (spis > kVgicMaxSpis ? kVgicMaxSpis : spis);
    auto* vgic = new (g_vgic_storage[count_]) Vgic(Vgic::Config{config.vcpus, spis, vm->spread()});
    vm->attach_vgic(*vgic, hw_.list_registers);
    Status gic_mapped = vm->bus().add(config.gic_dist_base, kGicDistSize, vgic->distributor(), 0);
    if (gic_mapped) {
        gic_mapped =
            vm->bus().add(config.gic_redist_base, std::uint64_t{kGicRedistStride} * config.vcpus,
                          vgic->redistributors(), 0);
    }
    if (gic_mapped && config.has_flash()) {
        // The flash's writes (its reads are mapped): ignored.
        void* mem = vm->allocate(sizeof(Flash), alignof(Flash));
        gic_mapped = mem == nullptr
                         ? Status(Error::kOutOfMemory)
                         : vm->bus().add(kVirtFlashBase, kVirtFlashSize, *new (mem) Flash(), 0);
    }
    if (!gic_mapped) {
        log_error("guest {}: cannot map its GIC or flash: {}; skipped", name,
                  to_string(gic_mapped.error()));
        vm->~Vm();
        s2->destroy();
        pages_.free(slot.ram_pa, config.ram_size);
        return false;
    }

    for (const DeviceConfig& d : config.device_list()) {
        DeviceFactory factory = find_device_factory(d.compatible);
        const DeviceCookie cookie{boot_fdt_, &d};
        NodeProblem problem;
        DeviceNode node{d.name(),        d.compatible, d.region_list(), d.irq_list(),
                        device_property, &cookie,      &problem};
        Result<Device*> dev = factory != nullptr ? factory(node, *vm) : Error::kNotFound;
        if (!dev && problem.length != 0) {
            log_error("guest {}: device {}: {}; skipped", name, d.name(), problem.view());
            vm->~Vm();
            s2->destroy();
            pages_.free(slot.ram_pa, config.ram_size);
            return false;
        }
        Status added;
        for (std::uint32_t r = 0; dev && added && r < d.reg_count; ++r) {
            added = vm->bus().add(d.regs[r].base, d.regs[r].size, **dev, r);
        }
        if (dev && added && !vm->has_console() && d.compatible == std::string_view("arm,pl011")) {
            vm->set_console_uart(*static_cast<Pl011*>(*dev));
        }
        if (!dev || !added) {
            log_error("guest {}: device {}: {}; skipped", name, d.name(),
                      to_string(!dev ? dev.error() : added.error()));
            vm->~Vm();
            s2->destroy();
            pages_.free(slot.ram_pa, config.ram_size);
            return false;
        }
    }

    if (Status s = load_images(slot, 0); !s) {
        log_error("guest {}: loading images failed: {}; skipped", name, to_string(s.error()));
        vm->~Vm();
        s2->destroy();
        pages_.free(slot.ram_pa, config.ram_size);
        return false;
    }
    arch_flush_guest_tlb(vc.vttbr);
    bool loops = false;
    {
        // Its run loops live as long as the guest: frames of their own, not the boot pCPU's.
        const ScopedFramePool long_lived(long_lived_frame_pool());
        loops = vm->start_loops();
    }
    if (!loops) {
        log_error("guest {}: coroutine frame pool exhausted; skipped", name);
        vm->~Vm();
        s2->destroy();
        pages_.free(slot.ram_pa, config.ram_size);
        return false;
    }
    // The guest's virtual counter reads 0 at this physical count (bench/boot_linux.sh adds it to
    // the guest's own timestamps to measure from QEMU's start).
    log_debug("guest {}: virtual counter origin {}", name, vc.cntvoff);
    log_debug("guest {}: kernel at IPA {} ({} bytes), DTB at IPA {}, initrd {} bytes, {} device(s)",
              name, hex(slot.layout.kernel_ipa), slot.layout.kernel_size, hex(slot.layout.dtb_ipa),
              slot.layout.initrd_size, config.device_count);
    if (vm->has_console()) {
        console_input_add(*vm);
    }
    monitor_add(*vm);
    ++count_;
    running_.fetch_add(1, std::memory_order_acq_rel);
    log_info("guest {}: {} MiB at IPA {} (PA {}), {} vCPU(s), entry {}", name,
             config.ram_size >> 20, hex(config.ram_base), hex(slot.ram_pa), config.vcpus,
             hex(slot.layout.entry_ipa));
    char where[96];
    FormatBuffer out(where, sizeof where);
    for (std::uint32_t v = 0; v < config.vcpus; ++v) {
        format_to(out, "{}vCPU {} on pCPU {}", v == 0 ? "" : ", ", v, placement.pcpu[v]);
    }
    log_info("guest {}: {}", name, out.view());
    // Its loops wait on their pCPUs (every vCPU off) until vCPU 0 is powered on here.
    vm->boot(slot.layout.entry_ipa, slot.layout.dtb_ipa);
    return true;
}

Status GuestLoader::map_flash(const GuestConfig& config, Stage2Table& s2) {
    // The image, from IPA 0, in pages of its own rounded up to 2 MiB and erased (0xff) past
    // its end; the rest of both banks is one erased 2 MiB block that every guest maps.
    const Stage2Perms rom{true, false, true, MemType::kNormal};
    const std::uint64_t own = (config.flash.size + kTwoMiB - 1) & ~(kTwoMiB - 1);
    const std::uint64_t pa = CV_TRY(pages_.alloc(own, kTwoMiB));
    __builtin_memset(reinterpret_cast<void*>(pa), 0xff, own);
    __builtin_memcpy(reinterpret_cast<void*>(pa), config.flash.data, config.flash.size);
    arch_clean_dcache(pa, own);
    CV_TRY(s2.map(kVirtFlashBase, pa, own, rom));
    if (own < kVirtFlashSize) {
        if (erased_flash_pa_ == 0) {
            erased_flash_pa_ = CV_TRY(pages_.alloc(kTwoMiB, kTwoMiB));
            __builtin_memset(reinterpret_cast<void*>(erased_flash_pa_), 0xff, kTwoMiB);
            arch_clean_dcache(erased_flash_pa_, kTwoMiB);
        }
        for (std::uint64_t ipa = kVirtFlashBase + own; ipa < kVirtFlashBase + kVirtFlashSize;
             ipa += kTwoMiB) {
            CV_TRY(s2.map(ipa, erased_flash_pa_, kTwoMiB, rom));
        }
    }
    return {};
}

Status GuestLoader::load_images(Slot& slot, std::uint32_t boot_count) {
    // Guests on different pCPUs may reset at once: one guest DTB buffer, one at a time.
    LockGuard<SpinLock> images(images_lock_);
    const GuestConfig& c = *slot.config;
    const GuestLayout& l = slot.layout;
    auto pa_of = [&](std::uint64_t ipa) { return slot.ram_pa + (ipa - c.ram_base); };
    if (l.kernel_size != 0) {  // none for firmware in flash alone
        if (c.kernel.data == nullptr) {
            return Error::kNotFound;
        }
        __builtin_memcpy(reinterpret_cast<void*>(pa_of(l.kernel_ipa)), c.kernel.data,
                         l.kernel_size);
        arch_clean_dcache(pa_of(l.kernel_ipa), l.kernel_size);
    }
    if (l.initrd_size != 0 && c.initrd.data != nullptr) {
        __builtin_memcpy(reinterpret_cast<void*>(pa_of(l.initrd_ipa)), c.initrd.data,
                         l.initrd_size);
        arch_clean_dcache(pa_of(l.initrd_ipa), l.initrd_size);
    }
    std::uint32_t size =
        CV_TRY(build_guest_dtb(c, l, boot_fdt_, g_dtb_buffer,
                               static_cast<std::uint32_t>(sizeof g_dtb_buffer), boot_count));
    if (size > l.dtb_size_max) {
        return Error::kOutOfRange;
    }
    __builtin_memcpy(reinterpret_cast<void*>(pa_of(l.dtb_ipa)), g_dtb_buffer, size);
    arch_clean_dcache(pa_of(l.dtb_ipa), size);
    return {};
}

GuestLoader::Slot* GuestLoader::slot_of(const Vm& vm) {
    for (std::uint32_t i = 0; i < count_; ++i) {
        if (slots_[i].vm == &vm) {
            return &slots_[i];
        }
    }
    return nullptr;
}

Status GuestLoader::reload(Vm& vm, std::uint64_t& entry, std::uint64_t& dtb) {
    Slot* slot = slot_of(vm);
    if (slot == nullptr) {
        return Error::kNotFound;
    }
    // Nothing of the last boot survives into the next: RAM is zeroed, then the images go in.
    __builtin_memset(reinterpret_cast<void*>(slot->ram_pa), 0, slot->config->ram_size);
    CV_TRY(load_images(*slot, vm.boot_count()));
    entry = slot->layout.entry_ipa;
    dtb = slot->layout.dtb_ipa;
    return {};
}

void GuestLoader::guest_console_line(const Vm& vm, std::string_view text) {
    console::guest_line(vm.name(), text, &vm);
    console_output_done(vm);
}

void GuestLoader::guest_console_partial(const Vm& vm, std::string_view text) {
    console::guest_partial(vm.name(), text, &vm);
}

void GuestLoader::guest_console_pending(Vm& vm) {
    console_output_pending(vm);
}

void GuestLoader::guest_device_line(const Vm& vm, std::string_view prefix, std::string_view text) {
    char who[kMaxNameLength + 1 + 24];
    FormatBuffer out(who, sizeof who);
    format_to(out, "{}:{}", vm.name(), prefix);
    console::guest_line(out.view(), text, &vm);
}

void GuestLoader::guest_event(const Vm& vm, std::string_view text) {
    log_warn("guest {}: {}", vm.name(), text);
}

void GuestLoader::release_ram(Slot& slot) {
    // Every vCPU is parked: unmapped, its TLB entries gone, zeroed, back to the allocator.
    const PagesGuard pages(pages_lock_);
    const GuestConfig& c = *slot.config;
    if (slot.ram_pa == 0) {
        return;
    }
    const std::uint64_t free_before = pages_.free_bytes();
    if (Status s = slot.s2->unmap(c.ram_base, c.ram_size); !s) {
        log_warn("guest {}: cannot unmap its RAM: {}; kept", slot.vm->name(), to_string(s.error()));
        return;
    }
    arch_flush_guest_tlb(slot.vm->vttbr());
    slot.vm->set_ram_host(nullptr);  // no device DMA into what goes back to the allocator
    __builtin_memset(reinterpret_cast<void*>(slot.ram_pa), 0, c.ram_size);
    pages_.free(slot.ram_pa, c.ram_size);
    slot.ram_pa = 0;
    // Its RAM, and the stage-2 tables that mapped it.
    ram_returned_.fetch_add(pages_.free_bytes() - free_before, std::memory_order_relaxed);
}

Status GuestLoader::prepare_start(Vm& vm) {
    Slot* slot = slot_of(vm);
    if (slot == nullptr) {
        return Error::kNotFound;
    }
    const PagesGuard pages(pages_lock_);
    const GuestConfig& c = *slot->config;
    if (slot->ram_pa != 0) {
        return {};  // its RAM was kept (see release_ram); reload zeroes it
    }
    const std::uint64_t free_before = pages_.free_bytes();
    const std::uint64_t pa = CV_TRY(pages_.alloc(c.ram_size, kTwoMiB));
    if (Status s = slot->s2->map(c.ram_base, pa, c.ram_size,
                                 Stage2Perms{true, true, true, MemType::kNormal});
        !s) {
        pages_.free(pa, c.ram_size);
        return s;
    }
    arch_flush_guest_tlb(vm.vttbr());
    slot->ram_pa = pa;
    vm.set_ram_host(reinterpret_cast<std::byte*>(pa));
    ram_returned_.fetch_sub(free_before - pages_.free_bytes(), std::memory_order_relaxed);
    return {};
}

void GuestLoader::start_failed(Vm& vm) {
    if (Slot* slot = slot_of(vm); slot != nullptr) {
        release_ram(*slot);
    }
}

void GuestLoader::vm_started(Vm& vm) {
    running_.fetch_add(1, std::memory_order_acq_rel);
    const Slot* slot = slot_of(vm);
    log_info("guest {}: started again (boot {}), RAM at PA {}", vm.name(), vm.boot_count() + 1,
             hex(slot != nullptr ? slot->ram_pa : 0));
}

void GuestLoader::vm_parked(Vm& vm) {
    monitor_guest_stopped(vm);
}

void GuestLoader::vm_stopped(Vm& vm) {
    log_info("guest {}: {}", vm.name(), to_string(vm.stop_reason()));
    if (Slot* slot = slot_of(vm); slot != nullptr) {
        release_ram(*slot);
    }
    if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1 && this_cpu().id != 0) {
        arch_kick_pcpu(0);  // the boot pCPU ends the run when the last guest has stopped
    }
}

void GuestLoader::console_space(Vm& vm) {
    console_input_drain(vm);
}

void GuestLoader::print_summary() const {
    log_info("summary: {} guest(s)", count_);
    for (std::uint32_t i = 0; i < count_; ++i) {
        const Vm& vm = *slots_[i].vm;
        ExitStats s = vm.total_stats();
        log_info(
            "  {}: {} after {} boot(s); exits: mmio {} hvc {} smc {} sysreg {} wfx {} irq {} "
            "maintenance {} aborts-injected {} other {}",
            vm.name(), to_string(vm.stop_reason()), vm.boot_count() + 1, s[ExitCounter::kMmio],
            s[ExitCounter::kHvc], s[ExitCounter::kSmc], s[ExitCounter::kSysReg],
            s[ExitCounter::kWfx], s[ExitCounter::kIrq], s[ExitCounter::kMaintenance],
            s[ExitCounter::kAbortInjected], s[ExitCounter::kOther]);
        print_mmio_by_device(*slots_[i].vm);
        print_device_counters(*slots_[i].vm);
    }
}

void GuestLoader::print_device_counters(const Vm& vm) {
    // One line per device: "    rtc@9010000: reads 3, alarms 1".
    for (std::uint32_t i = 0; const Vm::CounterEntry* e = vm.counter_entry(i); ++i) {
        bool first_of_device = true;
        for (std::uint32_t j = 0; j < i; ++j) {
            first_of_device = first_of_device && vm.counter_entry(j)->device != e->device;
        }
        if (!first_of_device) {
            continue;
        }
        char line[160];
        FormatBuffer out(line, sizeof line);
        for (std::uint32_t j = i; const Vm::CounterEntry* f = vm.counter_entry(j); ++j) {
            if (f->device == e->device) {
                format_to(out, "{}{} {}", j == i ? "" : ", ", f->name, f->value.value());
            }
        }
        log_info("    {}: {}", e->device, out.view());
    }
}

std::size_t GuestLoader::bytes_per_vcpu() {
    return sizeof(Vcpu) + kFrameBlockSize;
}

std::size_t GuestLoader::bytes_per_guest() {
    return sizeof(Vm) - kMaxVcpus * sizeof(Vcpu) + sizeof(Vgic) + sizeof(Stage2Table) +
           sizeof(GuestConfig) + sizeof(Slot) + kConsoleQueueBytes;
}

std::uint64_t GuestLoader::exits_on(std::uint32_t pcpu) const {
    std::uint64_t total = 0;
    for (std::uint32_t i = 0; i < count_; ++i) {
        Vm& vm = *slots_[i].vm;
        for (std::uint32_t v = 0; v < vm.vcpu_count(); ++v) {
            if (vm.vcpu(v).pcpu() == pcpu) {
                const ExitStats s = vm.vcpu(v).stats();
                for (std::uint64_t n : s.counts) {
                    total += n;
                }
            }
        }
    }
    return total;
}

void GuestLoader::print_mmio_by_device(Vm& vm) const {
    char buf[200];
    FormatBuffer out(buf, sizeof buf);
    format_to(out, "    mmio by device:");
    const MmioBus& bus = vm.bus();
    for (std::size_t e = 0; e < bus.entry_count(); ++e) {
        std::uint64_t hits = 0;
        for (std::uint32_t v = 0; v < vm.vcpu_count(); ++v) {
            hits += vm.vcpu(v).mmio_hits(static_cast<std::uint32_t>(e));
        }
        format_to(out, " {}@{} {}", bus.entry(e).device->name(), hex(bus.entry(e).base), hits);
    }
    log_info("{}", out.view());
}

}  // namespace corvisor
