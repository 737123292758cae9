//go:build ignore

// kquant6_gen writes kquant6_amd64.s, the AVX-512 (BW, VNNI) batch kernel
// for Q6_K weights against packed Q8_K activations: go run kquant6_gen.go.
//
// Batched decode of a few streams: the activation rows are packed once per
// DotTile call (prepQ8_KA4Q6AVX512) so that dword lane l of each of a
// block's 4 lines holds 4 values of sub-block l; each weight line is built
// to match in registers as it is read. VPDPBUSD then sums a whole block per
// sub-block in its own lane, from lanes that start at −32·bsum_l (the
// levels' offset), and one VPMULLD by the int8 scales finishes the twin's
// exact isum = Σ_l s_l·Σ (q−32)·a; the 16 pairs of the 4×4 tile are summed
// together in a transpose-add tree and the twin's FMA runs one pair a lane.
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// Q6_K block: ql (128 bytes), qh (64), int8 scales (16), fp16 d.
const (
	q6Block = 210
	q6Qh    = 128
	q6Sc    = 192
	q6D     = 208
	q8Block = 292
	q8Qs    = 4
	q8Bsums = 260
)

// Packed activations, per block of 4 rows: line k of row i at 64(4k+i)
// (dword L: values 4k..4k+3 of sub-block sub(L), see main), row i's
// −32·bsum of sub-block sub(L) in dword L at 1024+64i, row i's d 4 times
// at 1280+16i.
const (
	paLines = 0
	paCorr  = 1024
	paDA    = 1280
	paBlock = 1344
)

// Packed weights, per block of 4 rows (prepQ6_KW4AVX512): line k of row r
// at 64(4k+r) (the activations' lane order), row r's scale of sub-block
// sub(L) in dword L at 1024+64r, d_r in lane 4i+r of the 16 floats at 1280.
const (
	pwLines  = 0
	pwScales = 1024
	pwD      = 1280
	pwBlock  = 1344
)

// Weight row r of the tile: (SI), (SI)(BX*1), (SI)(BX*2), (SI)(R10*1).
var wRow = [4]string{"(SI)", "(SI)(BX*1)", "(SI)(BX*2)", "(SI)(R10*1)"}

func at(off int, row string) string { return fmt.Sprintf("%d%s", off, row) }

// genPrepA writes prepQ8_KA4Q6AVX512(dst, a *byte, astride, nb int): 4
// activation rows of nb Q8_K blocks into the packed layout (line k, lane L:
// values 4k..4k+3 of sub-block sub(L), the weights' lane order).
func genPrepA() {
	fn := "prepQ8_KA4Q6AVX512"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, a *byte, astride int, nb int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", fn)
	p("MOVQ dst+0(FP), SI")
	p("MOVQ a+8(FP), DI")
	p("MOVQ astride+16(FP), DX")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (DX)(DX*2), R11")
	for k := 0; k < 4; k++ {
		p("VMOVDQU32 kq6_gather%d<>(SB), Z%d", k, 16+k)
	}
	p("VMOVDQU32 kq6_sub<>(SB), Z21")
	p("VPXORD Z22, Z22, Z22")
	// K1: the lanes whose sub-block is in values 128..255.
	p("MOVW $0xcccc, AX")
	p("KMOVW AX, K1")
	p("TESTQ CX, CX")
	p("JZ %s_done", fn)
	label(fn + "_loop")
	rows := [4]string{"(DI)", "(DI)(DX*1)", "(DI)(DX*2)", "(DI)(R11*1)"}
	for i, r := range rows {
		for m := 0; m < 4; m++ {
			p("VMOVDQU64 %s, Z%d", at(q8Qs+64*m, r), 24+m)
		}
		for k := 0; k < 4; k++ {
			p("VMOVDQA64 Z%d, Z28", 16+k)
			p("VPERMI2D Z25, Z24, Z28")
			p("VMOVDQA64 Z%d, Z29", 16+k)
			p("VPERMI2D Z27, Z26, Z29")
			p("VMOVDQA32 Z29, K1, Z28")
			p("VMOVDQU64 Z28, %d(SI)", paLines+64*(4*k+i))
		}
		p("VPMOVSXWD %s, Z23", at(q8Bsums, r))
		p("VPERMD Z23, Z21, Z23")
		p("VPSLLD $5, Z23, Z23")
		p("VPSUBD Z23, Z22, Z23")
		p("VMOVDQU64 Z23, %d(SI)", paCorr+64*i)
		p("VBROADCASTSS %s, X23", at(0, r))
		p("VMOVUPS X23, %d(SI)", paDA+16*i)
	}
	p("ADDQ $%d, DI", q8Block)
	p("ADDQ $%d, SI", paBlock)
	p("DECQ CX")
	p("JNZ %s_loop", fn)
	label(fn + "_done")
	p("VZEROUPPER")
	p("RET")
}

