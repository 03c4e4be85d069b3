#include "uart.h"

#include <stdbool.h>
#include <stddef.h>

static uintptr_t g_uart;

/* Bound on the TXFF wait: a UART that never drains (or a hypervisor that
 * reports a full FIFO forever) must not hang the guest; the byte is then
 * written anyway and may be lost. */
enum { kTxWaitLimit = 1000000 };

void uart_init(uintptr_t base) {
    g_uart = base;
}

uintptr_t uart_base(void) {
    return g_uart;
}

static void put_raw(char c) {
    for (uint32_t i = 0; i < kTxWaitLimit; i++) {
        if ((mmio_read32(g_uart + kPl011Fr) & kPl011FrTxff) == 0) {
            break;
        }
    }
    mmio_write32(g_uart + kPl011Dr, (uint8_t)c);
}

void uart_putc(char c) {
    if (g_uart == 0) {
        return;
    }
    if (c == '\n') {
        put_raw('\r');
    }
    put_raw(c);
}

void uart_puts(const char* s) {
    while (*s != '\0') {
        uart_putc(*s++);
    }
}

static void put_padded(const char* s, size_t len, unsigned width, char pad) {
    for (size_t i = len; i < width; i++) {
        uart_putc(pad);
    }
    for (size_t i = 0; i < len; i++) {
        uart_putc(s[i]);
    }
}

static void put_unsigned(uint64_t v, unsigned base, bool upper, bool negative, unsigned width,
                         char pad) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    size_t n = sizeof(buf);
    do {
        buf[--n] = digits[v % base];
        v /= base;
    } while (v != 0);
    if (negative) {
        if (pad == '0') {
            /* The sign goes before zero padding: "-0042". */
            uart_putc('-');
            width = width > 0 ? width - 1 : 0;
        } else {
            buf[--n] = '-';
        }
    }
    put_padded(buf + n, sizeof(buf) - n, width, pad);
}

void uart_vprintf(const char* fmt, va_list ap) {
    for (; *fmt != '\0'; fmt++) {
        if (*fmt != '%') {
            uart_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        unsigned width = 0;
        int longs = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (unsigned)(*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z') {
            longs += *fmt == 'z' ? 2 : 1;
            fmt++;
        }
        switch (*fmt) {
            case 'd':
            case 'i': {
                int64_t v = longs > 0 ? va_arg(ap, int64_t) : va_arg(ap, int);
                uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
                put_unsigned(mag, 10, false, v < 0, width, pad);
                break;
            }
            case 'u':
            case 'x':
            case 'X': {
                uint64_t v = longs > 0 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
                put_unsigned(v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad);
                break;
            }
            case 'p':
                uart_puts("0x");
                put_unsigned((uintptr_t)va_arg(ap, void*), 16, false, false, width, pad);
                break;
            case 's': {
                const char* s = va_arg(ap, const char*);
                if (s == NULL) {
                    s = "(null)";
                }
                size_t len = 0;
                while (s[len] != '\0') {
                    len++;
                }
                put_padded(s, len, width, ' ');
                break;
            }
            case 'c':
                uart_putc((char)va_arg(ap, int));
                break;
            case '%':
                uart_putc('%');
                break;
            case '\0':
                return;
            default:
                uart_putc('%');
                uart_putc(*fmt);
                break;
        }
    }
}

void uart_printf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    uart_vprintf(fmt, ap);
    va_end(ap);
}
