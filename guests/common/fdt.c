#include "fdt.h"

#include "libc.h"

/* Devicetree Specification v0.4, chapter 5 (flattened format). */
enum {
    kFdtMagic = 0xd00dfeed,
    kFdtBeginNode = 1,
    kFdtEndNode = 2,
    kFdtProp = 3,
    kFdtNop = 4,
    kFdtEnd = 9,
    kMaxBlob = 64u << 20, /* refuse absurd sizes: a guest DTB is a few KiB to 1 MiB */
    kMaxDepth = 32,
};

uint32_t fdt_be32(const void* p) {
    const uint8_t* b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

uint64_t fdt_read_cells(const void* p, uint32_t cells) {
    const uint8_t* b = p;
    uint64_t v = 0;
    for (uint32_t i = 0; i < cells; i++) {
        v = (v << 32) | fdt_be32(b + 4 * i);
    }
    return v;
}

static uint32_t align4(uint32_t v) {
    return (v + 3u) & ~3u;
}

bool fdt_init(struct fdt* fdt, const void* blob) {
    fdt->structs = NULL;
    fdt->struct_size = 0;
    if (blob == NULL || ((uintptr_t)blob & 3u) != 0) {
        return false;
    }
    const uint8_t* h = blob;
    uint32_t total = fdt_be32(h + 4);
    uint32_t off_struct = fdt_be32(h + 8);
    uint32_t off_strings = fdt_be32(h + 12);
    uint32_t version = fdt_be32(h + 20);
    uint32_t size_strings = fdt_be32(h + 32);
    if (fdt_be32(h) != kFdtMagic || total < 40 || total > kMaxBlob || version < 16) {
        return false;
    }
    /* size_dt_struct exists from version 17; for 16, bound by the strings block or the blob. */
    uint32_t size_struct = version >= 17 ? fdt_be32(h + 36) : total - off_struct;
    if (off_struct > total || size_struct > total - off_struct || (off_struct & 3u) != 0 ||
        off_strings > total || size_strings > total - off_strings) {
        return false;
    }
    fdt->structs = h + off_struct;
    fdt->struct_size = size_struct & ~3u;
    fdt->strings = (const char*)h + off_strings;
    fdt->strings_size = size_strings;
    return true;
}

/* Length of the NUL-terminated string at `s` within `max` bytes, or -1. */
static int32_t bounded_strlen(const char* s, uint32_t max) {
    for (uint32_t i = 0; i < max; i++) {
        if (s[i] == '\0') {
            return (int32_t)i;
        }
    }
    return -1;
}

/* The token at `off`; *next gets the offset of the token after it. -1 if malformed. */
static int next_tag(const struct fdt* fdt, int off, int* next) {
    if (fdt->structs == NULL || off < 0 || (off & 3) != 0 || (uint32_t)off + 4 > fdt->struct_size) {
        return -1;
    }
    uint32_t o = (uint32_t)off;
    uint32_t tag = fdt_be32(fdt->structs + o);
    uint32_t end;
    switch (tag) {
        case kFdtBeginNode: {
            int32_t n = bounded_strlen((const char*)fdt->structs + o + 4, fdt->struct_size - o - 4);
            if (n < 0) {
                return -1;
            }
            end = align4(o + 4 + (uint32_t)n + 1);
            break;
        }
        case kFdtProp: {
            if (o + 12 > fdt->struct_size) {
                return -1;
            }
            uint32_t len = fdt_be32(fdt->structs + o + 4);
            if (len > fdt->struct_size - o - 12) {
                return -1;
            }
            end = align4(o + 12 + len);
            break;
        }
        case kFdtEndNode:
        case kFdtNop:
        case kFdtEnd:
            end = o + 4;
            break;
        default:
            return -1;
    }
    if (end > fdt->struct_size) {
        end = fdt->struct_size; /* the next read fails cleanly */
    }
    *next = (int)end;
    return (int)tag;
}

int fdt_next_node(const struct fdt* fdt, int node, int* depth) {
    int next;
    if (next_tag(fdt, node, &next) != kFdtBeginNode) {
        return -1;
    }
    /* Offsets only grow, so a malformed blob cannot make this loop forever. */
    for (;;) {
        int off = next;
        switch (next_tag(fdt, off, &next)) {
            case kFdtProp:
            case kFdtNop:
                break;
            case kFdtBeginNode:
                (*depth)++;
                return off;
            case kFdtEndNode:
                (*depth)--;
                break;
            default:
                return -1;
        }
    }
}

const char* fdt_node_name(const struct fdt* fdt, int node) {
    int next;
    if (next_tag(fdt, node, &next) != kFdtBeginNode) {
        return NULL;
    }
    return (const char*)fdt->structs + node + 4;
}

int fdt_parent(const struct fdt* fdt, int node) {
    int stack[kMaxDepth];
    int depth = 0;
    int off = 0;
    if (node <= 0) {
        return -1;
    }
    stack[0] = 0;
    while ((off = fdt_next_node(fdt, off, &depth)) >= 0) {
        if (depth <= 0 || depth >= kMaxDepth) {
            return -1;
        }
        stack[depth] = off;
        if (off == node) {
            return stack[depth - 1];
        }
    }
    return -1;
}

const void* fdt_getprop(const struct fdt* fdt, int node, const char* name, uint32_t* len) {
    int next;
    if (next_tag(fdt, node, &next) != kFdtBeginNode) {
        return NULL;
    }
    for (;;) {
        int off = next;
        int tag = next_tag(fdt, off, &next);
        if (tag == kFdtNop) {
            continue;
        }
        if (tag != kFdtProp) {
            return NULL; /* properties precede subnodes */
        }
        const uint8_t* p = fdt->structs + off;
        uint32_t nameoff = fdt_be32(p + 8);
        if (nameoff >= fdt->strings_size) {
            return NULL;
        }
        const char* pname = fdt->strings + nameoff;
        int32_t n = bounded_strlen(pname, fdt->strings_size - nameoff);
        if (n >= 0 && strcmp(pname, name) == 0) {
            if (len != NULL) {
                *len = fdt_be32(p + 4);
            }
            return p + 12;
        }
    }
}

const char* fdt_prop_string(const struct fdt* fdt, int node, const char* name) {
    uint32_t len;
    const char* s = fdt_getprop(fdt, node, name, &len);
    if (s == NULL || len == 0 || bounded_strlen(s, len) < 0) {
        return NULL;
    }
    return s;
}

bool fdt_prop_u32(const struct fdt* fdt, int node, const char* name, uint32_t* out) {
    uint32_t len;
    const void* p = fdt_getprop(fdt, node, name, &len);
    if (p == NULL || len != 4) {
        return false;
    }
    *out = fdt_be32(p);
    return true;
}

bool fdt_stringlist_contains(const char* list, uint32_t len, const char* s) {
    uint32_t i = 0;
    while (i < len) {
        int32_t n = bounded_strlen(list + i, len - i);
        if (n < 0) {
            return false;
        }
        if (strcmp(list + i, s) == 0) {
            return true;
        }
        i += (uint32_t)n + 1;
    }
    return false;
}

bool fdt_is_compatible(const struct fdt* fdt, int node, const char* compat) {
    uint32_t len;
    const char* list = fdt_getprop(fdt, node, "compatible", &len);
    return list != NULL && fdt_stringlist_contains(list, len, compat);
}

int fdt_find_compatible(const struct fdt* fdt, int after, const char* compat) {
    int depth = 0;
    int off = after;
    if (off < 0) {
        off = 0;
        if (fdt_is_compatible(fdt, off, compat)) {
            return off;
        }
    }
    while ((off = fdt_next_node(fdt, off, &depth)) >= 0) {
        if (fdt_is_compatible(fdt, off, compat)) {
            return off;
        }
    }
    return -1;
}

/* Does the node name `name` match the path component c[0..n)? "memory" matches
 * "memory@40000000"; a component with a unit address must match exactly. */
static bool component_matches(const char* name, const char* c, size_t n) {
    if (strncmp(name, c, n) != 0) {
        return false;
    }
    return name[n] == '\0' || (name[n] == '@' && memchr(c, '@', n) == NULL);
}

int fdt_path_len(const struct fdt* fdt, const char* path, size_t len) {
    if (len == 0 || path[0] != '/' || fdt_node_name(fdt, 0) == NULL) {
        return -1;
    }
    int node = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && path[i] == '/') {
            i++;
        }
        if (i >= len) {
            return node;
        }
        size_t n = 0;
        while (i + n < len && path[i + n] != '/') {
            n++;
        }
        /* Search the direct children of `node` (depth 1 relative to it). */
        int depth = 0;
        int child = node;
        int found = -1;
        while ((child = fdt_next_node(fdt, child, &depth)) >= 0 && depth > 0) {
            if (depth == 1 && component_matches(fdt_node_name(fdt, child), path + i, n)) {
                found = child;
                break;
            }
        }
        if (found < 0) {
            return -1;
        }
        node = found;
        i += n;
    }
}

