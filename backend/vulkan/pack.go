package vulkan

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Weights written with WriteWeight are repacked on the host, a row at a
// time, so the matmul shader reads quants with 128-bit loads instead of
// unaligned bytes: a row of nb blocks becomes planes, in the row's own bytes
// (the size is unchanged), each plane holding the same bytes of every block.
// For the 32-value block types:
//
//	quants  16 bytes a block (Q8_0 32), each block's bytes as in ggml
//	qh      4 bytes a block (Q5_0, Q5_1: the fifth bits)
//	d       2 bytes a block (F16; MXFP4 1, its E8M0 exponent)
//	m       2 bytes a block (Q4_1, Q5_1: the F16 min)
//
// For the K-quants and IQ4_XS: the quant fields (contiguous in every such
// block, a multiple of 16 bytes), then the rest (scales, d, dmin) in ggml's
// order. Rows stay whole and in place, so windows of rows, MoE experts'
// slices and GetRows work as before; the shaders learn the layout from the
// PACKED specialization constant (decode.glsl). Float types are stored as
// given: their rows are read with 128-bit loads where 16-byte aligned
// (weightLayout, matmul_float.glsl).

// byteRange is bytes [from, to) of a block.
type byteRange struct{ from, to int }

// packedLayout lists a type's planes, each the block byte ranges it holds.
type packedLayout [][]byteRange

func plane(rs ...int) []byteRange {
	var p []byteRange
	for i := 0; i < len(rs); i += 2 {
		p = append(p, byteRange{rs[i], rs[i+1]})
	}
	return p
}

// kLayout is a K-quant's: the quants [qa, qb) of its bb-byte block, then the rest.
func kLayout(qa, qb, bb int) packedLayout {
	return packedLayout{plane(qa, qb), plane(0, qa, qb, bb)}
}

var packedLayouts = map[gguf.Type]packedLayout{
	gguf.TypeQ4_0:   {plane(2, 18), plane(0, 2)},
	gguf.TypeIQ4_NL: {plane(2, 18), plane(0, 2)},
	gguf.TypeQ4_1:   {plane(4, 20), plane(0, 2), plane(2, 4)},
	gguf.TypeQ5_0:   {plane(6, 22), plane(2, 6), plane(0, 2)},
	gguf.TypeQ5_1:   {plane(8, 24), plane(4, 8), plane(0, 2), plane(2, 4)},
	gguf.TypeQ8_0:   {plane(2, 34), plane(0, 2)},
	gguf.TypeMXFP4:  {plane(1, 17), plane(0, 1)},
	gguf.TypeQ2_K:   kLayout(16, 80, 84),
	gguf.TypeQ3_K:   kLayout(0, 96, 110),
	gguf.TypeQ4_K:   kLayout(16, 144, 144),
	gguf.TypeQ5_K:   kLayout(16, 176, 176),
	gguf.TypeQ6_K:   kLayout(0, 192, 210),
	gguf.TypeIQ4_XS: kLayout(8, 136, 136),
}

// moveRow copies between a ggml row and its planes (nb blocks): toPlanes
// packs ggml into planes, else planes back into ggml.
func (l packedLayout) moveRow(planes, ggml []byte, nb int, toPlanes bool) {
	bb, at := 0, 0
	for _, p := range l {
		for _, r := range p {
			bb += r.to - r.from
		}
	}
	for _, p := range l {
		size := 0
		for _, r := range p {
			size += r.to - r.from
		}
		for b := range nb {
			o := at + b*size
			for _, r := range p {
				g := ggml[b*bb+r.from : b*bb+r.to]
				if toPlanes {
					copy(planes[o:], g)
				} else {
					copy(g, planes[o:])
				}
				o += r.to - r.from
			}
		}
		at += nb * size
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
	nb := t.Cols / t.Type.BlockSize()
	packed := make([]byte, len(data))
	for r := range t.Rows {
		l.moveRow(packed[r*rb:(r+1)*rb], data[r*rb:(r+1)*rb], nb, true)
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
		if t.Bytes() == 0 || t.Offset >= p.end || t.Offset+t.Bytes() <= p.off {
			continue
		}
		if t.Offset < p.off || t.Offset+t.Bytes() > p.end || t.Type != p.typ || t.Cols != p.cols ||
			(t.Offset-p.off)%t.RowBytes() != 0 {
			panic(fmt.Sprintf("vulkan: %v at byte %d overlaps a weight stored packed as rows of %d %v values at %d", t, t.Offset, p.cols, p.typ, p.off))
		}
		return p, true
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
				planes := append([]byte(nil), dst[at:at+rb]...)
				l.moveRow(planes, dst[at:at+rb], p.cols/p.typ.BlockSize(), false)
			}
		}
	}
	return nil
}

// weightLayout is the PACKED specialization constant for a weight read
// through view v: 0 ggml's layout, 1 planes, 2 planes with every row
// 16-byte aligned in the binding.
// Float weights are stored as given; for them 2 says their rows are 16-byte
// aligned, else 0.
func weightLayout(w backend.Tensor, v view) uint32 {
	if !isQuant(w.Type) {
		if w.RowBytes()%16 == 0 && v.skip%16 == 0 {
			return 2
		}
		return 0
	}
	if _, ok := packedOf(w); !ok {
		return 0
	}
	if w.RowBytes()%16 == 0 && v.skip%16 == 0 {
		return 2
	}
	return 1
}
