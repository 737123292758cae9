#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loader.h"

void *emu_open(const char *path, const char **err) {
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) *err = dlerror();
	return lib;
}

void *emu_symbol(void *lib, const char *name) { return dlsym(lib, name); }

typedef const char *(*emu_launch)(const unsigned *grid, const unsigned *block, const unsigned char *args);

const char *emu_call(void *launch, const unsigned *grid, const unsigned *block, const unsigned char *args) {
	return ((emu_launch)launch)(grid, block, args);
}

// emu_map maps size bytes followed by an inaccessible page, and returns the
// address of a 256-aligned run of size bytes that ends as close to that page
// as the alignment allows, so a kernel reading past a buffer's end faults.
uint64_t emu_map(size_t size, uint64_t *base_out, size_t *mapped) {
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (size + 255) & ~(size_t)255;
	size_t data = (span + page - 1) & ~(page - 1);
	*mapped = data + page;
	char *base = mmap(NULL, *mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) return 0;
	if (mprotect(base + data, page, PROT_NONE) != 0) {
		munmap(base, *mapped);
		return 0;
	}
	*base_out = (uint64_t)(uintptr_t)base;
	return (uint64_t)(uintptr_t)(base + data - span);
}

int emu_unmap(uint64_t base, size_t mapped) { return munmap((void *)(uintptr_t)base, mapped); }

void emu_copy(uint64_t dst, uint64_t src, size_t n) { memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n); }

void emu_zero(uint64_t dst, size_t n) { memset((void *)(uintptr_t)dst, 0, n); }

void emu_write(uint64_t dst, const void *src, size_t n) { memcpy((void *)(uintptr_t)dst, src, n); }

void emu_read(void *dst, uint64_t src, size_t n) { memcpy(dst, (const void *)(uintptr_t)src, n); }
