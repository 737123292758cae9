package kernels

import "math"

// MXFP4 block (17 bytes, 32 values): an E8M0 exponent e (scale 2^(e-127)),
// then 16 bytes of E2M1 (FP4) codes: value j in the low nibble of byte j,
// value j+16 in the high nibble. Code bit 3 is the sign; codes 0-7 are 0,
// 0.5, 1, 1.5, 2, 3, 4, 6. As ggml, the levels are held doubled (integers)
// and the scale halved: value = mxfp4Levels[code] * 2^(e-128).
const (
	qkMXFP4      = 32
	blockMXFP4   = 1 + qkMXFP4/2
	mxfp4QsOffs  = 1
	mxfp4ExpBias = 128 // of the halved scale
)

var mxfp4Levels = [16]int8{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}

// e8m0Half is 2^(e-128), the halved scale of exponent byte e.
func e8m0Half(e uint8) float32 {
	if e < 2 {
		return float32(math.Ldexp(1, int(e)-128)) // subnormal float32s
	}
	return math.Float32frombits(uint32(e-1) << 23)
}

func dequantizeMXFP4(dst []float32, src []byte) {
	nb := len(dst) / qkMXFP4
	for i := 0; i < nb; i++ {
		b := src[i*blockMXFP4 : (i+1)*blockMXFP4]
		d := e8m0Half(b[0])
		out := dst[i*qkMXFP4 : (i+1)*qkMXFP4]
		for j := 0; j < qkMXFP4/2; j++ {
			q := b[mxfp4QsOffs+j]
			out[j] = float32(mxfp4Levels[q&0xf]) * d
			out[j+qkMXFP4/2] = float32(mxfp4Levels[q>>4]) * d
		}
	}
}

// quantizeMXFP4 is ggml's quantize_row_mxfp4_ref: per block the exponent
// floor(log2f(max|x|)) - 2 (so that the largest value falls near the top
// level, 6; log2 rounded to float32 first, as log2f, which decides blocks
// whose maximum lies just below a power of two) and for each value the
// nearest level (the first of equally near ones). A block of zeros, or one
// too small for any exponent, gets e = 0.
func quantizeMXFP4(dst []byte, src []float32) {
	nb := len(src) / qkMXFP4
	for i := 0; i < nb; i++ {
		x := src[i*qkMXFP4 : (i+1)*qkMXFP4]
		b := dst[i*blockMXFP4 : (i+1)*blockMXFP4]
		amax := absMax(x)
		var e uint8
		if amax > 0 {
			e = uint8(max(0, math.Floor(float64(float32(math.Log2(float64(amax)))))-2+127))
		}
		d := e8m0Half(e)
		b[0] = e
		for j := 0; j < qkMXFP4/2; j++ {
			b[mxfp4QsOffs+j] = mxfp4Index(x[j], d) | mxfp4Index(x[j+qkMXFP4/2], d)<<4
		}
	}
}

func mxfp4Index(x, d float32) uint8 {
	best, bestErr := 0, float32(math.Abs(float64(float32(mxfp4Levels[0])*d-x)))
	for i := 1; i < 16; i++ {
		if err := float32(math.Abs(float64(float32(mxfp4Levels[i])*d - x))); err < bestErr {
			best, bestErr = i, err
		}
	}
	return uint8(best)
}

// dotMXFP4 dots MXFP4 weights with Q8_0 activations: per block the exact
// integer sum of levels times quants, scaled by the activation's d times the
// halved weight scale and accumulated with an FMA.
func dotMXFP4(w, a []byte, n int) float32 {
	nb := n / qkMXFP4
	w, a = w[:nb*blockMXFP4], a[:nb*blockQ8_0]
	var acc float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockMXFP4 : (i+1)*blockMXFP4]
		ba := a[i*blockQ8_0 : (i+1)*blockQ8_0]
		var isum int32
		for j := 0; j < qkMXFP4/2; j++ {
			q := bw[mxfp4QsOffs+j]
			isum += int32(mxfp4Levels[q&0xf])*int32(int8(ba[q8_0QsOffs+j])) +
				int32(mxfp4Levels[q>>4])*int32(int8(ba[q8_0QsOffs+j+qkMXFP4/2]))
		}
		acc = blockFMA(getF16(ba)*e8m0Half(bw[0]), isum, acc)
	}
	return acc
}
