#include "vm/vm.hpp"

#include "exec/timer_queue.hpp"
#include "vdev/pl011.hpp"
#include "vm/platform.hpp"

namespace corvisor {

namespace {
/// A guest given no offer reads every ID register as zero.
constexpr IdRegisterFile kNoIdRegisters{};
}  // namespace

Vm::Vm(VmPlatform& platform, const Config& config)
    : platform_(platform),
      id_(config.id),
      vcpu_count_(config.vcpus < kMaxVcpus ? config.vcpus : kMaxVcpus),
      ram_base_(config.ram_base),
      ram_size_(config.ram_size),
      vttbr_(config.vttbr),
      id_registers_(config.id_registers != nullptr ? config.id_registers : &kNoIdRegisters),
      ram_host_(config.ram_host) {
    for (char c : config.name) {
        if (name_len_ + 1 >= sizeof name_) {
            break;
        }
        name_[name_len_++] = c;
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].init(*this, i, config.hcr, config.hcr_shared, config.cntvoff, config.cpacr_force,
                       config.mdcr);
        spread_ = spread_ || config.pcpu[i] != config.pcpu[0];
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].place(config.pcpu[i], spread_);
    }
}

void Vm::attach_vgic(Vgic& vgic, std::uint32_t lr_count) {
    vgic_ = &vgic;
    vgic.set_notify(&Vm::notify_vcpu, this);
    vgic.set_access_hook(&Vm::vgic_access, this);
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].attach_vgic(vgic, lr_count);
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].build_sgi_routes();  // once all of them know the vGIC and their pCPU
    }
}

void Vm::notify_vcpu(void* vm, std::uint32_t vcpu) {
    auto* self = static_cast<Vm*>(vm);
    if (vcpu < self->vcpu_count_) {
        self->vcpus_[vcpu].notify_irq();
    }
}

void Vm::vgic_access(void* vm, std::uint32_t vcpu, bool write) {
    auto* self = static_cast<Vm*>(vm);
    if (vcpu < self->vcpu_count_) {
        self->vcpus_[vcpu].before_vgic_access(write);
    }
}

void Vm::set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) {
    if (vgic_ != nullptr) {
        vgic_->set_level(vcpu, intid, level);
    }
}

bool Vm::console_input(std::uint8_t byte, std::uint32_t channel) {
    if (channel == 1 && extra_input_ != nullptr) {
        return extra_input_->receive(byte);
    }
    return console_uart_ != nullptr && console_uart_->receive(byte);
}

bool Vm::start_loops() {
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        loops_[i] = vcpus_[i].run();
        if (!loops_[i].valid()) {
            for (std::uint32_t j = 0; j < i; ++j) {
                loops_[j].reset();
            }
            return false;
        }
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        RunNode& n = vcpus_[i].run_node();
        n.handle = loops_[i].handle();
    }
    running_loops_ = vcpu_count_;
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        cpu_local(vcpus_[i].pcpu()).executor.post(vcpus_[i].run_node());
    }
    return true;
}

void Vm::boot(std::uint64_t entry, std::uint64_t dtb) {
    vcpus_[0].power_on(entry, dtb);
}

void Vm::stop(StopReason reason) {
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (stopping()) {
            return;
        }
        stop_reason_ = reason;
        state_.store(VmState::kStopping, std::memory_order_release);
    }
    // Each vCPU leaves its loop on its own pCPU: a waiting one is woken there, a running one is
    // brought out of its guest by its pCPU's kick SGI, one awaiting a device gets its answer.
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();
    }
    cancel_device_waits();
}

void Vm::cancel_device_waits() {
    // First every timer its devices armed (a sleeping coroutine resumes with "cancelled"), then
    // each device's own reset, which answers what it still awaits.
    platform_device_timers_cancel(*this);
    if (spread_) {
        const StrandGuard device(device_strand_);
        bus_.reset_all();
    } else {
        bus_.reset_all();
    }
}

void Vm::vcpu_exited() {
    bool last = false;
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        last = running_loops_ > 0 && --running_loops_ == 0;
    }
    if (last) {
        // Stopped only once the platform has taken back what the guest held: a start sees
        // kStopped only then.
        platform_.vm_stopped(*this);
        state_.store(VmState::kStopped, std::memory_order_release);
        platform_.vm_parked(*this);
    }
}

