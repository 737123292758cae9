//go:build ignore

// gen_kquant236 writes kquant236_amd64.s, the AVX-512 (BW, VNNI) tile and
// dot kernels for Q6_K, Q3_K and Q2_K weights against Q8_K activations:
//
//	go run gen_kquant236.go > kquant236_amd64.s
//
// Every kernel gives its plain-Go twin's bits (dotQ6_K, dotQ3_K, dotQ2_K).
// Per block and per (weight row, activation row) pair the integer sum is
// exact: a 64-value chunk of weight levels, unpacked to unsigned bytes, is
// multiplied with VPMADDUBSW (pairs of u8·s8 in int16, no saturation: the
// levels are at most 63 and |a| ≤ 128), then VPDPWSSD multiplies the int16
// pairs by the sub-block scales and adds them into int32 lanes. The levels'
// offset (Q6_K 32, Q3_K 4) comes off through the activations' group sums:
// the lanes start at −offset·Σ_j s_j·bsum_j. The 16 lane vectors of a 4×4
// tile are then summed together (a transpose-add tree) into one vector with
// lane 4i+r = pair (weight row r, activation row i), and the float step is
// the twin's per-block chain with one output per lane.
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// kq describes one weight type.
type kq struct {
	name  string
	bsize int
	// consts loads the type's constant registers (Z28–Z30).
	consts func()
	// scales leaves the 16 sub-block scales of the block at wp in Y24 as
	// int16 and, for a type with a level offset, −offset·scale in Y25.
	scales func(wp string)
	// offset is the level offset (the correction through bsums), 0 if none.
	offset bool
	// unpack leaves chunk c (values 64c..64c+63) of the block at wp as
	// unsigned bytes in the returned register.
	unpack func(wp string, c int) string
}

// Register use. ACC: Z0–Z15 (x4: 4r+i; x1: r). Temps Z16–Z23, Z26, Z27.
// Y24: scales (int16), Y25: −offset·scales. Z28–Z30: constants. Z31: sums.

var q6 = kq{
	name: "Q6_K", bsize: 210, offset: true,
	consts: func() {
		p("MOVL $0x0f0f0f0f, AX")
		p("VPBROADCASTD AX, Z28")
		p("MOVL $0x30303030, AX")
		p("VPBROADCASTD AX, Z29")
	},
	scales: func(wp string) {
		p("VPMOVSXBW 192(%s), Y24", wp)
		p("VPMULLW kq236_m32<>(SB), Y24, Y25")
	},
	unpack: func(wp string, c int) string {
		h, e := c/2, c%2
		if e == 0 {
			p("VMOVDQU64 %d(%s), Z26", 64*h, wp)
			p("VBROADCASTI64X4 %d(%s), Z27", 128+32*h, wp)
			p("VPSLLVQ kq236_q6sh0<>(SB), Z27, Z22")
		} else {
			p("VPSRLW $4, Z26, Z26")
			p("VPSRLVQ kq236_q6sh1<>(SB), Z27, Z22")
		}
		p("VPANDD Z29, Z22, Z22")
		// Z22 = (Z28 & Z26) | Z22
		p("VPTERNLOGD $0xf8, Z26, Z28, Z22")
		return "Z22"
	},
}

