// Package backend defines the small interface every compute backend implements:
// where tensors live, and the ops a model's forward pass is written in.
//
// Ops are recorded in order; a backend may run them at once (the CPU backend does)
// or queue them (the Vulkan backend records a command buffer). The host waits only
// in Read, which sees the effect of every op recorded before it.
package backend

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Buffer is memory owned by a backend. Only the backend that made it can use it.
type Buffer interface {
	// Size is the buffer's length in bytes.
	Size() int64
}

// Tensor is a 2-D row-major view into a Buffer: Rows rows of Cols values of Type,
// each row Type.RowBytes(Cols) bytes, the first at byte Offset. Vectors are 1 x n.
// Tensors are values; views share their buffer.
type Tensor struct {
	Buf    Buffer
	Offset int64
	Type   gguf.Type
	Rows   int
	Cols   int
}

// RowBytes is the size of one row in bytes.
func (t Tensor) RowBytes() int64 { return int64(t.Type.RowBytes(t.Cols)) }

// Bytes is the size of the whole tensor in bytes.
func (t Tensor) Bytes() int64 { return int64(t.Rows) * t.RowBytes() }

// Slice is the view of rows [lo, hi).
func (t Tensor) Slice(lo, hi int) Tensor {
	if lo < 0 || hi > t.Rows || lo > hi {
		panic(fmt.Sprintf("backend: rows [%d,%d) out of range for %d rows", lo, hi, t.Rows))
	}
	v := t
	v.Offset += int64(lo) * t.RowBytes()
	v.Rows = hi - lo
	return v
}

// Reshape is the same contiguous values viewed as rows x cols (for example a
// batch of heads, n x heads*hd, as n*heads x hd); the sizes must match.
func (t Tensor) Reshape(rows, cols int) Tensor {
	if rows*cols != t.Rows*t.Cols || cols%t.Type.BlockSize() != 0 {
		panic(fmt.Sprintf("backend: reshape %v to %d x %d", t, rows, cols))
	}
	v := t
	v.Rows, v.Cols = rows, cols
	return v
}

// Columns is the view of values [lo, hi) of a one-row tensor (a slice of a
// fused bias); lo and hi must fall on block boundaries.
func (t Tensor) Columns(lo, hi int) Tensor {
	bs := t.Type.BlockSize()
	if t.Rows != 1 || lo < 0 || hi > t.Cols || lo > hi || lo%bs != 0 || hi%bs != 0 {
		panic(fmt.Sprintf("backend: columns [%d,%d) of %v", lo, hi, t))
	}
	v := t
	v.Offset += int64(t.Type.RowBytes(lo))
	v.Cols = hi - lo
	return v
}

// Head is the view of the first n values of a one-row tensor (index vectors).
func (t Tensor) Head(n int) Tensor {
	if t.Rows != 1 || n < 0 || n > t.Cols {
		panic(fmt.Sprintf("backend: head %d of %v", n, t))
	}
	v := t
	v.Cols = n
	return v
}

func (t Tensor) String() string { return fmt.Sprintf("%s[%d x %d]", t.Type, t.Rows, t.Cols) }

// RoPEMode selects which pairs of a head's dimensions are rotated together.
type RoPEMode int

const (
	// RoPENormal rotates adjacent pairs (2i, 2i+1), as llama.cpp does for Llama.
	RoPENormal RoPEMode = iota
	// RoPENeoX rotates pairs (i, i+d/2), as GPT-NeoX, Qwen2 and Gemma do.
	RoPENeoX
)

// RoPE holds the parameters of rotary position embedding, as llama.cpp names them.
type RoPE struct {
	Mode     RoPEMode
	HeadDim  int     // values per head; the tensor's Cols is heads*HeadDim
	Dims     int     // leading dimensions of each head that rotate (rope.dimension_count)
	FreqBase float32 // theta base, 10000 for Llama 2
	// FreqScale multiplies positions (1/linear scaling factor); 1 means none.
	FreqScale float32
	// Factors, when not empty, divides the frequency of rotated pair i (Llama 3.1 rope_freqs).
	Factors []float32
	// YaRN, when ExtFactor > 0 (ggml's rope_yarn): pair i's angle blends the
	// scaled angle t·FreqScale with the unscaled t by ramp_i·ExtFactor, where
	// ramp_i = 1 - clamp((i - CorrDims[0]) / max(0.001, CorrDims[1] - CorrDims[0]), 0, 1),
	// and cos and sin are multiplied by MScale.
	ExtFactor float32
	CorrDims  [2]float32
	MScale    float32
}

