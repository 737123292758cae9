// Package emu runs CUDA C kernels on the CPU, for tests on machines without
// a GPU: the same sources NVRTC compiles (shaders/cuda) are compiled by the
// host's C++ compiler behind a small header (emu.cuh) that makes CUDA's
// built-ins plain C++, each block's threads run as fibers switched at
// barriers and warp shuffles, and "device memory" is host memory with an
// inaccessible page after each buffer. It is not a GPU model: it runs the
// kernels' arithmetic and synchronisation as written, so a kernel's result
// can be compared with the CPU backend's where no GPU is lent.
//
// Compiled modules are cached as shared objects in the temporary folder,
// keyed by their source and the compiler, so a test run compiles each
// module once.
package emu

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "loader.h"
*/
import "C"

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

//go:embed emu.cuh
var header string

// CompilerEnv names the environment variable that sets the C++ compiler
// (default g++).
const CompilerEnv = "CXX"

var flags = []string{"-std=c++17", "-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math", "-Wall",
	"-Wno-unused-function", "-Wno-unused-variable"}

func compiler() string {
	if c := os.Getenv(CompilerEnv); c != "" {
		return c
	}
	return "g++"
}

// Available says why kernels cannot be emulated here (no C++ compiler), or nil.
func Available() error {
	if _, err := exec.LookPath(compiler()); err != nil {
		return fmt.Errorf("emu: no C++ compiler to build kernels with (%s): %w", compiler(), err)
	}
	return nil
}

// Kernel names a kernel and its parameters' PTX types as cgo/cuda's Args
// packs them ("u64,u32,f32").
type Kernel struct {
	Name, Signature string
}

// Module is a compiled kernel module.
type Module struct {
	launch map[string]unsafe.Pointer
}

var (
	compileMu sync.Mutex
	loaded    = map[string]*Module{} // by shared object path
)

// Compile builds src (a complete kernel module, as NVRTC would get it)
// with launch wrappers for kernels, or loads it from the cache.
func Compile(src string, kernels []Kernel) (*Module, error) {
	var gen strings.Builder
	gen.WriteString(header)
	gen.WriteString("\n#line 1 \"common.cuh\"\n")
	gen.WriteString(src)
	gen.WriteString("\n#line 1 \"emu-wrappers\"\n")
	for _, k := range kernels {
		w, err := wrapper(k)
		if err != nil {
			return nil, err
		}
		gen.WriteString(w)
	}
	full := gen.String()
	sum := sha256.Sum256([]byte(compiler() + "\x00" + strings.Join(flags, " ") + "\x00" + full))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("conveyor-cuda-emu-%d", os.Getuid())) // one per user: each writes its own
	so := filepath.Join(dir, hex.EncodeToString(sum[:])[:32]+".so")

	compileMu.Lock()
	defer compileMu.Unlock()
	if m, ok := loaded[so]; ok {
		return m, nil
	}
	if _, err := os.Stat(so); err != nil {
		if err := build(dir, so, full); err != nil {
			return nil, err
		}
	}
	cpath := C.CString(so)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	lib := C.emu_open(cpath, &cerr)
	if lib == nil {
		return nil, fmt.Errorf("emu: dlopen %s: %s", so, C.GoString(cerr))
	}
	m := &Module{launch: map[string]unsafe.Pointer{}}
	for _, k := range kernels {
		cname := C.CString("emu_launch_" + k.Name)
		f := C.emu_symbol(lib, cname)
		C.free(unsafe.Pointer(cname))
		if f == nil {
			return nil, fmt.Errorf("emu: %s has no launcher for kernel %s", so, k.Name)
		}
		m.launch[k.Name] = f
	}
	loaded[so] = m
	return m, nil
}

// build compiles full into the shared object so (atomically: a temporary
// file renamed, so concurrent test binaries never load half a file).
func build(dir, so, full string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("emu: %w", err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return fmt.Errorf("emu: %w", err)
	}
	defer os.RemoveAll(work)
	cc := filepath.Join(work, "module.cc")
	if err := os.WriteFile(cc, []byte(full), 0o644); err != nil {
		return fmt.Errorf("emu: %w", err)
	}
	out := filepath.Join(work, "module.so")
	cmd := exec.Command(compiler(), append(append([]string{}, flags...), "-o", out, cc, "-lm")...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("emu: %s failed (%v) on %s:\n%s", compiler(), err, cc, msg)
	}
	if err := os.Rename(out, so); err != nil {
		return fmt.Errorf("emu: %w", err)
	}
	return nil
}

// wrapper is the C++ launcher of kernel k: it unpacks the parameter bytes
// at the offsets Args packs them (each aligned to its size) into the
// kernel's typed parameters, and runs the grid.
func wrapper(k Kernel) (string, error) {
	var params []string
	off := 0
	for _, t := range strings.Split(k.Signature, ",") {
		var kind byte
		size := 4
		switch t {
		case "u64":
			kind, size = 'u', 8
		case "u32":
			kind = 'i'
		case "f32":
			kind = 'f'
		default:
			return "", fmt.Errorf("emu: kernel %s: parameter type %q in signature %q", k.Name, t, k.Signature)
		}
		off = (off + size - 1) &^ (size - 1)
		params = append(params, fmt.Sprintf("emu_param<'%c'>{a + %d}", kind, off))
		off += size
	}
	return fmt.Sprintf(`static void emu_body_%[1]s(const void *p) {
	const unsigned char *a = (const unsigned char *)p;
	%[1]s(%[2]s);
}
extern "C" const char *emu_launch_%[1]s(const unsigned *grid, const unsigned *block, const unsigned char *args) {
	return emu_run(grid, block, emu_body_%[1]s, args);
}
`, k.Name, strings.Join(params, ", ")), nil
}

// Launch runs kernel over grid blocks of block threads with its packed
// parameters (at least as many bytes as the signature spans), and returns
// when every thread has finished.
func (m *Module) Launch(kernel string, grid, block [3]uint32, args []byte) error {
	f, ok := m.launch[kernel]
	if !ok {
		return fmt.Errorf("emu: no kernel %s in the module", kernel)
	}
	buf := C.CBytes(args)
	defer C.free(buf)
	g := [3]C.uint{C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2])}
	b := [3]C.uint{C.uint(block[0]), C.uint(block[1]), C.uint(block[2])}
	if msg := C.emu_call(f, &g[0], &b[0], (*C.uchar)(buf)); msg != nil {
		return fmt.Errorf("emu: %s: %s", kernel, C.GoString(msg))
	}
	return nil
}