Status Vm::start() {
    if (state() != VmState::kStopped) {
        return Error::kDenied;
    }
    // Every vCPU is parked, off, nothing of the guest in flight: a fresh boot.
    CV_TRY(platform_.prepare_start(*this));
    ++boot_count_;
    cancel_device_waits();  // every device as after reset
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].clear_sgi_mail();
    }
    std::uint64_t entry = 0;
    std::uint64_t dtb = 0;
    if (Status s = platform_.reload(*this, entry, dtb); !s) {
        --boot_count_;                  // the boot the images were loaded for did not happen
        platform_.start_failed(*this);  // what prepare_start gave goes back; still stopped
        return s;
    }
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        stop_reason_ = StopReason::kNone;
        parked_ = 0;
        running_loops_ = vcpu_count_;
        start_count_.fetch_add(1, std::memory_order_release);
        state_.store(VmState::kRunning, std::memory_order_release);
    }
    platform_.vm_started(*this);
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();  // out of the park: vCPU 0 boots, the others wait for CPU_ON
    }
    vcpus_[0].power_on(entry, dtb);
    return {};
}

void Vm::reset() {
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (state() != VmState::kRunning && state() != VmState::kPaused) {
            return;  // stopping, or a reset is in progress already
        }
        parked_ = 0;
        reset_generation_.fetch_add(1, std::memory_order_release);
        state_.store(VmState::kResetting, std::memory_order_release);
    }
    event("SYSTEM_RESET: restarting from its image");
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();
    }
    cancel_device_waits();
}

bool Vm::pause() {
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (state() != VmState::kRunning) {
            return false;
        }
        state_.store(VmState::kPaused, std::memory_order_release);
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();  // a running one leaves its guest and waits
    }
    return true;
}

bool Vm::resume() {
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (state() != VmState::kPaused) {
            return false;
        }
        state_.store(VmState::kRunning, std::memory_order_release);
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();
    }
    return true;
}

void Vm::vcpu_parked() {
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (++parked_ < vcpu_count_ || state() != VmState::kResetting) {
            return;
        }
    }
    reload_and_boot();
}

void Vm::reload_and_boot() {
    // Every vCPU is parked (off, nothing in flight) on its own pCPU: the guest can be reloaded.
    cancel_device_waits();
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].clear_sgi_mail();
    }
    ++boot_count_;
    std::uint64_t entry = 0;
    std::uint64_t dtb = 0;
    Status s = platform_.reload(*this, entry, dtb);
    {
        LockGuard<SpinLock> g(lifecycle_lock_);
        if (state() != VmState::kResetting) {
            return;  // stopped meanwhile
        }
        if (s) {
            state_.store(VmState::kRunning, std::memory_order_release);
        }
    }
    if (!s) {
        fatal_event("reset failed: {}", to_string(s.error()));
        stop(StopReason::kResetFailed);
        return;
    }
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].kick();  // the parked ones wait on: only vCPU 0 starts, the rest await CPU_ON
    }
    vcpus_[0].power_on(entry, dtb);
}

ExitStats Vm::total_stats() const {
    ExitStats total;
    for (std::uint32_t i = 0; i < vcpu_count_; ++i) {
        total.add(vcpus_[i].stats());
    }
    return total;
}

std::optional<std::uint32_t> Vm::vcpu_by_mpidr(std::uint64_t mpidr) const {
    // vCPU i has MPIDR Aff0 = i (VMPIDR_EL2 is set so); other affinity levels are 0.
    std::uint64_t aff = mpidr & 0xff00ffffffull;
    if (aff < vcpu_count_) {
        return static_cast<std::uint32_t>(aff);
    }
    return std::nullopt;
}

VcpuPower Vm::vcpu_power(std::uint32_t index) const {
    return index < vcpu_count_ ? vcpus_[index].power() : VcpuPower::kOff;
}

bool Vm::ipa_is_ram(std::uint64_t ipa) const {
    return ipa >= ram_base_ && ipa - ram_base_ < ram_size_;
}

void Vm::flush_console() {
    if (console_uart_ != nullptr) {
        console_uart_->flush_partial();
    }
}

