// The portable boot (hypervisor_main, called by the machine's entry): the platform from the boot
// DTB, the EL2 MMU map, memory, the guests of the guest list, and the executor loop until the
// last guest stops.
#include <libfdt.h>

#include <atomic>
#include <cstdint>

#include "arch/arch.hpp"
#include "base/log.hpp"
#include "boot/console_input.hpp"
#include "boot/guest_hw.hpp"
#include "boot/guest_loader.hpp"
#include "boot/irq_dispatch.hpp"
#include "boot/monitor.hpp"
#include "corvisor/device.hpp"
#include "exec/cpu.hpp"
#include "mm/page_alloc.hpp"
#include "mm/stage2.hpp"
#include "vm/guest_list.hpp"

namespace corvisor {

namespace {

PageAllocator g_pages;
GuestConfig g_configs[kMaxGuests];

struct Reg {
    std::uint64_t base = 0;
    std::uint64_t size = 0;
};

std::uint64_t read_cells(const fdt32_t* p, int cells) {
    std::uint64_t v = 0;
    for (int i = 0; i < cells; ++i) {
        v = (v << 32) | fdt32_to_cpu(p[i]);
    }
    return v;
}

/// The `index`th (base, size) of a node's `reg`, decoded with its parent's cell counts.
bool node_reg(const void* fdt, int node, int index, Reg& out) {
    int parent = fdt_parent_offset(fdt, node);
    int ac = fdt_address_cells(fdt, parent);
    int sc = fdt_size_cells(fdt, parent);
    int len = 0;
    const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, "reg", &len));
    if (p == nullptr || ac < 1 || ac > 2 || sc < 0 || sc > 2) {
        return false;
    }
    int per = ac + sc;
    if (len < (index + 1) * per * 4) {
        return false;
    }
    out.base = read_cells(p + index * per, ac);
    out.size = read_cells(p + index * per + ac, sc);
    return true;
}

/// A string property of /chosen and its length (with the NUL), or nullptr.
const char* chosen_string(const void* fdt, const char* name, int& len) {
    int chosen = fdt_path_offset(fdt, "/chosen");
    len = 0;
    return chosen >= 0 ? static_cast<const char*>(fdt_getprop(fdt, chosen, name, &len)) : nullptr;
}

/// The physical console: /chosen stdout-path (a path or an alias, options after ':'), else the
/// first PL011.
int find_console(const void* fdt) {
    int len = 0;
    const char* path = chosen_string(fdt, "stdout-path", len);
    if (path != nullptr && len > 0) {
        int n = 0;
        while (n < len && path[n] != '\0' && path[n] != ':') {
            ++n;
        }
        int node = fdt_path_offset_namelen(fdt, path, n);
        if (node >= 0) {
            return node;
        }
    }
    return fdt_node_offset_by_compatible(fdt, -1, "arm,pl011");
}

/// Map every node of `compatible` for the hypervisor; the first one's offset, or < 0.
int map_device_node(const void* fdt, const char* compatible) {
    int first = -1;
    for (int node = fdt_node_offset_by_compatible(fdt, -1, compatible); node >= 0;
         node = fdt_node_offset_by_compatible(fdt, node, compatible)) {
        first = first < 0 ? node : first;
        Reg r;
        for (int i = 0; node_reg(fdt, node, i, r); ++i) {
            arch_mmu_map(r.base, r.size, false);
        }
    }
    return first;
}

// Without a real-time clock, devices' wall clock starts at 2026-01-01T00:00:00Z.
constexpr std::uint64_t kFallbackEpoch = 1'767'225'600;

/// The wall clock for devices (DeviceHost::wall_clock): the machine's PL031 data register
/// (seconds since 1970; QEMU sets it from the host's clock, or from `-rtc base=`), read once.
WallClock read_wall_clock(const void* fdt, int rtc) {
    Reg r;
    if (rtc >= 0 && node_reg(fdt, rtc, 0, r) && r.size >= 4) {
        const std::uint64_t at = arch_now();
        return WallClock{arch_device_read32(r.base), at, true};
    }
    return WallClock{kFallbackEpoch, arch_now(), false};
}

