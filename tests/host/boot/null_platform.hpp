// A VmPlatform that does nothing (the boot tests that need a Vm but not its platform), with
// device-state memory from the heap.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "vm/vm.hpp"

namespace corvisor::test {

class NullPlatform final : public VmPlatform {
public:
    void guest_console_line(const Vm&, std::string_view) override {}
    void guest_event(const Vm&, std::string_view) override {}
    void* allocate(std::size_t size, std::size_t) override {
        storage.emplace_back(size);
        return storage.back().data();
    }
    Status reload(Vm&, std::uint64_t&, std::uint64_t&) override { return Error::kUnsupported; }
    void vm_stopped(Vm&) override {}
    void console_space(Vm&) override {}
    std::vector<std::vector<std::byte>> storage;
};

}  // namespace corvisor::test