int fdt_path(const struct fdt* fdt, const char* path) {
    return fdt_path_len(fdt, path, strlen(path));
}

static uint32_t cells_prop(const struct fdt* fdt, int node, const char* name, uint32_t dflt) {
    uint32_t v;
    return fdt_prop_u32(fdt, node, name, &v) ? v : dflt;
}

uint32_t fdt_address_cells(const struct fdt* fdt, int node) {
    return cells_prop(fdt, node, "#address-cells", 2);
}

uint32_t fdt_size_cells(const struct fdt* fdt, int node) {
    return cells_prop(fdt, node, "#size-cells", 1);
}

bool fdt_reg(const struct fdt* fdt, int node, uint32_t index, uint64_t* addr, uint64_t* size) {
    int parent = fdt_parent(fdt, node);
    if (parent < 0) {
        return false;
    }
    uint32_t ac = fdt_address_cells(fdt, parent);
    uint32_t sc = fdt_size_cells(fdt, parent);
    if (ac == 0 || ac > 2 || sc > 2) {
        return false;
    }
    uint32_t len;
    const uint8_t* reg = fdt_getprop(fdt, node, "reg", &len);
    uint32_t entry = (ac + sc) * 4;
    if (reg == NULL || index >= len / entry) {
        return false;
    }
    reg += index * entry;
    *addr = fdt_read_cells(reg, ac);
    *size = fdt_read_cells(reg + ac * 4, sc);
    return true;
}

