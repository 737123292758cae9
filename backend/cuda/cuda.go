// Package cuda is the CUDA backend: backend.Backend on NVIDIA GPUs through
// the driver API (package cgo/cuda, which dlopens libcuda.so.1) and kernels
// in CUDA C (shaders/cuda), compiled at first use by NVRTC for the device's
// architecture and cached on disk (kernelcache.go).
//
// Ops append kernel launches to a command list; the list crosses cgo in one
// call when Read, ArgMax or Write needs it queued, and a list seen before is
// replayed as a CUDA graph (graphs.go), which is what a decode step becomes.
// Only Read and ArgMax wait.
//
// Arithmetic follows backend/cpu where it matters for greedy agreement: Q8_0
// and Q4_0 weights meet x quantized to Q8_0 and sum exact integer products
// per block (dp4a); F16 weights meet x rounded to F16. Other weight types
// (K-quants, Q4_1, Q5_x, BF16, ...) are expanded once to F16 on the device
// (fallback.go) and go through the F16 kernel. Every output's reduction
// order depends on k alone, never on the batch size.
//
// Not implemented: the Gated DeltaNet ops (backend.Recurrent), so models
// with recurrent layers refuse this backend at load; Route runs on the host
// (a read of the router logits per MoE layer).
package cuda

import (
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	cu "github.com/conveyor-llm/conveyor/cgo/cuda"
	"github.com/conveyor-llm/conveyor/gguf"
)

// device is what the backend asks of a CUDA context (a *cu.Context; a fake
// that runs nothing in host-side tests).
type device interface {
	executor
	Alloc(size uint64) (cu.DevPtr, error)
	Free(p cu.DevPtr) error
	Write(dst cu.DevPtr, data []byte) error
	Read(dst []byte, src cu.DevPtr) error
	Sync() error
	LoadModule(ptx []byte) (*cu.Module, error)
	Function(m *cu.Module, name string) (cu.Function, error)
	UnloadModule(m *cu.Module)
	Close()
}

// Backend computes on one CUDA device.
type Backend struct {
	ctx   device
	info  cu.DeviceInfo
	arch  int // the architecture kernels are compiled for
	cache *kernelCache

	modules map[string]*cu.Module
	funcs   map[string]cu.Function
	buffers map[*buffer]struct{}

	cmds   []cu.Command
	graphs *graphCache
	err    error

	q8 *buffer // x quantized to Q8_0 for matmuls
	// q8Of is the tensor q8 holds, while q8Valid: matmuls of one x in a row
	// (q, k and v; gate and up) quantize it once. Any other launch, or a
	// Write, may change x and ends it.
	q8Of     backend.Tensor
	q8Valid  bool
	argmaxes *buffer
	factors  map[string]*buffer    // RoPE frequency factors, by content
	expanded map[expandKey]*buffer // F16 copies of weights of other types

	stats    backend.Counters
	recStart time.Time
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Counting = (*Backend)(nil)
	_ backend.ArgMaxer = (*Backend)(nil)
)

// flushAfter bounds the command list: a longer one is queued as it stands.
const flushAfter = 4096

// Devices lists the CUDA devices; the error says why there are none to list
// (no driver, no device).
func Devices() ([]cu.DeviceInfo, error) {
	devs, err := cu.Devices()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	return devs, nil
}

// Available says why the CUDA backend cannot run here, or nil: no driver,
// no device, or no NVRTC to compile the kernels.
func Available() error {
	devs, err := Devices()
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		return fmt.Errorf("cuda: the driver found no CUDA device")
	}
	if err := cu.LoadNVRTC(); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	return nil
}

// New opens CUDA device index device, or device 0 for -1.
func New(device int) (*Backend, error) {
	devs, err := Devices()
	if err != nil {
		return nil, err
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("cuda: the driver found no CUDA device")
	}
	if device < 0 {
		device = 0
	}
	if device >= len(devs) {
		return nil, fmt.Errorf("cuda: no CUDA device %d (there are %d; see `conveyor devices`)", device, len(devs))
	}
	if err := cu.LoadNVRTC(); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	info := devs[device]
	arch, err := chooseArch(info.Arch(), cu.SupportedArchs())
	if err != nil {
		return nil, err
	}
	ctx, err := cu.Open(device)
	if err != nil {
		return nil, err
	}
	maj, min := cu.NVRTCVersion()
	cache := &kernelCache{dir: defaultCacheDir(), nvrtc: fmt.Sprintf("%d.%d", maj, min), driver: cu.DriverVersion(),
		arch: arch, compile: cu.Compile}
	return newBackend(ctx, info, cache), nil
}