// tree16 sums Z0–Z15 (Z(4r+i) = pair (weight row r, activation row i))
// into Z0, lane 4i+r. Temps Z16–Z19.
func tree16() {
	for k := 0; k < 8; k++ {
		t1, t2 := 16+2*(k%2), 17+2*(k%2)
		p("VSHUFI64X2 $0x44, Z%d, Z%d, Z%d", 2*k+1, 2*k, t1)
		p("VSHUFI64X2 $0xee, Z%d, Z%d, Z%d", 2*k+1, 2*k, t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, k)
	}
	for k := 0; k < 4; k++ {
		t1, t2 := 16+2*(k%2), 17+2*(k%2)
		p("VSHUFI64X2 $0x88, Z%d, Z%d, Z%d", 2*k+1, 2*k, t1)
		p("VSHUFI64X2 $0xdd, Z%d, Z%d, Z%d", 2*k+1, 2*k, t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, k)
	}
	for k := 0; k < 2; k++ {
		t1, t2 := 16+2*k, 17+2*k
		p("VPUNPCKLQDQ Z%d, Z%d, Z%d", k+2, k, t1)
		p("VPUNPCKHQDQ Z%d, Z%d, Z%d", k+2, k, t2)
		p("VPADDD Z%d, Z%d, Z%d", t2, t1, k)
	}
	p("VPUNPCKLDQ Z1, Z0, Z16")
	p("VPUNPCKHDQ Z1, Z0, Z17")
	p("VPUNPCKLQDQ Z17, Z16, Z18")
	p("VPUNPCKHQDQ Z17, Z16, Z19")
	p("VPADDD Z19, Z18, Z0")
}

