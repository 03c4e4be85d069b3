/* Polled PL011 output (ARM PrimeCell UART PL011 TRM, DDI 0183). */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include <stdarg.h>
#include <stdint.h>

enum {
    kPl011Dr = 0x00, /* UARTDR: data */
    kPl011Fr = 0x18, /* UARTFR: flags */
    kPl011FrTxff = 1u << 5,
    kPl011PeriphId0 = 0xfe0, /* UARTPeriphID0..3, then UARTPCellID0..3 at 0xff0 */
};

/* Selects the UART at `base`; 0 makes every output call a no-op. */
void uart_init(uintptr_t base);
uintptr_t uart_base(void);

void uart_putc(char c);
void uart_puts(const char* s);
/* printf subset: %s %c %d %i %u %x %X %p, flags '0', a width, lengths l ll z. */
void uart_vprintf(const char* fmt, va_list ap);
void uart_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* Single-instruction device accesses (see mmio_read64 in gic.h for why). */
static inline uint32_t mmio_read32(uintptr_t addr) {
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v) {
    __asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}

#endif
