// Package cpu is the reference backend: plain Go, every op written to be read.
// Faster and GPU backends are tested against it. Ops run as they are recorded,
// split across a fixed pool of worker goroutines.
package cpu

import (
	"fmt"
	"math/bits"
	"runtime"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Backend computes on host memory.
type Backend struct {
	pool *pool
	// scratch holds activations converted for a matmul's dot products.
	scratch []byte
	// tasks are the ops' parallel loops, kept here so that starting one
	// allocates nothing; work is each worker's scratch memory.
	tasks struct {
		rmsNorm   rmsNormTask
		layerNorm layerNormTask
		gated     gatedTask
		gelu      geluTask
		swiGLU    swiGLUTask
		rope      ropeTask
		attend    attendTask
	}
	work []workerScratch
	// recurrent holds the Gated DeltaNet ops' loops and scratch (deltanet.go).
	recurrent recurrentTasks
	// moe is MatMulID's task and scratch (moe.go).
	moe moeTask
	// copies are MapHost's buffers copied into memory mapped here, released
	// by Free or Close (models do not free their mapped weights).
	copies []*buffer
}

// workerScratch is one worker's scratch memory, grown as ops need it.
type workerScratch struct {
	keys, values, qT, dots, qh []float32
	weights, ms, vs            []float32
	block                      []float32 // a quantized cache's blocks around a head
	packed                     kernels.PackedScratch
	row                        []byte
}

// grow returns (*buf)[:n], reallocating *buf to a power of two if it is too
// small, so that sizes growing by one each decoded token seldom allocate.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, 1<<bits.Len(uint(n-1)))
	}
	return (*buf)[:n]
}

var (
	_ backend.Backend    = (*Backend)(nil)
	_ backend.HostMapper = (*Backend)(nil)
)

// New returns a CPU backend that uses threads workers (0: one per CPU).
func New(threads int) *Backend {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return &Backend{pool: newPool(threads), work: make([]workerScratch, threads+1)}
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Device names the processor and the number of threads.
func (b *Backend) Device() string {
	return fmt.Sprintf("CPU, %d threads (%s/%s)", b.pool.size(), runtime.GOOS, runtime.GOARCH)
}

// Threads is the number of worker goroutines.
func (b *Backend) Threads() int { return b.pool.size() }

// buffer is host memory, allocated here or mapped from a file.
type buffer struct {
	data     []byte
	readOnly bool
	// inFile is a file's mapping used in place (read-only pages: never
	// packed).
	inFile bool
	// unmap releases data when it was mapped here (see copyHost).
	unmap func()
	// packed lists the tensors packed in place for the matrix kernels,
	// sorted by offset (see packed.go).
	packed []packedRange
}

func (m *buffer) Size() int64 { return int64(len(m.data)) }

// Alloc allocates size bytes, 64-byte aligned.
func (b *Backend) Alloc(size int64) (backend.Buffer, error) {
	if size < 0 {
		return nil, fmt.Errorf("cpu: negative buffer size %d", size)
	}
	raw := make([]byte, size+64)
	skip := (64 - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))))%64) % 64
	return &buffer{data: raw[skip : int64(skip)+size : int64(skip)+size]}, nil
}

// MapHost makes data a read-only buffer: a copy in anonymous memory where
// copyHost makes one (faster to stream), else data in place.
func (b *Backend) MapHost(data []byte) (backend.Buffer, error) {
	if mem, free, ok := copyHost(data); ok {
		m := &buffer{data: mem, readOnly: true, unmap: free}
		b.copies = append(b.copies, m)
		return m, nil
	}
	return &buffer{data: data, readOnly: true, inFile: true}, nil
}

// Write copies data into t.
func (b *Backend) Write(t backend.Tensor, data []byte) error {
	m, err := hostBuffer(t)
	if err != nil {
		return err
	}
	if m.readOnly {
		return fmt.Errorf("cpu: write to read-only (mapped) tensor %v", t)
	}
	if int64(len(data)) != t.Bytes() {
		return fmt.Errorf("cpu: write of %d bytes to %v of %d bytes", len(data), t, t.Bytes())
	}
	b.unpackOverlapping(m, t.Offset, t.Offset+t.Bytes())
	copy(m.data[t.Offset:], data)
	return nil
}

