package cuda

/*
#include <stdlib.h>
#include "cu.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// Context is an open device: its primary context and one non-blocking
// stream, on which every queued command and copy runs in order. A Context is
// used by one goroutine at a time.
type Context struct {
	c *C.cu_ctx
}

// Open opens device index i (see Devices); Load must have succeeded.
func Open(i int) (*Context, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	c := (*C.cu_ctx)(C.calloc(1, C.sizeof_cu_ctx))
	if err := check("cuDevicePrimaryCtxRetain", C.cu_open(C.int(i), c)); err != nil {
		C.free(unsafe.Pointer(c))
		return nil, err
	}
	return &Context{c: c}, nil
}

// Close waits for the stream and releases the context.
func (x *Context) Close() {
	if x.c != nil {
		C.cu_close(x.c)
		C.free(unsafe.Pointer(x.c))
		x.c = nil
	}
}

// MemInfo is the device's free and total memory, bytes.
func (x *Context) MemInfo() (free, total uint64, err error) {
	var f, t C.uint64_t
	err = check("cuMemGetInfo", C.cu_mem_info(x.c, &f, &t))
	return uint64(f), uint64(t), err
}

// Alloc allocates size bytes of device memory (at least 256-byte aligned).
func (x *Context) Alloc(size uint64) (DevPtr, error) {
	var p C.cu_devptr
	if err := check("cuMemAlloc", C.cu_alloc(x.c, C.uint64_t(max(size, 1)), &p)); err != nil {
		return 0, fmt.Errorf("%w (%d bytes)", err, size)
	}
	return DevPtr(p), nil
}

// Free releases memory from Alloc.
func (x *Context) Free(p DevPtr) error { return check("cuMemFree", C.cu_free(x.c, C.cu_devptr(p))) }

// Write queues a copy of data to dst, after everything queued before it;
// data may be reused when Write returns.
func (x *Context) Write(dst DevPtr, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	return check("cuMemcpyHtoDAsync", C.cu_write(x.c, C.cu_devptr(dst), unsafe.Pointer(&data[0]), C.uint64_t(len(data))))
}

// Read waits for everything queued, then copies len(dst) bytes from src.
func (x *Context) Read(dst []byte, src DevPtr) error {
	if len(dst) == 0 {
		return x.Sync()
	}
	return check("cuMemcpyDtoHAsync", C.cu_read(x.c, unsafe.Pointer(&dst[0]), C.cu_devptr(src), C.uint64_t(len(dst))))
}

// Sync waits for everything queued on the stream.
func (x *Context) Sync() error { return check("cuStreamSynchronize", C.cu_sync(x.c)) }

// Module is a loaded PTX module.
type Module struct {
	m unsafe.Pointer
}

// LoadModule JIT-links PTX (NUL-terminated or not) for this device.
func (x *Context) LoadModule(ptx []byte) (*Module, error) {
	src := C.CString(string(ptx))
	defer C.free(unsafe.Pointer(src))
	log := make([]byte, 4096)
	var m unsafe.Pointer
	if err := check("cuModuleLoadData", C.cu_module_load(x.c, src, &m, (*C.char)(unsafe.Pointer(&log[0])), C.size_t(len(log)))); err != nil {
		if s := strings.TrimSpace(C.GoString((*C.char)(unsafe.Pointer(&log[0])))); s != "" {
			return nil, fmt.Errorf("%w: %s", err, s)
		}
		return nil, err
	}
	return &Module{m: m}, nil
}

// Function looks up a kernel by its (extern "C") name.
func (x *Context) Function(m *Module, name string) (Function, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var f C.uint64_t
	if err := check("cuModuleGetFunction "+name, C.cu_module_function(x.c, m.m, cs, &f)); err != nil {
		return 0, err
	}
	return Function(f), nil
}

// UnloadModule releases a module; its functions must not be used again.
func (x *Context) UnloadModule(m *Module) {
	if m != nil && m.m != nil {
		C.cu_module_unload(x.c, m.m)
		m.m = nil
	}
}

func cmdPtr(cmds []Command) *C.cu_cmd { return (*C.cu_cmd)(unsafe.Pointer(&cmds[0])) }

// Submit queues cmds on the stream, in order.
func (x *Context) Submit(cmds []Command) error {
	if len(cmds) == 0 {
		return nil
	}
	return check("cuLaunchKernel", C.cu_submit(x.c, cmdPtr(cmds), C.uint32_t(len(cmds))))
}

// Graph is an instantiated CUDA graph.
type Graph struct {
	g unsafe.Pointer
}

// Capture records cmds into a graph (by stream capture; nothing runs).
func (x *Context) Capture(cmds []Command) (*Graph, error) {
	if len(cmds) == 0 {
		return nil, fmt.Errorf("cuda: capture of no commands")
	}
	var g unsafe.Pointer
	if err := check("cuStreamBeginCapture/cuGraphInstantiate", C.cu_capture(x.c, cmdPtr(cmds), C.uint32_t(len(cmds)), &g)); err != nil {
		return nil, err
	}
	return &Graph{g: g}, nil
}

// Replay queues the graph's commands on the stream.
func (x *Context) Replay(g *Graph) error { return check("cuGraphLaunch", C.cu_replay(x.c, g.g)) }

// FreeGraph releases a graph.
func (x *Context) FreeGraph(g *Graph) {
	if g != nil && g.g != nil {
		C.cu_graph_free(x.c, g.g)
		g.g = nil
	}
}

// Time runs cmds reps times between two events and returns the milliseconds
// between them, waiting for them.
func (x *Context) Time(cmds []Command, reps int) (float32, error) {
	if len(cmds) == 0 {
		return 0, nil
	}
	var ms C.float
	err := check("cuEventElapsedTime", C.cu_time(x.c, cmdPtr(cmds), C.uint32_t(len(cmds)), C.int(reps), &ms))
	return float32(ms), err
}

// commandSize is sizeof(cu_cmd), for the layout test.
const commandSize = C.sizeof_cu_cmd