void setup_memory(const BootInfo& boot) {
    const void* fdt = boot.fdt;
    for (int node = fdt_node_offset_by_prop_value(fdt, -1, "device_type", "memory", 7); node >= 0;
         node = fdt_node_offset_by_prop_value(fdt, node, "device_type", "memory", 7)) {
        Reg r;
        for (int i = 0; node_reg(fdt, node, i, r); ++i) {
            arch_mmu_map(r.base, r.size, true);
            if (Status s = g_pages.add_range(r.base, r.size); !s) {
                log_warn("memory {} + {}: {}", hex(r.base), hex(r.size), to_string(s.error()));
            }
        }
    }
    // The DTB's own reservations, the image (with BSS and stacks) and the DTB itself, which
    // holds the guest images embedded with /incbin/.
    for (int i = 0; i < fdt_num_mem_rsv(fdt); ++i) {
        std::uint64_t base = 0;
        std::uint64_t size = 0;
        if (fdt_get_mem_rsv(fdt, i, &base, &size) == 0) {
            (void)g_pages.reserve(base, size);
        }
    }
    (void)g_pages.reserve(boot.image_start, boot.image_end - boot.image_start);
    (void)g_pages.reserve(reinterpret_cast<std::uintptr_t>(fdt), fdt_totalsize(fdt));
}

/// `loglevel=error|warn|info|debug` in /chosen/bootargs (QEMU: -append "loglevel=debug").
void set_log_level_from_bootargs(const void* fdt) {
    int len = 0;
    const char* args = chosen_string(fdt, "bootargs", len);
    if (args == nullptr || len <= 0) {
        return;
    }
    std::string_view all(args, static_cast<std::size_t>(len - 1));
    constexpr std::string_view kKey = "loglevel=";
    for (std::size_t pos = 0; pos < all.size();) {
        std::size_t end = all.find(' ', pos);
        std::string_view word = all.substr(pos, end == std::string_view::npos ? end : end - pos);
        if (word.substr(0, kKey.size()) == kKey) {
            std::string_view v = word.substr(kKey.size());
            if (v == "error") {
                console::set_level(LogLevel::kError);
            } else if (v == "warn") {
                console::set_level(LogLevel::kWarn);
            } else if (v == "info") {
                console::set_level(LogLevel::kInfo);
            } else if (v == "debug") {
                console::set_level(LogLevel::kDebug);
            } else {
                log_warn("unknown loglevel '{}' (error, warn, info, debug)", v);
            }
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
}

/// The console UART's SPI as an INTID (its `interrupts` = <0 spi flags>), or 0.
std::uint32_t uart_spi(const void* fdt, int uart) {
    int len = 0;
    const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt, uart, "interrupts", &len));
    if (p == nullptr || len < 12 || fdt32_to_cpu(p[0]) != 0) {
        return 0;
    }
    return fdt32_to_cpu(p[1]) + 32;
}

class BootDiagnostics final : public Diagnostics {
public:
    void report(std::string_view node, std::string_view property,
                std::string_view reason) override {
        // Reports about the list itself skip no particular guest.
        std::string_view skipped = node == kGuestListPath ? "" : "; guest skipped";
        if (property.empty()) {
            log_error("guest list: {}: {}{}", node, reason, skipped);
        } else {
            log_error("guest list: {}: property '{}': {}{}", node, property, reason, skipped);
        }
    }
};

BootInfo g_boot{};

/// Whether [base, base + size) lies inside one range of the boot DTB's /memory nodes.
bool inside_ram(const void* fdt, std::uint64_t base, std::uint64_t size) {
    for (int node = fdt_node_offset_by_prop_value(fdt, -1, "device_type", "memory", 7); node >= 0;
         node = fdt_node_offset_by_prop_value(fdt, node, "device_type", "memory", 7)) {
        Reg r;
        for (int i = 0; node_reg(fdt, node, i, r); ++i) {
            if (base >= r.base && size <= r.size && base - r.base <= r.size - size) {
                return true;
            }
        }
    }
    return false;
}

const void* host_memory(std::uint64_t base, std::uint64_t size) {
    // An image the loader placed (`kernel-addr`, `initrd-addr`, `flash-addr`) is read before
    // anything else: it must lie in the machine's RAM (the boot DTB's /memory; a device window
    // would fault at EL2) and overlap neither the hypervisor's image nor the boot DTB.
    const auto fdt = reinterpret_cast<std::uint64_t>(g_boot.fdt);
    const std::uint64_t fdt_end = fdt + fdt_totalsize(g_boot.fdt);
    if (base + size < base || !inside_ram(g_boot.fdt, base, size) ||
        (base < g_boot.image_end && g_boot.image_start < base + size) ||
        (base < fdt_end && fdt < base + size)) {
        return nullptr;
    }
    return reinterpret_cast<const void*>(base);
}

// ---- pCPUs ------------------------------------------------------------------------------------

