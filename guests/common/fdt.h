/* A tiny read-only flattened-device-tree walker (no libfdt).
 *
 * Every read is bounds-checked against the header's block sizes, and every
 * multi-byte field is read a byte at a time: the MMU is off at EL1, so memory
 * is Device memory and an unaligned access would fault on real hardware.
 * A node is named by the offset of its FDT_BEGIN_NODE token inside the
 * structure block; functions return -1 for "no such node".
 */
#ifndef GUEST_FDT_H
#define GUEST_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdt {
    const uint8_t* structs; /* structure block */
    const char* strings;    /* strings block */
    uint32_t struct_size;
    uint32_t strings_size;
};

/* Validates the header of the blob at `blob`; false if it is not a usable FDT. */
bool fdt_init(struct fdt* fdt, const void* blob);

/* Reads big-endian values from property data (any alignment). */
uint32_t fdt_be32(const void* p);
uint64_t fdt_read_cells(const void* p, uint32_t cells);

/* Pre-order walk: the node after `node`, adjusting *depth (+1 into a child, -1
 * per node closed). -1 at the end of the tree or on a malformed blob. */
int fdt_next_node(const struct fdt* fdt, int node, int* depth);
const char* fdt_node_name(const struct fdt* fdt, int node);
int fdt_parent(const struct fdt* fdt, int node);

/* Node by absolute path ("/", "/chosen", "/memory" matches "memory@40000000").
 * The length form stops at `len` characters. */
int fdt_path(const struct fdt* fdt, const char* path);
int fdt_path_len(const struct fdt* fdt, const char* path, size_t len);

/* First node after `after` (-1: from the start) whose "compatible" list holds `compat`. */
int fdt_find_compatible(const struct fdt* fdt, int after, const char* compat);
bool fdt_is_compatible(const struct fdt* fdt, int node, const char* compat);

/* Property value (NULL if absent); *len gets its size in bytes. */
const void* fdt_getprop(const struct fdt* fdt, int node, const char* name, uint32_t* len);
/* A property that is a NUL-terminated string (NULL if absent or not terminated). */
const char* fdt_prop_string(const struct fdt* fdt, int node, const char* name);
bool fdt_prop_u32(const struct fdt* fdt, int node, const char* name, uint32_t* out);
/* True if the string list `list` of `len` bytes holds `s`. */
bool fdt_stringlist_contains(const char* list, uint32_t len, const char* s);

/* #address-cells / #size-cells that `node` gives its children (defaults 2 / 1). */
uint32_t fdt_address_cells(const struct fdt* fdt, int node);
uint32_t fdt_size_cells(const struct fdt* fdt, int node);

/* Entry `index` of the node's "reg", decoded with its parent's cell counts.
 * False if absent, out of range, or not a memory-mapped (<= 2 cells) address. */
bool fdt_reg(const struct fdt* fdt, int node, uint32_t index, uint64_t* addr, uint64_t* size);
/* Walks the RAM regions (device_type "memory"): returns the highest end, and sets *holds (if
 * not NULL) when one of them holds `addr`. */
uint64_t fdt_ram_end(const struct fdt* fdt, uint64_t addr, bool* holds);

/* The node named by /chosen "stdout-path" (a path or an alias, options after ':'). */
int fdt_stdout_node(const struct fdt* fdt);

#endif
