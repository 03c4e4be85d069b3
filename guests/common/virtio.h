/* The driver side of a virtio-mmio device (virtio 1.x), for the guests that drive corvisor's
 * virtio devices: the registers, a split queue's descriptors, and the start-up sequence. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum {
    kVirtioStatus = 0x070,
    kVirtioNeedsReset = 64,
    kVirtqDescNext = 1,
    kVirtqDescWrite = 2,
    kVirtqDescIndirect = 4,
};

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static inline void virtq_set_desc(struct virtq_desc* d, uint64_t addr, uint32_t len, uint16_t flags,
                                  uint16_t next) {
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

/* Reset the device at `base`, negotiate VIRTIO_F_VERSION_1 alone, set queue `queue` up with
 * `size` entries at the given rings (which the caller has zeroed), and set DRIVER_OK. False if
 * the device refused FEATURES_OK. */
bool virtio_start(uintptr_t base, uint32_t queue, uint32_t size, const void* desc,
                  const volatile void* avail, const volatile void* used);