enum class PcpuState : std::uint32_t { kAbsent, kStarting, kUp, kAbandoned, kOff };
std::atomic<PcpuState> g_pcpu_state[kMaxPcpus];
std::uint32_t g_online[kMaxPcpus];  // the pCPUs that run, in boot order (g_online[0] = 0)
std::uint32_t g_online_count = 1;
std::atomic<bool> g_shutdown{false};
El2Controls g_controls;
GuestLoader::Placement g_placements[kMaxGuests];

/// Every CPU of the boot DTB's /cpus but this one, started and waited for (1 s each at most).
void start_secondaries(const void* fdt) {
    const std::uint64_t self = arch_mpidr().packed_affinity();
    const int cpus = fdt_path_offset(fdt, "/cpus");
    if (cpus < 0) {
        return;
    }
    const int ac = fdt_address_cells(fdt, cpus);
    std::uint32_t next = 1;
    int node = 0;
    fdt_for_each_subnode(node, fdt, cpus) {
        int len = 0;
        const char* type = static_cast<const char*>(fdt_getprop(fdt, node, "device_type", &len));
        if (type == nullptr || std::string_view(type) != "cpu") {
            continue;
        }
        const auto* reg = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, "reg", &len));
        if (reg == nullptr || ac < 1 || ac > 2 || len < ac * 4) {
            log_warn("{}: no usable reg; left out", fdt_get_name(fdt, node, nullptr));
            continue;
        }
        const std::uint64_t aff = read_cells(reg, ac);
        const Mpidr mpidr = Mpidr{}
                                .set_aff0(aff & 0xff)
                                .set_aff1((aff >> 8) & 0xff)
                                .set_aff2((aff >> 16) & 0xff)
                                .set_aff3((aff >> 32) & 0xff);
        if (mpidr.packed_affinity() == self) {
            continue;
        }
        const char* method =
            static_cast<const char*>(fdt_getprop(fdt, node, "enable-method", &len));
        if (method == nullptr || std::string_view(method) != "psci") {
            log_warn("pCPU with MPIDR {}: enable-method is not psci; left out", hex(aff));
            continue;
        }
        if (next >= kMaxPcpus) {
            log_warn("pCPU with MPIDR {}: more than {} pCPUs; left out", hex(aff), kMaxPcpus);
            continue;
        }
        g_pcpu_state[next].store(PcpuState::kStarting, std::memory_order_release);
        if (std::int64_t rc = arch_cpu_on(mpidr, next); rc != 0) {
            log_warn("pCPU {} (MPIDR {}): CPU_ON failed ({}); left out", next, hex(aff), rc);
            g_pcpu_state[next].store(PcpuState::kAbsent, std::memory_order_release);
            continue;
        }
        const std::uint64_t deadline = arch_now() + arch_counter_frequency();
        while (g_pcpu_state[next].load(std::memory_order_acquire) == PcpuState::kStarting &&
               arch_now() < deadline) {
            arch_wait_event();
        }
        PcpuState expected = PcpuState::kStarting;
        if (g_pcpu_state[next].compare_exchange_strong(expected, PcpuState::kAbandoned)) {
            log_warn("pCPU {} (MPIDR {}): did not come up; left out", next, hex(aff));
        } else if (expected == PcpuState::kUp) {
            g_online[g_online_count++] = next;
        }
        ++next;
    }
}

/// Ask every secondary to turn itself off once its executor is idle, and wait for them.
void stop_secondaries() {
    g_shutdown.store(true, std::memory_order_release);
    for (std::uint32_t i = 1; i < g_online_count; ++i) {
        arch_kick_pcpu(g_online[i]);
    }
    const std::uint64_t deadline = arch_now() + arch_counter_frequency();
    for (std::uint32_t i = 1; i < g_online_count; ++i) {
        while (g_pcpu_state[g_online[i]].load(std::memory_order_acquire) != PcpuState::kOff &&
               arch_now() < deadline) {
            arch_wait_event();
        }
    }
}

/// This pCPU's hypervisor interrupts: the GIC's maintenance interrupt, the hypervisor timer, the
/// loaded vCPU's timers and the kick SGI.
void enable_pcpu_irqs() {
    for (std::uint32_t intid :
         {kIntidMaintenance, kIntidHypTimer, kIntidVirtTimer, kIntidPhysTimer, kIntidKick}) {
        arch_irq_enable_ppi(intid, 0x80);
    }
}

