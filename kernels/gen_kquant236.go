//go:build ignore

// gen_kquant236 writes kquant236_amd64.s, the AVX-512 (BW, VNNI) and AVX2
// tile and dot kernels for Q6_K, Q3_K and Q2_K weights against Q8_K
// activations, and the Q8_K activation quantizers:
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
	// scales leaves the 16 sub-block scales of the block at wp (row r) in
	// Y24 as int16 and, for a type with a level offset, −offset·scale in
	// Y25; batched: from Z16, where scales4 left them.
	scales func(wp string, r int, batched bool)
	// scales4, if not nil, decodes the 4 weight rows' scales at once into
	// Z16 (int8, unit r = row r).
	scales4 func()
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
		p("VMOVDQU64 kq236_q6hm<>(SB), Z29")
	},
	scales: func(wp string, _ int, _ bool) {
		p("VPMOVSXBW 192(%s), Y24", wp)
		p("VPMULLW kq236_m32<>(SB), Y24, Y25")
	},
	unpack: func(wp string, c int) string {
		// The 32 qh bytes of half h go to both halves of Z27, masked to
		// the bit pairs of the values k = 0, 2 (first half) and k = 1, 3
		// (second): shifted, their bits 6, 7 are clear.
		h, e := c/2, c%2
		if e == 0 {
			p("VMOVDQU64 %d(%s), Z26", 64*h, wp)
			p("VBROADCASTI64X4 %d(%s), Z27", 128+32*h, wp)
			p("VPANDD Z29, Z27, Z27")
			p("VPSLLVQ kq236_q6sh0<>(SB), Z27, Z22")
		} else {
			p("VPSRLW $4, Z26, Z26")
			p("VPSRLVQ kq236_q6sh1<>(SB), Z27, Z22")
		}
		// Z22 = bits 0..3 of Z26, 4..7 of Z22
		p("VPTERNLOGD $0xb8, Z26, Z28, Z22")
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
	scales4: func() {
		// Bytes 94..109 of each row's block: the 12 scale bytes at 2..13.
		p("VMOVDQU64 94(SI), X16")
		for r := 1; r < 4; r++ {
			p("VINSERTI32X4 $%d, 94(%s), Z16, Z16", r, wps[r])
		}
		p("VPSHUFB kq236_q3lo<>(SB), Z16, Z26")
		p("VPSRLVQ kq236_q3los<>(SB), Z26, Z26")
		p("VPSHUFB kq236_q3hi<>(SB), Z16, Z27")
		p("VPSRLVD kq236_q3hs4<>(SB), Z27, Z27")
		p("VPANDD Z28, Z27, Z27")
		p("VPSLLD $4, Z27, Z27")
		p("VPTERNLOGD $0xf8, Z26, Z30, Z27")
		p("VPSUBB kq236_b32<>(SB), Z27, Z16")
	},
	scales: func(wp string, r int, batched bool) {
		if batched {
			if r == 0 {
				p("VPMOVSXBW X16, Y24")
			} else {
				p("VEXTRACTI32X4 $%d, Z16, X27", r)
				p("VPMOVSXBW X27, Y24")
			}
			p("VPMULLW kq236_m4<>(SB), Y24, Y25")
			return
		}
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
	scales: func(wp string, _ int, _ bool) {
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
// rowIdxRegs, when set, has rowBlock take the VPERMW indices of chunk c
// from Z12+c (loaded once; the 4×1 tiles have the registers to spare), and
// Q2_K's mins go to Y8+r as the scales are read.
var rowIdxRegs bool

func rowBlock(t kq, r int, batched bool, ap []string, acc func(i int) int) {
	wp := wps[r]
	t.scales(wp, r, batched)
	if rowIdxRegs && t.name == "Q2_K" {
		p("VPSRLW $4, Y26, Y%d", 8+r)
	}
	if t.offset {
		for i, a := range ap {
			p("VPMADDWD 260(%s), Y25, Y%d", a, acc(i))
		}
	}
	for c := 0; c < 4; c++ {
		w := t.unpack(wp, c)
		if rowIdxRegs {
			p("VPERMW Z24, Z%d, Z17", 12+c)
		} else {
			p("VMOVDQU64 kq236_perm%d<>(SB), Z17", c)
			p("VPERMW Z24, Z17, Z17")
		}
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

// reduceUnits sums Z(v0) and Z(v1), each two outputs × 8 partials (units
// 0,1 and 2,3), into X(dst), lane r = output r (v0's first, v0's second,
// v1's first, v1's second). Temps: Z6, Z7.
func reduceUnits(v0, v1, dst int) {
	p("VSHUFI64X2 $0x88, Z%d, Z%d, Z6", v1, v0)
	p("VSHUFI64X2 $0xdd, Z%d, Z%d, Z7", v1, v0)
	p("VPADDD Z7, Z6, Z6")
	p("VPSHUFD $0x4e, Z6, Z7")
	p("VPADDD Z7, Z6, Z6")
	p("VPSHUFD $0xb1, Z6, Z7")
	p("VPADDD Z7, Z6, Z6")
	p("VPMOVQD Z6, Y%d", dst)
	p("VPMOVQD Y%d, X%d", dst, dst)
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
	floatStepTo(t, wide, isum, dd, summs, ddm, 31)
}

// floatStepTo is floatStep adding into register sum.
func floatStepTo(t kq, wide bool, isum, dd, summs, ddm, sum int) {
	v := "X"
	if wide {
		v = "Z"
	}
	s := fmt.Sprintf("%s%d", v, sum)
	p("VCVTDQ2PS %s%d, %s%d", v, isum, v, isum)
	switch t.name {
	case "Q6_K":
		p("VFMADD231PS %s%d, %s%d, %s", v, dd, v, isum, s)
	case "Q3_K":
		p("VMULPS %s%d, %s%d, %s%d", v, isum, v, dd, v, isum)
		p("VADDPS %s%d, %s, %s", v, isum, s, s)
	case "Q2_K":
		p("VCVTDQ2PS %s%d, %s%d", v, summs, v, summs)
		p("VMULPS %s%d, %s%d, %s%d", v, isum, v, dd, v, isum)
		p("VMULPS %s%d, %s%d, %s%d", v, summs, v, ddm, v, summs)
		p("VSUBPS %s%d, %s%d, %s%d", v, summs, v, isum, v, isum)
		p("VADDPS %s%d, %s, %s", v, isum, s, s)
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
	// BX: 4 rows on, the next tile's weights, fetched into L2 while this
	// tile's stay in L1 for all the activation rows.
	p("MOVQ wstride+8(FP), BX")
	p("SHLQ $2, BX")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	if t.scales4 != nil {
		t.scales4()
	}
	for r := 0; r < 4; r++ {
		for off := 0; off < t.bsize; off += 64 {
			p("PREFETCHT1 %d(%s)(BX*1)", off, wps[r])
		}
		p("PREFETCHT1 %d(%s)(BX*1)", t.bsize-1, wps[r])
		rowBlock(t, r, t.scales4 != nil, aps, func(i int) int { return 4*r + i })
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

// prefetchNextTile prefetches the next 4×1 tile's weights (from BX, 4 rows
// on) in order, 4 blocks' bytes an iteration: the tile's rows, back to back
// in a matrix, are one run of lines, fetched as one stream.
func prefetchNextTile(bsize int) {
	for off := 0; off < 4*bsize; off += 64 {
		p("PREFETCHT0 %d(BX)", off)
	}
	p("ADDQ $%d, BX", 4*bsize)
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
		p("ADDQ SI, BX")
		for c := 0; c < 4; c++ {
			p("VMOVDQU64 kq236_perm%d<>(SB), Z%d", c, 12+c)
		}
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
	batched := nrows == 4 && t.scales4 != nil
	if batched {
		t.scales4()
	}
	rowIdxRegs = nrows == 4
	if nrows == 4 {
		prefetchNextTile(t.bsize)
	}
	for r := 0; r < nrows; r++ {
		rowBlock(t, r, batched, aps[:1], func(int) int { return r })
	}
	rowIdxRegs = false
	if t.name == "Q2_K" {
		for r := 0; r < nrows; r++ {
			if nrows != 4 {
				p("VPMOVZXBW (%s), Y%d", wps[r], 8+r)
				p("VPSRLW $4, Y%d, Y%d", 8+r, 8+r)
			}
			p("VPMADDWD 260(DI), Y%d, Y%d", 8+r, 8+r)
		}
	}
	if nrows == 4 {
		p("VSHUFI64X2 $0x44, Z1, Z0, Z4")
		p("VSHUFI64X2 $0xee, Z1, Z0, Z5")
		p("VPADDD Z5, Z4, Z4")
		p("VSHUFI64X2 $0x44, Z3, Z2, Z5")
		p("VSHUFI64X2 $0xee, Z3, Z2, Z6")
		p("VPADDD Z6, Z5, Z5")
		reduceUnits(4, 5, 0)
		if t.name == "Q2_K" {
			p("VINSERTI64X4 $1, Y9, Z8, Z4")
			p("VINSERTI64X4 $1, Y11, Z10, Z5")
			reduceUnits(4, 5, 8)
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
	data("kq236_b32", rep(byte(32), 64))
	var q3lo, q3hi []byte
	for u := 0; u < 4; u++ {
		for k := 0; k < 16; k++ {
			q3lo = append(q3lo, byte(2+k%8))
			q3hi = append(q3hi, byte(10+k%4))
		}
	}
	data("kq236_q3lo", q3lo)
	data("kq236_q3hi", q3hi)
	data("kq236_q3los", qwords(0, 4, 0, 4, 0, 4, 0, 4))
	data("kq236_q3hs4", dwords(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6))
	data("kq236_q6sh0", halves(4, 2))
	data("kq236_q6sh1", halves(0, 2))
	data("kq236_q6hm", append(rep(byte(0x33), 32), rep(byte(0xcc), 32)...))
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
	var a2 []byte
	for m := 0; m < 4; m++ {
		for k := 0; k < 8; k++ {
			a2 = append(a2, byte(4*m), byte(4*m+1))
		}
		for k := 0; k < 8; k++ {
			a2 = append(a2, byte(4*m+2), byte(4*m+3))
		}
	}
	data("kq236_a2idx", a2)
	for _, t := range []kq{q6, q3, q2} {
		genX4(t)
		genRows1(t, 4)
		genRows1(t, 1)
	}
	for _, t := range []kq2{q6a2, q3a2, q2a2} {
		genAVX2(t, 4)
		genAVX2(t, 1)
	}
	// tree16's lane 4i+r holds vector 4r+i: back to lane g for group g.
	tr := make([]int, 16)
	for g := 0; g < 16; g++ {
		tr[g] = 4*(g%4) + g/4
	}
	data("kq236_tree16inv", dwords(tr...))
	genQuantizeQ8_K()
	genQuantizeQ8_KAVX2()
	os.Stdout.WriteString(out.String())
}

// The AVX2 kernels (no AVX-512): nrows weight rows against one activation
// row in 32-value chunks, VPMADDUBSW then VPMADDWD by the sub-block scales
// and VPADDD into int32 lanes. Registers: ACC Y0–Y3; Y4, Y5: the scales
// (int16) of sub-blocks 0–7 and 8–15 in both 128-bit lanes; Y6:
// −offset·scales; Y7–Y11 temps (Y9 the weights, Y10 the scales of a chunk,
// Y11 the products); Y12–Y14 constants; X15 the sums.
type kq2 struct {
	kq
	consts func()
	// scales leaves the int16 scales of the block at wp in Y4.
	scales func(wp string)
	// unpack leaves chunk c (values 32c..32c+31) in Y9.
	unpack func(wp string, c int)
}

func bcast(v uint32, y int) {
	p("MOVL $0x%08x, AX", v)
	p("VMOVD AX, X%d", y)
	p("VPBROADCASTD X%d, Y%d", y, y)
}

var q6a2 = kq2{
	kq: q6,
	consts: func() {
		bcast(0x0f0f0f0f, 12)
		bcast(0x30303030, 13)
	},
	scales: func(wp string) { p("VPMOVSXBW 192(%s), Y4", wp) },
	unpack: func(wp string, c int) {
		h, k := c/4, c%4
		if k == 0 {
			p("VMOVDQU %d(%s), Y8", 128+32*h, wp)
		}
		p("VMOVDQU %d(%s), Y9", 64*h+32*(k%2), wp)
		if k/2 == 1 {
			p("VPSRLW $4, Y9, Y9")
		}
		p("VPAND Y12, Y9, Y9")
		switch k {
		case 0:
			p("VPSLLW $4, Y8, Y10")
		case 1:
			p("VPSLLW $2, Y8, Y10")
		case 3:
			p("VPSRLW $2, Y8, Y10")
		}
		if k == 2 {
			p("VPAND Y13, Y8, Y10")
		} else {
			p("VPAND Y13, Y10, Y10")
		}
		p("VPOR Y10, Y9, Y9")
	},
}

var q3a2 = kq2{
	kq: q3,
	consts: func() {
		bcast(0x0f0f0f0f, 12)
		bcast(0x03030303, 13)
		bcast(0x04040404, 14)
	},
	scales: func(wp string) {
		p("VMOVQ 96(%s), X7", wp)
		p("VPSRLW $4, X7, X8")
		p("VPUNPCKLQDQ X8, X7, X7")
		p("VPAND X12, X7, X7")
		p("VPBROADCASTD 104(%s), X8", wp)
		p("VPSRLVD kq236_q3hs<>(SB), X8, X8")
		p("VPAND X13, X8, X8")
		p("VPSLLD $4, X8, X8")
		p("VPOR X8, X7, X7")
		p("VPSUBB kq236_b32<>(SB), X7, X7")
		p("VPMOVSXBW X7, Y4")
	},
	unpack: func(wp string, c int) {
		h, k := c/4, c%4
		if c == 0 {
			p("VMOVDQU (%s), Y8", wp)
		}
		if k == 0 {
			p("VMOVDQU %d(%s), Y7", 32+32*h, wp)
			p("VPAND Y13, Y7, Y9")
		} else {
			p("VPSRLW $%d, Y7, Y9", 2*k)
			p("VPAND Y13, Y9, Y9")
		}
		switch kk := 4*h + k; {
		case kk < 2:
			p("VPSLLW $%d, Y8, Y10", 2-kk)
			p("VPAND Y14, Y10, Y10")
		case kk == 2:
			p("VPAND Y14, Y8, Y10")
		default:
			p("VPSRLW $%d, Y8, Y10", kk-2)
			p("VPAND Y14, Y10, Y10")
		}
		p("VPOR Y10, Y9, Y9")
	},
}

var q2a2 = kq2{
	kq: q2,
	consts: func() {
		bcast(0x0f0f0f0f, 12)
		bcast(0x03030303, 13)
	},
	scales: func(wp string) {
		p("VPMOVZXBW (%s), Y4", wp)
		p("VPAND Y12, Y4, Y4")
	},
	unpack: func(wp string, c int) {
		h, k := c/4, c%4
		if k == 0 {
			p("VMOVDQU %d(%s), Y7", 16+32*h, wp)
			p("VPAND Y13, Y7, Y9")
		} else {
			p("VPSRLW $%d, Y7, Y9", 2*k)
			p("VPAND Y13, Y9, Y9")
		}
	},
}

// genAVX2 is the AVX2 4×1 tile kernel (nrows 4) or dot (nrows 1).
func genAVX2(t kq2, nrows int) {
	var name string
	if nrows == 4 {
		name = "tile" + t.name + "AVX2x1"
		fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	} else {
		name = "dot" + t.name + "AVX2"
		fmt.Fprintf(&out, "\n// func %s(w, a *byte, nb int) float32\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-28\n", name)
	}
	p("MOVQ w+0(FP), SI")
	if nrows == 4 {
		p("MOVQ wstride+8(FP), AX")
		p("LEAQ (SI)(AX*1), R9")
		p("LEAQ (R9)(AX*1), R10")
		p("LEAQ (R10)(AX*1), R11")
		p("MOVQ a+16(FP), DI")
		p("MOVQ nb+32(FP), CX")
		p("MOVQ wstride+8(FP), BX")
		p("SHLQ $2, BX")
		p("ADDQ SI, BX")
	} else {
		p("MOVQ a+8(FP), DI")
		p("MOVQ nb+16(FP), CX")
	}
	t.consts()
	p("VXORPS X15, X15, X15")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	if nrows == 4 {
		prefetchNextTile(t.bsize)
	}
	for r := 0; r < nrows; r++ {
		wp := wps[r]
		t.scales(wp)
		if t.offset {
			m := map[string]string{"Q6_K": "kq236_m32", "Q3_K": "kq236_m4"}[t.name]
			p("VPMULLW %s<>(SB), Y4, Y6", m)
			p("VPMADDWD 260(DI), Y6, Y%d", r)
		} else {
			p("VPXOR Y%d, Y%d, Y%d", r, r, r)
		}
		p("VPERMQ $0xee, Y4, Y5")
		p("VPERMQ $0x44, Y4, Y4")
		for c := 0; c < 8; c++ {
			t.unpack(wp, c)
			p("VPSHUFB kq236_a2idx<>+%d(SB), Y%d, Y10", 32*(c%4), 4+c/4)
			p("VPMADDUBSW %d(DI), Y9, Y11", 4+32*c)
			p("VPMADDWD Y10, Y11, Y11")
			p("VPADDD Y11, Y%d, Y%d", r, r)
		}
	}
	// Q2_K's summs go to Y4–Y7 (4 rows, temps Y8–Y11) or Y5 (temp Y9),
	// after the sums of ACC (temps Y4–Y7 or Y4).
	summs := 4
	if nrows == 4 {
		reduce4y([]int{0, 1, 2, 3})
	} else {
		reduce1(0, false)
		summs = 5
	}
	if t.name == "Q2_K" {
		for r := 0; r < nrows; r++ {
			p("VPMOVZXBW (%s), Y%d", wps[r], summs+r)
			p("VPSRLW $4, Y%d, Y%d", summs+r, summs+r)
			p("VPMADDWD 260(DI), Y%d, Y%d", summs+r, summs+r)
		}
		if nrows == 4 {
			reduce4y([]int{4, 5, 6, 7})
		} else {
			reduce1(summs, false)
		}
	}
	gatherD(t.kq, nrows)
	p("VBROADCASTSS (DI), X2")
	p("VMULPS X2, X1, X1")
	if t.name == "Q2_K" {
		p("VMULPS X2, X3, X3")
	}
	floatStepTo(t.kq, false, 0, 1, summs, 3, 15)
	loopEnd(t.kq, nrows, 1, name)
	if nrows == 4 {
		p("MOVQ out+40(FP), DX")
		p("VMOVUPS X15, (DX)")
	} else {
		p("VMOVSS X15, ret+24(FP)")
	}
	p("VZEROUPPER")
	p("RET")
}

// reduce4y sums the four 8-lane vectors Y(regs[r]) into X(regs[0]), lane r.
// Temps: regs[r]+4.
func reduce4y(regs []int) {
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

// genQuantizeQ8_K is quantizeQ8_K (Q8_K activations) with AVX-512, bit for
// bit: the first value of largest magnitude (NaNs never count), iscale =
// −127/max, d = 1/iscale, q = min(127, round-half-even(iscale·x)) (a NaN or
// infinite product gives 0, as Go's conversion does on amd64), and the group
// sums of q. An all-zero block is all zero bytes.
func genQuantizeQ8_K() {
	name := "quantizeQ8_KAVX512"
	fmt.Fprintf(&out, "\n// func %s(x *float32, nb int, dst *byte)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
	p("MOVQ x+0(FP), SI")
	p("MOVQ nb+8(FP), CX")
	p("MOVQ dst+16(FP), DI")
	p("MOVL $0x7fffffff, AX")
	p("VPBROADCASTD AX, Z30")
	p("MOVL $127, AX")
	p("VPBROADCASTD AX, Z29")
	p("VMOVDQU64 kq236_tree16inv<>(SB), Z28")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	// Z24 = max |x| (a NaN |x| keeps the running max: VMAXPS returns its
	// second source when either is NaN).
	p("VPXORD Z24, Z24, Z24")
	for g := 0; g < 16; g++ {
		p("VPANDD %d(SI), Z30, Z%d", 64*g, g%8)
		p("VMAXPS Z24, Z%d, Z24", g%8)
	}
	p("VEXTRACTF64X4 $1, Z24, Y25")
	p("VMAXPS Y25, Y24, Y24")
	p("VEXTRACTF32X4 $1, Y24, X25")
	p("VMAXPS X25, X24, X24")
	p("VPERMILPS $0x4e, X24, X25")
	p("VMAXPS X25, X24, X24")
	p("VPERMILPS $0xb1, X24, X25")
	p("VMAXPS X25, X24, X24")
	p("VBROADCASTSS X24, Z24")
	p("VXORPS X25, X25, X25")
	p("VUCOMISS X25, X24")
	p("JNE %s_nonzero", name)
	// All zero (or only NaNs and zeros): a zero block.
	p("VPXORD Z0, Z0, Z0")
	for off := 0; off+64 <= 292; off += 64 {
		p("VMOVDQU64 Z0, %d(DI)", off)
	}
	p("VMOVDQU64 Z0, %d(DI)", 292-64)
	p("JMP %s_next", name)
	label(name + "_nonzero")
	// The first index with |x| == max.
	for g := 0; g < 16; g++ {
		p("VPANDD %d(SI), Z30, Z0", 64*g)
		p("VCMPPS $0, Z24, Z0, K1")
		p("KMOVW K1, AX")
		p("TESTL AX, AX")
		p("JZ %s_nf%d", name, g)
		p("BSFL AX, AX")
		p("VMOVSS %d(SI)(AX*4), X1", 64*g)
		p("JMP %s_found", name)
		label(fmt.Sprintf("%s_nf%d", name, g))
	}
	label(name + "_found")
	// iscale = -127/max, d = 1/iscale
	p("MOVL $0xc2fe0000, AX") // -127
	p("VMOVD AX, X2")
	p("VDIVSS X1, X2, X2")
	p("MOVL $0x3f800000, AX") // 1
	p("VMOVD AX, X3")
	p("VDIVSS X2, X3, X3")
	p("VMOVSS X3, (DI)")
	p("VBROADCASTSS X2, Z25")
	for g := 0; g < 16; g++ {
		p("VMULPS %d(SI), Z25, Z%d", 64*g, g)
		p("VCVTPS2DQ Z%d, Z%d", g, g)
		p("VPMINSD Z29, Z%d, Z%d", g, g)
		p("VPMOVDB Z%d, %d(DI)", g, 4+16*g)
		// A NaN or out-of-range product converts to 0x80000000: its byte
		// is 0, and so is its share of the group sum.
		p("VPSLLD $24, Z%d, Z%d", g, g)
		p("VPSRAD $24, Z%d, Z%d", g, g)
	}
	tree16()
	p("VPERMD Z0, Z28, Z0")
	p("VPMOVDW Z0, 260(DI)")
	label(name + "_next")
	p("ADDQ $1024, SI")
	p("ADDQ $292, DI")
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
}

// genQuantizeQ8_KAVX2 is genQuantizeQ8_K with AVX2: 8 values a vector, the
// bytes by saturating packs (exact: the values are −128..127 by then), each
// group sum by VPMADDWD with ones and a horizontal add.
func genQuantizeQ8_KAVX2() {
	name := "quantizeQ8_KAVX2"
	fmt.Fprintf(&out, "\n// func %s(x *float32, nb int, dst *byte)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
	p("MOVQ x+0(FP), SI")
	p("MOVQ nb+8(FP), CX")
	p("MOVQ dst+16(FP), DI")
	bcast(0x7fffffff, 14)
	bcast(127, 12)
	bcast(0x00010001, 10)
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	label(name + "_loop")
	p("VXORPS Y15, Y15, Y15")
	for v := 0; v < 32; v++ {
		p("VANDPS %d(SI), Y14, Y%d", 32*v, v%8)
		p("VMAXPS Y15, Y%d, Y15", v%8)
	}
	p("VEXTRACTF128 $1, Y15, X13")
	p("VMAXPS X13, X15, X15")
	p("VPERMILPS $0x4e, X15, X13")
	p("VMAXPS X13, X15, X15")
	p("VPERMILPS $0xb1, X15, X13")
	p("VMAXPS X13, X15, X15")
	p("VBROADCASTSS X15, Y15")
	p("VXORPS X13, X13, X13")
	p("VUCOMISS X13, X15")
	p("JNE %s_nonzero", name)
	p("VPXOR Y0, Y0, Y0")
	for off := 0; off+32 <= 292; off += 32 {
		p("VMOVDQU Y0, %d(DI)", off)
	}
	p("VMOVDQU Y0, %d(DI)", 292-32)
	p("JMP %s_next", name)
	label(name + "_nonzero")
	for v := 0; v < 32; v++ {
		p("VANDPS %d(SI), Y14, Y0", 32*v)
		p("VCMPPS $0, Y15, Y0, Y0")
		p("VMOVMSKPS Y0, AX")
		p("TESTL AX, AX")
		p("JZ %s_nf%d", name, v)
		p("BSFL AX, AX")
		p("VMOVSS %d(SI)(AX*4), X1", 32*v)
		p("JMP %s_found", name)
		label(fmt.Sprintf("%s_nf%d", name, v))
	}
	label(name + "_found")
	p("MOVL $0xc2fe0000, AX") // -127
	p("VMOVD AX, X2")
	p("VDIVSS X1, X2, X2")
	p("MOVL $0x3f800000, AX") // 1
	p("VMOVD AX, X3")
	p("VDIVSS X2, X3, X3")
	p("VMOVSS X3, (DI)")
	p("VBROADCASTSS X2, Y11")
	for g := 0; g < 16; g++ {
		for h := 0; h < 2; h++ {
			y := h
			p("VMULPS %d(SI), Y11, Y%d", 64*g+32*h, y)
			p("VCVTPS2DQ Y%d, Y%d", y, y)
			p("VPMINSD Y12, Y%d, Y%d", y, y)
			// NaN/out of range (0x80000000) → 0, as Go's conversion.
			p("VPSLLD $24, Y%d, Y%d", y, y)
			p("VPSRAD $24, Y%d, Y%d", y, y)
		}
		p("VPACKSSDW Y1, Y0, Y2")
		p("VPERMQ $0xd8, Y2, Y2")
		p("VPACKSSWB Y2, Y2, Y3")
		p("VPERMQ $0x08, Y3, Y3")
		p("VMOVDQU X3, %d(DI)", 4+16*g)
		p("VPMADDWD Y10, Y2, Y2")
		p("VEXTRACTI128 $1, Y2, X3")
		p("VPADDD X3, X2, X2")
		p("VPSHUFD $0x4e, X2, X3")
		p("VPADDD X3, X2, X2")
		p("VPSHUFD $0xb1, X2, X3")
		p("VPADDD X3, X2, X2")
		p("VMOVD X2, AX")
		p("MOVW AX, %d(DI)", 260+2*g)
	}
	label(name + "_next")
	p("ADDQ $1024, SI")
	p("ADDQ $292, DI")
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
}
