// The C++ runtime pieces a freestanding image still needs (docs/platform.md).
#include <cstddef>

#include "base/log.hpp"

extern "C" void __cxa_pure_virtual() {
    corvisor::panic("pure virtual call");
}
extern "C" void el2_stack_smashed() {
    corvisor::panic("stack smashing detected");
}

// Virtual destructors reference sized delete; nothing in the image allocates from a heap.
void operator delete(void*) noexcept {
    corvisor::panic("operator delete called");
}
void operator delete(void*, std::size_t) noexcept {
    corvisor::panic("operator delete called");
}