func newBackend(dev device, info cu.DeviceInfo, cache *kernelCache) *Backend {
	return &Backend{
		ctx: dev, info: info, arch: cache.arch, cache: cache,
		modules: map[string]*cu.Module{}, funcs: map[string]cu.Function{}, buffers: map[*buffer]struct{}{},
		graphs: newGraphCache(), factors: map[string]*buffer{}, expanded: map[expandKey]*buffer{},
	}
}

// Name is "cuda".
func (b *Backend) Name() string { return "cuda" }

// Device names the device, its architecture and the driver.
func (b *Backend) Device() string {
	v := cu.DriverVersion()
	return fmt.Sprintf("%s (sm_%d, %d SMs, CUDA %d.%d)", b.info.Name, b.info.Arch(), b.info.SMs, v/1000, v%1000/10)
}

// Info describes the device.
func (b *Backend) Info() cu.DeviceInfo { return b.info }

// Counters are the work counts so far.
func (b *Backend) Counters() backend.Counters { return b.stats }

// GraphCounts are the CUDA graphs captured and replayed so far.
func (b *Backend) GraphCounts() (captures, replays int64) { return b.graphs.captures, b.graphs.replays }

// buffer is a backend.Buffer: one device allocation.
type buffer struct {
	ptr  cu.DevPtr
	size int64
}

func (m *buffer) Size() int64 { return m.size }

// Alloc allocates size bytes of device memory.
func (b *Backend) Alloc(size int64) (backend.Buffer, error) {
	if size < 0 {
		return nil, fmt.Errorf("cuda: negative buffer size %d", size)
	}
	p, err := b.ctx.Alloc(uint64(size))
	if err != nil {
		return nil, fmt.Errorf("cuda: alloc %d bytes: %w", size, err)
	}
	m := &buffer{ptr: p, size: size}
	b.buffers[m] = struct{}{}
	return m, nil
}

// Free waits for queued work, then releases the buffer.
func (b *Backend) Free(buf backend.Buffer) {
	m, ok := buf.(*buffer)
	if !ok || m.ptr == 0 {
		return
	}
	b.keep(b.sync())
	b.dropExpanded(m)
	b.keep(b.ctx.Free(m.ptr))
	m.ptr = 0
	delete(b.buffers, m)
}

// Close waits for the device and releases everything.
func (b *Backend) Close() error {
	if b.ctx == nil {
		return nil
	}
	b.keep(b.sync())
	b.graphs.free(b.ctx)
	for m := range b.buffers {
		b.ctx.Free(m.ptr)
	}
	for _, mod := range b.modules {
		b.ctx.UnloadModule(mod)
	}
	b.ctx.Close()
	b.ctx, b.buffers, b.modules = nil, nil, nil
	return b.err
}

