//go:build ignore

// iq4nl_gen writes iq4nl_amd64.s, IQ4_NL's AVX-512 VNNI batch path (see
// iq4nl_amd64.go):
//
//	go run iq4nl_gen.go
package main

import (
	"bytes"
	"fmt"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

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

// Packed layouts (bytes per block of 32 values, for a group of 4 rows):
// weights 640: 8 chunks of 64 bytes (lane 4j+i holds row j's levels
// 4k..4k+3, the same for every i), the 16 corrections −128·Σlevels of row j
// and the 16 d_w of row j, by lane 4j+i; activations 144: 8 chunks of 16
// bytes (dword i is row i's quants 4k..4k+3, plus 128), then the 4 d_a.
const (
	packedW = 640
	packedA = 144
)

// rowAddr addresses row r (0..3) at byte off: base, base+stride, ...,
// base1 = base+stride.
func rowAddr(r, off int, base, stride, base1 string) string {
	switch r {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride)
	case 2:
		return fmt.Sprintf("%d(%s)(%s*2)", off, base, stride)
	}
	return fmt.Sprintf("%d(%s)(%s*2)", off, base1, stride)
}

// scales4 loads the fp16 scale of the 4 rows (at offset 0) into X<x> and
// converts them to 4 floats in X<y>.
func scales4(x, y int) {
	p("VPXOR X%d, X%d, X%d", x, x, x)
	for r := 0; r < 4; r++ {
		p("VPINSRW $%d, %s, X%d, X%d", r, rowAddr(r, 0, "SI", "R8", "R11"), x, x)
	}
	p("VCVTPH2PS X%d, X%d", x, y)
}

// prepW writes prepIQ4_NLW4VNNI: 4 IQ4_NL weight rows (wstride apart) into
// the packed layout, nb blocks.
func prepW() {
	fmt.Fprintf(&out, "\n// func prepIQ4_NLW4VNNI(dst *byte, w *byte, wstride int, nb int)\n")
	fmt.Fprintf(&out, "TEXT ·prepIQ4_NLW4VNNI(SB), NOSPLIT, $0-32\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ wstride+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (SI)(R8*1), R11")
	p("MOVL $0x0f0f0f0f, AX")
	p("VPBROADCASTD AX, Z20")
	p("VBROADCASTI32X4 iq4nlLevels<>(SB), Z21")
	p("VMOVDQU32 iq4nlIdxW<>(SB), Z22")
	p("VMOVDQU32 iq4nlIdxD<>(SB), Z23")
	p("MOVL $1, AX")
	p("VPBROADCASTD AX, Z24")
	p("MOVL $0x80808080, AX")
	p("VPBROADCASTD AX, Z25")
	p("VPXORD Z26, Z26, Z26")
	label("prepIQ4_NLW4VNNI_loop")
	for j := 0; j < 4; j++ {
		lo, hi := j, 4+j
		p("VMOVDQU %s, X%d", rowAddr(j, 2, "SI", "R8", "R11"), lo)
		p("VPSRLW $4, X%d, X%d", lo, hi)
		p("VPANDD X20, X%d, X%d", lo, lo)
		p("VPANDD X20, X%d, X%d", hi, hi)
		p("VPSHUFB X%d, X21, X%d", lo, lo)
		p("VPSHUFB X%d, X21, X%d", hi, hi)
		p("VINSERTI128 $1, X%d, Y%d, Y%d", hi, lo, lo)
	}
	// Z0 = rows 0, 1 (dwords 0..15), Z2 = rows 2, 3 (16..31), in value order.
	p("VINSERTI64X4 $1, Y1, Z0, Z0")
	p("VINSERTI64X4 $1, Y3, Z2, Z2")
	p("VMOVDQA32 Z22, Z9")
	p("VPXORD Z10, Z10, Z10")
	for k := 0; k < 8; k++ {
		p("VMOVDQA32 Z9, Z11")
		p("VPERMI2D Z2, Z0, Z11")
		p("VMOVDQU32 Z11, %d(DI)", 64*k)
		p("VPDPBUSD Z11, Z25, Z10")
		if k < 7 {
			p("VPADDD Z24, Z9, Z9")
		}
	}
	p("VPSUBD Z10, Z26, Z10")
	p("VMOVDQU32 Z10, 512(DI)")
	scales4(12, 12)
	p("VPERMPS Z12, Z23, Z13")
	p("VMOVUPS Z13, 576(DI)")
	p("ADDQ $18, SI")
	p("ADDQ $18, R11")
	p("ADDQ $%d, DI", packedW)
	p("DECQ CX")
	p("JNZ prepIQ4_NLW4VNNI_loop")
	p("VZEROUPPER")
	p("RET")
}

