package cuda

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
	"github.com/conveyor-llm/conveyor/kernels"
)

// Weights of types the kernels do not read directly (K-quants, Q4_1, Q5_0,
// Q5_1, BF16, IQ4, MXFP4, ...) are dequantized on the host, once, and kept
// on the device as F16: the F16 mat-vec and get_rows kernels then serve
// them. It costs 16 bits a weight of device memory and a read-back at first
// use; a Write or Free of the source buffer drops the copy.

type expandKey struct {
	buf        *buffer
	offset     int64
	typ        gguf.Type
	rows, cols int
}

// expand returns t as F16 on the device, making the copy on first use.
func (b *Backend) expand(t backend.Tensor) (backend.Tensor, bool) {
	src := t.Buf.(*buffer)
	key := expandKey{src, t.Offset, t.Type, t.Rows, t.Cols}
	out := backend.Tensor{Type: gguf.TypeF16, Rows: t.Rows, Cols: t.Cols}
	if m, ok := b.expanded[key]; ok {
		out.Buf = m
		return out, true
	}
	if _, err := kernels.FormatOf(t.Type); err != nil {
		b.unsupported("a weight of this type", t)
		return out, false
	}
	raw := make([]byte, t.Bytes())
	if b.Read(t, raw) != nil {
		return out, false
	}
	rb := int(t.RowBytes())
	vals := make([]float32, t.Cols)
	f16 := make([]byte, 2*t.Rows*t.Cols)
	for r := range t.Rows {
		kernels.DequantizeRow(t.Type, vals, raw[r*rb:(r+1)*rb])
		for c, v := range vals {
			h := kernels.F32ToF16(v)
			f16[2*(r*t.Cols+c)], f16[2*(r*t.Cols+c)+1] = byte(h), byte(h>>8)
		}
	}
	m, err := b.Alloc(int64(len(f16)))
	if err != nil {
		b.keep(fmt.Errorf("cuda: expanding %v to F16: %w", t, err))
		return out, false
	}
	out.Buf = m
	if b.Write(out, f16) != nil {
		return out, false
	}
	b.expanded[key] = m.(*buffer)
	return out, true
}

// dropExpanded forgets the F16 copies made from buffer m.
func (b *Backend) dropExpanded(m *buffer) {
	for k, c := range b.expanded {
		if k.buf == m {
			delete(b.expanded, k)
			b.Free(c)
		}
	}
}
