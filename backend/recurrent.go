package backend

// Recurrent is implemented by backends that run Gated DeltaNet layers
// (linear attention with a recurrent state: Qwen 3.5, Qwen3-Next). A model
// with such layers refuses a backend that does not implement it.
//
// The state is kept per sequence, next to the KV cache: a short-convolution
// state (the last ConvKernel-1 inputs) and a delta-rule state (one ValueDim x
// KeyDim matrix per value head, and room for the rows of an unfinished chunk).
// Unlike a KV cache it summarises the whole history, so it cannot be cut at
// an arbitrary position: a token at position 0 starts its sequence from a
// zero state, and every other token continues the state its sequence's
// previous token left (a sequence's positions are consecutive). A token's
// result does not depend on what else is in the batch or on how its prompt
// was split into batches: the recurrence takes a sequence's tokens one at a
// time; the chunkwise form computes each token by the chunk formula from the
// state at the last position that is a multiple of DeltaNetChunk and the
// rows since then, which the state keeps.
type Recurrent interface {
	// SSMConv computes dst = silu(causal depthwise convolution of x) per
	// sequence: x and dst n x C (F32), w C x K (F32, tap K-1 meets the
	// current token), state seqs x (K-1)*C (F32: per sequence the previous
	// K-1 inputs, oldest first), pos and seq I32 1 x n. It updates state.
	SSMConv(dst, x, w, state, pos, seq Tensor)
	// DeltaNet runs the gated delta rule for each token of qkv (n x
	// 2*KeyHeads*KeyDim + ValueHeads*ValueDim: q of all key heads, then k,
	// then v, after the convolution) into dst (n x ValueHeads*ValueDim):
	// q and k L2-normalised per head, beta = sigmoid(beta logit),
	// g = softplus(alpha logit + dtBias) * a, and per value head with its
	// state M: M = exp(g) M; M += beta (v - M k) kᵀ; o = Scale M q.
	// beta and alpha are n x ValueHeads (or beta n x 2*ValueHeads when
	// p.GroupedBA, alpha unused); dtBias and a 1 x ValueHeads; state seqs x
	// p.StateSize() (F32, laid out as the backend chooses); pos and seq as
	// SSMConv's.
	DeltaNet(dst, qkv, beta, alpha, dtBias, a, state, pos, seq Tensor, p DeltaNet)
	// SplitHalves splits each row of x (rows x 2c) into its first half, a
	// row of a (rows x c), and its second half, a row of b.
	SplitHalves(a, b, x Tensor)
	// SigmoidMul computes dst = x * sigmoid(gate) elementwise; gate has
	// x's shape, or one column (one gate per row).
	SigmoidMul(dst, x, gate Tensor)
}

// DeltaNet describes a Gated DeltaNet layer's heads.
type DeltaNet struct {
	KeyHeads, ValueHeads int
	KeyDim, ValueDim     int
	// Tiled: value head j uses key head j % KeyHeads (Qwen 3.5); otherwise
	// j / (ValueHeads/KeyHeads) (Qwen3-Next).
	Tiled bool
	// GroupedBA: beta is the fused projection (Qwen3-Next's ssm_ba): per key
	// head, the beta logits of its value heads, then their alpha logits.
	GroupedBA bool
	Eps       float32 // of the L2 norm: x / sqrt(sum(x²) + Eps)
	Scale     float32 // of the output, 1/sqrt(KeyDim)
}

// ConvChannels is the width of the convolved projection: q, k and v.
func (p DeltaNet) ConvChannels() int {
	return 2*p.KeyHeads*p.KeyDim + p.ValueHeads*p.ValueDim
}

// DeltaNetChunk is the chunk length of the chunkwise delta rule: chunks
// start at positions that are multiples of it, whatever the batches.
const DeltaNetChunk = 16

// StateSize is the delta-rule state of one sequence, in values: per value
// head room for its ValueDim x KeyDim matrix (ValueDim rounded up to 8, for
// the CPU's blocked layout) and for the rows of an unfinished chunk (per
// token k, the new value and the cumulative log decay). A backend that runs
// the recurrence uses only the first ValueHeads*ValueDim*KeyDim values.
func (p DeltaNet) StateSize() int {
	dv8 := (p.ValueDim + 7) / 8 * 8
	return p.ValueHeads * (dv8*p.KeyDim + DeltaNetChunk*(p.KeyDim+p.ValueDim+1))
}

// KeyHead is the key head value head j reads.
func (p DeltaNet) KeyHead(j int) int {
	if p.Tiled {
		return j % p.KeyHeads
	}
	return j / (p.ValueHeads / p.KeyHeads)
}
