package model

import (
	"testing"

	"github.com/conveyor-llm/conveyor/gguf"
)

// The rotation matrix is orthonormal and symmetric, so it is its own
// inverse: H·H = I exactly (sums of 64 terms of ±1/64).
func TestRotationIsItsOwnInverse(t *testing.T) {
	h := hadamardValues()
	for i := 0; i < rotationBlock; i++ {
		for j := 0; j < rotationBlock; j++ {
			if h[i*rotationBlock+j] != h[j*rotationBlock+i] {
				t.Fatalf("H[%d][%d] != H[%d][%d]", i, j, j, i)
			}
			var sum float32
			for k := 0; k < rotationBlock; k++ {
				sum += h[i*rotationBlock+k] * h[k*rotationBlock+j]
			}
			want := float32(0)
			if i == j {
				want = 1
			}
			if sum != want {
				t.Fatalf("(H·H)[%d][%d] = %v", i, j, sum)
			}
		}
	}
}

// Only block-quantized caches with heads of whole 64s are rotated, as in
// llama.cpp.
func TestRotatesCache(t *testing.T) {
	for _, tc := range []struct {
		typ  gguf.Type
		hd   int
		want bool
	}{
		{gguf.TypeQ8_0, 64, true}, {gguf.TypeQ4_0, 128, true}, {gguf.TypeQ8_0, 96, false},
		{gguf.TypeQ4_0, 8, false}, {gguf.TypeF16, 128, false}, {gguf.TypeF32, 64, false},
	} {
		if got := RotatesCache(tc.typ, tc.hd); got != tc.want {
			t.Errorf("RotatesCache(%v, %d) = %v", tc.typ, tc.hd, got)
		}
	}
}
