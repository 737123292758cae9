package kernels

import (
	"fmt"

	"github.com/conveyor-llm/conveyor/gguf"
)

// Format is everything the engine needs about one tensor type.
type Format struct {
	Type gguf.Type
	// Dequantize fills dst from src; len(dst) is a multiple of the block size
	// and src holds len(dst)/BlockSize blocks.
	Dequantize func(dst []float32, src []byte)
	// Quantize writes len(src)/BlockSize blocks to dst with ggml's reference
	// quantizer's rounding (quantize_row_*_ref), bit for bit; len(src) is a
	// multiple of the block size. (IQ4_NL: quantize_iq4_nl, what
	// llama-quantize writes; see quantizeIQ4_NL.)
	Quantize func(dst []byte, src []float32)
	// DotType is the type activations are converted to for Dot (ggml's
	// vec_dot_type).
	DotType gguf.Type
	// Dot is the dot product of n values, w in Type and a in DotType; n is a
	// multiple of the block size. Its reduction order depends only on n.
	Dot func(w, a []byte, n int) float32
}

var formats = map[gguf.Type]*Format{
	gguf.TypeF32:  {gguf.TypeF32, dequantizeF32, quantizeF32, gguf.TypeF32, dotF32},
	gguf.TypeF16:  {gguf.TypeF16, dequantizeF16, quantizeF16, gguf.TypeF16, dotF16},
	gguf.TypeBF16: {gguf.TypeBF16, dequantizeBF16, quantizeBF16, gguf.TypeBF16, dotBF16},
	gguf.TypeQ4_0: {gguf.TypeQ4_0, dequantizeQ4_0, quantizeQ4_0, gguf.TypeQ8_0, dotQ4_0},
	gguf.TypeQ4_1: {gguf.TypeQ4_1, dequantizeQ4_1, quantizeQ4_1, gguf.TypeQ8_1, dotQ4_1},
	gguf.TypeQ5_0: {gguf.TypeQ5_0, dequantizeQ5_0, quantizeQ5_0, gguf.TypeQ8_0, dotQ5_0},
	gguf.TypeQ5_1: {gguf.TypeQ5_1, dequantizeQ5_1, quantizeQ5_1, gguf.TypeQ8_1, dotQ5_1},
	gguf.TypeQ8_0: {gguf.TypeQ8_0, dequantizeQ8_0, quantizeQ8_0, gguf.TypeQ8_0, dotQ8_0},
	gguf.TypeQ8_1: {gguf.TypeQ8_1, dequantizeQ8_1, quantizeQ8_1, gguf.TypeQ8_1, dotQ8_1},
	gguf.TypeQ2_K: {gguf.TypeQ2_K, dequantizeQ2_K, quantizeQ2_K, gguf.TypeQ8_K, dotQ2_K},
	gguf.TypeQ3_K: {gguf.TypeQ3_K, dequantizeQ3_K, quantizeQ3_K, gguf.TypeQ8_K, dotQ3_K},
	gguf.TypeQ4_K: {gguf.TypeQ4_K, dequantizeQ4_K, quantizeQ4_K, gguf.TypeQ8_K, dotQ4_K},
	gguf.TypeQ5_K: {gguf.TypeQ5_K, dequantizeQ5_K, quantizeQ5_K, gguf.TypeQ8_K, dotQ5_K},
	gguf.TypeQ6_K: {gguf.TypeQ6_K, dequantizeQ6_K, quantizeQ6_K, gguf.TypeQ8_K, dotQ6_K},
	gguf.TypeQ8_K: {gguf.TypeQ8_K, dequantizeQ8_K, quantizeQ8_K, gguf.TypeQ8_K, dotQ8_K},

	gguf.TypeIQ4_NL: {gguf.TypeIQ4_NL, dequantizeIQ4_NL, quantizeIQ4_NL, gguf.TypeQ8_0, dotIQ4_NL},
	gguf.TypeIQ4_XS: {gguf.TypeIQ4_XS, dequantizeIQ4_XS, quantizeIQ4_XS, gguf.TypeQ8_K, dotIQ4_XS},
	gguf.TypeMXFP4:  {gguf.TypeMXFP4, dequantizeMXFP4, quantizeMXFP4, gguf.TypeQ8_0, dotMXFP4},
}

// FormatOf returns the format of t, or an error naming t if this package has
// none. The Format is shared: do not modify it.
func FormatOf(t gguf.Type) (*Format, error) {
	if f, ok := formats[t]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("kernels: no format for tensor type %v", t)
}

// QuantizeRow converts the float32 values src to type t in dst (see
// Format.Quantize). It panics if t has no format.
func QuantizeRow(t gguf.Type, dst []byte, src []float32) {
	f, err := FormatOf(t)
	if err != nil {
		panic(err)
	}
	f.Quantize(dst, src)
}

// DequantizeRow converts src, of type t, to float32 in dst (see
// Format.Dequantize). It panics if t has no format.
func DequantizeRow(t gguf.Type, dst []float32, src []byte) {
	f, err := FormatOf(t)
	if err != nil {
		panic(err)
	}
	f.Dequantize(dst, src)
}
