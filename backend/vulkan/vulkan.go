// Package vulkan is the Vulkan compute backend: backend.Backend on any device
// with a Vulkan 1.2 driver and VK_KHR_push_descriptor (NVIDIA, AMD, Intel,
// lavapipe on the CPU), through Conveyor's own binding, package cgo/vk, and the
// shaders of package shaders.
//
// Ops are recorded into a Go-side command list, with a memory barrier before
// any op that touches memory an op after the last barrier wrote (or writes
// memory one read); the list is recorded and submitted in one cgo call when
// Read needs results or when it grows long. Only Read waits.
//
// A decode step is recorded once and replayed (replay.go, backend.Replayer):
// its command buffer is submitted again each token after the writes of the
// token's inputs, with no Go code of the model run and nothing recorded.
// Ops that consume the dispatch just recorded take it over where one shader
// can compute both (fuse.go): residual adds, RMSNorms and activation
// quantizes in matmul epilogues, RoPE with the KV write, SwiGLU with the
// quantize; a Llama layer decodes in 8 dependent stages (7 with float
// weights) instead of 16.
//
// A Buffer is one or more device-local VkBuffers of at most
// maxMemoryAllocationSize bytes; a tensor must lie inside one of them. Shaders
// see a tensor through a binding of at most maxStorageBufferRange bytes: MatMul
// and GetRows split larger weights into windows of whole rows, one dispatch
// each; other ops' tensors must fit in one window.
//
// Arithmetic follows backend/cpu: matmuls convert x to the weight format's dot
// type (Q8_0, Q8_1 or Q8_K blocks for quantized weights, rounded to F16/BF16 for those)
// and sum exact integer products per block (per 32-value sub-block for the
// K-quants), so greedy outputs agree; every output's reduction order depends
// only on k, never on the batch size. Weights written with WriteWeight are
// repacked into aligned planes (pack.go).
package vulkan