// genPrepW writes prepQ6_KW4AVX512(dst, w *byte, wstride, nb int): 4 weight
// rows of nb blocks into the packed layout. Each 128-bit lane c of the low
// (A, C) and high (B, D) nibbles of ql's two halves holds one whole
// sub-block; qh's bits join them by a rotate and a bitwise select, and a
// dword transpose within the lanes makes line k of dword k of A, B, C, D:
// no lane-crossing permutes.
func genPrepW() {
	fn := "prepQ6_KW4AVX512"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, w *byte, wstride int, nb int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", fn)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ w+8(FP), SI")
	p("MOVQ wstride+16(FP), BX")
	p("MOVQ nb+24(FP), CX")
	p("LEAQ (BX)(BX*2), R10")
	p("VMOVDQU32 kq6_nib<>(SB), Z18")
	p("VMOVDQU32 kq6_top2<>(SB), Z19")
	p("VMOVDQU32 kq6_rotLo<>(SB), Z16")
	p("VMOVDQU32 kq6_rotHi<>(SB), Z17")
	p("VMOVDQU32 kq6_sub<>(SB), Z31")
	p("LEAQ (SI)(BX*4), R13")
	p("TESTQ CX, CX")
	p("JZ %s_done", fn)
	label(fn + "_loop")
	// The next group's weights (4 rows on), into L2 while this group's
	// are packed: a batch streams each weight row from memory once.
	for _, row := range []string{"(R13)", "(R13)(BX*1)", "(R13)(BX*2)", "(R13)(R10*1)"} {
		for off := 0; off < q6Block; off += 64 {
			p("PREFETCHT1 %s", at(off, row))
		}
		p("PREFETCHT1 %s", at(q6Block-1, row))
	}
	for r := 0; r < 4; r++ {
		w := wRow[r]
		p("VMOVDQU64 %s, Z24", at(0, w))
		p("VMOVDQU64 %s, Z25", at(64, w))
		p("VPSRLW $4, Z24, Z26")
		p("VPSRLW $4, Z25, Z27")
		for _, z := range []int{24, 25, 26, 27} {
			p("VPANDD Z18, Z%d, Z%d", z, z)
		}
		p("VBROADCASTI64X4 %s, Z28", at(q6Qh, w))
		p("VBROADCASTI64X4 %s, Z29", at(q6Qh+32, w))
		// Line X |= rotated qh & 0x30: A, B from qh's first half (Z28),
		// C, D from its second (Z29).
		for _, c := range []struct{ line, qh, rot int }{{24, 28, 16}, {26, 28, 17}, {25, 29, 16}, {27, 29, 17}} {
			p("VPROLVD Z%d, Z%d, Z30", c.rot, c.qh)
			p("VPTERNLOGD $0xf8, Z19, Z30, Z%d", c.line)
		}
		p("VPUNPCKLDQ Z26, Z24, Z20")
		p("VPUNPCKHDQ Z26, Z24, Z21")
		p("VPUNPCKLDQ Z27, Z25, Z22")
		p("VPUNPCKHDQ Z27, Z25, Z23")
		p("VPUNPCKLQDQ Z22, Z20, Z24")
		p("VPUNPCKHQDQ Z22, Z20, Z25")
		p("VPUNPCKLQDQ Z23, Z21, Z26")
		p("VPUNPCKHQDQ Z23, Z21, Z27")
		for k := 0; k < 4; k++ {
			p("VMOVDQU64 Z%d, %d(DI)", 24+k, pwLines+64*(4*k+r))
		}
		p("VPMOVSXBD %s, Z30", at(q6Sc, w))
		p("VPERMD Z30, Z31, Z30")
		p("VMOVDQU64 Z30, %d(DI)", pwScales+64*r)
	}
	p("MOVWLZX %s, AX", at(q6D, wRow[0]))
	p("VMOVD AX, X1")
	for r := 1; r < 4; r++ {
		p("VPINSRW $%d, %s, X1, X1", r, at(q6D, wRow[r]))
	}
	p("VCVTPH2PS X1, X1")
	p("VSHUFF32X4 $0, Z1, Z1, Z1")
	p("VMOVUPS Z1, %d(DI)", pwD)
	p("ADDQ $%d, SI", q6Block)
	p("ADDQ $%d, R13", q6Block)
	p("ADDQ $%d, DI", pwBlock)
	p("DECQ CX")
	p("JNZ %s_loop", fn)
	label(fn + "_done")
	p("VZEROUPPER")
	p("RET")
}

