#include "corvisor/testing/device_kit.hpp"

#include <libfdt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "corvisor/frame_pool.hpp"
#include "exec/executor.hpp"
#include "exec/timer_queue.hpp"

namespace corvisor::testing {

namespace {

/// Compile `source` with dtc; the blob, or "" with `error` set.
std::string compile_dts(const std::string& source, std::string& error) {
    char dir[] = "/tmp/corvisor-kit-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
        error = "cannot make a temporary folder for dtc";
        return {};
    }
    const std::string in = std::string(dir) + "/node.dts";
    const std::string out = std::string(dir) + "/node.dtb";
    const std::string log = std::string(dir) + "/dtc.log";
    {
        std::ofstream f(in);
        f << source;
    }
    const std::string cmd = "dtc -q -I dts -O dtb -o '" + out + "' '" + in + "' 2>'" + log + "'";
    const int rc = std::system(cmd.c_str());
    std::string blob;
    if (rc == 0) {
        std::ifstream f(out, std::ios::binary);
        blob.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    } else {
        std::ifstream f(log);
        std::stringstream text;
        text << f.rdbuf();
        error =
            "dtc could not compile the node (is device-tree-compiler installed?): " + text.str();
    }
    std::remove(in.c_str());
    std::remove(out.c_str());
    std::remove(log.c_str());
    rmdir(dir);
    return blob;
}

std::uint32_t cell(const void* p, int i) {
    return fdt32_to_cpu(static_cast<const fdt32_t*>(p)[i]);
}

}  // namespace

/// A created device's node: the blob and what DeviceNode points into.
struct DeviceKit::Node {
    std::string blob;
    int offset = -1;
    std::string name;
    std::string compatible;
    std::vector<MmioRegion> regs;
    std::vector<std::uint32_t> interrupts;
    std::pair<const void*, int> cookie;
    NodeProblem problem;
};

PendingAccess::~PendingAccess() = default;

bool PendingAccess::done() const {
    return !deferred_ || task_.done();
}

MmioOutcome PendingAccess::outcome() const {
    if (!deferred_) {
        return now_;
    }
    return task_.done() ? task_.handle().promise().value() : MmioOutcome{true, 0};
}

DeviceKit::DeviceKit() : DeviceKit(Options{}) {}

DeviceKit::DeviceKit(Options options)
    : options_(std::move(options)),
      timers_(std::make_unique<TimerQueue>()),
      ram_(options_.ram_size),
      frame_failures_at_start_(current_frame_pool().failures()) {}

DeviceKit::~DeviceKit() {
    // Nothing the device armed may fire into a freed kit.
    std::uint32_t arming = 0;
    while (timers_->pop_owned(this, arming) != nullptr) {
    }
}

Device* DeviceKit::create(std::string_view dts_node) {
    return create(dts_node, nullptr);
}

std::string DeviceKit::compile(std::string_view dts_node) {
    error_.clear();
    return compile_dts("/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\n" +
                           std::string(dts_node) + "\n};\n",
                       error_);
}

Device* DeviceKit::create(std::string_view dts_node, DeviceFactory factory) {
    std::string blob = compile(dts_node);
    if (blob.empty()) {
        return nullptr;
    }
    return create_from_blob(std::move(blob), factory);
}