var q3 = kq{
	name: "Q3_K", bsize: 110, offset: true,
	consts: func() {
		p("MOVL $0x03030303, AX")
		p("VPBROADCASTD AX, Z28")
		p("MOVL $0x04040404, AX")
		p("VPBROADCASTD AX, Z29")
		p("MOVL $0x0f0f0f0f, AX")
		p("VPBROADCASTD AX, Z30")
	},
	scales: func(wp string) {
		p("VMOVQ 96(%s), X26", wp)
		p("VPSRLW $4, X26, X27")
		p("VPUNPCKLQDQ X27, X26, X26")
		p("VPANDD X30, X26, X26")
		p("VPBROADCASTD 104(%s), X27", wp)
		p("VPSRLVD kq236_q3hs<>(SB), X27, X27")
		p("VPANDD X28, X27, X27")
		p("VPSLLD $4, X27, X27")
		p("VPORD X27, X26, X26")
		p("VPSUBB kq236_b32<>(SB), X26, X26")
		p("VPMOVSXBW X26, Y24")
		p("VPMULLW kq236_m4<>(SB), Y24, Y25")
	},
	unpack: func(wp string, c int) string {
		h, e := c/2, c%2
		if c == 0 {
			p("VBROADCASTI64X4 (%s), Z27", wp)
		}
		if e == 0 {
			p("VBROADCASTI64X4 %d(%s), Z26", 32+32*h, wp)
		}
		p("VPSRLVQ kq236_lo%d<>(SB), Z26, Z22", e)
		if c == 0 {
			p("VPSLLVQ kq236_q3hm0<>(SB), Z27, Z23")
		} else {
			p("VPSRLVQ kq236_q3hm%d<>(SB), Z27, Z23", c)
		}
		p("VPANDD Z29, Z23, Z23")
		// Z23 = (Z28 & Z22) | Z23
		p("VPTERNLOGD $0xf8, Z22, Z28, Z23")
		return "Z23"
	},
}

var q2 = kq{
	name: "Q2_K", bsize: 84,
	consts: func() {
		p("MOVL $0x03030303, AX")
		p("VPBROADCASTD AX, Z28")
		p("MOVL $0x0f0f0f0f, AX")
		p("VPBROADCASTD AX, Z30")
	},
	scales: func(wp string) {
		p("VPMOVZXBW (%s), Y26", wp)
		p("VPANDD Y30, Y26, Y24")
	},
	unpack: func(wp string, c int) string {
		h, e := c/2, c%2
		if e == 0 {
			p("VBROADCASTI64X4 %d(%s), Z26", 16+32*h, wp)
		}
		p("VPSRLVQ kq236_lo%d<>(SB), Z26, Z22", e)
		p("VPANDD Z28, Z22, Z22")
		return "Z22"
	},
}

// rowBlock emits one weight row's block against the activation rows ap:
// acc(i) is the accumulator for activation row i.
func rowBlock(t kq, wp string, ap []string, acc func(i int) int) {
	t.scales(wp)
	if t.offset {
		for i, a := range ap {
			p("VPMADDWD 260(%s), Y25, Y%d", a, acc(i))
		}
	}
	for c := 0; c < 4; c++ {
		w := t.unpack(wp, c)
		p("VMOVDQU64 kq236_perm%d<>(SB), Z17", c)
		p("VPERMW Z24, Z17, Z17")
		for i, a := range ap {
			tr := 18 + i%4
			p("VPMADDUBSW %d(%s), %s, Z%d", 4+64*c, a, w, tr)
			if c == 0 && !t.offset {
				p("VPMADDWD Z17, Z%d, Z%d", tr, acc(i))
			} else {
				p("VPDPWSSD Z17, Z%d, Z%d", tr, acc(i))
			}
		}
	}
}

