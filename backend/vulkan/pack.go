package vulkan

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Weights written with WriteWeight are repacked on the host, a row at a
// time, so the matmul shader reads a block's quants with one or two 128-bit
// loads instead of unaligned bytes: a row of nb 32-value blocks becomes
// planes, in the row's own bytes (the size is unchanged):
//
//	quants  16 bytes a block (Q8_0 32), each block's bytes as in ggml
//	qh      4 bytes a block (Q5_0, Q5_1: the fifth bits)
//	d       2 bytes a block (F16; MXFP4 1, its E8M0 exponent)
//	m       2 bytes a block (Q4_1, Q5_1: the F16 min)
//
// Rows stay whole and in place, so windows of rows, MoE experts' slices and
// GetRows work as before; the shaders learn the layout from the PACKED
// specialization constant (decode.glsl). The K-quants, IQ4_XS and float
// types are stored as given.

// packedLayout describes a packable type's planes: bytes a block of quants,
// of high bits, of scale and of min, at their offsets in the ggml block.
type packedLayout struct {
	qs, qsAt int
	qh, qhAt int
	d, dAt   int
	m, mAt   int
}

var packedLayouts = map[gguf.Type]packedLayout{
	gguf.TypeQ4_0:   {qs: 16, qsAt: 2, d: 2},
	gguf.TypeIQ4_NL: {qs: 16, qsAt: 2, d: 2},
	gguf.TypeQ4_1:   {qs: 16, qsAt: 4, d: 2, m: 2, mAt: 2},
	gguf.TypeQ5_0:   {qs: 16, qsAt: 6, qh: 4, qhAt: 2, d: 2},
	gguf.TypeQ5_1:   {qs: 16, qsAt: 8, qh: 4, qhAt: 4, d: 2, m: 2, mAt: 2},
	gguf.TypeQ8_0:   {qs: 32, qsAt: 2, d: 2},
	gguf.TypeMXFP4:  {qs: 16, qsAt: 1, d: 1},
}

// packRow writes the ggml row src (nb blocks of layout l) as planes into dst.
func (l packedLayout) packRow(dst, src []byte, nb int) {
	bb := l.qs + l.qh + l.d + l.m
	qh := nb * l.qs
	d := qh + nb*l.qh
	m := d + nb*l.d
	for b := range nb {
		blk := src[b*bb : (b+1)*bb]
		copy(dst[b*l.qs:], blk[l.qsAt:l.qsAt+l.qs])
		copy(dst[qh+b*l.qh:], blk[l.qhAt:l.qhAt+l.qh])
		copy(dst[d+b*l.d:], blk[l.dAt:l.dAt+l.d])
		copy(dst[m+b*l.m:], blk[l.mAt:l.mAt+l.m])
	}
}

// unpackRow is packRow's inverse.
func (l packedLayout) unpackRow(dst, src []byte, nb int) {
	bb := l.qs + l.qh + l.d + l.m
	qh := nb * l.qs
	d := qh + nb*l.qh
	m := d + nb*l.d
	for b := range nb {
		blk := dst[b*bb : (b+1)*bb]
		copy(blk[l.qsAt:l.qsAt+l.qs], src[b*l.qs:])
		copy(blk[l.qhAt:l.qhAt+l.qh], src[qh+b*l.qh:])
		copy(blk[l.dAt:l.dAt+l.d], src[d+b*l.d:])
		copy(blk[l.mAt:l.mAt+l.m], src[m+b*l.m:])
	}
}

// packedRange is a tensor a buffer holds packed, bytes [off, end).
type packedRange struct {
	off, end int64
	typ      gguf.Type
	cols     int
}

// WriteWeight writes t like Write, for a weight that only MatMul, MatMulID
// and GetRows will read: types with planes (packedLayouts) are stored
// repacked. Read returns what was written.
func (b *Backend) WriteWeight(t backend.Tensor, data []byte) error {
	l, ok := packedLayouts[t.Type]
	if !ok || t.Offset%4 != 0 || len(data) == 0 {
		return b.Write(t, data)
	}
	if err := b.checkIO(t, len(data)); err != nil {
		return err
	}
	rb := int(t.RowBytes())
	nb := t.Cols / 32
	packed := make([]byte, len(data))
	for r := range t.Rows {
		l.packRow(packed[r*rb:(r+1)*rb], data[r*rb:(r+1)*rb], nb)
	}
	if err := b.Write(t, packed); err != nil {
		return err
	}
	m := t.Buf.(*buffer)
	m.packed = append(m.packed, packedRange{t.Offset, t.Offset + t.Bytes(), t.Type, t.Cols})
	return nil
}

// forgetPacked drops the packed ranges that bytes [off, end) of m overlap:
// a plain Write replaces them.
func (m *buffer) forgetPacked(off, end int64) {
	kept := m.packed[:0]
	for _, p := range m.packed {
		if p.end <= off || end <= p.off {
			kept = append(kept, p)
		}
	}
	m.packed = kept
}

// packedOf returns the packed range holding t (whole rows of it), if any.
func packedOf(t backend.Tensor) (packedRange, bool) {
	m, ok := t.Buf.(*buffer)
	if !ok {
		return packedRange{}, false
	}
	for _, p := range m.packed {
		if t.Offset >= p.off && t.Offset+t.Bytes() <= p.end && t.Type == p.typ && t.Cols == p.cols &&
			(t.Offset-p.off)%t.RowBytes() == 0 {
			return p, true
		}
	}
	return packedRange{}, false
}

// unpackRead turns the packed rows that Read copied into dst (t's bytes)
// back into ggml's layout.
func unpackRead(t backend.Tensor, dst []byte) error {
	m, ok := t.Buf.(*buffer)
	if !ok {
		return nil
	}
	lo, hi := t.Offset, t.Offset+int64(len(dst))
	for _, p := range m.packed {
		l := packedLayouts[p.typ]
		rb := int64(p.typ.RowBytes(p.cols))
		for row := p.off; row < p.end; row += rb {
			switch {
			case row+rb <= lo || hi <= row:
			case row < lo || hi < row+rb:
				return fmt.Errorf("vulkan: reading %v: it cuts a row of a packed %v weight", t, p.typ)
			default:
				at := row - lo
				src := append([]byte(nil), dst[at:at+rb]...)
				l.unpackRow(dst[at:at+rb], src, p.cols/32)
			}
		}
	}
	return nil
}

// weightLayout is the PACKED specialization constant for a weight read
// through view v: 0 ggml's layout, 1 planes, 2 planes with every row
// 16-byte aligned in the binding.
func weightLayout(w backend.Tensor, v view) uint32 {
	if _, ok := packedOf(w); !ok {
		return 0
	}
	if w.RowBytes()%16 == 0 && v.skip%16 == 0 {
		return 2
	}
	return 1
}
