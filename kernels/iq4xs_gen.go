//go:build ignore

// iq4xs_gen writes iq4xs_amd64.s, the IQ4_XS batch path's kernels (AVX-512
// VNNI: the activation and weight packers and the 4x4 tiles against packed
// activations) and the AVX2 dots (one weight row against one activation row
// or four):
//
//	go run iq4xs_gen.go
//
// Both form the twin's exact integer isum = Σ_j s_j·Σ level·a per 256-value
// block and then its float steps, sum += float32(d_w·d_a)·float32(isum).
package main

import (
	"bytes"
	"fmt"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

const (
	wBlock  = 136 // IQ4_XS block bytes
	wQs     = 8   // offset of the 128 nibble bytes
	q8Block = 292 // Q8_K block bytes
	q8Qs    = 4
	// A packed block of 4 activation rows (iq4xs_amd64.go's iq4XSPackedA):
	// row i's values at paRow·i (4 registers), its corrections after them,
	// the four d_a at paD.
	paBlock = 1344
	paRow   = 320
	paCorr  = 256
	paD     = 1280
)

// wRow addresses weight row r (0..3) at byte offset off (SI, stride R8,
// R11 = SI+R8).
func wRow(r, off int) string {
	switch r {
	case 0:
		return fmt.Sprintf("%d(SI)", off)
	case 1:
		return fmt.Sprintf("%d(SI)(R8*1)", off)
	case 2:
		return fmt.Sprintf("%d(SI)(R8*2)", off)
	}
	return fmt.Sprintf("%d(R11)(R8*2)", off)
}

// Register use of the 4x4 kernels: Z0..Z15 the accumulators of pair
// (weight row j, activation row i) at 4j+i; Z16..Z19 row j's levels as
// unsigned bytes (then the rows' scales); Z20..Z23 scratch; Z24 the running
// sums, lane 4j+i; Z25 0x0f bytes; Z26, Z27 the scale shifts; Z28 the
// levels table (+128); Z29 lane 4j+i's d_w index; Z30 the output transpose.
//
// Lane layout: a weight row's 128 nibble bytes, as two 64-byte halves
// (sub-blocks 0..3 and 4..7, one per 128-bit chunk), are interleaved by
// quadwords (VPUNPCKLQDQ, VPUNPCKHQDQ), so that dwords 4m, 4m+1 of every
// register belong to sub-block m and 4m+2, 4m+3 to sub-block m+4; the
// packed activations follow the same order, so the scale multiply is one
// VPMULLD a block after a first folding step.
//
// A packed block of 4 weight rows (prepW) holds each row's 4 registers of
// levels and its scale vector (paRow bytes a row, as the activations) and
// the d_w vector by lane 4j+i at paD: the same paBlock bytes.

func wConsts() {
	p("MOVL $0x0f0f0f0f, AX")
	p("VPBROADCASTD AX, Z25")
	p("VMOVDQU32 iq4xsShiftL<>(SB), Z26")
	p("VMOVDQU32 iq4xsShiftH<>(SB), Z27")
	p("VMOVDQU32 iq4xsTable<>(SB), Z28")
	p("VMOVDQU32 iq4xsIdxDw<>(SB), Z29")
}

// decodeLevels sets Z16..Z19 to weight row j's levels (+128) in the lane
// layout, register v holding values 8v..8v+7 of each sub-block.
func decodeLevels(j int) {
	p("VMOVDQU64 %s, Z20", wRow(j, wQs))
	p("VMOVDQU64 %s, Z21", wRow(j, wQs+64))
	p("VPUNPCKLQDQ Z21, Z20, Z22")
	p("VPUNPCKHQDQ Z21, Z20, Z23")
	p("VPANDD Z25, Z22, Z16")
	p("VPANDD Z25, Z23, Z17")
	p("VPSRLW $4, Z22, Z22")
	p("VPSRLW $4, Z23, Z23")
	p("VPANDD Z25, Z22, Z18")
	p("VPANDD Z25, Z23, Z19")
	for v := 0; v < 4; v++ {
		p("VPSHUFB Z%d, Z28, Z%d", 16+v, 16+v)
	}
}

// decodeScales sets s to weight row j's scales, lane by lane in the
// accumulators' folded order (lane l: sub-block l/4, plus 4 in odd lanes).
func decodeScales(j int, s string) {
	p("VPBROADCASTD %s, %s", wRow(j, 4), s)
	p("VPSRLVD Z26, %s, %s", s, s)
	p("VPANDD.BCST iq4xsDword15<>(SB), %s, %s", s, s)
	p("VPBROADCASTD %s, Z20", wRow(j, 2))
	p("VPSRLVD Z27, Z20, Z20")
	p("VPANDD.BCST iq4xsDword3<>(SB), Z20, Z20")
	p("VPSLLD $4, Z20, Z20")
	p("VPORD Z20, %s, %s", s, s)
	p("VPSUBD.BCST iq4xsDword32<>(SB), %s, %s", s, s)
}

// decodeDw sets z to the four rows' d_w by lane 4j+i.
func decodeDw(z, x, y string) {
	p("VMOVD %s, %s", wRow(0, 0), x)
	p("VPINSRD $1, %s, %s, %s", wRow(1, 0), x, x)
	p("VPINSRD $2, %s, %s, %s", wRow(2, 0), x, x)
	p("VPINSRD $3, %s, %s, %s", wRow(3, 0), x, x)
	p("VCVTPH2PS %s, %s", x, y)
	p("VPERMPS %s, Z29, %s", z, z)
}

// tile4 writes the 4x4 kernel against packed activations, on the weights'
// standard layout or (packedW) on weights packed by prepW.
func tile4(packedW bool) {
	name, wArgs := "tileIQ4_XSPackedx4VNNI", "w *byte, wstride int"
	if packedW {
		name, wArgs = "tileIQ4_XSPackedWx4VNNI", "w *byte, _ int"
	}
	fmt.Fprintf(&out, "\n// func %s(%s, a *byte, nb int, out *float32, ostride int)\n", name, wArgs)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVQ w+0(FP), SI")
	p("MOVQ a+16(FP), DI")
	p("MOVQ nb+24(FP), CX")
	if !packedW {
		p("MOVQ wstride+8(FP), R8")
		p("LEAQ (SI)(R8*1), R11")
		wConsts()
	}
	sum := "Z24"
	if packedW {
		sum = "Z30"
	} else {
		p("VMOVDQU32 iq4xsIdxT<>(SB), Z30")
	}
	p("VPXORD %s, %s, %s", sum, sum, sum)
	loop := name + "_loop"
	label(loop)
	if packedW {
		// Two activation rows at a time in Z16..Z23 and their corrections
		// in Z28, Z29; each weight row's levels loaded into Z24..Z27 once
		// per two activation rows.
		for h := 0; h < 2; h++ {
			for r := 0; r < 2; r++ {
				i := 2*h + r
				for v := 0; v < 4; v++ {
					p("VMOVDQU64 %d(DI), Z%d", paRow*i+64*v, 16+4*r+v)
				}
				p("VMOVDQU64 %d(DI), Z%d", paRow*i+paCorr, 28+r)
			}
			for j := 0; j < 4; j++ {
				for v := 0; v < 4; v++ {
					p("VMOVDQU64 %d(SI), Z%d", paRow*j+64*v, 24+v)
				}
				for r := 0; r < 2; r++ {
					acc := 4*j + 2*h + r
					p("VMOVDQA64 Z%d, Z%d", 28+r, acc)
					for v := 0; v < 4; v++ {
						p("VPDPBUSD Z%d, Z%d, Z%d", 16+4*r+v, 24+v, acc)
					}
				}
			}
		}
	} else {
		for j := 0; j < 4; j++ {
			decodeLevels(j)
			for i := 0; i < 4; i++ {
				acc := 4*j + i
				p("VMOVDQU32 %d(DI), Z%d", paRow*i+paCorr, acc)
				for v := 0; v < 4; v++ {
					p("VPDPBUSD %d(DI), Z%d, Z%d", paRow*i+64*v, 16+v, acc)
				}
			}
		}
	}
	scale := func(j int) string { return fmt.Sprintf("%d(SI)", paRow*j+paCorr) }
	if !packedW {
		for j := 0; j < 4; j++ {
			decodeScales(j, fmt.Sprintf("Z%d", 16+j))
		}
		scale = func(j int) string { return fmt.Sprintf("Z%d", 16+j) }
	}
	// Fold 1: pairs (j, 2q) and (j, 2q+1) into one register, per chunk m
	// [(j,2q) sub-block m, (j,2q) m+4, (j,2q+1) m, (j,2q+1) m+4]; scale.
	for j := 0; j < 4; j++ {
		for q := 0; q < 2; q++ {
			a, b := 4*j+2*q, 4*j+2*q+1
			p("VSHUFPS $0x88, Z%d, Z%d, Z20", b, a)
			p("VSHUFPS $0xdd, Z%d, Z%d, Z21", b, a)
			p("VPADDD Z21, Z20, Z%d", a)
			p("VPMULLD %s, Z%d, Z%d", scale(j), a, a)
		}
	}
	// Fold 2: row j's four pairs, per chunk m dword i.
	for j := 0; j < 4; j++ {
		a, b := 4*j, 4*j+2
		p("VSHUFPS $0x88, Z%d, Z%d, Z20", b, a)
		p("VSHUFPS $0xdd, Z%d, Z%d, Z21", b, a)
		p("VPADDD Z21, Z20, Z%d", a)
	}
	// Folds 3 and 4: across the chunks, to lane 4j+i.
	for j := 0; j < 4; j += 2 {
		a, b := 4*j, 4*j+4
		p("VSHUFI32X4 $0x44, Z%d, Z%d, Z20", b, a)
		p("VSHUFI32X4 $0xee, Z%d, Z%d, Z21", b, a)
		p("VPADDD Z21, Z20, Z%d", a)
	}
	p("VSHUFI32X4 $0x88, Z8, Z0, Z20")
	p("VSHUFI32X4 $0xdd, Z8, Z0, Z21")
	p("VPADDD Z21, Z20, Z20")
	p("VCVTDQ2PS Z20, Z20")
	// d_w·d_a by lane, then the twin's multiply and add.
	if packedW {
		p("VMOVUPS %d(SI), Z21", paD)
	} else {
		decodeDw("Z21", "X21", "Y21")
	}
	p("VBROADCASTF32X4 %d(DI), Z22", paD)
	p("VMULPS Z22, Z21, Z21")
	p("VMULPS Z20, Z21, Z21")
	p("VADDPS Z21, %s, %s", sum, sum)
	if packedW {
		p("ADDQ $%d, SI", paBlock)
	} else {
		p("ADDQ $%d, SI", wBlock)
		p("ADDQ $%d, R11", wBlock)
	}
	p("ADDQ $%d, DI", paBlock)
	p("DECQ CX")
	p("JNZ %s", loop)
	if packedW {
		p("VMOVDQU32 iq4xsIdxT<>(SB), Z21")
		p("VPERMPS Z30, Z21, Z24")
	} else {
		p("VPERMPS Z24, Z30, Z24")
	}
	p("MOVQ out+32(FP), DX")
	p("MOVQ ostride+40(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*1), R13")
	p("VMOVUPS X24, (DX)")
	p("VEXTRACTF32X4 $1, Z24, (DX)(R10*1)")
	p("VEXTRACTF32X4 $2, Z24, (DX)(R10*2)")
	p("VEXTRACTF32X4 $3, Z24, (R13)(R10*2)")
	p("VZEROUPPER")
	p("RET")
}

// prepW packs nb blocks of 4 weight rows for tileIQ4_XSPackedWx4VNNI.
func prepW() {
	name := "prepIQ4_XSW4VNNI"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, w *byte, wstride int, nb int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ dst+0(FP), DX")
	p("MOVQ w+8(FP), SI")
	p("MOVQ wstride+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (SI)(R8*1), R11")
	// R13, R14: rows 0 and 1 of the next group, fetched into cache while
	// the kernels work on this one.
	p("LEAQ (SI)(R8*4), R13")
	p("LEAQ (R11)(R8*4), R14")
	wConsts()
	loop := name + "_loop"
	label(loop)
	for j := 0; j < 4; j++ {
		base := [4]string{"(R13)", "(R14)", "(R13)(R8*2)", "(R14)(R8*2)"}[j]
		for _, off := range []int{0, 64, 128, wBlock - 1} {
			p("PREFETCHT0 %d%s", off, base)
		}
		decodeLevels(j)
		for v := 0; v < 4; v++ {
			p("VMOVDQU64 Z%d, %d(DX)", 16+v, paRow*j+64*v)
		}
		decodeScales(j, "Z21")
		p("VMOVDQU64 Z21, %d(DX)", paRow*j+paCorr)
	}
	decodeDw("Z21", "X21", "Y21")
	p("VMOVUPS Z21, %d(DX)", paD)
	p("ADDQ $%d, SI", wBlock)
	p("ADDQ $%d, R11", wBlock)
	p("ADDQ $%d, R13", wBlock)
	p("ADDQ $%d, R14", wBlock)
	p("ADDQ $%d, DX", paBlock)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("VZEROUPPER")
	p("RET")
}

// packRow writes one Q8_K activation row's nb blocks into its slot of
// packed 4-row blocks (dst and dd offset to the row's values and d). Register
// v's chunk m is quadwords 4m+v and 16+4m+v of the row's 32 (one
// VPERMT2Q per source half, then VPUNPCKLQDQ); the corrections are
// −128·Σa over each dword's four values, which fold 1 sums to the
// sub-block's.
func packRow() {
	name := "packIQ4_XSRowVNNI"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, dd *byte, a *byte, nb int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ dst+0(FP), SI")
	p("MOVQ dd+8(FP), DX")
	p("MOVQ a+16(FP), DI")
	p("MOVQ nb+24(FP), CX")
	for v := 0; v < 4; v++ {
		p("VMOVDQU64 iq4xsPackIdx<>+%d(SB), Z%d", 64*v, 10+v)
	}
	p("MOVL $0x80808080, AX")
	p("VPBROADCASTD AX, Z14")
	p("VPXORD Z15, Z15, Z15")
	loop := name + "_loop"
	label(loop)
	for c := 0; c < 4; c++ {
		p("VMOVDQU64 %d(DI), Z%d", q8Qs+64*c, c)
	}
	p("VPXORD Z16, Z16, Z16")
	for v := 0; v < 4; v++ {
		p("VMOVDQA64 Z0, Z4")
		p("VPERMT2Q Z1, Z%d, Z4", 10+v)
		p("VMOVDQA64 Z2, Z5")
		p("VPERMT2Q Z3, Z%d, Z5", 10+v)
		p("VPUNPCKLQDQ Z5, Z4, Z6")
		p("VMOVDQU64 Z6, %d(SI)", 64*v)
		p("VPDPBUSD Z6, Z14, Z16")
	}
	p("VPSUBD Z16, Z15, Z16")
	p("VMOVDQU64 Z16, %d(SI)", paCorr)
	p("MOVL (DI), AX")
	p("MOVL AX, (DX)")
	p("ADDQ $%d, SI", paBlock)
	p("ADDQ $%d, DX", paBlock)
	p("ADDQ $%d, DI", q8Block)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("VZEROUPPER")
	p("RET")
}

// dotAVX2 is one weight row against one activation row in AVX2, exact for
// every input: per sub-block the levels and activations widened to words,
// multiplied (|level·a| ≤ 127·128 fits a word, and so does the sum of two),
// the low and high halves' products added, and VPMADDWD with the scale
// broadcast as words gives its 8 dword sums; the block's sum is reduced and
// run through the twin's float steps in scalar.
func dotAVX2() {
	name := "dotIQ4_XSAVX2"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, nb int) float32\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $32-28\n", name)
	p("MOVQ w+0(FP), SI")
	p("MOVQ a+8(FP), DI")
	p("MOVQ nb+16(FP), CX")
	p("MOVL $0x0f0f0f0f, AX")
	p("VMOVD AX, X15")
	p("VPBROADCASTD X15, X15")
	p("VMOVDQU iq4xsSigned<>(SB), X14")
	p("VMOVDQU iq4xsShiftL8<>(SB), Y13")
	p("VMOVDQU iq4xsShiftH8<>(SB), Y12")
	p("VXORPS X11, X11, X11")
	loop := name + "_loop"
	label(loop)
	p("VPBROADCASTD 4(SI), Y0")
	p("VPSRLVD Y13, Y0, Y0")
	p("VPBROADCASTD iq4xsDword15<>(SB), Y1")
	p("VPAND Y1, Y0, Y0")
	p("VPBROADCASTD 2(SI), Y2")
	p("VPSRLVD Y12, Y2, Y2")
	p("VPBROADCASTD iq4xsDword3<>(SB), Y1")
	p("VPAND Y1, Y2, Y2")
	p("VPSLLD $4, Y2, Y2")
	p("VPOR Y2, Y0, Y0")
	p("VPBROADCASTD iq4xsDword32<>(SB), Y1")
	p("VPSUBD Y1, Y0, Y0")
	p("VMOVDQU Y0, (SP)")
	p("VPXOR Y1, Y1, Y1")
	for j := 0; j < 8; j++ {
		p("VMOVDQU %d(SI), X2", wQs+16*j)
		p("VPSRLW $4, X2, X3")
		p("VPAND X15, X2, X2")
		p("VPAND X15, X3, X3")
		p("VPSHUFB X2, X14, X2")
		p("VPSHUFB X3, X14, X3")
		p("VPMOVSXBW X2, Y2")
		p("VPMOVSXBW X3, Y3")
		p("VPMOVSXBW %d(DI), Y4", q8Qs+32*j)
		p("VPMOVSXBW %d(DI), Y5", q8Qs+32*j+16)
		p("VPMULLW Y4, Y2, Y2")
		p("VPMULLW Y5, Y3, Y3")
		p("VPADDW Y3, Y2, Y2")
		p("VPBROADCASTW %d(SP), Y6", 4*j)
		p("VPMADDWD Y6, Y2, Y2")
		p("VPADDD Y2, Y1, Y1")
	}
	p("VEXTRACTI128 $1, Y1, X2")
	p("VPADDD X2, X1, X1")
	p("VPSHUFD $0x4e, X1, X2")
	p("VPADDD X2, X1, X1")
	p("VPSHUFD $0xb1, X1, X2")
	p("VPADDD X2, X1, X1")
	p("VCVTDQ2PS X1, X1")
	p("MOVWLZX (SI), AX")
	p("VMOVD AX, X2")
	p("VCVTPH2PS X2, X2")
	p("VMULSS (DI), X2, X2")
	p("VMULSS X1, X2, X2")
	p("VADDSS X2, X11, X11")
	p("ADDQ $%d, SI", wBlock)
	p("ADDQ $%d, DI", q8Block)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("VMOVSS X11, ret+24(FP)")
	p("VZEROUPPER")
	p("RET")
}

