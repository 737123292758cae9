package vulkan

import (
	"fmt"
	"unsafe"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// ArgMax finds each row's largest value on the device (shaders/argmax.comp)
// and reads back only the indices: 4 bytes a row.
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
	need := int64(x.Rows) * 4
	if b.argmaxes == nil || b.argmaxes.size < need {
		if b.argmaxes != nil {
			b.Free(b.argmaxes)
		}
		m, err := b.Alloc(max(need, 256))
		if err != nil {
			return err
		}
		b.argmaxes = m.(*buffer)
	}
	out := backend.Tensor{Buf: b.argmaxes, Type: gguf.TypeI32, Rows: x.Rows, Cols: 1}
	xv, dv := b.bind(x), b.bind(out)
	gx, gy := grid(x.Rows)
	pc := push{}.u(xv.words(), dv.words(), uint32(x.Cols), uint32(x.Rows))
	b.dispatch(b.pipeline("argmax"), []view{xv, dv}, []int{1}, pc, gx, gy)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst))
	return b.Read(out, raw)
}