Device* DeviceKit::create_from_blob(std::string blob, DeviceFactory factory) {
    error_.clear();
    auto node = std::make_unique<Node>();
    node->blob = std::move(blob);
    if (node->blob.size() < 40 || fdt_check_header(node->blob.data()) != 0) {
        error_ = "not a device tree blob";
        return nullptr;
    }
    const void* fdt = node->blob.data();
    node->offset = fdt_first_subnode(fdt, 0);
    if (node->offset < 0) {
        error_ = "the DTS has no node";
        return nullptr;
    }
    int len = 0;
    node->name = fdt_get_name(fdt, node->offset, &len);
    const auto* compat =
        static_cast<const char*>(fdt_getprop(fdt, node->offset, "compatible", &len));
    const DeviceRegistration* reg = nullptr;
    if (compat != nullptr) {
        for (int at = 0; at < len; at += static_cast<int>(std::strlen(compat + at)) + 1) {
            reg = find_device_registration(compat + at);
            node->compatible = compat + at;
            if (reg != nullptr) {
                break;
            }
        }
    }
    if (factory == nullptr) {
        if (reg == nullptr) {
            error_ = "no registered device for compatible \"" +
                     std::string(compat != nullptr ? compat : "") + "\"";
            return nullptr;
        }
        factory = reg->factory;
        needs_ = reg->dtb_needs;
    }
    if (const void* r = fdt_getprop(fdt, node->offset, "reg", &len); r != nullptr) {
        for (int i = 0; i + 4 <= len / 4; i += 4) {
            node->regs.push_back({std::uint64_t{cell(r, i)} << 32 | cell(r, i + 1),
                                  std::uint64_t{cell(r, i + 2)} << 32 | cell(r, i + 3)});
        }
    }
    if (const void* p = fdt_getprop(fdt, node->offset, "interrupts", &len); p != nullptr) {
        for (int i = 0; i + 3 <= len / 4; i += 3) {
            const std::uint32_t type = cell(p, i);
            const std::uint32_t number = cell(p, i + 1);
            node->interrupts.push_back(type == 1 ? 16 + number : 32 + number);
        }
    }
    node->cookie = {fdt, node->offset};
    DeviceNode dn;
    dn.node_name = node->name;
    dn.compatible = node->compatible;
    dn.regs = node->regs;
    dn.interrupts = node->interrupts;
    dn.get_property = [](const void* cookie, const char* name, int* plen) -> const void* {
        const auto* c = static_cast<const std::pair<const void*, int>*>(cookie);
        return fdt_getprop(c->first, c->second, name, plen);
    };
    dn.cookie = &node->cookie;
    dn.problem = &node->problem;
    Result<Device*> dev = factory(dn, *this);
    if (!dev) {
        error_ = node->problem.length != 0 ? std::string(node->problem.view())
                                           : std::string(to_string(dev.error()));
        return nullptr;
    }
    nodes_.push_back(std::move(node));
    device_ = *dev;
    return device_;
}

PendingAccess DeviceKit::start(MmioAccess access) {
    PendingAccess p;
    if (device_ == nullptr) {
        error_ = "no device (create one first)";
        p.now_ = {true, 0};
        return p;
    }
    const std::uint64_t failures = current_frame_pool().failures();
    MmioResult r = device_->mmio(access);
    switch (r.kind()) {
        case MmioResult::Kind::kDone:
            p.now_ = {false, r.value()};
            break;
        case MmioResult::Kind::kAbort:
            p.now_ = {true, 0};
            if (current_frame_pool().failures() != failures) {
                error_ = "a coroutine frame of " + std::to_string(largest_frame()) +
                         " bytes does not fit corvisor::kMaxFrameSize (" +
                         std::to_string(kMaxFrameSize) + ")";
            }
            break;
        case MmioResult::Kind::kDeferred:
            p.deferred_ = true;
            p.task_ = r.take_task();
            p.task_.handle().resume();  // lazily started: run it to its first suspension
            run();
            break;
    }
    return p;
}

bool DeviceKit::finish(PendingAccess& p, std::uint64_t max_ticks) {
    const std::uint64_t until = now_ + max_ticks;
    run();
    while (!p.done()) {
        const std::uint64_t next = next_deadline();
        if (next == 0 || next > until) {
            error_ = "a deferred access did not finish (nothing left to wake it)";
            return false;
        }
        advance_to(next);
    }
    return true;
}

std::optional<std::uint64_t> DeviceKit::read(std::uint64_t offset, std::uint8_t size,
                                             std::uint32_t region, std::uint32_t vcpu) {
    PendingAccess p = start(MmioAccess(region, offset, size, false, 0, vcpu));
    if (!finish(p) || p.outcome().abort) {
        return std::nullopt;
    }
    return p.outcome().value;
}

bool DeviceKit::write(std::uint64_t offset, std::uint64_t value, std::uint8_t size,
                      std::uint32_t region, std::uint32_t vcpu) {
    PendingAccess p = start(MmioAccess(region, offset, size, true, value, vcpu));
    return finish(p) && !p.outcome().abort;
}

const IrqWatch& DeviceKit::irq(std::uint32_t intid, std::uint32_t vcpu) {
    return irqs_[{intid < 32 ? vcpu : 0, intid}];
}

void DeviceKit::set_level(std::uint32_t vcpu, std::uint32_t intid, bool level) {
    IrqWatch& w = irqs_[{intid < 32 ? vcpu : 0, intid}];
    if (level && !w.level) {
        ++w.rising_edges;
    } else if (!level && w.level) {
        ++w.falling_edges;
    }
    w.level = level;
    w.history.push_back({now_, level});
}

IrqLine DeviceKit::ppi_line(std::uint32_t intid, std::uint32_t vcpu) {
    if (intid < 16 || intid > 31 || vcpu >= options_.vcpus) {
        return {};
    }
    return IrqLine(this, intid, vcpu);
}

void DeviceKit::run() {
    current_executor().run_until_idle();
}

