/* The C library pieces the freestanding image needs (compiler-generated struct copies, libfdt).
 * Built with -mgeneral-regs-only like the rest: nothing here may touch guest FP/SIMD state. */
#include <stddef.h>
#include <stdint.h>

void* memcpy(void* restrict dst, const void* restrict src, size_t n) {
    unsigned char* d = dst;
    const unsigned char* s = src;
    if ((((uintptr_t)d | (uintptr_t)s | n) & 15) == 0) {
        /* Guest images (tens of MiB): 32 bytes a step, as two LDP/STP pairs. */
        uint64_t* d8 = dst;
        const uint64_t* s8 = src;
        size_t i = 0;
        for (; i + 4 <= n / 8; i += 4) {
            uint64_t a = s8[i], b = s8[i + 1], c = s8[i + 2], e = s8[i + 3];
            d8[i] = a;
            d8[i + 1] = b;
            d8[i + 2] = c;
            d8[i + 3] = e;
        }
        for (; i < n / 8; i++) {
            d8[i] = s8[i];
        }
        return dst;
    }
    if ((((uintptr_t)d | (uintptr_t)s | n) & 7) == 0) {
        uint64_t* d8 = dst;
        const uint64_t* s8 = src;
        for (size_t i = 0; i < n / 8; i++) {
            d8[i] = s8[i];
        }
        return dst;
    }
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    unsigned char* d = dst;
    const unsigned char* s = src;
    if (d == s || n == 0) {
        return dst;
    }
    if (d < s || d >= s + n) {
        return memcpy(dst, src, n);
    }
    while (n--) {
        d[n] = s[n];
    }
    return dst;
}

/* DC ZVA's block in bytes, or 0 where it may not be used: prohibited (DCZID_EL0.DZP), or the
 * EL2 MMU is off (memory is then Device memory, where DC ZVA faults). */
static size_t zva_block(void) {
    uint64_t dczid;
    uint64_t sctlr;
    __asm__ volatile("mrs %0, dczid_el0" : "=r"(dczid));
    __asm__ volatile("mrs %0, sctlr_el2" : "=r"(sctlr));
    if ((dczid & 0x10) != 0 || (sctlr & 1) == 0) {
        return 0;
    }
    return (size_t)4 << (dczid & 0xf);
}

void* memset(void* dst, int c, size_t n) {
    unsigned char* d = dst;
    if ((((uintptr_t)d | n) & 7) == 0) {
        uint64_t* d8 = dst;
        const uint64_t pattern = (uint64_t)(unsigned char)c * 0x0101010101010101ull;
        size_t i = 0;
        const size_t block = c == 0 && n >= (1u << 16) ? zva_block() : 0;
        if (block != 0) {
            /* Guest RAM (hundreds of MiB) is zeroed a cache block per instruction. */
            for (; ((uintptr_t)(d8 + i) & (block - 1)) != 0; i++) {
                d8[i] = 0;
            }
            for (; (i * 8 + block) <= n; i += block / 8) {
                __asm__ volatile("dc zva, %0" ::"r"(d8 + i) : "memory");
            }
        }
        for (; i < n / 8; i++) {
            d8[i] = pattern;
        }
        return dst;
    }
    while (n--) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    const unsigned char* x = a;
    const unsigned char* y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

void* memchr(const void* s, int c, size_t n) {
    const unsigned char* p = s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (unsigned char)c) {
            return (void*)(p + i);
        }
    }
    return NULL;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n] != '\0') {
        n++;
    }
    return n;
}

char* strchr(const char* s, int c) {
    for (;; s++) {
        if (*s == (char)c) {
            return (char*)s;
        }
        if (*s == '\0') {
            return NULL;
        }
    }
}

char* strrchr(const char* s, int c) {
    const char* last = NULL;
    for (;; s++) {
        if (*s == (char)c) {
            last = s;
        }
        if (*s == '\0') {
            return (char*)last;
        }
    }
}

unsigned long strtoul(const char* s, char** end, int base) {
    unsigned long v = 0;
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (*s >= 'a' && *s <= 'z') {
            d = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'Z') {
            d = *s - 'A' + 10;
        } else {
            break;
        }
        if (d >= base) {
            break;
        }
        v = v * (unsigned long)base + (unsigned long)d;
    }
    if (end != NULL) {
        *end = (char*)s;
    }
    return v;
}

/* libfdt is built with the stack protector. */
uintptr_t __stack_chk_guard = 0x5eed5eed5eed5eedull;
void el2_stack_smashed(void);
void __stack_chk_fail(void) {
    el2_stack_smashed();
}
