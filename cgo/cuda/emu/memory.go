package emu

/*
#include "loader.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Memory is emulated device memory: host mappings whose addresses the
// kernels take as device pointers. Every buffer is followed by an
// inaccessible page (within 255 bytes of its end), so a kernel reading or
// writing past a buffer faults instead of touching another.
type Memory struct {
	mu     sync.Mutex
	allocs map[uint64]mapping
}

type mapping struct {
	base, size, mapped uint64
}

// NewMemory is an empty memory.
func NewMemory() *Memory { return &Memory{allocs: map[uint64]mapping{}} }

// Alloc maps size bytes (256-aligned, as cuMemAlloc gives) and returns their address.
func (m *Memory) Alloc(size uint64) (uint64, error) {
	var base C.uint64_t
	var mapped C.size_t
	p := uint64(C.emu_map(C.size_t(max(size, 1)), &base, &mapped))
	if p == 0 {
		return 0, fmt.Errorf("emu: cannot map %d bytes", size)
	}
	m.mu.Lock()
	m.allocs[p] = mapping{base: uint64(base), size: size, mapped: uint64(mapped)}
	m.mu.Unlock()
	return p, nil
}

// Free unmaps the buffer at p.
func (m *Memory) Free(p uint64) error {
	m.mu.Lock()
	a, ok := m.allocs[p]
	delete(m.allocs, p)
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("emu: free of %#x, not allocated", p)
	}
	if C.emu_unmap(C.uint64_t(a.base), C.size_t(a.mapped)) != 0 {
		return fmt.Errorf("emu: munmap of %#x failed", p)
	}
	return nil
}

// FreeAll unmaps every buffer.
func (m *Memory) FreeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, a := range m.allocs {
		C.emu_unmap(C.uint64_t(a.base), C.size_t(a.mapped))
		delete(m.allocs, p)
	}
}

// check says whether n bytes at p lie inside one buffer.
func (m *Memory) check(p, n uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for base, a := range m.allocs {
		if p >= base && p+n <= base+a.size {
			return nil
		}
	}
	return fmt.Errorf("emu: %d bytes at %#x lie outside every buffer", n, p)
}

// Write copies data to p.
func (m *Memory) Write(p uint64, data []byte) error {
	if err := m.check(p, uint64(len(data))); err != nil || len(data) == 0 {
		return err
	}
	C.emu_write(C.uint64_t(p), unsafe.Pointer(&data[0]), C.size_t(len(data)))
	return nil
}

// Read copies len(dst) bytes at p into dst.
func (m *Memory) Read(dst []byte, p uint64) error {
	if err := m.check(p, uint64(len(dst))); err != nil || len(dst) == 0 {
		return err
	}
	C.emu_read(unsafe.Pointer(&dst[0]), C.uint64_t(p), C.size_t(len(dst)))
	return nil
}

// Copy copies n bytes from src to dst, both device addresses.
func (m *Memory) Copy(dst, src, n uint64) error {
	if err := m.check(dst, n); err != nil {
		return err
	}
	if err := m.check(src, n); err != nil {
		return err
	}
	C.emu_copy(C.uint64_t(dst), C.uint64_t(src), C.size_t(n))
	return nil
}

// Zero sets n bytes at p to 0.
func (m *Memory) Zero(p, n uint64) error {
	if err := m.check(p, n); err != nil {
		return err
	}
	C.emu_zero(C.uint64_t(p), C.size_t(n))
	return nil
}