// genPackedX4 writes tileQ6_KPackedx4AVX512(w, a *byte, nb int, out
// *float32, ostride int): one packed weight group against one packed
// activation group; out[i*ostride+r].
func genPackedX4() {
	fn := "tileQ6_KPackedx4AVX512"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-40\n", fn)
	p("MOVQ w+0(FP), SI")
	p("MOVQ a+8(FP), DI")
	p("MOVQ nb+16(FP), CX")
	p("VPXORD Z31, Z31, Z31")
	p("TESTQ CX, CX")
	p("JZ %s_done", fn)
	label(fn + "_loop")
	for r := 0; r < 4; r++ {
		for i := 0; i < 4; i++ {
			p("VMOVDQU64 %d(DI), Z%d", paCorr+64*i, 4*r+i)
		}
	}
	for k := 0; k < 4; k++ {
		for i := 0; i < 4; i++ {
			p("VMOVDQU64 %d(DI), Z%d", paLines+64*(4*k+i), 20+i)
		}
		for r := 0; r < 4; r++ {
			p("VMOVDQU64 %d(SI), Z24", pwLines+64*(4*k+r))
			for i := 0; i < 4; i++ {
				p("VPDPBUSD Z%d, Z24, Z%d", 20+i, 4*r+i)
			}
		}
	}
	for r := 0; r < 4; r++ {
		p("VMOVDQU64 %d(SI), Z24", pwScales+64*r)
		for i := 0; i < 4; i++ {
			p("VPMULLD Z24, Z%d, Z%d", 4*r+i, 4*r+i)
		}
	}
	tree16()
	p("VMOVUPS %d(SI), Z1", pwD)
	p("VMULPS %d(DI), Z1, Z1", paDA)
	p("VCVTDQ2PS Z0, Z0")
	p("VFMADD231PS Z1, Z0, Z31")
	p("ADDQ $%d, SI", pwBlock)
	p("ADDQ $%d, DI", paBlock)
	p("DECQ CX")
	p("JNZ %s_loop", fn)
	label(fn + "_done")
	p("MOVQ out+24(FP), AX")
	p("MOVQ ostride+32(FP), R8")
	p("SHLQ $2, R8")
	for i := 0; i < 4; i++ {
		p("VEXTRACTF32X4 $%d, Z31, X24", i)
		p("VMOVUPS X24, (AX)")
		if i < 3 {
			p("ADDQ R8, AX")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

func data(name string, bytes []byte) {
	for i := 0; i < len(bytes); i += 8 {
		var v uint64
		for j := 0; j < 8; j++ {
			v |= uint64(bytes[i+j]) << (8 * j)
		}
		fmt.Fprintf(&out, "DATA %s<>+%d(SB)/8, $0x%016x\n", name, i, v)
	}
	fmt.Fprintf(&out, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n", name, len(bytes))
}

func dwords(vals ...int) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return b
}

func rep(v, n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = v
	}
	return r
}

func main() {
	out.WriteString("// Code generated by kquant6_gen.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n")
	genPrepA()
	genPrepW()
	genPackedX4()
	out.WriteString("\n")
	// Lane L = 4c + m of a line holds sub-block sub(L): dword m of 128-bit
	// lane c of ql half m/2's low (m even) or high nibbles, which hold
	// sub-block 8h + 2kk + c%2 with kk = c/2 (low) or 2 + c/2 (high).
	var sub []int
	for l := 0; l < 16; l++ {
		c, m := l/4, l%4
		sub = append(sub, 8*(m/2)+2*(c/2+2*(m%2))+c%2)
	}
	data("kq6_sub", dwords(sub...))
	// Values 4k..4k+3 of sub-block sub(L) are natural dword 4sub(L)+k, of
	// the first 128 values or (K1's lanes) the last, mod 32.
	for k := 0; k < 4; k++ {
		var idx []int
		for l := 0; l < 16; l++ {
			idx = append(idx, (4*sub[l]+k)%32)
		}
		data(fmt.Sprintf("kq6_gather%d", k), dwords(idx...))
	}
	// qh bits 2kk, 2kk+1 to bits 4, 5: rotate left by 4 − 2kk (mod 32).
	var rotLo, rotHi []int
	for l := 0; l < 16; l++ {
		c := l / 4
		rotLo = append(rotLo, (4-2*(c/2)+32)%32)
		rotHi = append(rotHi, (4-2*(2+c/2)+32)%32)
	}
	data("kq6_rotLo", dwords(rotLo...))
	data("kq6_rotHi", dwords(rotHi...))
	data("kq6_nib", dwords(rep(0x0f0f0f0f, 16)...))
	data("kq6_top2", dwords(rep(0x30303030, 16)...))
	if err := os.WriteFile("kquant6_amd64.s", []byte(out.String()), 0o644); err != nil {
		panic(err)
	}
}