/// Where each guest's vCPUs run: `cpu-affinity` (an index into the pCPUs that came up), else
/// the least loaded pCPU this guest does not use yet (then the least loaded one).
void place_guests(const GuestConfig* configs, std::uint32_t count,
                  GuestLoader::Placement* placements) {
    std::uint32_t load[kMaxPcpus] = {};
    for (std::uint32_t g = 0; g < count; ++g) {
        const GuestConfig& c = configs[g];
        bool used[kMaxPcpus] = {};
        for (std::uint32_t v = 0; v < c.vcpus; ++v) {
            std::uint32_t pick = 0;
            if (c.has_affinity) {
                pick = g_online[c.affinity[v] % g_online_count];
            } else {
                bool have = false;
                for (int pass = 0; pass < 2 && !have; ++pass) {
                    for (std::uint32_t i = 0; i < g_online_count; ++i) {
                        const std::uint32_t p = g_online[i];
                        if ((pass == 0 && used[p]) || (have && load[p] >= load[pick])) {
                            continue;
                        }
                        pick = p;
                        have = true;
                    }
                }
            }
            used[pick] = true;
            ++load[pick];
            placements[g].pcpu[v] = pick;
        }
    }
    for (std::uint32_t i = 0; i < g_online_count; ++i) {
        cpu_local(g_online[i]).vcpus = load[g_online[i]];
    }
}

/// Coroutine frames in use in every pool: the running pCPUs' and the long-lived one.
std::size_t frames_in_use() {
    std::size_t n = long_lived_frame_pool().in_use();
    for (std::uint32_t i = 0; i < g_online_count; ++i) {
        n += pcpu_frame_pool(g_online[i]).in_use();
    }
    return n;
}

/// Per pCPU: its vCPUs, their exits and the time it spent idle.
void print_pcpu_summary(const GuestLoader& loader) {
    const std::uint64_t hz = arch_counter_frequency();
    for (std::uint32_t i = 0; i < g_online_count; ++i) {
        const CpuLocal& cpu = cpu_local(g_online[i]);
        const std::uint64_t idle = cpu.idle_ticks;
        log_info("  pCPU {}: {} vCPU(s), {} exits, idle {} ms", cpu.id, cpu.vcpus,
                 loader.exits_on(cpu.id), hz != 0 ? idle * 1000 / hz : 0);
    }
}

}  // namespace

[[noreturn]] void pcpu_main(std::uint32_t pcpu) {
    PcpuState expected = PcpuState::kStarting;
    if (!arch_gic_init_cpu()) {
        log_error("pCPU {} (MPIDR {}): no GIC redistributor; left out", pcpu,
                  hex(arch_mpidr().packed_affinity()));
        g_pcpu_state[pcpu].store(PcpuState::kAbandoned, std::memory_order_release);
        arch_send_event();
        arch_cpu_off();
    }
    enable_pcpu_irqs();
    arch_write_el2_controls(g_controls);
    if (!g_pcpu_state[pcpu].compare_exchange_strong(expected, PcpuState::kUp)) {
        arch_cpu_off();  // too late: the boot pCPU has given up on it
    }
    log_info("pCPU {} (MPIDR {}) up", pcpu, hex(arch_mpidr().packed_affinity()));
    arch_send_event();
    Executor& executor = current_executor();
    for (;;) {
        if (!executor.run_one()) {
            if (g_shutdown.load(std::memory_order_acquire)) {
                break;
            }
            idle_wait();
        }
    }
    g_pcpu_state[pcpu].store(PcpuState::kOff, std::memory_order_release);
    arch_send_event();
    arch_cpu_off();
}

