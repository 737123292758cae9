package model

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/conveyor-llm/conveyor/backend"
	"github.com/conveyor-llm/conveyor/gguf"
)

// Quantized KV caches are stored rotated, as llama.cpp does by default since
// its "rotate activations for better quantization" (its
// LLAMA_ATTN_ROT_DISABLE=1 turns it off): every 64 values of a head go
// through the orthonormal Hadamard matrix H (Sylvester's, scaled by 1/8)
// before they are quantized, which spreads a few large values over the
// block and so shrinks its scale. Rotating q and k alike leaves q·k as it
// is; the values' rotation passes through the weighted sum and is undone on
// the output (H·H = I). Only caches whose heads are whole 64-value pieces are
// rotated, as in llama.cpp.

// rotationBlock is the size of the Hadamard matrix.
const rotationBlock = 64

// RotatesCache reports whether a KV cache of type t with heads of headDim
// values is stored rotated: a block-quantized type and heads of whole
// rotation blocks.
func RotatesCache(t gguf.Type, headDim int) bool {
	return t.BlockSize() > 1 && headDim > 0 && headDim%rotationBlock == 0
}

// hadamardValues is the 64×64 Sylvester Hadamard matrix scaled by 1/8: entry
// (i, j) is (-1)^popcount(i&j) / 8.
func hadamardValues() []float32 {
	h := make([]float32, rotationBlock*rotationBlock)
	for i := 0; i < rotationBlock; i++ {
		for j := 0; j < rotationBlock; j++ {
			v := float32(0.125)
			if parity(i & j) {
				v = -v
			}
			h[i*rotationBlock+j] = v
		}
	}
	return h
}

func parity(x int) bool {
	p := false
	for ; x != 0; x &= x - 1 {
		p = !p
	}
	return p
}

// NewRotation allocates the rotation matrix (F32, 64×64) on b, for Cache.Rot.
func NewRotation(b backend.Backend) (backend.Tensor, error) {
	t := backend.Tensor{Type: gguf.TypeF32, Rows: rotationBlock, Cols: rotationBlock}
	buf, err := b.Alloc(t.Bytes())
	if err != nil {
		return t, fmt.Errorf("model: KV cache rotation: %w", err)
	}
	t.Buf = buf
	vals := hadamardValues()
	data := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	if err := b.Write(t, data); err != nil {
		b.Free(buf)
		return t, fmt.Errorf("model: KV cache rotation: %w", err)
	}
	return t, nil
}

// rotate computes dst = x·H in 64-value pieces (H is symmetric, so MatMul's
// x·Hᵀ); dst and x are n × width F32 with width a multiple of 64, and must
// not overlap.
func rotate(b backend.Backend, dst, x, h backend.Tensor) {
	rows := x.Rows * x.Cols / rotationBlock
	b.MatMul(dst.Reshape(rows, rotationBlock), h, x.Reshape(rows, rotationBlock))
}

// storeAndAttend writes the batch's keys k and values v into layer l's cache
// and computes the attention of q over it, as Backend.KVWrite and Attend do,
// rotating them first when the cache is stored rotated. att is scratch of q's
// shape; the output is in att or in q, whichever it returns. k and v may be
// overwritten.
func storeAndAttend(b backend.Backend, s *State, kv *Cache, l int, q, k, v, att backend.Tensor, p backend.Attention) backend.Tensor {
	rows := s.cacheRows.Head(s.n)
	pos, seq := s.pos.Head(s.n), s.seq.Head(s.n)
	var h backend.Tensor
	if l < len(kv.Rot) {
		h = kv.Rot[l]
	}
	rotK := h.Buf != nil && RotatesCache(kv.K[l].Type, p.HeadDim)
	rotV := h.Buf != nil && RotatesCache(kv.V[l].Type, p.HeadDim)
	if !rotK && !rotV {
		b.KVWrite(kv.K[l], k, rows)
		b.KVWrite(kv.V[l], v, rows)
		b.Attend(att, q, kv.K[l], kv.V[l], pos, seq, p)
		return att
	}
	// att, before it holds anything, is the scratch of the rotated keys
	// and values (KV width <= query width).
	tmp := backend.Tensor{Buf: att.Buf, Offset: att.Offset, Type: gguf.TypeF32, Rows: k.Rows, Cols: k.Cols}
	for _, c := range []struct {
		cache, x backend.Tensor
		rot      bool
	}{{kv.K[l], k, rotK}, {kv.V[l], v, rotV}} {
		if c.rot {
			rotate(b, tmp, c.x, h)
			b.KVWrite(c.cache, tmp, rows)
		} else {
			b.KVWrite(c.cache, c.x, rows)
		}
	}
	in, out := q, att
	if rotK {
		rotate(b, att, q, h)
		in, out = att, q
	}
	b.Attend(out, in, kv.K[l], kv.V[l], pos, seq, p)
	if rotV {
		rotate(b, in, out, h)
		return in
	}
	return out
}
