// The EL2 image's C++ entry (from entry.S, on the boot pCPU with its stack and the BSS zeroed):
// static constructors, per-pCPU data, then the portable boot.
#include <libfdt.h>

#include "arch/arch.hpp"
#include "el2/percpu.hpp"

extern "C" {
extern char __image_start[];
extern char __image_end[];
using InitFn = void (*)();
extern InitFn __init_array_start[];
extern InitFn __init_array_end[];
}

extern "C" [[noreturn]] void el2_main(const void* fdt) {
    using namespace corvisor;
    for (InitFn* f = __init_array_start; f != __init_array_end; ++f) {
        (*f)();
    }
    percpu_init(0, arch_mpidr());
    // Without a DTB there is no console to say so. Versions before 17 are refused as the
    // guest-list parser refuses them (libfdt's deeper walks trip on them).
    if (fdt_check_header(fdt) != 0 || fdt_version(fdt) < 17) {
        arch_halt();
    }
    hypervisor_main(BootInfo{fdt, reinterpret_cast<std::uintptr_t>(__image_start),
                             reinterpret_cast<std::uintptr_t>(__image_end)});
}