// Read copies t into dst. Ops run as they are recorded, so there is nothing to wait for.
func (b *Backend) Read(t backend.Tensor, dst []byte) error {
	m, err := hostBuffer(t)
	if err != nil {
		return err
	}
	if int64(len(dst)) != t.Bytes() {
		return fmt.Errorf("cpu: read of %v (%d bytes) into %d bytes", t, t.Bytes(), len(dst))
	}
	copy(dst, m.data[t.Offset:t.Offset+t.Bytes()])
	if len(m.packed) > 0 && t.Rows > 0 {
		rowBytes := int(t.RowBytes())
		for r := 0; r < t.Rows; r++ {
			row := dst[r*rowBytes : (r+1)*rowBytes]
			copy(row, standardRow(m, t, r, row))
		}
	}
	return nil
}

// Free drops the buffer; the garbage collector reclaims it.
func (b *Backend) Free(buf backend.Buffer) {
	if m, ok := buf.(*buffer); ok {
		m.data = nil
		if m.unmap != nil {
			m.unmap()
			m.unmap = nil
		}
	}
}

// Close stops the worker pool and releases the memory MapHost mapped.
func (b *Backend) Close() error {
	b.pool.close()
	for _, m := range b.copies {
		b.Free(m)
	}
	b.copies = nil
	return nil
}

func hostBuffer(t backend.Tensor) (*buffer, error) {
	m, ok := t.Buf.(*buffer)
	if !ok {
		return nil, fmt.Errorf("cpu: tensor %v is not in CPU memory", t)
	}
	if t.Offset < 0 || t.Offset+t.Bytes() > int64(len(m.data)) {
		return nil, fmt.Errorf("cpu: tensor %v at offset %d overruns its buffer of %d bytes", t, t.Offset, len(m.data))
	}
	return m, nil
}

// raw is the bytes of t. Op arguments are the model's own tensors, so a bad one is a
// programming error and panics with its description.
func raw(t backend.Tensor) []byte {
	m, err := hostBuffer(t)
	if err != nil {
		panic(err)
	}
	return m.data[t.Offset : t.Offset+t.Bytes()]
}

func f32s(t backend.Tensor) []float32 {
	mustType(t, gguf.TypeF32)
	return asF32(raw(t))
}

func i32s(t backend.Tensor) []int32 {
	mustType(t, gguf.TypeI32)
	b := raw(t)
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func asF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func mustType(t backend.Tensor, typ gguf.Type) {
	if t.Type != typ {
		panic(fmt.Sprintf("cpu: tensor %v: want type %v", t, typ))
	}
}

func mustShape(op string, t backend.Tensor, rows, cols int) {
	if t.Rows != rows || t.Cols != cols {
		panic(fmt.Sprintf("cpu: %s: tensor %v, want %d x %d", op, t, rows, cols))
	}
}

var _ backend.ArgMaxer = (*Backend)(nil)

// ArgMax writes the index of each row's largest value of x (F32) to dst: the
// first on ties, as a sequential scan with > finds it.
func (b *Backend) ArgMax(x backend.Tensor, dst []int32) error {
	if x.Type != gguf.TypeF32 {
		return fmt.Errorf("cpu: ArgMax of %v: want F32", x)
	}
	if len(dst) != x.Rows {
		return fmt.Errorf("cpu: ArgMax of %d rows into %d", x.Rows, len(dst))
	}
	m, err := hostBuffer(x)
	if err != nil {
		return err
	}
	raw := m.data[x.Offset : x.Offset+x.Bytes()]
	if len(m.packed) > 0 { // packed rows: unpack a copy
		raw = make([]byte, x.Bytes())
		if err := b.Read(x, raw); err != nil {
			return err
		}
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/4)
	for r := range dst {
		row := all[r*x.Cols : (r+1)*x.Cols]
		best := 0
		for i, v := range row {
			if v > row[best] {
				best = i
			}
		}
		dst[r] = int32(best)
	}
	return nil
}