// tree2to4 sums 8 vectors, each two outputs × 8 partials (units 0,1 and
// 2,3), in the registers regs[0..7] (regs[2r+h] holding pairs (r, 2h) and
// (r, 2h+1)) into regs[0] with lane 4i+r = pair (r, i).
func tree2to4(regs []int) {
	for k := 0; k < 4; k++ {
		t1, t2 := 16+2*(k%2), 17+2*(k%2)
		p("VSHUFI64X2 $0x88, Z%d, Z%d, Z%d", regs[2*k+1], regs[2*k], t1)
		p("VSHUFI64X2 $0xdd, Z%d, Z%d, Z%d", regs[2*k+1], regs[2*k], t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, regs[k])
	}
	// regs[r] = units (r, i) for i = 0..3, 4 partials each.
	for k := 0; k < 2; k++ {
		t1, t2 := 16+2*k, 17+2*k
		p("VPUNPCKLQDQ Z%d, Z%d, Z%d", regs[k+2], regs[k], t1)
		p("VPUNPCKHQDQ Z%d, Z%d, Z%d", regs[k+2], regs[k], t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, regs[k])
	}
	p("VPUNPCKLDQ Z%d, Z%d, Z16", regs[1], regs[0])
	p("VPUNPCKHDQ Z%d, Z%d, Z17", regs[1], regs[0])
	p("VPUNPCKLQDQ Z17, Z16, Z18")
	p("VPUNPCKHQDQ Z17, Z16, Z19")
	p("VPADDD Z19, Z18, Z%d", regs[0])
}

// tree16 sums ACC Z0–Z15 (Z(4r+i) = pair (r, i)) into Z0, lane 4i+r.
func tree16() {
	for k := 0; k < 8; k++ {
		t1, t2 := 16+2*(k%2), 17+2*(k%2)
		p("VSHUFI64X2 $0x44, Z%d, Z%d, Z%d", 2*k+1, 2*k, t1)
		p("VSHUFI64X2 $0xee, Z%d, Z%d, Z%d", 2*k+1, 2*k, t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, k)
	}
	tree2to4([]int{0, 1, 2, 3, 4, 5, 6, 7})
}

// reduce4 sums the four 8-lane vectors Y(regs[r]) into X(regs[0]), lane r;
// fromZ first folds 16-lane vectors. Temps: regs[r]+4.
func reduce4(regs []int, fromZ bool) {
	if fromZ {
		for _, r := range regs {
			p("VEXTRACTI64X4 $1, Z%d, Y%d", r, r+4)
			p("VPADDD Y%d, Y%d, Y%d", r+4, r, r)
		}
	}
	for _, r := range regs {
		p("VEXTRACTI128 $1, Y%d, X%d", r, r+4)
		p("VPADDD X%d, X%d, X%d", r+4, r, r)
	}
	a, b, c, d := regs[0], regs[1], regs[2], regs[3]
	p("VPUNPCKLDQ X%d, X%d, X%d", b, a, a+4)
	p("VPUNPCKHDQ X%d, X%d, X%d", b, a, b+4)
	p("VPADDD X%d, X%d, X%d", b+4, a+4, a+4)
	p("VPUNPCKLDQ X%d, X%d, X%d", d, c, c+4)
	p("VPUNPCKHDQ X%d, X%d, X%d", d, c, d+4)
	p("VPADDD X%d, X%d, X%d", d+4, c+4, c+4)
	p("VPUNPCKLQDQ X%d, X%d, X%d", c+4, a+4, b+4)
	p("VPUNPCKHQDQ X%d, X%d, X%d", c+4, a+4, d+4)
	p("VPADDD X%d, X%d, X%d", d+4, b+4, a)
}

// reduce1 sums the 16 lanes of Z(r) (8 of Y(r) if !fromZ) into every lane
// of X(r). Temp: r+4.
func reduce1(r int, fromZ bool) {
	if fromZ {
		p("VEXTRACTI64X4 $1, Z%d, Y%d", r, r+4)
		p("VPADDD Y%d, Y%d, Y%d", r+4, r, r)
	}
	p("VEXTRACTI128 $1, Y%d, X%d", r, r+4)
	p("VPADDD X%d, X%d, X%d", r+4, r, r)
	p("VPSHUFD $0x4e, X%d, X%d", r, r+4)
	p("VPADDD X%d, X%d, X%d", r+4, r, r)
	p("VPSHUFD $0xb1, X%d, X%d", r, r+4)
	p("VPADDD X%d, X%d, X%d", r+4, r, r)
}

var (
	wps = []string{"SI", "R9", "R10", "R11"}
	aps = []string{"DI", "R12", "R13", "R14"}
)