[[noreturn]] void hypervisor_main(const BootInfo& boot) {
    g_boot = boot;
    const void* fdt = boot.fdt;
    int uart = find_console(fdt);
    Reg uart_reg;
    if (uart >= 0 && node_reg(fdt, uart, 0, uart_reg)) {
        arch_console_init(uart_reg.base);
    }
    set_log_level_from_bootargs(fdt);
    log_info("corvisor {} at EL2, DTB at {}", "0.1", hex(reinterpret_cast<std::uintptr_t>(fdt)));
    // Devices built against another major version of the device API, and second registrations
    // of a compatible, are refused (a guest node naming them is then reported as usual).
    check_device_registry(
        device_registry(), [](void*, std::string_view line) { log_error("{}", line); }, nullptr);

    arch_mmu_map(uart_reg.base, uart_reg.size, false);
    map_device_node(fdt, "arm,gic-v3");
    const int rtc = map_device_node(fdt, "arm,pl031");
    setup_memory(boot);
    arch_mmu_enable();
    set_platform_wall_clock(read_wall_clock(fdt, rtc));
    log_info("EL2 MMU on; {} MiB free for guests", g_pages.free_bytes() >> 20);

    GicInfo gic;
    int gic_node = fdt_node_offset_by_compatible(fdt, -1, "arm,gic-v3");
    Reg gicd;
    Reg gicr;
    if (gic_node < 0 || !node_reg(fdt, gic_node, 0, gicd) || !node_reg(fdt, gic_node, 1, gicr)) {
        panic("no GICv3 in the boot DTB");
    }
    gic.dist = gicd.base;
    gic.redist_region = gicr.base;
    gic.redist_size = gicr.size;
    if (!arch_gic_init(gic)) {
        panic("no GIC redistributor for the boot pCPU");
    }
    enable_pcpu_irqs();

    Result<GuestHardware> hw = guest_hardware(arch_cpu_features());
    if (!hw) {
        panic("this CPU cannot run guests (stage-2 geometry)");
    }
    g_controls = hw->controls;
    arch_write_el2_controls(hw->controls);
    g_online[0] = 0;
    g_pcpu_state[0].store(PcpuState::kUp, std::memory_order_release);
    log_info("pCPU 0 (MPIDR {}) up (boot)", hex(arch_mpidr().packed_affinity()));
    start_secondaries(fdt);

    BootDiagnostics diag;
    GuestListLimits limits;
    limits.pcpus = g_online_count;
    limits.host_memory = host_memory;
    limits.ipa_bits = hw->geometry.ipa_bits;
    std::uint32_t count = parse_guest_list(fdt, g_configs, diag, limits);
    // Images the loader placed in RAM (`kernel-addr`, `initrd-addr`) must not be handed out as
    // some guest's RAM before they are copied.
    for (std::uint32_t i = 0; i < count; ++i) {
        for (const ImageRef* image :
             {&g_configs[i].kernel, &g_configs[i].initrd, &g_configs[i].flash}) {
            if (image->host_addr != 0 && image->size != 0) {
                (void)g_pages.reserve(image->host_addr, image->size);
            }
        }
        for (const DeviceConfig& d : g_configs[i].device_list()) {  // `corvisor,image-addr`
            if (d.host_image.host_addr != 0 && d.host_image.size != 0) {
                (void)g_pages.reserve(d.host_image.host_addr, d.host_image.size);
            }
        }
    }

    place_guests(g_configs, count, g_placements);
    GuestLoader loader(fdt, g_pages, *hw);
    std::uint32_t started = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (loader.create(g_configs[i], g_placements[i])) {
            ++started;
        }
    }
    if (started == 0) {
        log_error("no guest to run");
        stop_secondaries();
        arch_power_off();
    }
    log_info("{} guest(s) running", started);
    log_info("hypervisor memory beyond guest RAM and page tables: {} bytes per vCPU, {} per guest",
             GuestLoader::bytes_per_vcpu(), GuestLoader::bytes_per_guest());
    const std::uint64_t free_at_start = g_pages.free_bytes();
    const std::uint64_t returned_at_start = loader.ram_returned();
    const std::size_t frames_at_start = frames_in_use();
    if (std::uint32_t intid = uart_spi(fdt, uart); intid != 0) {
        console_input_start(intid);
    }

    Executor& executor = current_executor();
    while (loader.running() > 0 || monitor_pending()) {
        if (!executor.run_one()) {
            idle_wait();  // every vCPU waits: sleep until an interrupt wakes one
        }
    }
    stop_secondaries();
    loader.print_summary();
    print_pcpu_summary(loader);
    // Resets, stops and starts give back what they take: as when the guests had started, but
    // for the RAM the stopped guests have given back (every guest has stopped by now).
    const std::uint64_t free_now = g_pages.free_bytes();
    const std::uint64_t returned = loader.ram_returned() - returned_at_start;
    const std::size_t frames_now = frames_in_use();
    if (free_now == free_at_start + returned && frames_now == frames_at_start) {
        log_info(
            "  memory: {} KiB free for guests ({} KiB of it what the stopped guests gave back), {} "
            "coroutine frame(s) in use: as at start",
            free_now >> 10, returned >> 10, frames_now);
    } else {
        log_warn(
            "  memory: {} KiB free for guests, {} coroutine frame(s) in use; at start {} KiB "
            "(+ {} KiB the stopped guests gave back) and {}: leaked",
            free_now >> 10, frames_now, free_at_start >> 10, returned >> 10, frames_at_start);
    }
    arch_power_off();
}

}  // namespace corvisor
