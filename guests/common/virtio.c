#include "virtio.h"

#include "uart.h"

bool virtio_start(uintptr_t base, uint32_t queue, uint32_t size, const void* desc,
                  const volatile void* avail, const volatile void* used) {
    mmio_write32(base + kVirtioStatus, 0);
    mmio_write32(base + kVirtioStatus, 1 | 2); /* ACKNOWLEDGE | DRIVER */
    mmio_write32(base + 0x024, 1);
    mmio_write32(base + 0x020, 1); /* VIRTIO_F_VERSION_1 */
    mmio_write32(base + kVirtioStatus, 1 | 2 | 8);
    if ((mmio_read32(base + kVirtioStatus) & 8) == 0) {
        return false;
    }
    mmio_write32(base + 0x030, queue);
    mmio_write32(base + 0x038, size);
    mmio_write32(base + 0x080, (uint32_t)(uintptr_t)desc);
    mmio_write32(base + 0x084, 0);
    mmio_write32(base + 0x090, (uint32_t)(uintptr_t)avail);
    mmio_write32(base + 0x094, 0);
    mmio_write32(base + 0x0a0, (uint32_t)(uintptr_t)used);
    mmio_write32(base + 0x0a4, 0);
    mmio_write32(base + 0x044, 1);
    mmio_write32(base + kVirtioStatus, 1 | 2 | 8 | 4); /* DRIVER_OK */
    return true;
}