void Vm::console_line(std::string_view text) {
    platform_.guest_console_line(*this, text);
}

void* Vm::allocate(std::size_t size, std::size_t align) {
    return platform_.allocate(size, align);
}

IrqLine Vm::irq_line(std::uint32_t intid) {
    return IrqLine(this, intid);
}

IrqLine Vm::ppi_line(std::uint32_t intid, std::uint32_t vcpu) {
    if (intid < 16 || intid > 31 || vcpu >= vcpu_count_) {
        return {};  // no such PPI or vCPU: a line connected to nothing
    }
    return IrqLine(this, intid, vcpu);
}

std::uint64_t Vm::now() const {
    return arch_now();
}

std::uint64_t Vm::counter_frequency() const {
    return arch_counter_frequency();
}

WallClock Vm::wall_clock() const {
    return platform_wall_clock();
}

void Vm::timer_arm(TimerNode& node, std::uint64_t deadline) {
    platform_device_timer_arm(node, deadline, *this);
}

bool Vm::timer_cancel(TimerNode& node) {
    return TimerQueue::cancel(node);
}

void Vm::run_device_timer(TimerNode& node, std::uint32_t arming, TimerEnd end) {
    // One device call at a time, as for MMIO (docs/devices.md): a spread guest's timers fire
    // under its device lock; a cancel or re-arm that came first wins.
    const auto fire = [&] {
        if (TimerQueue::still_current(node, arming) && node.fire != nullptr) {
            node.fire(node, end);
        }
    };
    if (spread_) {
        const StrandGuard device(device_strand_);
        fire();
    } else {
        fire();
    }
}

namespace {
/// [ipa, ipa + size) inside [base, base + ram_size), without overflow.
bool in_ram(std::uint64_t ipa, std::uint64_t size, std::uint64_t base, std::uint64_t ram_size) {
    return ipa >= base && ipa - base <= ram_size && size <= ram_size - (ipa - base);
}
}  // namespace

Status Vm::read_guest(std::uint64_t ipa, std::span<std::byte> out) {
    std::byte* ram = ram_host_.load(std::memory_order_acquire);
    if (ram == nullptr || !in_ram(ipa, out.size(), ram_base_, ram_size_)) {
        return Error::kOutOfRange;
    }
    if (!out.empty()) {
        __builtin_memcpy(out.data(), ram + (ipa - ram_base_), out.size());
    }
    arch_dma_barrier();  // what the device reads next is no older than this
    return {};
}

Status Vm::write_guest(std::uint64_t ipa, std::span<const std::byte> data) {
    std::byte* ram = ram_host_.load(std::memory_order_acquire);
    if (ram == nullptr || !in_ram(ipa, data.size(), ram_base_, ram_size_)) {
        return Error::kOutOfRange;
    }
    arch_dma_barrier();  // the guest sees this after everything the device wrote before
    if (!data.empty()) {
        __builtin_memcpy(ram + (ipa - ram_base_), data.data(), data.size());
    }
    return {};
}

void Vm::device_line(std::string_view prefix, std::string_view text) {
    platform_.guest_device_line(*this, prefix, text);
}

void Vm::device_event(std::string_view device, std::string_view text) {
    event("device {}: {}", device, text);
}

DeviceCounter& Vm::counter(std::string_view device, std::string_view name) {
    for (std::uint32_t i = 0; i < counter_count_; ++i) {
        if (counters_[i].device == device && counters_[i].name == name) {
            return counters_[i].value;
        }
    }
    if (counter_count_ == kMaxCounters) {
        return counter_overflow_;
    }
    CounterEntry& e = counters_[counter_count_++];
    e.device = device;
    e.name = name;
    return e.value;
}

void Vm::emit_event(std::string_view text, bool fatal) {
    std::uint32_t suppressed = 0;
    if (fatal) {
        suppressed = events_.take_suppressed();
    } else if (!events_.admit(arch_now(), suppressed)) {
        return;
    }
    if (suppressed != 0) {
        char buf[64];
        FormatBuffer out(buf, sizeof buf);
        format_to(out, "{} line(s) suppressed", suppressed);
        platform_.guest_event(*this, out.view());
    }
    platform_.guest_event(*this, text);
}

}  // namespace corvisor
