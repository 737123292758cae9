package vulkan

import (
	"fmt"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/cgo/vk"
	"github.com/conveyor-llm/conveyor/gguf"
)

// argmaxStep names an ArgMax's or a TopK's commands for replay: the rows it
// reads, k (0 for ArgMax) and the host-visible buffer its results go to.
type argmaxStep struct {
	x          backend.Buffer
	off        int64
	rows, cols int
	k          int
	out        *buffer
}

// ArgMax finds each row's largest value on the device (shaders/argmax.comp)
// and reads back only the indices: 4 bytes a row. The shader writes them
// into host-visible memory, so nothing is copied after it, and its dispatch
// is recorded once per x and replayed (Replay): in a decode step the host
// records nothing, it submits.
func (b *Backend) ArgMax(x backend.Tensor, dst []int32) error {
	mustType("ArgMax", x, gguf.TypeF32)
	if len(dst) != x.Rows {
		return fmt.Errorf("vulkan: ArgMax of %d rows into %d", x.Rows, len(dst))
	}
	if x.Rows == 0 {
		return nil
	}
	if x.Cols == 0 {
		clear(dst)
		return nil
	}
	res, err := b.smallResult(x, 0, int64(x.Rows)*4, func(xv, dv view) {
		gx, gy := grid(x.Rows)
		pc := push{}.u(xv.words(), dv.words(), uint32(x.Cols), uint32(x.Rows))
		b.dispatch(b.pipeline("argmax"), []view{xv, dv}, []int{1}, pc, gx, gy)
	})
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)), res)
	return nil
}

// TopK finds each row's k first values in the sampler's order on the device
// (shaders/topk.comp) and reads back only them and their indices: 8k bytes a
// row, replayed as ArgMax is.
func (b *Backend) TopK(x backend.Tensor, k int, ids []int32, vals []float32) error {
	mustType("TopK", x, gguf.TypeF32)
	if k < 1 || k > min(x.Cols, backend.MaxTopK) || len(ids) != x.Rows*k || len(vals) != x.Rows*k {
		return fmt.Errorf("vulkan: TopK %d of %d rows of %d into %d ids and %d values", k, x.Rows, x.Cols, len(ids), len(vals))
	}
	if x.Rows == 0 {
		return nil
	}
	res, err := b.smallResult(x, k, int64(x.Rows)*int64(k)*8, func(xv, dv view) {
		gx, gy := grid(x.Rows)
		pc := push{}.u(xv.words(), dv.words(), uint32(x.Cols), uint32(x.Rows), uint32(k))
		b.dispatch(b.pipeline("topk"), []view{xv, dv}, []int{1}, pc, gx, gy)
	})
	if err != nil {
		return err
	}
	for r := 0; r < x.Rows; r++ {
		row := res[r*8*k : (r+1)*8*k]
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&ids[r*k])), 4*k), row[:4*k])
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&vals[r*k])), 4*k), row[4*k:])
	}
	return nil
}

// smallResult runs record's dispatch over x (replayed: recorded once per x,
// k and result buffer) into a host-visible buffer of size bytes, waits, and
// returns those bytes (valid until the next call).
func (b *Backend) smallResult(x backend.Tensor, k int, size int64, record func(xv, dv view)) ([]byte, error) {
	if err := b.checkIO(x, int(x.Bytes())); err != nil {
		return nil, err
	}
	if b.argmaxes == nil || b.argmaxes.size < size {
		if b.argmaxes != nil {
			b.Free(b.argmaxes)
			b.argmaxes = nil
		}
		m, err := b.allocHost(max(size, 256))
		if err != nil {
			return nil, err
		}
		b.argmaxes = m
	}
	out := backend.Tensor{Buf: b.argmaxes, Type: gguf.TypeI32, Rows: int(size / 4), Cols: 1}
	// The key is boxed once per distinct step, not per call.
	if key := (argmaxStep{x.Buf, x.Offset, x.Rows, x.Cols, k, b.argmaxes}); key != b.argmaxKey.step {
		b.argmaxKey.step, b.argmaxKey.boxed = key, key
	}
	b.Replay(b.argmaxKey.boxed, func() { record(b.bind(x), b.bind(out)) })
	if err := b.sync(); err != nil {
		return nil, err
	}
	if b.err != nil {
		err := b.err
		b.err = nil
		return nil, err
	}
	b.stats.ReadbackBytes += size
	return b.argmaxes.chunks[0].Bytes()[:size], nil
}

// allocHost allocates size bytes of host-visible coherent memory, mapped:
// shaders write it and the host reads it after the submission's fence with
// no copy in between (small results only: on a discrete GPU it is host RAM).
func (b *Backend) allocHost(size int64) (*buffer, error) {
	c, err := b.dev.NewBuffer((max(size, 1)+255)&^255, true)
	if err != nil {
		return nil, fmt.Errorf("vulkan: host buffer of %d bytes: %w", size, err)
	}
	m := &buffer{size: size, chunk: b.maxAlloc, chunks: []*vk.Buffer{c}}
	b.buffers[m] = struct{}{}
	return m, nil
}