// dOffs is the offset of the fp16 d in a block (Q2_K: d then dmin).
func dOffs(t kq) int { return t.bsize - 2 - map[string]int{"Q2_K": 2}[t.name] }

// gatherD leaves, in X1, the weight rows' d as float32 (lane r), and for
// Q2_K their dmin in X3; nrows rows.
func gatherD(t kq, nrows int) {
	off := dOffs(t)
	if t.name == "Q2_K" {
		p("VMOVD %d(%s), X1", off, wps[0])
		for r := 1; r < nrows; r++ {
			p("VPINSRD $%d, %d(%s), X1, X1", r, off, wps[r])
		}
		p("VCVTPH2PS X1, Y1")
		// Y1 = d0 m0 d1 m1 d2 m2 d3 m3
		p("VMOVDQU kq236_even<>(SB), Y2")
		p("VPERMPS Y1, Y2, Y3")
		p("VMOVDQU kq236_odd<>(SB), Y2")
		p("VPERMPS Y1, Y2, Y2")
		p("VMOVAPS X3, X1")
		p("VMOVAPS X2, X3")
		return
	}
	p("MOVWLZX %d(%s), AX", off, wps[0])
	p("VMOVD AX, X1")
	for r := 1; r < nrows; r++ {
		p("VPINSRW $%d, %d(%s), X1, X1", r, off, wps[r])
	}
	p("VCVTPH2PS X1, X1")
}

// floatStep adds the block's term to the sums Z31 (or X31 if !wide): isum
// in reg isum (summs in summs for Q2_K), d_w·d_a products in dd (and
// dmin·d_a in ddm).
func floatStep(t kq, wide bool, isum, dd, summs, ddm int) {
	v := "X"
	if wide {
		v = "Z"
	}
	p("VCVTDQ2PS %s%d, %s%d", v, isum, v, isum)
	switch t.name {
	case "Q6_K":
		p("VFMADD231PS %s%d, %s%d, %s31", v, dd, v, isum, v)
	case "Q3_K":
		p("VMULPS %s%d, %s%d, %s%d", v, isum, v, dd, v, isum)
		p("VADDPS %s%d, %s31, %s31", v, isum, v, v)
	case "Q2_K":
		p("VCVTDQ2PS %s%d, %s%d", v, summs, v, summs)
		p("VMULPS %s%d, %s%d, %s%d", v, isum, v, dd, v, isum)
		p("VMULPS %s%d, %s%d, %s%d", v, summs, v, ddm, v, summs)
		p("VSUBPS %s%d, %s%d, %s%d", v, summs, v, isum, v, isum)
		p("VADDPS %s%d, %s31, %s31", v, isum, v, v)
	}
}

func prologue(t kq, nrows int) {
	p("MOVQ w+0(FP), SI")
	if nrows == 4 {
		p("MOVQ wstride+8(FP), AX")
		p("LEAQ (SI)(AX*1), R9")
		p("LEAQ (R9)(AX*1), R10")
		p("LEAQ (R10)(AX*1), R11")
	}
	t.consts()
	p("VPXORD Z31, Z31, Z31")
}

func loopEnd(t kq, nrows, nacts int, name string) {
	for r := 0; r < nrows; r++ {
		p("ADDQ $%d, %s", t.bsize, wps[r])
	}
	for i := 0; i < nacts; i++ {
		p("ADDQ $292, %s", aps[i])
	}
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
}