void DeviceKit::advance(std::uint64_t ticks) {
    advance_to(now_ + ticks);
}

void DeviceKit::advance_to(std::uint64_t time) {
    run();
    std::uint32_t arming = 0;
    while (TimerNode* n = timers_->pop_expired(time, arming)) {
        now_ = n->deadline > now_ ? n->deadline : now_;
        if (TimerQueue::still_current(*n, arming) && n->fire != nullptr) {
            n->fire(*n, TimerEnd::kExpired);
        }
        run();
    }
    now_ = time > now_ ? time : now_;
    run();
}

std::size_t DeviceKit::timers_armed() const {
    return timers_->size();
}

std::uint64_t DeviceKit::next_deadline() const {
    return timers_->next_deadline();
}

void DeviceKit::timer_arm(TimerNode& node, std::uint64_t deadline) {
    timers_->arm(node, deadline, this);
}

bool DeviceKit::timer_cancel(TimerNode& node) {
    return TimerQueue::cancel(node);
}

void* DeviceKit::allocate(std::size_t size, std::size_t align) {
    if (fail_allocations) {
        return nullptr;
    }
    blocks_.push_back(std::make_unique<std::byte[]>(size + align));
    void* p = blocks_.back().get();
    std::size_t space = size + align;
    void* aligned = std::align(align, size, p, space);
    if (aligned != nullptr) {
        std::memset(aligned, 0, size);
    }
    return aligned;
}

std::span<std::byte> DeviceKit::ram_at(std::uint64_t ipa, std::size_t size) {
    if (ipa < options_.ram_base || ipa - options_.ram_base > ram_.size() ||
        size > ram_.size() - (ipa - options_.ram_base)) {
        return {};
    }
    return {ram_.data() + (ipa - options_.ram_base), size};
}

Status DeviceKit::read_guest(std::uint64_t ipa, std::span<std::byte> out) {
    std::span<std::byte> at = ram_at(ipa, out.size());
    if (at.size() != out.size() || (at.data() == nullptr && !out.empty())) {
        return Error::kOutOfRange;
    }
    if (!out.empty()) {
        std::memcpy(out.data(), at.data(), out.size());
    }
    return {};
}

Status DeviceKit::write_guest(std::uint64_t ipa, std::span<const std::byte> data) {
    std::span<std::byte> at = ram_at(ipa, data.size());
    if (at.size() != data.size() || (at.data() == nullptr && !data.empty())) {
        return Error::kOutOfRange;
    }
    if (!data.empty()) {
        std::memcpy(at.data(), data.data(), data.size());
    }
    return {};
}

void DeviceKit::device_line(std::string_view prefix, std::string_view text) {
    device_lines.push_back(std::string(prefix) + ": " + std::string(text));
}

void DeviceKit::device_event(std::string_view device, std::string_view text) {
    events.push_back(std::string(device) + ": " + std::string(text));
}

DeviceCounter& DeviceKit::counter(std::string_view device, std::string_view name) {
    auto& slot = counters_[{std::string(device), std::string(name)}];
    if (!slot) {
        slot = std::make_unique<DeviceCounter>();
    }
    return *slot;
}

std::uint64_t DeviceKit::counter_value(std::string_view device, std::string_view name) const {
    auto it = counters_.find({std::string(device), std::string(name)});
    return it != counters_.end() ? it->second->value() : 0;
}

void DeviceKit::reset_guest() {
    run();
    std::uint32_t arming = 0;
    while (TimerNode* n = timers_->pop_owned(this, arming)) {
        if (TimerQueue::still_current(*n, arming) && n->fire != nullptr) {
            n->fire(*n, TimerEnd::kCancelled);
        }
    }
    if (device_ != nullptr) {
        device_->reset();
    }
    run();
}

std::size_t DeviceKit::largest_frame() const {
    return current_frame_pool().largest_request();
}

bool DeviceKit::frame_too_large() const {
    return current_frame_pool().failures() != frame_failures_at_start_ &&
           largest_frame() > kMaxFrameSize;
}

bool DeviceKit::add_console_input(ConsoleInput& input, std::string_view label) {
    if (input_ != nullptr) {
        return false;
    }
    input_ = &input;
    input_label_ = label;
    return true;
}

std::size_t DeviceKit::type(std::string_view text) {
    std::size_t taken = 0;
    if (input_ == nullptr) {
        return 0;
    }
    for (char c : text) {
        if (!input_->receive(static_cast<std::uint8_t>(c))) {
            break;
        }
        ++taken;
    }
    return taken;
}

}  // namespace corvisor::testing