// packA writes packIQ4_NLA4VNNI: 4 Q8_0 activation rows (astride apart)
// into the packed layout, nb blocks.
func packA() {
	fmt.Fprintf(&out, "\n// func packIQ4_NLA4VNNI(dst *byte, a *byte, astride int, nb int)\n")
	fmt.Fprintf(&out, "TEXT ·packIQ4_NLA4VNNI(SB), NOSPLIT, $0-32\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ a+8(FP), SI")
	p("MOVQ astride+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (SI)(R8*1), R11")
	p("MOVL $0x80808080, AX")
	p("VPBROADCASTD AX, Z20")
	p("VMOVDQU32 iq4nlIdxA0<>(SB), Z21")
	p("VMOVDQU32 iq4nlIdxA1<>(SB), Z22")
	label("packIQ4_NLA4VNNI_loop")
	for i := 0; i < 4; i++ {
		p("VMOVDQU %s, Y%d", rowAddr(i, 2, "SI", "R8", "R11"), i)
	}
	p("VINSERTI64X4 $1, Y1, Z0, Z0")
	p("VINSERTI64X4 $1, Y3, Z2, Z2")
	p("VPXORD Z20, Z0, Z0")
	p("VPXORD Z20, Z2, Z2")
	p("VMOVDQA32 Z21, Z4")
	p("VPERMI2D Z2, Z0, Z4")
	p("VMOVDQU32 Z4, 0(DI)")
	p("VMOVDQA32 Z22, Z5")
	p("VPERMI2D Z2, Z0, Z5")
	p("VMOVDQU32 Z5, 64(DI)")
	scales4(6, 7)
	p("VMOVUPS X7, 128(DI)")
	p("ADDQ $34, SI")
	p("ADDQ $34, R11")
	p("ADDQ $%d, DI", packedA)
	p("DECQ CX")
	p("JNZ packIQ4_NLA4VNNI_loop")
	p("VZEROUPPER")
	p("RET")
}

// tile writes the kernel of g (1 or 2) groups of 4 packed weight rows
// (wstride apart) by one group of 4 packed activation rows, over nb blocks,
// starting from the accumulators in out where acc is not 0. Z0..Z7 hold
// the activation chunks (broadcast to the 4 128-bit lanes), Z8 the d_a;
// group q's integer sums are Z(10+4q) (and Z(11+4q), a second chain where
// g is 1, added before the conversion), its scales Z(12+4q), its
// accumulators Z(13+4q), lane 4j+i. Per block: isum exact, one FMA of it
// with d_w·d_a (exact: fp16 products), as dotIQ4_NL.
func tile(g int) {
	name := fmt.Sprintf("tileIQ4_NLPacked%dx4VNNI", 4*g)
	split := g == 1
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, nb int, out *float32, ostride int, acc int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	p("MOVQ w+0(FP), SI")
	p("MOVQ wstride+8(FP), R8")
	p("MOVQ a+16(FP), DI")
	p("MOVQ nb+24(FP), CX")
	grp := func(q, off int) string {
		if q == 0 {
			return fmt.Sprintf("%d(SI)", off)
		}
		return fmt.Sprintf("%d(SI)(R8*1)", off)
	}
	p("MOVQ out+32(FP), DX")
	p("MOVQ ostride+40(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*2), R13")
	p("VMOVDQU32 iq4nlIdxT<>(SB), Z9")
	p("MOVQ acc+48(FP), AX")
	p("TESTQ AX, AX")
	p("JNZ %s_load", name)
	for q := 0; q < g; q++ {
		p("VPXORD Z%d, Z%d, Z%d", 13+4*q, 13+4*q, 13+4*q)
	}
	p("JMP %s_loop", name)
	// Carry on from the accumulators of an earlier stretch of blocks: the
	// transposition that stores them undoes itself.
	label(name + "_load")
	for q := 0; q < g; q++ {
		f := 13 + 4*q
		p("VMOVUPS %d(DX), X%d", 16*q, f)
		p("VINSERTF32X4 $1, %d(DX)(R10*1), Z%d, Z%d", 16*q, f, f)
		p("VINSERTF32X4 $2, %d(R13), Z%d, Z%d", 16*q, f, f)
		p("VINSERTF32X4 $3, %d(R13)(R10*1), Z%d, Z%d", 16*q, f, f)
		p("VPERMPS Z%d, Z9, Z%d", f, f)
	}
	loop := name + "_loop"
	label(loop)
	for k := 0; k < 8; k++ {
		p("VBROADCASTI32X4 %d(DI), Z%d", 16*k, k)
	}
	p("VBROADCASTF32X4 128(DI), Z8")
	for q := 0; q < g; q++ {
		p("VMOVDQU32 %s, Z%d", grp(q, 512), 10+4*q)
		if split {
			p("VPXORD Z%d, Z%d, Z%d", 11+4*q, 11+4*q, 11+4*q)
		}
	}
	for k := 0; k < 8; k++ {
		for q := 0; q < g; q++ {
			c := 10 + 4*q
			if split {
				c += k % 2
			}
			p("VPDPBUSD %s, Z%d, Z%d", grp(q, 64*k), k, c)
		}
	}
	for q := 0; q < g; q++ {
		s, t, f := 10+4*q, 11+4*q, 12+4*q
		if split {
			p("VPADDD Z%d, Z%d, Z%d", t, s, s)
		}
		p("VCVTDQ2PS Z%d, Z%d", s, s)
		p("VMULPS %s, Z8, Z%d", grp(q, 576), f)
		p("VFMADD231PS Z%d, Z%d, Z%d", f, s, 13+4*q)
	}
	p("ADDQ $%d, SI", packedW)
	p("ADDQ $%d, DI", packedA)
	p("DECQ CX")
	p("JNZ %s", loop)
	for q := 0; q < g; q++ {
		f := 13 + 4*q
		p("VPERMPS Z%d, Z9, Z%d", f, f)
		p("VMOVUPS X%d, %d(DX)", f, 16*q)
		p("VEXTRACTF32X4 $1, Z%d, %d(DX)(R10*1)", f, 16*q)
		p("VEXTRACTF32X4 $2, Z%d, %d(R13)", f, 16*q)
		p("VEXTRACTF32X4 $3, Z%d, %d(R13)(R10*1)", f, 16*q)
	}
	p("VZEROUPPER")
	p("RET")
}