// genX4 is the 4×4 tile kernel.
func genX4(t kq) {
	name := "tile" + t.name + "AVX512x4"
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	prologue(t, 4)
	p("MOVQ a+16(FP), DI")
	p("MOVQ astride+24(FP), AX")
	p("LEAQ (DI)(AX*1), R12")
	p("LEAQ (R12)(AX*1), R13")
	p("LEAQ (R13)(AX*1), R14")
	p("MOVQ nb+32(FP), CX")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	for r := 0; r < 4; r++ {
		rowBlock(t, wps[r], aps, func(i int) int { return 4*r + i })
	}
	tree16()
	if t.name == "Q2_K" {
		// summs: Z(8+2r+h) = m_r · bsums of activation rows 2h, 2h+1.
		p("VMOVDQU64 260(DI), Y16")
		p("VINSERTI64X4 $1, 260(R12), Z16, Z16")
		p("VMOVDQU64 260(R13), Y17")
		p("VINSERTI64X4 $1, 260(R14), Z17, Z17")
		for r := 0; r < 4; r++ {
			p("VPMOVZXBW (%s), Y18", wps[r])
			p("VPSRLW $4, Y18, Y18")
			p("VINSERTI64X4 $1, Y18, Z18, Z18")
			p("VPMADDWD Z18, Z16, Z%d", 8+2*r)
			p("VPMADDWD Z18, Z17, Z%d", 9+2*r)
		}
		tree2to4([]int{8, 9, 10, 11, 12, 13, 14, 15})
	}
	gatherD(t, 4)
	p("VSHUFF32X4 $0, Z1, Z1, Z1")
	if t.name == "Q2_K" {
		p("VSHUFF32X4 $0, Z3, Z3, Z3")
	}
	// da: lane 4i+r = d of activation row i.
	p("VMOVSS (DI), X2")
	p("VINSERTPS $0x10, (R12), X2, X2")
	p("VINSERTPS $0x20, (R13), X2, X2")
	p("VINSERTPS $0x30, (R14), X2, X2")
	p("VMOVDQU64 kq236_daidx<>(SB), Z4")
	p("VPERMPS Z2, Z4, Z2")
	p("VMULPS Z2, Z1, Z1")
	if t.name == "Q2_K" {
		p("VMULPS Z2, Z3, Z3")
	}
	floatStep(t, true, 0, 1, 8, 3)
	loopEnd(t, 4, 4, name)
	p("MOVQ out+40(FP), DX")
	p("MOVQ ostride+48(FP), BX")
	p("SHLQ $2, BX")
	p("VMOVUPS X31, (DX)")
	for i := 1; i < 4; i++ {
		p("ADDQ BX, DX")
		p("VEXTRACTF32X4 $%d, Z31, X16", i)
		p("VMOVUPS X16, (DX)")
	}
	p("VZEROUPPER")
	p("RET")
}

// genRows1 is nrows weight rows (4: the 4×1 tile kernel, 1: the dot)
// against one activation row.
func genRows1(t kq, nrows int) {
	var name string
	if nrows == 4 {
		name = "tile" + t.name + "AVX512x1"
		fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
		prologue(t, 4)
		p("MOVQ a+16(FP), DI")
		p("MOVQ nb+32(FP), CX")
		// BX: 4 rows on, the next 4×1 tile's weights (decode streams
		// through the rows 4 at a time, too few lines per row for the
		// hardware prefetchers to follow).
		p("MOVQ wstride+8(FP), BX")
		p("SHLQ $2, BX")
	} else {
		name = "dot" + t.name + "AVX512"
		fmt.Fprintf(&out, "\n// func %s(w, a *byte, nb int) float32\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-28\n", name)
		prologue(t, 1)
		p("MOVQ a+8(FP), DI")
		p("MOVQ nb+16(FP), CX")
	}
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	for r := 0; r < nrows; r++ {
		if nrows == 4 {
			for off := 0; off < t.bsize; off += 64 {
				p("PREFETCHT0 %d(%s)(BX*1)", off, wps[r])
			}
			p("PREFETCHT0 %d(%s)(BX*1)", t.bsize-1, wps[r])
		}
		rowBlock(t, wps[r], aps[:1], func(int) int { return r })
	}
	if t.name == "Q2_K" {
		for r := 0; r < nrows; r++ {
			p("VPMOVZXBW (%s), Y%d", wps[r], 8+r)
			p("VPSRLW $4, Y%d, Y%d", 8+r, 8+r)
			p("VPMADDWD 260(DI), Y%d, Y%d", 8+r, 8+r)
		}
	}
	if nrows == 4 {
		reduce4([]int{0, 1, 2, 3}, true)
		if t.name == "Q2_K" {
			reduce4([]int{8, 9, 10, 11}, false)
		}
	} else {
		reduce1(0, true)
		if t.name == "Q2_K" {
			reduce1(8, false)
		}
	}
	gatherD(t, nrows)
	p("VBROADCASTSS (DI), X2")
	p("VMULPS X2, X1, X1")
	if t.name == "Q2_K" {
		p("VMULPS X2, X3, X3")
	}
	floatStep(t, false, 0, 1, 8, 3)
	loopEnd(t, nrows, 1, name)
	if nrows == 4 {
		p("MOVQ out+40(FP), DX")
		p("VMOVUPS X31, (DX)")
	} else {
		p("VMOVSS X31, ret+24(FP)")
	}
	p("VZEROUPPER")
	p("RET")
}