// Attention describes causal attention over a KV cache with one region per sequence.
// Cache rows are laid out as seq*Context + pos, so a token at position p of
// sequence s attends to cache rows s*Context .. s*Context+p, always in that order.
type Attention struct {
	Heads   int     // query heads
	KVHeads int     // key/value heads; query head h uses KV head h / (Heads/KVHeads)
	HeadDim int     // values per head
	Context int     // cache rows per sequence
	Scale   float32 // applied to q·k, usually 1/sqrt(HeadDim)
	// SoftCap, when > 0, caps the scaled scores: s = SoftCap * tanh(s / SoftCap) (Gemma 2).
	SoftCap float32
	// Window, when > 0, limits a query at position p to keys at positions
	// p-Window < p' <= p (sliding-window attention).
	Window int
	// Sinks, when set (F32, 1 x Heads), is one more logit per query head in
	// the softmax's denominator, without a value and not scaled (gpt-oss's
	// attention sinks): the weights of the keys sum to less than 1.
	Sinks Tensor
}

// Backend computes on tensors. A Backend is used by one goroutine at a time.
type Backend interface {
	// Name is the backend's short name ("cpu", "vulkan").
	Name() string
	// Device describes what it runs on, in one line.
	Device() string

	// Alloc makes a buffer of size bytes; its contents are undefined.
	Alloc(size int64) (Buffer, error)
	// Write copies data into t (host to backend); len(data) must equal t.Bytes().
	// It is ordered with the recorded ops: ops recorded before it see the old contents.
	// The caller may reuse data as soon as Write returns.
	Write(t Tensor, data []byte) error
	// Read waits for every recorded op, then copies t into dst (backend to host).
	Read(t Tensor, dst []byte) error
	// Free releases a buffer; tensors on it must not be used again.
	Free(b Buffer)
	// Close releases everything the backend holds.
	Close() error

	// GetRows copies rows ids[i] of table into dst row i, converting to dst's type (F32).
	// ids is an I32 tensor of 1 x n; dst is n x table.Cols.
	GetRows(dst, table, ids Tensor)
	// MatMul computes dst = x · wᵀ: dst (n x m) F32, x (n x k) F32, w (m x k) of any
	// weight type. Each output's reduction order is fixed, whatever n is.
	MatMul(dst, w, x Tensor)
	// RMSNorm computes dst = x / sqrt(mean(x²) + eps) * w per row; w is 1 x Cols F32.
	RMSNorm(dst, x, w Tensor, eps float32)
	// Add computes dst = a + b elementwise (all the same shape, F32).
	Add(dst, a, b Tensor)
	// SwiGLU computes dst = silu(gate) * up elementwise.
	SwiGLU(dst, gate, up Tensor)
	// RoPE rotates x (n x heads*HeadDim, F32) in place by the positions pos (I32, 1 x n).
	RoPE(x, pos Tensor, p RoPE)
	// KVWrite copies src row i into cache row rows[i] (rows is I32 1 x n),
	// converting to the cache's type (F32 or F16).
	KVWrite(cache, src, rows Tensor)
	// Attend computes causal attention for the n query rows of q (n x Heads*HeadDim)
	// into dst (same shape), over kCache and vCache (seqs*Context x KVHeads*HeadDim).
	// pos and seq are I32 1 x n: the position and sequence of each query row.
	Attend(dst, q, kCache, vCache, pos, seq Tensor, p Attention)

	// LayerNorm computes dst = (x - mean(x)) / sqrt(var(x) + eps) * w + b per row;
	// w and b are 1 x Cols F32.
	LayerNorm(dst, x, w, b Tensor, eps float32)
	// AddRow computes dst = x + row, adding the 1 x Cols row to every row of x
	// (a bias).
	AddRow(dst, x, row Tensor)
	// Scale computes dst = x * s elementwise.
	Scale(dst, x Tensor, s float32)
	// GELU computes dst = gelu(x) in its tanh form:
	// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))).
	GELU(dst, x Tensor)
	// GeGLU computes dst = gelu(gate) * up elementwise (gelu in its tanh form).
	GeGLU(dst, gate, up Tensor)
	// SoftCap computes dst = c * tanh(x / c) elementwise.
	SoftCap(dst, x Tensor, c float32)
	// SwiGLUOAI computes gpt-oss's clamped SwiGLU elementwise (ggml's
	// swiglu_oai): g = min(gate, limit), u = clamp(up, -limit, limit),
	// dst = g / (1 + e^(-alpha g)) * (u + 1).
	SwiGLUOAI(dst, gate, up Tensor, alpha, limit float32)

	// Mixture of experts (see Gating and moe.go's notes).

	// Route chooses each token's experts from its router logits (n x experts,
	// F32): ids (I32, n x used) gets the chosen experts, most probable first
	// (ties: the lower id), and weights (F32, n x used) their weights, as g says.
	Route(ids, weights, logits Tensor, g Gating)
	// MatMulID is MatMul over only the chosen experts: w is a stack of
	// experts, each m = dst.Cols rows of w (expert e is rows e*m .. e*m+m-1),
	// ids (I32, n x used) names each token's experts, and dst row i*used+j
	// (n*used x m, F32) is expert ids[i][j]'s rows times x row i (x is n x k:
	// one input per token, shared by its experts) or x row i*used+j (x is
	// n*used x k: one input per chosen expert). Each output is the same dot
	// product MatMul computes, whatever the batch.
	MatMulID(dst, w, x, ids Tensor)
	// MoESum computes dst row i = sum over j of weights[i][j] * x row i*used+j,
	// in order j = 0, 1, ...: dst n x d, x n*used x d, weights n x used (F32).
	MoESum(dst, x, weights Tensor)
}