func main() {
	out.WriteString("// Code generated by iq4nl_gen.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n\n")
	data("iq4nlLevels", rep(16, func(i int) int { return levels[i] & 0xff }), 1)
	data("iq4nlIdxW", rep(16, func(l int) int { return 8 * (l / 4) }), 4)
	data("iq4nlIdxD", rep(16, func(l int) int { return l / 4 }), 4)
	data("iq4nlIdxA0", rep(16, func(l int) int { return 8*(l%4) + l/4 }), 4)
	data("iq4nlIdxA1", rep(16, func(l int) int { return 8*(l%4) + l/4 + 4 }), 4)
	data("iq4nlIdxT", rep(16, func(l int) int { return 4*(l%4) + l/4 }), 4)
	prepW()
	packA()
	for g := 1; g <= 2; g++ {
		tile(g)
	}
	tile8x8()
	data("iq4nlNibbles", rep(16, func(int) int { return 0x0f }), 1)
	data("iq4nlOnes16", rep(16, func(int) int { return 1 }), 2)
	prepWAVX2()
	tileAVX2()
	if err := os.WriteFile("iq4nl_amd64.s", out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// tile8x8 writes the kernel of 2 groups of 4 packed weight rows (wstride
// apart) by 2 groups of 4 packed activation rows (astride apart): each
// weight chunk is loaded once for the two. Z0..Z7 and Z16..Z23 hold the
// activation chunks, Z8 and Z24 the d_a; Z10..Z13 the integer sums of
// (weight group q, activation group r) at 10+2q+r, Z26..Z29 their
// accumulators; Z9, Z25 the weight chunks, Z14 d_w, Z15 the scales.
func tile8x8() {
	name := "tileIQ4_NLPacked8x8VNNI"
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int, acc int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	p("MOVQ w+0(FP), SI")
	p("MOVQ wstride+8(FP), R8")
	p("MOVQ a+16(FP), DI")
	p("MOVQ astride+24(FP), R9")
	p("MOVQ nb+32(FP), CX")
	p("MOVQ out+40(FP), DX")
	p("MOVQ ostride+48(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*2), R13")
	p("LEAQ (DX)(R10*4), BX")
	p("LEAQ (BX)(R10*2), R12")
	p("VMOVDQU32 iq4nlIdxT<>(SB), Z31")
	grp := func(q, off int) string {
		if q == 0 {
			return fmt.Sprintf("%d(SI)", off)
		}
		return fmt.Sprintf("%d(SI)(R8*1)", off)
	}
	act := func(r, off int) string {
		if r == 0 {
			return fmt.Sprintf("%d(DI)", off)
		}
		return fmt.Sprintf("%d(DI)(R9*1)", off)
	}
	// rows r: the output rows of activation group r (base, base+ostride,
	// base+2·ostride, base+3·ostride).
	rows := [2][4]string{{"(DX)", "(DX)(R10*1)", "(R13)", "(R13)(R10*1)"}, {"(BX)", "(BX)(R10*1)", "(R12)", "(R12)(R10*1)"}}
	p("MOVQ acc+56(FP), AX")
	p("TESTQ AX, AX")
	p("JNZ %s_load", name)
	for z := 26; z < 30; z++ {
		p("VPXORD Z%d, Z%d, Z%d", z, z, z)
	}
	p("JMP %s_loop", name)
	label(name + "_load")
	for q := 0; q < 2; q++ {
		for r := 0; r < 2; r++ {
			f := 26 + 2*q + r
			p("VMOVUPS %d%s, X%d", 16*q, rows[r][0], f)
			for i := 1; i < 4; i++ {
				p("VINSERTF32X4 $%d, %d%s, Z%d, Z%d", i, 16*q, rows[r][i], f, f)
			}
			p("VPERMPS Z%d, Z31, Z%d", f, f)
		}
	}
	loop := name + "_loop"
	label(loop)
	for r := 0; r < 2; r++ {
		for k := 0; k < 8; k++ {
			p("VBROADCASTI32X4 %s, Z%d", act(r, 16*k), k+16*r)
		}
		p("VBROADCASTF32X4 %s, Z%d", act(r, 128), 8+16*r)
	}
	for q := 0; q < 2; q++ {
		p("VMOVDQU32 %s, Z%d", grp(q, 512), 10+2*q)
		p("VMOVDQA32 Z%d, Z%d", 10+2*q, 11+2*q)
	}
	for k := 0; k < 8; k++ {
		for q := 0; q < 2; q++ {
			wz := 9 + 16*q
			p("VMOVDQU32 %s, Z%d", grp(q, 64*k), wz)
			for r := 0; r < 2; r++ {
				p("VPDPBUSD Z%d, Z%d, Z%d", wz, k+16*r, 10+2*q+r)
			}
		}
	}
	for q := 0; q < 2; q++ {
		p("VMOVUPS %s, Z14", grp(q, 576))
		for r := 0; r < 2; r++ {
			s := 10 + 2*q + r
			p("VCVTDQ2PS Z%d, Z%d", s, s)
			p("VMULPS Z14, Z%d, Z15", 8+16*r)
			p("VFMADD231PS Z15, Z%d, Z%d", s, 26+2*q+r)
		}
	}
	p("ADDQ $%d, SI", packedW)
	p("ADDQ $%d, DI", packedA)
	p("DECQ CX")
	p("JNZ %s", loop)
	for q := 0; q < 2; q++ {
		for r := 0; r < 2; r++ {
			f := 26 + 2*q + r
			p("VPERMPS Z%d, Z31, Z%d", f, f)
			p("VMOVUPS X%d, %d%s", f, 16*q, rows[r][0])
			for i := 1; i < 4; i++ {
				p("VEXTRACTF32X4 $%d, Z%d, %d%s", i, f, 16*q, rows[r][i])
			}
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// AVX2 (for CPUs without AVX-512 VNNI): each group of 4 weight rows is
// decoded once per call into 144 bytes a block, the 4 rows' 32 levels in
// value order (signed), then their d_w as floats; the kernel is the 4x4
// tile of smallq_gen.go's avx2IQ4NL with those loads in place of the
// decoding.
const packedWAVX2 = 144

// prepWAVX2 writes prepIQ4_NLW4AVX2: 4 IQ4_NL weight rows (wstride apart)
// into the AVX2 packed layout, nb blocks.
func prepWAVX2() {
	fmt.Fprintf(&out, "\n// func prepIQ4_NLW4AVX2(dst *byte, w *byte, wstride int, nb int)\n")
	fmt.Fprintf(&out, "TEXT ·prepIQ4_NLW4AVX2(SB), NOSPLIT, $0-32\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ wstride+16(FP), R8")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (SI)(R8*1), R11")
	p("VMOVDQU iq4nlNibbles<>(SB), X15")
	p("VMOVDQU iq4nlLevels<>(SB), X14")
	label("prepIQ4_NLW4AVX2_loop")
	for j := 0; j < 4; j++ {
		p("VMOVDQU %s, X0", rowAddr(j, 2, "SI", "R8", "R11"))
		p("VPSRLW $4, X0, X1")
		p("VPAND X15, X0, X0")
		p("VPAND X15, X1, X1")
		p("VPSHUFB X0, X14, X0")
		p("VPSHUFB X1, X14, X1")
		p("VMOVDQU X0, %d(DI)", 32*j)
		p("VMOVDQU X1, %d(DI)", 32*j+16)
	}
	scales4(2, 2)
	p("VMOVUPS X2, 128(DI)")
	p("ADDQ $18, SI")
	p("ADDQ $18, R11")
	p("ADDQ $%d, DI", packedWAVX2)
	p("DECQ CX")
	p("JNZ prepIQ4_NLW4AVX2_loop")
	p("VZEROUPPER")
	p("RET")
}

// tileAVX2 writes tileIQ4_NLPackedWx4AVX2: a packed group of 4 weight rows
// by 4 Q8_0 activation rows (astride apart), two a pass. VPMADDUBSW takes
// |a| against the levels signed as a (VPSIGNB), so no pair of products
// passes 2·128·127 < 32768; VPMADDWD by ones gives lanes of four products,
// the lanes of each pair are added (VPHADDD) into one exact sum per block,
// and the pass's 8 sums (lane 4i+j) take one FMA with d_w·d_a, as
// dotIQ4_NL.
//
// Registers: Y0 the pass's accumulators; Y1..Y7, Y12 the pairs' sums;
// Y8..Y11 the weight levels; Y13, Y14 |a| of the pass's rows; Y15 the
// scales.
func tileAVX2() {
	name := "tileIQ4_NLPackedWx4AVX2"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVQ astride+16(FP), R9")
	p("MOVQ out+32(FP), DX")
	p("MOVQ ostride+40(FP), R10")
	p("SHLQ $2, R10")
	aRow := func(i, off int) string {
		if i == 0 {
			return fmt.Sprintf("%d(DI)", off)
		}
		return fmt.Sprintf("%d(DI)(R9*1)", off)
	}
	for pass := 0; pass < 2; pass++ {
		p("MOVQ w+0(FP), SI")
		p("MOVQ a+8(FP), DI")
		if pass > 0 {
			p("LEAQ (DI)(R9*2), DI")
		}
		p("MOVQ nb+24(FP), CX")
		p("VXORPS Y0, Y0, Y0")
		loop := fmt.Sprintf("%s_loop%d", name, pass)
		label(loop)
		// Scales into Y15: lane 4i+j d_w[j]·d_a[i].
		p("VMOVUPS 128(SI), X1")
		p("VMOVD %s, X2", aRow(0, 0))
		p("VPINSRD $1, %s, X2, X2", aRow(1, 0))
		p("VCVTPH2PS X2, X2")
		p("VSHUFPS $0x00, X2, X2, X3")
		p("VMULPS X3, X1, X15")
		p("VSHUFPS $0xaa, X2, X2, X3")
		p("VMULPS X3, X1, X3")
		p("VINSERTF128 $1, X3, Y15, Y15")
		for j := 0; j < 4; j++ {
			p("VMOVDQU %d(SI), Y%d", 32*j, 8+j)
		}
		for i := 0; i < 2; i++ {
			p("VPABSB %s, Y%d", aRow(i, 2), 13+i)
		}
		sum := func(k int) string { return []string{"Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Y12"}[k] }
		for i := 0; i < 2; i++ {
			for j := 0; j < 4; j++ {
				k := 4*i + j
				p("VPSIGNB %s, Y%d, %s", aRow(i, 2), 8+j, sum(k))
				p("VPMADDUBSW %s, Y%d, %s", sum(k), 13+i, sum(k))
				p("VPMADDWD iq4nlOnes16<>(SB), %s, %s", sum(k), sum(k))
			}
		}
		p("VPHADDD Y2, Y1, Y1")
		p("VPHADDD Y4, Y3, Y3")
		p("VPHADDD Y6, Y5, Y5")
		p("VPHADDD Y12, Y7, Y7")
		p("VPHADDD Y3, Y1, Y1")
		p("VPHADDD Y7, Y5, Y5")
		p("VPERM2I128 $0x20, Y5, Y1, Y2")
		p("VPERM2I128 $0x31, Y5, Y1, Y3")
		p("VPADDD Y3, Y2, Y1")
		p("VCVTDQ2PS Y1, Y1")
		p("VFMADD231PS Y15, Y1, Y0")
		p("ADDQ $%d, SI", packedWAVX2)
		p("ADDQ $34, DI")
		p("DECQ CX")
		p("JNZ %s", loop)
		if pass > 0 {
			p("LEAQ (DX)(R10*2), DX")
		}
		p("VMOVUPS X0, (DX)")
		p("VEXTRACTF128 $1, Y0, (DX)(R10*1)")
	}
	p("VZEROUPPER")
	p("RET")
}