func data(name string, bytes []byte) {
	for i := 0; i < len(bytes); i += 8 {
		var v uint64
		for k := 0; k < 8; k++ {
			v |= uint64(bytes[i+k]) << (8 * k)
		}
		fmt.Fprintf(&out, "DATA %s<>+%d(SB)/8, $0x%016x\n", name, i, v)
	}
	fmt.Fprintf(&out, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n", name, len(bytes))
}

func qwords(vals ...uint64) []byte {
	var b []byte
	for _, v := range vals {
		for k := 0; k < 8; k++ {
			b = append(b, byte(v>>(8*k)))
		}
	}
	return b
}

func words(vals ...int) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, byte(v), byte(v>>8))
	}
	return b
}

func dwords(vals ...int) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return b
}

// halves is 4 qwords of a then 4 of b: a shift for each 32-byte half.
func halves(a, b uint64) []byte { return qwords(a, a, a, a, b, b, b, b) }

func rep[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func main() {
	fmt.Fprintln(&out, "// Code generated by gen_kquant236.go; DO NOT EDIT.")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, "//go:build amd64")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, `#include "textflag.h"`)
	fmt.Fprintln(&out)
	// VPERMW indices: int16 lane t of chunk c is sub-block 4c + t/8.
	for c := 0; c < 4; c++ {
		idx := make([]int, 32)
		for t := range idx {
			idx[t] = 4*c + t/8
		}
		data(fmt.Sprintf("kq236_perm%d", c), words(idx...))
	}
	data("kq236_m32", words(rep(-32, 16)...))
	data("kq236_m4", words(rep(-4, 16)...))
	data("kq236_b32", rep(byte(32), 16))
	data("kq236_q6sh0", halves(4, 2))
	data("kq236_q6sh1", halves(0, 2))
	data("kq236_lo0", halves(0, 2))
	data("kq236_lo1", halves(4, 6))
	data("kq236_q3hs", dwords(0, 2, 4, 6))
	data("kq236_q3hm0", halves(2, 1))
	for c := 1; c < 4; c++ {
		data(fmt.Sprintf("kq236_q3hm%d", c), halves(uint64(2*c-2), uint64(2*c-1)))
	}
	da := make([]int, 16)
	for l := range da {
		da[l] = l / 4
	}
	data("kq236_daidx", dwords(da...))
	data("kq236_even", dwords(0, 2, 4, 6, 0, 2, 4, 6))
	data("kq236_odd", dwords(1, 3, 5, 7, 1, 3, 5, 7))
	for _, t := range []kq{q6, q3, q2} {
		genX4(t)
		genRows1(t, 4)
		genRows1(t, 1)
	}
	os.Stdout.WriteString(out.String())
}