// aRow addresses activation row r (0..3) at byte offset off (DI, stride
// R9, R12 = DI+R9).
func aRow(r, off int) string {
	switch r {
	case 0:
		return fmt.Sprintf("%d(DI)", off)
	case 1:
		return fmt.Sprintf("%d(DI)(R9*1)", off)
	case 2:
		return fmt.Sprintf("%d(DI)(R9*2)", off)
	}
	return fmt.Sprintf("%d(R12)(R9*2)", off)
}

// dotx4AVX2 is dotAVX2 for one weight row against 4 activation rows, each
// sub-block's levels widened once for the four: out[i*ostride] is row i's
// dot. The four block sums are reduced together (VPHADDD) and the float
// steps run on four lanes, each lane's as the twin's.
func dotx4AVX2() {
	name := "dotIQ4_XSx4AVX2"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $32-48\n", name)
	p("MOVQ w+0(FP), SI")
	p("MOVQ a+8(FP), DI")
	p("MOVQ astride+16(FP), R9")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (DI)(R9*1), R12")
	p("MOVL $0x0f0f0f0f, AX")
	p("VMOVD AX, X15")
	p("VPBROADCASTD X15, X15")
	p("VMOVDQU iq4xsSigned<>(SB), X14")
	p("VXORPS X12, X12, X12")
	loop := name + "_loop"
	label(loop)
	p("VPBROADCASTD 4(SI), Y4")
	p("VPSRLVD iq4xsShiftL8<>(SB), Y4, Y4")
	p("VPBROADCASTD iq4xsDword15<>(SB), Y5")
	p("VPAND Y5, Y4, Y4")
	p("VPBROADCASTD 2(SI), Y6")
	p("VPSRLVD iq4xsShiftH8<>(SB), Y6, Y6")
	p("VPBROADCASTD iq4xsDword3<>(SB), Y5")
	p("VPAND Y5, Y6, Y6")
	p("VPSLLD $4, Y6, Y6")
	p("VPOR Y6, Y4, Y4")
	p("VPBROADCASTD iq4xsDword32<>(SB), Y5")
	p("VPSUBD Y5, Y4, Y4")
	p("VMOVDQU Y4, (SP)")
	for i := 0; i < 4; i++ {
		p("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	for j := 0; j < 8; j++ {
		p("VMOVDQU %d(SI), X4", wQs+16*j)
		p("VPSRLW $4, X4, X5")
		p("VPAND X15, X4, X4")
		p("VPAND X15, X5, X5")
		p("VPSHUFB X4, X14, X4")
		p("VPSHUFB X5, X14, X5")
		p("VPMOVSXBW X4, Y4")
		p("VPMOVSXBW X5, Y5")
		p("VPBROADCASTW %d(SP), Y6", 4*j)
		for i := 0; i < 4; i++ {
			p("VPMOVSXBW %s, Y7", aRow(i, q8Qs+32*j))
			p("VPMOVSXBW %s, Y8", aRow(i, q8Qs+32*j+16))
			p("VPMULLW Y4, Y7, Y7")
			p("VPMULLW Y5, Y8, Y8")
			p("VPADDW Y8, Y7, Y7")
			p("VPMADDWD Y6, Y7, Y7")
			p("VPADDD Y7, Y%d, Y%d", i, i)
		}
	}
	p("VPHADDD Y1, Y0, Y0")
	p("VPHADDD Y3, Y2, Y2")
	p("VPHADDD Y2, Y0, Y0")
	p("VEXTRACTI128 $1, Y0, X1")
	p("VPADDD X1, X0, X0")
	p("VCVTDQ2PS X0, X0")
	p("VMOVSS %s, X1", aRow(0, 0))
	p("VPINSRD $1, %s, X1, X1", aRow(1, 0))
	p("VPINSRD $2, %s, X1, X1", aRow(2, 0))
	p("VPINSRD $3, %s, X1, X1", aRow(3, 0))
	p("MOVWLZX (SI), AX")
	p("VMOVD AX, X2")
	p("VCVTPH2PS X2, X2")
	p("VBROADCASTSS X2, X2")
	p("VMULPS X1, X2, X2")
	p("VMULPS X0, X2, X2")
	p("VADDPS X2, X12, X12")
	p("ADDQ $%d, SI", wBlock)
	p("ADDQ $%d, DI", q8Block)
	p("ADDQ $%d, R12", q8Block)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("MOVQ out+32(FP), DX")
	p("MOVQ ostride+40(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*2), R13")
	p("VMOVSS X12, (DX)")
	p("VEXTRACTPS $1, X12, (DX)(R10*1)")
	p("VEXTRACTPS $2, X12, (R13)")
	p("VEXTRACTPS $3, X12, (R13)(R10*1)")
	p("VZEROUPPER")
	p("RET")
}

func data(name string, vals []int, size int) {
	for i, v := range vals {
		fmt.Fprintf(&out, "DATA %s<>+%d(SB)/%d, $%d\n", name, i*size, size, v)
	}
	fmt.Fprintf(&out, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n\n", name, len(vals)*size)
}

func rep(n int, f func(i int) int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

var levels = []int{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

func main() {
	out.WriteString("// Code generated by iq4xs_gen.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n\n")
	// Sub-block of folded lane L: m = L/4, plus 4 in the odd lanes.
	sub := func(l int) int { return l/4 + 4*(l%2) }
	data("iq4xsShiftL", rep(16, func(l int) int { return 4 * sub(l) }), 4)
	data("iq4xsShiftH", rep(16, func(l int) int { return 2 * sub(l) }), 4)
	data("iq4xsTable", rep(64, func(i int) int { return levels[i%16] + 128 }), 1)
	data("iq4xsIdxDw", rep(16, func(l int) int { return 2 * (l / 4) }), 4)
	data("iq4xsIdxT", rep(16, func(l int) int { return 4*(l%4) + l/4 }), 4)
	data("iq4xsDword15", []int{15}, 4)
	data("iq4xsDword3", []int{3}, 4)
	data("iq4xsDword32", []int{32}, 4)
	data("iq4xsPackIdx", rep(32, func(i int) int { v, k := i/8, i%8; return v + 4*(k/2) }), 8)
	data("iq4xsSigned", rep(16, func(i int) int { return levels[i] & 0xff }), 1)
	data("iq4xsShiftL8", rep(8, func(j int) int { return 4 * j }), 4)
	data("iq4xsShiftH8", rep(8, func(j int) int { return 2 * j }), 4)
	tile4(false)
	tile4(true)
	prepW()
	dotAVX2()
	dotx4AVX2()
	packRow()
	if err := os.WriteFile("iq4xs_amd64.s", out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
