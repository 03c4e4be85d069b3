/* The few C library functions the guests and the compiler need (-ffreestanding
 * still emits memset/memcpy calls for large struct initialisation and copies). */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stddef.h>

void* memset(void* dst, int c, size_t n);
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
int memcmp(const void* a, const void* b, size_t n);
void* memchr(const void* s, int c, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);

#endif
