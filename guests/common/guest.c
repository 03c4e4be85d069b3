#include "guest.h"

#include "libc.h"
#include "psci.h"
#include "uart.h"

static struct fdt g_fdt;

const struct fdt* guest_fdt(void) {
    return &g_fdt;
}

bool guest_platform_init(const void* dtb) {
    bool ok = fdt_init(&g_fdt, dtb);
    psci_init(&g_fdt);
    int node = fdt_stdout_node(&g_fdt);
    if (node < 0 || !fdt_is_compatible(&g_fdt, node, "arm,pl011")) {
        node = fdt_find_compatible(&g_fdt, -1, "arm,pl011");
    }
    uint64_t base = 0;
    uint64_t size = 0;
    if (node >= 0 && fdt_reg(&g_fdt, node, 0, &base, &size) && size >= 0x1000) {
        uart_init((uintptr_t)base);
    }
    return ok;
}

const char* guest_bootargs(void) {
    const char* args = fdt_prop_string(&g_fdt, fdt_path(&g_fdt, "/chosen"), "bootargs");
    return args != NULL ? args : "";
}

/* Finds the first space-separated word that starts with (exact: equals) `prefix`. */
static bool find_word(const char* args, const char* prefix, size_t plen, bool exact,
                      const char** rest, size_t* rest_len) {
    const char* p = args;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        size_t n = 0;
        while (p[n] != '\0' && p[n] != ' ' && p[n] != '\t') {
            n++;
        }
        if (n >= plen && strncmp(p, prefix, plen) == 0 && (!exact || n == plen)) {
            *rest = p + plen;
            *rest_len = n - plen;
            return true;
        }
        p += n;
    }
    return false;
}

bool bootargs_has_word(const char* args, const char* word) {
    const char* rest;
    size_t len;
    return find_word(args, word, strlen(word), true, &rest, &len);
}

bool bootargs_value(const char* args, const char* key, const char** value, size_t* len) {
    char prefix[32];
    size_t klen = strlen(key);
    if (klen + 2 > sizeof(prefix)) {
        return false;
    }
    memcpy(prefix, key, klen);
    prefix[klen] = '=';
    prefix[klen + 1] = '\0';
    return find_word(args, prefix, klen + 1, false, value, len);
}

bool parse_u64(const char* s, size_t len, uint64_t* out) {
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == len) {
        return false;
    }
    for (; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            return false;
        }
        if (v > (UINT64_MAX - d) / base) {
            return false;
        }
        v = v * base + d;
    }
    *out = v;
    return true;
}

void guest_power_off(void) {
    (void)psci_call(kPsciSystemOff, 0, 0, 0);
    for (;;) {
        __asm__ volatile("wfi");
    }
}

uint64_t bootargs_u64(const char* who, const char* key, uint64_t dflt, uint64_t max) {
    uint64_t v = dflt;
    const char* s;
    size_t len;
    if (bootargs_value(guest_bootargs(), key, &s, &len) &&
        (!parse_u64(s, len, &v) || v == 0 || v > max)) {
        uart_printf("%s: bad %s=, using %lu\n", who, key, dflt);
        v = dflt;
    }
    return v;
}
