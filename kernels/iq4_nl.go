package kernels

// IQ4_NL block (18 bytes, 32 values): fp16 scale d, then 16 bytes of 4-bit
// indexes into the non-linear table iq4Levels: value j in the low nibble of
// byte j, value j+16 in the high nibble (as Q4_0); value j is
// d*iq4Levels[index].
const (
	qkIQ4_NL       = 32
	blockIQ4_NL    = 2 + qkIQ4_NL/2
	iq4_NLQsOffs   = 2
	iq4SearchTries = 7 // ggml's ntry for quantize_iq4_nl and quantize_iq4_xs
)

// iq4Levels is ggml's kvalues_iq4nl: 16 levels, denser near zero, shared by
// IQ4_NL and IQ4_XS.
var iq4Levels = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4Index is ggml's best_index_int8 over iq4Levels: the index of the level
// nearest x, the upper one at a tie, 0 below the first and 15 above the last.
func iq4Index(x float32) uint8 {
	if x <= float32(iq4Levels[0]) {
		return 0
	}
	if x >= float32(iq4Levels[15]) {
		return 15
	}
	lo, hi := 0, 15 // levels[lo] <= x < levels[hi]
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if x < float32(iq4Levels[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if float32(x-float32(iq4Levels[lo])) < float32(float32(iq4Levels[hi])-x) {
		return uint8(lo)
	}
	return uint8(hi)
}

// iq4Scale is the scale search of ggml's quantize_row_iq4_nl_impl (with
// ntry 7) for one group of 32 values x with weights w (x², as llama-quantize
// uses without an importance matrix). With max the value of largest
// magnitude (the first one), a first guess 1/d = 127/max (max near level
// 113) and then each grid 1/d = (t − 127)/max, t = −7..7 (max near level
// −127), assigns every value its nearest level and fits d by weighted least
// squares, d = Σwqx/Σwq². The fit with the largest Σwqx²/Σwq² (the smallest
// weighted error) wins, the earliest at a tie. The caller picks the levels
// afresh once d is final. A group whose largest magnitude is below
// groupMaxEps gets 0. Every float32 operation is rounded as ggml's C does.
func iq4Scale(x, w []float32) float32 {
	var amax, maxV float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, maxV = a, v
		}
	}
	if amax < groupMaxEps {
		return 0
	}
	fit := func(id float32) (sumQX, sumQ2 float32) {
		for j, v := range x {
			q := float32(iq4Levels[iq4Index(float32(id*v))])
			wq := float32(w[j] * q)
			sumQX += float32(wq * v)
			sumQ2 += float32(wq * q)
		}
		return sumQX, sumQ2
	}
	d := -maxV / float32(iq4Levels[0])
	sumQX, sumQ2 := fit(1 / d)
	d = sumQX / sumQ2
	best := float32(d * sumQX)
	for t := -iq4SearchTries; t <= iq4SearchTries; t++ {
		sqx, sq2 := fit(float32(t+int(iq4Levels[0])) / maxV)
		if sq2 > 0 && float32(sqx*sqx) > float32(best*sq2) {
			d = sqx / sq2
			best = float32(d * sqx)
		}
	}
	return d
}

// iq4Weights fills w with x² (ggml's weights without an importance matrix).
func iq4Weights(w, x []float32) {
	for j, v := range x {
		w[j] = float32(v * v)
	}
}

// iq4PackGroup writes the levels of 32 values x under the scale d (nearest
// level of x/d, computed as x·(1/d); index 8, the level nearest 0, when d is
// 0) as 16 bytes of nibbles: value j low, value j+16 high.
func iq4PackGroup(qs []byte, x []float32, d float32) {
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j := 0; j < 16; j++ {
		qs[j] = iq4Index(float32(id*x[j])) | iq4Index(float32(id*x[j+16]))<<4
	}
}

// quantizeIQ4_NL is what llama-quantize writes for IQ4_NL without an
// importance matrix (ggml's quantize_iq4_nl): per block the scale search of
// iq4Scale with 7 tries each way, d stored as fp16, levels nearest x/d with d
// before rounding. (ggml's quantize_row_iq4_nl_ref, which its CPU backend
// uses for IQ4_NL activations and caches, skips the search and keeps the
// first fit; no model file is written that way.)
func quantizeIQ4_NL(dst []byte, src []float32) {
	nb := len(src) / qkIQ4_NL
	dst = dst[:nb*blockIQ4_NL]
	var w [qkIQ4_NL]float32
	for i := 0; i < nb; i++ {
		x := src[i*qkIQ4_NL : (i+1)*qkIQ4_NL]
		b := dst[i*blockIQ4_NL : (i+1)*blockIQ4_NL]
		iq4Weights(w[:], x)
		d := iq4Scale(x, w[:])
		putF16(b, d)
		iq4PackGroup(b[iq4_NLQsOffs:], x, d)
	}
}

func dequantizeIQ4_NL(dst []float32, src []byte) {
	nb := len(dst) / qkIQ4_NL
	src = src[:nb*blockIQ4_NL]
	for i := 0; i < nb; i++ {
		b := src[i*blockIQ4_NL : (i+1)*blockIQ4_NL]
		d := getF16(b)
		y := dst[i*qkIQ4_NL : (i+1)*qkIQ4_NL]
		for j := 0; j < 16; j++ {
			q := b[iq4_NLQsOffs+j]
			y[j] = d * float32(iq4Levels[q&0xf])
			y[j+16] = d * float32(iq4Levels[q>>4])
		}
	}
}

// iq4GroupDot is the exact integer dot of 32 levels (16 nibble bytes qs,
// value j low in byte j, value j+16 high) with 32 int8 activations a.
func iq4GroupDot(qs, a []byte) int32 {
	var s int32
	for j := 0; j < 16; j++ {
		s += int32(iq4Levels[qs[j]&0xf])*int32(int8(a[j])) +
			int32(iq4Levels[qs[j]>>4])*int32(int8(a[j+16]))
	}
	return s
}

// dotIQ4_NL (IQ4_NL × Q8_0): per block the exact integer sum of levels times
// quants, then, as dotQ4_0 and dotQ8_0, one fused multiply-add of it with
// d_w*d_a into a single float32 accumulator, block after block.
func dotIQ4_NL(w, a []byte, n int) float32 {
	nb := n / qkIQ4_NL
	w, a = w[:nb*blockIQ4_NL], a[:nb*blockQ8_0]
	var acc float32
	for i := 0; i < nb; i++ {
		bw := w[i*blockIQ4_NL : (i+1)*blockIQ4_NL]
		ba := a[i*blockQ8_0 : (i+1)*blockQ8_0]
		isum := iq4GroupDot(bw[iq4_NLQsOffs:], ba[q8_0QsOffs:])
		acc = blockFMA(getF16(bw)*getF16(ba), isum, acc)
	}
	return acc
}
