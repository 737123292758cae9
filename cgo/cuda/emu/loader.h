// loader.h: dlopen of an emulated kernel module and the host memory that
// stands for device memory (package emu).
#include <stddef.h>
#include <stdint.h>

void *emu_open(const char *path, const char **err);
void *emu_symbol(void *lib, const char *name);
const char *emu_call(void *launch, const unsigned *grid, const unsigned *block, const unsigned char *args);
uint64_t emu_map(size_t size, uint64_t *base, size_t *mapped);
int emu_unmap(uint64_t base, size_t mapped);
void emu_copy(uint64_t dst, uint64_t src, size_t n);
void emu_zero(uint64_t dst, size_t n);
void emu_write(uint64_t dst, const void *src, size_t n);
void emu_read(void *dst, uint64_t src, size_t n);