// Gating is how Route turns router logits into expert weights.
type Gating int

const (
	// GatingSoftmax takes the softmax over all experts, chooses the used
	// largest and divides their probabilities by their sum (Qwen3-MoE and
	// Mixtral, llama.cpp's expert_weights_norm).
	GatingSoftmax Gating = iota
	// GatingTopKSoftmax chooses the used largest logits and takes the
	// softmax over those alone (gpt-oss).
	GatingTopKSoftmax
)

// WeightWriter is implemented by backends that store weights in a layout
// of their own (the Vulkan backend repacks quantized rows into aligned
// planes): WriteWeight is Write for a tensor that only MatMul, MatMulID and
// GetRows read. Read still returns what was written.
type WeightWriter interface {
	WriteWeight(t Tensor, data []byte) error
}

// WriteWeight writes the weight t with b's WriteWeight, or Write.
func WriteWeight(b Backend, t Tensor, data []byte) error {
	if w, ok := b.(WeightWriter); ok {
		return w.WriteWeight(t, data)
	}
	return b.Write(t, data)
}

// HostMapper is implemented by backends that can compute on host memory in place:
// the CPU backend uses a memory-mapped model file's weights without copying them.
type HostMapper interface {
	// MapHost wraps data as a read-only Buffer; data must outlive the buffer.
	MapHost(data []byte) (Buffer, error)
}

// Counters are a backend's cumulative counts of device work, for benchmarks;
// the difference of two readings is the work between them.
type Counters struct {
	// Dispatches are compute dispatches recorded or replayed.
	Dispatches int64
	// Barriers are pipeline barriers between dependent commands.
	Barriers int64
	// Submits are queue submissions.
	Submits int64
	// RecordNanos is host time spent recording or preparing commands: from
	// the first command after a submit to the end of the next submit call.
	RecordNanos int64
	// ReadbackBytes are bytes copied from the device to the host by Read
	// and ArgMax.
	ReadbackBytes int64
}

// Counting is implemented by backends that count their device work.
type Counting interface {
	Counters() Counters
}

// ArgMaxer is implemented by backends that can find the largest value of
// each row on the device, so greedy decoding reads back a few bytes per row
// instead of the whole logits row.
type ArgMaxer interface {
	// ArgMax computes the index of the largest value of each row of x (F32,
	// rows x cols; the first on ties, NaN never chosen over a number) and
	// returns them, waiting for every op recorded before it.
	ArgMax(x Tensor, dst []int32) error
}

// MaxTopK is the largest k a TopKer takes.
const MaxTopK = 256

// TopKer is implemented by backends that can find the k largest values of
// each row on the device, so sampling with top-k reads back k ids and
// values per row instead of the whole logits row.
type TopKer interface {
	// TopK finds, for each row of x (F32, rows x cols), the k values that
	// come first in the order larger first, the lower index on ties, NaN
	// after every number (1 <= k <= min(cols, MaxTopK)), and writes their
	// indices to ids and values to vals, k a row in no particular order,
	// waiting for every op recorded before it.
	TopK(x Tensor, k int, ids []int32, vals []float32) error
}

// Replayer is implemented by backends that can record a sequence of ops once
// and run the same commands again without recording them anew (a decode
// step, token after token).
type Replayer interface {
	// Replay runs the ops that record issues. The first call with a key
	// records them (and runs them); later calls with an equal key may run
	// the recorded commands without calling record. So record must issue the
	// same ops on the same tensors every time, what changes between calls
	// being only the contents of tensors (written with Write before Replay).
	// Where its ops cannot be kept (record writes or reads), record is
	// called every time.
	Replay(key any, record func())
}
