package kernels

// RotateHalves applies RoPE's rotations to one head in NeoX order: pair i is
// (head[i], head[i+n]) with n = len(cos), turned by the angle whose cosine and
// sine are cos[i] and sin[i]. Each output is one fused multiply-add of a
// rounded product, as llama.cpp's x86 build computes x0·cos − x1·sin and
// x0·sin + x1·cos (its compiler fuses them so):
//
//	head[i]   = fma(x0, cos[i], -(x1·sin[i]))
//	head[i+n] = fma(x0, sin[i], x1·cos[i])
//
// Values of head past 2n are left as they are.
func RotateHalves(head, cos, sin []float32) {
	n := len(cos)
	if len(sin) < n || len(head) < 2*n {
		panic("kernels: RotateHalves: sin or head too short for cos")
	}
	nv := n &^ (rotateVectorPairs - 1)
	if nv > 0 {
		rotateHalvesVector(head[:nv], head[n:n+nv], cos[:nv], sin[:nv])
	}
	rotateHalvesGo(head[nv:n], head[n+nv:2*n], cos[nv:n], sin[nv:n])
}

// RotatePairs applies RoPE's rotations to one head in normal order: pair i is
// (head[2i], head[2i+1]), rounded as in RotateHalves. Values of head past
// 2·len(cos) are left as they are.
func RotatePairs(head, cos, sin []float32) {
	n := len(cos)
	if len(sin) < n || len(head) < 2*n {
		panic("kernels: RotatePairs: sin or head too short for cos")
	}
	nv := n &^ (rotateVectorPairs - 1)
	if nv > 0 {
		rotatePairsVector(head[:2*nv], cos[:nv], sin[:nv])
	}
	rotatePairsGo(head[2*nv:2*n], cos[nv:n], sin[nv:n])
}

// rotateVectorPairs is how many pairs the vector variants take at a time:
// their slices' lengths are multiples of it.
const rotateVectorPairs = 8

// rotateHalvesVector rotates (lo[i], hi[i]) for i < len(cos), a multiple of
// rotateVectorPairs: rotateHalvesGo, or an assembly twin.
var rotateHalvesVector = rotateHalvesGo

// rotatePairsVector rotates (head[2i], head[2i+1]) for i < len(cos), a
// multiple of rotateVectorPairs: rotatePairsGo, or an assembly twin.
var rotatePairsVector = rotatePairsGo

func rotateHalvesGo(lo, hi, cos, sin []float32) {
	for i := range cos {
		x0, x1 := lo[i], hi[i]
		lo[i] = fma32(x0, cos[i], -float32(x1*sin[i]))
		hi[i] = fma32(x0, sin[i], float32(x1*cos[i]))
	}
}

func rotatePairsGo(head, cos, sin []float32) {
	for i := range cos {
		x0, x1 := head[2*i], head[2*i+1]
		head[2*i] = fma32(x0, cos[i], -float32(x1*sin[i]))
		head[2*i+1] = fma32(x0, sin[i], float32(x1*cos[i]))
	}
}