import (
	"fmt"
	"os"
	"time"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Options tunes a backend; the zero value uses the device's limits.
type Options struct {
	// MaxBindRange, when positive, lowers the largest binding below the
	// device's maxStorageBufferRange, so tests can split small weights.
	MaxBindRange int64
	// MaxAlloc, when positive, lowers the largest VkBuffer allocation.
	MaxAlloc int64
	// NoSubgroups makes matmuls and attention reduce through shared memory even where the
	// device has subgroup arithmetic.
	NoSubgroups bool
	// NoIntegerDot makes matmuls compute packed 4x8-bit dot products with
	// shifts and multiplies even where the device has them.
	NoIntegerDot bool
	// NoReplay makes Replay record its ops afresh every time (the fallback
	// path, and the reference replay is tested against).
	NoReplay bool
	// NoFusion records every op as its own dispatch (fuse.go), as the
	// reference fused dispatches are tested against.
	NoFusion bool
	// Tiled picks the prefill matmul (tiled.go): TiledDefault, TiledAlways
	// or TiledNever; TiledEnv overrides it.
	Tiled int
}

// NoReplayEnv names the environment variable that, set to 1, turns replay
// off (Options.NoReplay): every step is recorded afresh, as a fallback.
const NoReplayEnv = "CONVEYOR_VK_NO_REPLAY"

// NoFusionEnv names the environment variable that, set to 1, turns fusion
// off (Options.NoFusion).
const NoFusionEnv = "CONVEYOR_VK_NO_FUSION"

// Backend computes on one Vulkan device.
type Backend struct {
	in   *vk.Instance
	dev  *vk.Device
	info DeviceInfo

	maxRange, maxAlloc, align int64
	// matmul is the matmul shader: "matmul", with "_sg" for subgroup
	// reductions, "_dot" for the device's integer dot products.
	matmul string
	// attention is "attention_sg" with subgroup reductions, else "attention".
	attention string

	pipes   map[pipeKey]*vk.Pipeline
	buffers map[*buffer]struct{}

	cmds    vk.Commands
	hz      tracker
	pending []*vk.Submission
	// deferred are freed once pending work is done.
	deferred []*vk.Buffer
	err      error

	staging     *vk.Buffer // host-visible arena for writes and reads
	stagingUsed int64

	quant      *vk.Buffer // quantized activations for matmuls
	quantKey   quantKey   // what quant holds, while quantValid
	quantValid bool
	factors    map[string]*buffer // RoPE frequency factors, by content
	moe        moeScratch         // MatMulID's scratch (moe.go)
	gates      *buffer            // DeltaNet's per-token beta and decay (deltanet.go)
	attnPart   *buffer            // Attend's split partials (attention.go)

	stats    backend.Counters // work counts (Counters)
	recStart time.Time        // first command since the last submit, or zero
	argmaxes *buffer          // ArgMax's results, host-visible
	// argmaxKey is the last ArgMax's replay key, and it boxed.
	argmaxKey struct {
		step  argmaxStep
		boxed any
	}
	replay   replayState // recorded graphs (replay.go)
	fuse     fuseState   // dispatches later ops may fuse with (fuse.go)
	counters *buffer     // the fused norm's and Attend's workgroup counters (fuse.go)
	noFusion bool
	tile     mmTile // when set, every matmul's tile (tests)
	tiled    int    // Options.Tiled, or TiledEnv's
	// tiledTile, when set, is the tiled kernel's tile (tests)
	tiledTile tiledTile
	prof      profile // per-shader times, with CONVEYOR_VK_PROFILE=1 (profile.go)
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Counting = (*Backend)(nil)
	_ backend.ArgMaxer = (*Backend)(nil)
	_ backend.TopKer   = (*Backend)(nil)
	_ backend.Replayer = (*Backend)(nil)
)

const (
	stagingSize = 32 << 20
	// flushAfter bounds the commands recorded before a submit outside a
	// capture: a prefill (about 15 dispatches a layer) goes to the device
	// in chunks, so the device starts on the first layers while the host
	// records the rest.
	flushAfter = 64 // commands
	writePiece = 8 << 20
)

// New opens Vulkan device index device (see Devices), or the best one for -1.
func New(device int) (*Backend, error) { return NewWithOptions(device, Options{}) }

// NewWithOptions is New with options.
func NewWithOptions(device int, o Options) (*Backend, error) {
	in, err := vk.NewInstance()
	if err != nil {
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	pds, err := in.PhysicalDevices()
	if err != nil {
		in.Destroy()
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	idx, err := pick(pds, device)
	if err != nil {
		in.Destroy()
		return nil, err
	}
	dev, err := in.NewDevice(pds[idx])
	if err != nil {
		in.Destroy()
		return nil, fmt.Errorf("vulkan: %w", err)
	}
	p := &dev.Props
	b := &Backend{
		in: in, dev: dev, info: infoOf(idx, p),
		maxRange: int64(p.MaxStorageBufferRange),
		maxAlloc: int64(p.MaxMemoryAllocationSize),
		align:    max(int64(p.MinStorageBufferOffsetAlignment), 4),
		pipes:    map[pipeKey]*vk.Pipeline{},
		buffers:  map[*buffer]struct{}{},
		factors:  map[string]*buffer{},
	}
	b.matmul, b.attention = "matmul", "attention"
	if p.SubgroupArithmetic && !o.NoSubgroups {
		b.matmul, b.attention = "matmul_sg", "attention_sg"
	}
	if p.IntegerDot && !o.NoIntegerDot {
		b.matmul += "_dot"
	}
	if o.MaxBindRange > 0 && o.MaxBindRange < b.maxRange {
		b.maxRange = o.MaxBindRange
	}
	if o.MaxAlloc > 0 && o.MaxAlloc < b.maxAlloc {
		b.maxAlloc = o.MaxAlloc
	}
	b.tiled = tiledMode(o)
	b.noFusion = o.NoFusion || os.Getenv(NoFusionEnv) == "1"
	b.replay.disabled = o.NoReplay || os.Getenv(NoReplayEnv) == "1"
	if os.Getenv(ProfileEnv) == "1" {
		b.prof = profile{on: true, names: map[*vk.Pipeline]pipeKey{}, rows: map[string]*profileRow{}}
		b.noFusion, b.replay.disabled = true, true
	}
	b.maxRange &^= 255
	b.maxAlloc &^= 255
	if err := b.newCounters(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Name is "vulkan".
func (b *Backend) Name() string { return "vulkan" }

// Device names the device, its type and API version.
func (b *Backend) Device() string {
	return fmt.Sprintf("%s (%s, Vulkan %s)", b.info.Name, b.info.Type, b.info.APIVersion)
}

// Info describes the device.
func (b *Backend) Info() DeviceInfo { return b.info }

// AllocatedBytes is the device memory the backend holds now, staging and
// scratch included.
func (b *Backend) AllocatedBytes() int64 { return b.dev.AllocatedBytes() }

// buffer is a backend.Buffer: chunks of at most maxAlloc bytes each.
type buffer struct {
	size   int64
	chunk  int64 // bytes per chunk (all but the last)
	chunks []*vk.Buffer
	packed []packedRange // weights stored repacked (pack.go)
}

func (m *buffer) Size() int64 { return m.size }

// Alloc allocates size bytes of device-local memory.
func (b *Backend) Alloc(size int64) (backend.Buffer, error) {
	if size < 0 {
		return nil, fmt.Errorf("vulkan: negative buffer size %d", size)
	}
	m := &buffer{size: size, chunk: b.maxAlloc}
	for off := int64(0); off < max(size, 1); off += m.chunk {
		n := (min(m.chunk, max(size, 1)-off) + 255) &^ 255 // whole words past the end, for bindings
		c, err := b.dev.NewBuffer(n, false)
		if err != nil {
			b.freeChunks(m)
			return nil, fmt.Errorf("vulkan: alloc %d bytes: %w", size, err)
		}
		m.chunks = append(m.chunks, c)
	}
	b.buffers[m] = struct{}{}
	return m, nil
}

func (b *Backend) freeChunks(m *buffer) {
	b.memoryReleased()
	for _, c := range m.chunks {
		b.noteWrite(span{c.Handle, 0, c.Size})
		b.dev.FreeBuffer(c)
	}
	m.chunks = nil
}

// Free waits for recorded work, then releases the buffer's device memory.
func (b *Backend) Free(buf backend.Buffer) {
	m, ok := buf.(*buffer)
	if !ok || m.chunks == nil {
		return
	}
	if err := b.sync(); err != nil && b.err == nil {
		b.err = err
	}
	b.freeChunks(m)
	delete(b.buffers, m)
}

// Close waits for the device and releases everything.
func (b *Backend) Close() error {
	if b.dev == nil {
		return nil
	}
	err := b.sync()
	b.printProfile()
	b.dropGraphs()
	for m := range b.buffers {
		b.freeChunks(m)
	}
	b.buffers = nil
	for _, p := range b.pipes {
		b.dev.DestroyPipeline(p)
	}
	b.pipes = nil
	b.dev.FreeBuffer(b.staging)
	b.dev.FreeBuffer(b.quant)
	b.dev.Destroy()
	b.in.Destroy()
	b.dev, b.in = nil, nil
	if err == nil {
		err = b.err
	}
	return err
}

// where locates bytes [t.Offset, t.Offset+n) of t's buffer: its chunk and the
// offset inside it. The range must not cross chunks.
func (b *Backend) where(t backend.Tensor, n int64) (*vk.Buffer, int64) {
	m, ok := t.Buf.(*buffer)
	if !ok || m.chunks == nil {
		panic(fmt.Sprintf("vulkan: tensor %v is not in a live Vulkan buffer", t))
	}
	if t.Offset < 0 || t.Offset+n > m.size {
		panic(fmt.Sprintf("vulkan: tensor %v at %d overruns its buffer of %d bytes", t, t.Offset, m.size))
	}
	i := t.Offset / m.chunk
	off := t.Offset - i*m.chunk
	if n > 0 && off+n > m.chunk {
		panic(fmt.Sprintf("vulkan: tensor %v at %d crosses a %d-byte allocation boundary; allocate it separately", t, t.Offset, m.chunk))
	}
	return m.chunks[i], off
}

// view is a tensor range as a shader binding plus the byte offset of the
// range's start inside the binding.
type view struct {
	bind vk.Binding
	skip int64 // bytes from the binding's start to the data
	span span
	// bound is the whole bound range, which the barrier tracker uses: the
	// validation layer takes a shader to touch all of it.
	bound span
	bytes int64
}

// words is the view's data offset in 32-bit words; it must be word aligned.
func (v view) words() uint32 {
	if v.skip%4 != 0 {
		panic(fmt.Sprintf("vulkan: data at byte %d is not 4-byte aligned", v.skip))
	}
	return uint32(v.skip / 4)
}

// bindRange binds n bytes of t starting at byte rel after t.Offset.
func (b *Backend) bindRange(t backend.Tensor, rel, n int64) view {
	u := t
	u.Offset += rel
	c, off := b.where(u, n)
	start := off &^ (b.align - 1)
	skip := off - start
	rng := (skip + max(n, 4) + 3) &^ 3
	if rng > b.maxRange {
		panic(fmt.Sprintf("vulkan: %d bytes of %v do not fit one %d-byte binding", n, t, b.maxRange))
	}
	return view{
		bind:  vk.Binding{Buffer: c.Handle, Offset: uint64(start), Range: uint64(rng)},
		skip:  skip,
		span:  span{c.Handle, off, off + n},
		bound: span{c.Handle, start, start + rng},
		bytes: n,
	}
}

// bind binds the whole tensor.
func (b *Backend) bind(t backend.Tensor) view { return b.bindRange(t, 0, t.Bytes()) }

func mustType(op string, t backend.Tensor, types ...gguf.Type) {
	for _, ty := range types {
		if t.Type == ty {
			return
		}
	}
	// A copy, so that types does not escape: calls allocate nothing.
	panic(fmt.Sprintf("vulkan: %s: tensor %v: want type %v", op, t, append([]gguf.Type(nil), types...)))
}

func mustShape(op string, t backend.Tensor, rows, cols int) {
	if t.Rows != rows || t.Cols != cols {
		panic(fmt.Sprintf("vulkan: %s: tensor %v, want %d x %d", op, t, rows, cols))
	}
}