// keep records the first error; ops report it at the next Read.
func (b *Backend) keep(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// flush queues the command list.
func (b *Backend) flush() error {
	if len(b.cmds) == 0 {
		return b.err
	}
	if b.err == nil {
		b.keep(b.graphs.run(b.ctx, b.cmds))
		b.stats.Submits++
		b.stats.RecordNanos += time.Since(b.recStart).Nanoseconds()
	}
	b.cmds = b.cmds[:0]
	return b.err
}

// sync queues the command list and waits for the stream, even after an
// error (what was queued before it may still run, and memory is freed next).
func (b *Backend) sync() error {
	ferr := b.flush()
	serr := b.ctx.Sync()
	if ferr != nil {
		return ferr
	}
	return serr
}

// ptr is the device address of t's first byte, checked against its buffer.
func (b *Backend) ptr(t backend.Tensor) cu.DevPtr {
	m, ok := t.Buf.(*buffer)
	if !ok || m.ptr == 0 {
		panic(fmt.Sprintf("cuda: tensor %v is not in a live CUDA buffer", t))
	}
	if t.Offset < 0 || t.Offset+t.Bytes() > m.size {
		panic(fmt.Sprintf("cuda: tensor %v at %d overruns its buffer of %d bytes", t, t.Offset, m.size))
	}
	return m.ptr + cu.DevPtr(t.Offset)
}

// Write queues a copy of data into t, after the ops recorded before it.
func (b *Backend) Write(t backend.Tensor, data []byte) error {
	if int64(len(data)) != t.Bytes() {
		return fmt.Errorf("cuda: write of %d bytes into %v (%d bytes)", len(data), t, t.Bytes())
	}
	p := b.ptr(t)
	if err := b.flush(); err != nil {
		return err
	}
	b.dropExpanded(t.Buf.(*buffer))
	b.q8Valid = false
	if err := b.ctx.Write(p, data); err != nil {
		b.keep(err)
		return err
	}
	return nil
}

// Read waits for every recorded op, then copies t into dst.
func (b *Backend) Read(t backend.Tensor, dst []byte) error {
	if int64(len(dst)) != t.Bytes() {
		return fmt.Errorf("cuda: read of %v (%d bytes) into %d bytes", t, t.Bytes(), len(dst))
	}
	p := b.ptr(t)
	if err := b.flush(); err != nil {
		return err
	}
	if err := b.ctx.Read(dst, p); err != nil {
		b.keep(err)
		return err
	}
	b.stats.ReadbackBytes += int64(len(dst))
	return nil
}

// function is kernel name of module, loading (and if need be compiling) the
// module on first use.
func (b *Backend) function(module, name string) (cu.Function, error) {
	key := module + "." + name
	if f, ok := b.funcs[key]; ok {
		return f, nil
	}
	mod, ok := b.modules[module]
	if !ok {
		ptx, err := b.cache.PTX(module)
		if err != nil {
			return 0, fmt.Errorf("cuda: kernels %s: %w", module, err)
		}
		if mod, err = b.ctx.LoadModule(ptx); err != nil {
			// CUDA_ERROR_UNSUPPORTED_PTX_VERSION: an NVRTC newer than the driver.
			return 0, fmt.Errorf("cuda: kernels %s (PTX for sm_%d from NVRTC %s %s, driver CUDA %d.%d; %s names another NVRTC): %w",
				module, b.arch, b.cache.nvrtc, cu.NVRTCLibrary(), b.cache.driver/1000, b.cache.driver%1000/10, cu.NVRTCLibraryEnv, err)
		}
		b.modules[module] = mod
	}
	f, err := b.ctx.Function(mod, name)
	if err != nil {
		return 0, err
	}
	b.funcs[key] = f
	return f, nil
}

// launch records kernel module.name over grid blocks of block threads.
func (b *Backend) launch(module, name string, grid, block [3]uint32, a *cu.Args) {
	if b.err != nil {
		return
	}
	if want, _ := signatureOf(name); a.Signature() != want {
		b.keep(fmt.Errorf("cuda: %s: parameters packed as (%s), the kernel takes (%s)", name, a.Signature(), want))
		return
	}
	f, err := b.function(module, name)
	if err != nil {
		b.keep(err)
		return
	}
	c, err := cu.Launch(f, grid, block, 0, a)
	if err != nil {
		b.keep(fmt.Errorf("cuda: %s: %w", name, err))
		return
	}
	if len(b.cmds) == 0 {
		b.recStart = time.Now()
	}
	if !strings.HasPrefix(name, "matvec_") {
		b.q8Valid = false
	}
	b.cmds = append(b.cmds, c)
	b.stats.Dispatches++
	if len(b.cmds) >= flushAfter {
		b.flush()
	}
}

// unsupported records an op this backend cannot run; the error comes back
// from the next Read.
func (b *Backend) unsupported(op string, t backend.Tensor) {
	b.keep(fmt.Errorf("cuda: %s of %v: not supported by the cuda backend", op, t))
}

func mustType(op string, t backend.Tensor, types ...gguf.Type) {
	for _, ty := range types {
		if t.Type == ty {
			return
		}
	}
	panic(fmt.Sprintf("cuda: %s: tensor %v: want type %v", op, t, types))
}

func mustShape(op string, t backend.Tensor, rows, cols int) {
	if t.Rows != rows || t.Cols != cols {
		panic(fmt.Sprintf("cuda: %s: tensor %v, want %d x %d", op, t, rows, cols))
	}
}

func dims(x, y, z int) [3]uint32 { return [3]uint32{uint32(x), uint32(y), uint32(z)} }