int fdt_stdout_node(const struct fdt* fdt) {
    int chosen = fdt_path(fdt, "/chosen");
    const char* sp = fdt_prop_string(fdt, chosen, "stdout-path");
    if (sp == NULL) {
        sp = fdt_prop_string(fdt, chosen, "linux,stdout-path");
    }
    if (sp == NULL) {
        return -1;
    }
    size_t n = 0;
    while (sp[n] != '\0' && sp[n] != ':') {
        n++;
    }
    if (sp[0] == '/') {
        return fdt_path_len(fdt, sp, n);
    }
    /* An alias, optionally followed by a path below the aliased node. */
    size_t a = 0;
    while (a < n && sp[a] != '/') {
        a++;
    }
    char alias[32];
    if (a == 0 || a >= sizeof(alias)) {
        return -1;
    }
    memcpy(alias, sp, a);
    alias[a] = '\0';
    const char* target = fdt_prop_string(fdt, fdt_path(fdt, "/aliases"), alias);
    if (target == NULL) {
        return -1;
    }
    if (a == n) {
        return fdt_path(fdt, target);
    }
    char full[128];
    size_t tl = strlen(target);
    if (tl + (n - a) >= sizeof(full)) {
        return -1;
    }
    memcpy(full, target, tl);
    memcpy(full + tl, sp + a, n - a);
    return fdt_path_len(fdt, full, tl + (n - a));
}

uint64_t fdt_ram_end(const struct fdt* fdt, uint64_t addr, bool* holds) {
    uint64_t ram_end = 0;
    int depth = 0;
    int node = 0;
    bool in = false;
    while ((node = fdt_next_node(fdt, node, &depth)) >= 0) {
        const char* type = fdt_prop_string(fdt, node, "device_type");
        uint64_t base;
        uint64_t size;
        if (type == NULL || strcmp(type, "memory") != 0) {
            continue;
        }
        for (uint32_t i = 0; fdt_reg(fdt, node, i, &base, &size); i++) {
            if (base + size > ram_end) {
                ram_end = base + size;
            }
            in = in || (addr >= base && addr - base < size);
        }
    }
    if (holds != NULL) {
        *holds = in;
    }
    return ram_end;
}
