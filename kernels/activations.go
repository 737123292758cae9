package kernels

import (
	"math"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Activations are quantized for a matmul's dot products the way llama.cpp's x86
// build does at run time (quantize_row_q8_0 and _q8_1 with SIMD), which differs
// from the reference quantizer used for weights: the multiplier is 127/max|x|
// rather than 1/(max|x|/127), and values round half to even. Matching it keeps
// greedy output token for token the same as llama.cpp's.

// quantizeQ8KActivations is quantizeQ8_K or an assembly version of it, bit
// for bit (set up at start-up).
var quantizeQ8KActivations = quantizeQ8_K

// QuantizeActivations converts one row of activations to the dot type t.
func QuantizeActivations(t gguf.Type, dst []byte, src []float32) {
	switch t {
	case gguf.TypeQ8_0:
		quantizeQ8_0Fast(dst, src)
	case gguf.TypeQ8_K:
		// llama.cpp's x86 quantize_row_q8_K calls the reference quantizer
		// (quantize_row_q8_K_ref, built without FMA), so activations and
		// QuantizeRow agree for Q8_K.
		quantizeQ8KActivations(dst, src)
	default:
		QuantizeRow(t, dst, src)
	}
}

// quantizeQ8_0Fast is quantizeQ8_0Activations or an assembly version of
// it, bit for bit (set up at start-up).
var quantizeQ8_0Fast = quantizeQ8_0Activations

func quantizeQ8_0Activations(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	for i := 0; i < nb; i++ {
		x := src[i*qk8_0 : (i+1)*qk8_0]
		b := dst[i*blockQ8_0 : (i+1)*blockQ8_0]
		amax := absMax(x)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		putF16(b, amax/127)
		for j, v := range x {
			b[q8_0QsOffs+j] = byte(int8(math.RoundToEven(float64(v * id))))
		}
	}
}
