//go:build ignore

// kquant45_gen writes kquant45_amd64.s, the AVX-512 (BW, VNNI) tile kernels
// for Q4_K and Q5_K weights against Q8_K activations: go run kquant45_gen.go.
//
// Per 256-value block and (weight row, activation row) pair the kernels form
// the twin's exact integers isum = Σ_j s_j·Σ q·a and summs = Σ_j m_j·bsums
// as 16 int32 lanes each, reduce many pairs at once in a transpose-add tree,
// and then run the twin's two float32 FMAs per block with one pair per lane.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

var out bytes.Buffer

func emit(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(s string)                  { fmt.Fprintf(&out, "%s:\n", s) }

// kind describes one weight type.
type kind struct {
	name      string
	blockSize int // bytes per block
	qsOffs    int
	qhOffs    int // 0: no fifth bits
}

var (
	q4K = kind{"Q4_K", 144, 16, 0}
	q5K = kind{"Q5_K", 176, 48, 16}
)

const (
	q8KBlock = 292
	q8KQs    = 4
	q8KBsums = 260
)

// Activation and weight row addresses: row r of 4.
var wRow = [4]string{"(SI)", "(SI)(BX*1)", "(SI)(BX*2)", "(SI)(R10*1)"}
var aRow = [4]string{"(DI)", "(DI)(DX*1)", "(DI)(DX*2)", "(DI)(R11*1)"}

func at(off int, row string) string { return fmt.Sprintf("%d%s", off, row) }

// decodeScales unpacks weight row j's 12 scale bytes into 16 words at
// j*64(SP): words 0..7 the scales s_0..s_7, 8..15 the mins m_0..m_7; and
// inserts the row's d, dmin into dword j of X31.
func decodeScales(j int) { decodeScalesTo(j, 64*j, true) }

// decodeScaleBytes unpacks weight row j's 12 scale bytes into X24 as bytes
// s_0..s_7, m_0..m_7 and inserts the row's d, dmin into dword j of X31.
func decodeScaleBytes(j int) {
	r := wRow[j]
	emit("MOVQ %s, AX", at(4, r))
	emit("MOVL %s, R8", at(12, r))
	emit("MOVQ R8, R9")
	emit("SHLQ $28, R9")
	emit("ORQ R8, R9")
	emit("ANDQ ·kq45Nib(SB), R9")
	emit("MOVQ AX, R12")
	emit("SHRQ $2, R12")
	emit("ANDQ ·kq45Top(SB), R12")
	emit("ORQ R12, R9")
	emit("ANDQ ·kq45Low6(SB), AX")
	emit("VMOVQ AX, X24")
	emit("VMOVQ R9, X25")
	emit("VPUNPCKLDQ X25, X24, X24")
	if j == 0 {
		emit("VMOVD %s, X31", at(0, r))
	} else {
		emit("VPINSRD $%d, %s, X31, X31", j, at(0, r))
	}
}

// decodeScalesTo is decodeScales storing the 16 words at off(SP) (as a ymm
// when !wide).
func decodeScalesTo(j, off int, wide bool) {
	r := wRow[j]
	emit("MOVQ %s, AX", at(4, r))  // u: scale bytes 0..7
	emit("MOVL %s, R8", at(12, r)) // v: bytes 8..11
	emit("MOVQ R8, R9")
	emit("SHLQ $28, R9")
	emit("ORQ R8, R9")
	emit("ANDQ ·kq45Nib(SB), R9") // low nibbles of v (scales 4..7) | high nibbles << 32 (mins 4..7)
	emit("MOVQ AX, R12")
	emit("SHRQ $2, R12")
	emit("ANDQ ·kq45Top(SB), R12") // top two bits of bytes 0..7 at bits 4, 5
	emit("ORQ R12, R9")            // H: scales 4..7 | mins 4..7 << 32
	emit("ANDQ ·kq45Low6(SB), AX") // L: scales 0..3 | mins 0..3 << 32
	emit("VMOVQ AX, X24")
	emit("VMOVQ R9, X25")
	emit("VPUNPCKLDQ X25, X24, X24") // scales 0..7, mins 0..7 as bytes
	emit("VPMOVZXBW X24, Y24")
	if wide {
		emit("VMOVDQU64 Z24, %d(SP)", off)
	} else {
		emit("VMOVDQU64 Y24, %d(SP)", off)
	}
	if j == 0 {
		emit("VMOVD %s, X31", at(0, r))
	} else {
		emit("VPINSRD $%d, %s, X31, X31", j, at(0, r))
	}
}

// unpackWeights loads 64 levels of weight row j for sub-blocks 2k, 2k+1 into
// Z24 (bytes 0..31 sub-block 2k, 32..63 sub-block 2k+1).
func unpackWeights(kd kind, j, k int) {
	r := wRow[j]
	emit("VBROADCASTI64X4 %s, Z24", at(kd.qsOffs+32*k, r))
	emit("VPSRLVW Z17, Z24, Z24")
	emit("VPANDD Z18, Z24, Z24")
	if kd.qhOffs != 0 {
		emit("VBROADCASTI64X4 %s, Z29", at(kd.qhOffs, r))
		emit("VPTESTMB ·kq45HighBit+%d(SB), Z29, K1", 64*k)
		emit("VPADDB ·kq45Sixteen(SB), Z24, K1, Z24")
	}
}

// Lane simulation of the reduction tree, to place the accumulators.
type vec [16][]int // lane -> input slots contributing

func shufI64x2(imm int, a, b vec) (r vec) { // Intel: dst = (a sel, a sel, b sel, b sel)
	for l := 0; l < 4; l++ {
		src := a
		if l >= 2 {
			src = b
		}
		sel := imm >> (2 * l) & 3
		for d := 0; d < 4; d++ {
			r[4*l+d] = src[4*sel+d]
		}
	}
	return
}

func unpack(lo, qword bool, a, b vec) (r vec) {
	for l := 0; l < 4; l++ {
		base := 4 * l
		off := 0
		if !lo {
			off = 2
		}
		if qword {
			r[base+0], r[base+1] = a[base+off], a[base+off+1]
			r[base+2], r[base+3] = b[base+off], b[base+off+1]
		} else {
			r[base+0], r[base+1] = a[base+off], b[base+off]
			r[base+2], r[base+3] = a[base+off+1], b[base+off+1]
		}
	}
	return
}

func add(a, b vec) (r vec) {
	for l := range r {
		r[l] = append(append([]int{}, a[l]...), b[l]...)
	}
	return
}

// treeFromA emits levels B, C, D on Z[regs[0..7]] (each in level-A form) and
// leaves the result in Z[regs[0]]; t1, t2 are scratch.
func treeFromA(regs [8]int, t1, t2 int) {
	for s := 0; s < 4; s++ {
		a, b := regs[s], regs[s+4]
		emit("VSHUFI64X2 $0x88, Z%d, Z%d, Z%d", b, a, t1)
		emit("VSHUFI64X2 $0xdd, Z%d, Z%d, Z%d", b, a, t2)
		emit("VPADDD Z%d, Z%d, Z%d", t2, t1, a)
	}
	for s := 0; s < 2; s++ {
		a, b := regs[s], regs[s+2]
		emit("VPUNPCKLDQ Z%d, Z%d, Z%d", b, a, t1)
		emit("VPUNPCKHDQ Z%d, Z%d, Z%d", b, a, t2)
		emit("VPADDD Z%d, Z%d, Z%d", t2, t1, a)
	}
	a, b := regs[0], regs[1]
	emit("VPUNPCKLQDQ Z%d, Z%d, Z%d", b, a, t1)
	emit("VPUNPCKHQDQ Z%d, Z%d, Z%d", b, a, t2)
	emit("VPADDD Z%d, Z%d, Z%d", t2, t1, a)
}

func simTreeFromA(v [8]vec) vec {
	for s := 0; s < 4; s++ {
		v[s] = add(shufI64x2(0x88, v[s], v[s+4]), shufI64x2(0xdd, v[s], v[s+4]))
	}
	for s := 0; s < 2; s++ {
		v[s] = add(unpack(true, false, v[s], v[s+2]), unpack(false, false, v[s], v[s+2]))
	}
	return add(unpack(true, true, v[0], v[1]), unpack(false, true, v[0], v[1]))
}

// slotOfLane[p] is the accumulator (input slot of the 16-vector tree) whose
// sum lands in lane p.
var slotOfLane [16]int

func placeSlots() {
	var in [16]vec
	for s := range in {
		for l := range in[s] {
			in[s][l] = []int{s}
		}
	}
	var a [8]vec
	for s := 0; s < 8; s++ {
		a[s] = add(shufI64x2(0x44, in[s], in[s+8]), shufI64x2(0xee, in[s], in[s+8]))
	}
	r := simTreeFromA(a)
	for p, srcs := range r {
		if len(srcs) != 16 {
			panic("tree: lane has wrong count")
		}
		for _, s := range srcs {
			if s != srcs[0] {
				panic("tree: lane mixes slots")
			}
		}
		slotOfLane[p] = srcs[0]
	}
}

// genX4 writes the 4x4 tile kernel: lane p = 4i + j of the result is
// activation row i against weight row j.
func genX4(kd kind) {
	fn := "tile" + kd.name + "x4AVX512"
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $256-56\n", fn)
	prologue()
	emit("LEAQ (DX)(DX*2), R11")
	emit("VPXORD Z16, Z16, Z16")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	for j := 0; j < 4; j++ {
		decodeScales(j)
	}
	slot := func(i, j int) int {
		for p, s := range slotOfLane {
			if p == 4*i+j {
				return s
			}
		}
		panic("no slot")
	}
	for s := 0; s < 16; s++ {
		emit("VPXORD Z%d, Z%d, Z%d", s, s, s)
	}
	// Activations are loaded once per k (the blocks are not 64-byte
	// aligned: a memory operand per use would split lines 4 times over).
	actReg := [4]int{27, 28, 30, 23}
	for k := 0; k < 4; k++ {
		for i := 0; i < 4; i++ {
			emit("VMOVDQU8 %s, Z%d", at(q8KQs+64*k, aRow[i]), actReg[i])
		}
		for j := 0; j < 4; j++ {
			unpackWeights(kd, j, k)
			emit("VPERMW %d(SP), Z%d, Z25", 64*j, 19+k)
			for i := 0; i < 4; i++ {
				emit("VPMADDUBSW Z%d, Z24, Z26", actReg[i])
				emit("VPDPWSSD Z25, Z26, Z%d", slot(i, j))
			}
		}
	}
	// isum: level A then the rest of the tree, into Z0.
	for s := 0; s < 8; s++ {
		emit("VSHUFI64X2 $0x44, Z%d, Z%d, Z24", s+8, s)
		emit("VSHUFI64X2 $0xee, Z%d, Z%d, Z25", s+8, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	treeFromA([8]int{0, 1, 2, 3, 4, 5, 6, 7}, 24, 25)
	// summs: bsums of activation rows (0, 1) and (2, 3) in the two halves,
	// against each weight row's mins; in level-A form: Z(8+s) holds lane
	// slots s and s+8.
	emit("VMOVDQU64 %s, Y26", at(q8KBsums, aRow[0]))
	emit("VINSERTI64X4 $1, %s, Z26, Z26", at(q8KBsums, aRow[1]))
	emit("VMOVDQU64 %s, Y27", at(q8KBsums, aRow[2]))
	emit("VINSERTI64X4 $1, %s, Z27, Z27", at(q8KBsums, aRow[3]))
	emit("VMOVDQU32 ·kq45IdxMin(SB), Z23")
	for j := 0; j < 4; j++ {
		emit("VPERMW %d(SP), Z23, Z25", 64*j)
		s0, s2 := slot(0, j), slot(2, j)
		if slot(1, j) != s0+8 || slot(3, j) != s2+8 || s0 >= 8 || s2 >= 8 {
			panic("summs pairing does not match the tree")
		}
		emit("VPMADDWD Z25, Z26, Z%d", 8+s0)
		emit("VPMADDWD Z25, Z27, Z%d", 8+s2)
	}
	treeFromA([8]int{8, 9, 10, 11, 12, 13, 14, 15}, 24, 25)
	// Scales per lane: d_j·da_i and dmin_j·da_i, rounded as the twin.
	emit("VCVTPH2PS X31, Y31") // d0, dmin0, d1, dmin1, ...
	emit("VMOVD %s, X30", at(0, aRow[0]))
	emit("VPINSRD $1, %s, X30, X30", at(0, aRow[1]))
	emit("VPINSRD $2, %s, X30, X30", at(0, aRow[2]))
	emit("VPINSRD $3, %s, X30, X30", at(0, aRow[3]))
	emit("VMOVDQU32 ·kq45IdxDA(SB), Z24")
	emit("VPERMPS Z30, Z24, Z30") // da_(p/4)
	emit("VMOVDQU32 ·kq45IdxD(SB), Z24")
	emit("VPERMPS Z31, Z24, Z25") // d_(p%4)
	emit("VMULPS Z25, Z30, Z25")
	emit("VMOVDQU32 ·kq45IdxDmin(SB), Z24")
	emit("VPERMPS Z31, Z24, Z26")
	emit("VMULPS Z26, Z30, Z26")
	emit("VCVTDQ2PS Z0, Z0")
	emit("VCVTDQ2PS Z8, Z8")
	emit("VFMADD231PS Z25, Z0, Z16")
	emit("VFNMADD231PS Z26, Z8, Z16")
	emit("ADDQ $%d, SI", kd.blockSize)
	emit("ADDQ $%d, DI", q8KBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("MOVQ out+40(FP), AX")
	emit("MOVQ ostride+48(FP), R8")
	emit("SHLQ $2, R8")
	for i := 0; i < 4; i++ {
		emit("VEXTRACTF32X4 $%d, Z16, X24", i)
		emit("VMOVUPS X24, (AX)")
		if i < 3 {
			emit("ADDQ R8, AX")
		}
	}
	emit("VZEROUPPER")
	emit("RET")
}

func prologue() {
	emit("MOVQ w+0(FP), SI")
	emit("MOVQ wstride+8(FP), BX")
	emit("MOVQ a+16(FP), DI")
	emit("MOVQ astride+24(FP), DX")
	emit("MOVQ nb+32(FP), CX")
	emit("LEAQ (BX)(BX*2), R10")
	emit("VMOVDQU32 ·kq45Shift(SB), Z17")
	emit("VPBROADCASTB ·kq45Nib(SB), Z18")
	for k := 0; k < 4; k++ {
		emit("VMOVDQU32 ·kq45IdxScale+%d(SB), Z%d", 64*k, 19+k)
	}
	emit("VMOVDQU32 ·kq45IdxMin(SB), Z23")
}

// prefetchNextTile prefetches the next 4x1 tile's weights (4 rows on) in
// order, 4 blocks' bytes an iteration from R13: decode streams through the
// rows 4 at a time, each row too few lines (18 for 2048 values) for the
// hardware prefetchers to follow, while the tile's rows, back to back in a
// matrix, are one run of lines.
func prefetchNextTile(kd kind) {
	for off := 0; off < 4*kd.blockSize; off += 64 {
		emit("PREFETCHT0 %d(R13)", off)
	}
	emit("ADDQ $%d, R13", 4*kd.blockSize)
}

// x1Sub[k] is the first sub-block of the 4x1 tile's vector k (the other is
// x1Sub[k]+2).
var x1Sub = [4]int{0, 1, 4, 5}

// genX1 writes the 4x1 kernel: weight rows j = 0..3 against one activation
// row; out[j].
func genX1(kd kind) {
	fn := "tile" + kd.name + "x1AVX512"
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", fn)
	prologue()
	for k := 0; k < 4; k++ {
		emit("VMOVDQU32 ·kq45ShufScale+%d(SB), Z%d", 64*k, 19+k)
	}
	emit("VMOVDQU32 ·kq45ShufMin(SB), Z23")
	emit("VPXORD X16, X16, X16")
	emit("LEAQ (SI)(BX*4), R13")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	prefetchNextTile(kd)
	// Row j's scale and min bytes in every 128-bit lane of Z(12+j): VPSHUFB
	// spreads them to words (VPERMW from memory costs more).
	for j := 0; j < 4; j++ {
		decodeScaleBytes(j)
		emit("VSHUFI32X4 $0, Z24, Z24, Z%d", 12+j)
	}
	for j := 0; j < 4; j++ {
		emit("VPXORD Z%d, Z%d, Z%d", j, j, j)
	}
	// Vector k (0..3) holds sub-blocks x1Sub[k] (256-bit half 0) and
	// x1Sub[k]+2 (half 1): the low (k even) or high nibbles of 64 bytes of
	// qs, as loaded. The activations are gathered to match once a block,
	// into Z(4+k).
	for k := 0; k < 4; k++ {
		sb := x1Sub[k]
		emit("VMOVDQU8 %s, Y%d", at(q8KQs+32*sb, aRow[0]), 4+k)
		emit("VINSERTI64X4 $1, %s, Z%d, Z%d", at(q8KQs+32*sb+64, aRow[0]), 4+k, 4+k)
	}
	for j := 0; j < 4; j++ {
		r := wRow[j]
		if kd.qhOffs != 0 {
			emit("VBROADCASTI64X4 %s, Z29", at(kd.qhOffs, r))
		}
		for h := 0; h < 2; h++ {
			emit("VMOVDQU8 %s, Z24", at(kd.qsOffs+64*h, r))
			emit("VPSRLW $4, Z24, Z27")
			emit("VPANDD Z18, Z24, Z24")
			emit("VPANDD Z18, Z27, Z27")
			for e, wr := range []int{24, 27} {
				k := 2*h + e
				if kd.qhOffs != 0 {
					emit("VPTESTMB ·kq45HighBitX1+%d(SB), Z29, K1", 64*k)
					emit("VPADDB ·kq45Sixteen(SB), Z%d, K1, Z%d", wr, wr)
				}
				emit("VPSHUFB Z%d, Z%d, Z25", 19+k, 12+j)
				emit("VPMADDUBSW Z%d, Z%d, Z26", 4+k, wr)
				emit("VPDPWSSD Z25, Z26, Z%d", j)
			}
		}
	}
	// Level A: Z0 = (row 0 | row 1), Z2 = (row 2 | row 3).
	for _, s := range []int{0, 2} {
		emit("VSHUFI64X2 $0x44, Z%d, Z%d, Z24", s+1, s)
		emit("VSHUFI64X2 $0xee, Z%d, Z%d, Z25", s+1, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	// summs in the same form: Z4 = (row 0 | row 1), Z6 = (row 2 | row 3).
	emit("VBROADCASTI64X4 %s, Z26", at(q8KBsums, aRow[0]))
	for j := 0; j < 4; j++ {
		emit("VPSHUFB Z23, Z%d, Z%d", 12+j, 8+j)
	}
	emit("VINSERTI64X4 $1, Y9, Z8, Z8")
	emit("VINSERTI64X4 $1, Y11, Z10, Z10")
	emit("VPMADDWD Z8, Z26, Z4")
	emit("VPMADDWD Z10, Z26, Z6")
	// Level B: 128-bit lane j holds row j.
	for _, s := range []int{0, 4} {
		emit("VSHUFI64X2 $0x88, Z%d, Z%d, Z24", s+2, s)
		emit("VSHUFI64X2 $0xdd, Z%d, Z%d, Z25", s+2, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	// Level C, D: dwords 0, 1 of lane j are isum_j, summs_j.
	emit("VPUNPCKLDQ Z4, Z0, Z24")
	emit("VPUNPCKHDQ Z4, Z0, Z25")
	emit("VPADDD Z25, Z24, Z0")
	emit("VPSHUFD $0x4e, Z0, Z24")
	emit("VPADDD Z24, Z0, Z0")
	emit("VMOVDQU32 ·kq45IdxX1(SB), Z24")
	emit("VPERMD Z0, Z24, Z0") // isum_0..3, summs_0..3
	emit("VCVTDQ2PS Y0, Y0")
	emit("VCVTPH2PS X31, Y31")
	emit("VMOVDQU32 ·kq45IdxX1Scales(SB), Y24")
	emit("VPERMPS Y31, Y24, Y31") // d_0..3, dmin_0..3
	emit("VBROADCASTSS %s, Y30", at(0, aRow[0]))
	emit("VMULPS Y31, Y30, Y31")
	emit("VEXTRACTF32X4 $1, Y0, X1")
	emit("VEXTRACTF32X4 $1, Y31, X2")
	emit("VFMADD231PS X31, X0, X16")
	emit("VFNMADD231PS X2, X1, X16")
	emit("ADDQ $%d, SI", kd.blockSize)
	emit("ADDQ $%d, DI", q8KBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("MOVQ out+40(FP), AX")
	emit("VMOVUPS X16, (AX)")
	emit("VZEROUPPER")
	emit("RET")
}

// Packed layouts (the batch path, kquant45_amd64.go): weights and
// activations are re-laid out once per DotTile call so that each 64-byte
// line k of a block holds, in dword lane L = 4c+m, four values of
// sub-block kq45Sub(L) (values 16(c%2)+4k..+3 of it; inLaneLines). VPDPBUSD
// then sums a whole block per sub-block in the same lanes, and one VPMULLD
// by the scales finishes isum's lanes: half the multiplies of the tile above.
const (
	pwLevels = 0    // (4k+j)*64: row j's levels of line k
	pwScales = 1024 // 64j: row j's scale s_kq45Sub(L) in dword L
	pwMins   = 1280 // 16s+4j: m_j[s] in both words
	pwD      = 1408 // lane p = 4i+j: d_j
	pwDmin   = 1472 // lane p: dmin_j
	pwBlock  = 1536
	paQuants = 0    // (4k+i)*64: row i's quants of line k
	paBsums  = 1024 // 64s + 16i: row i's bsums 2s, 2s+1 (as a dword, 4 times)
	paDA     = 1536 // 16i: row i's d, 4 times
	paBlock  = 1600
)

// inLaneLines leaves the 4 packed lines of weight row r's block in
// Z24..Z27 (temps Z19..Z22, Z29; Z18 the nibble mask): each 128-bit lane c
// of the low (A, C) and high (B, D) nibbles of qs's two halves holds 16
// values of one sub-block, and a dword transpose within the lanes makes
// line k of dword k of A, B, C, D, so that dword L = 4c + m of every line
// holds sub-block kq45Sub(L): no lane-crossing permutes.
func inLaneLines(kd kind, r string) {
	emit("VMOVDQU64 %s, Z24", at(kd.qsOffs, r))
	emit("VMOVDQU64 %s, Z25", at(kd.qsOffs+64, r))
	emit("VPSRLW $4, Z24, Z26")
	emit("VPSRLW $4, Z25, Z27")
	for z := 24; z < 28; z++ {
		emit("VPANDD Z18, Z%d, Z%d", z, z)
	}
	if kd.qhOffs != 0 {
		emit("VBROADCASTI64X4 %s, Z29", at(kd.qhOffs, r))
		for x, z := range []int{24, 26, 25, 27} {
			emit("VPTESTMB ·kq45HighBitL+%d(SB), Z29, K1", 64*x)
			emit("VPADDB ·kq45Sixteen(SB), Z%d, K1, Z%d", z, z)
		}
	}
	emit("VPUNPCKLDQ Z26, Z24, Z19")
	emit("VPUNPCKHDQ Z26, Z24, Z20")
	emit("VPUNPCKLDQ Z27, Z25, Z21")
	emit("VPUNPCKHDQ Z27, Z25, Z22")
	emit("VPUNPCKLQDQ Z21, Z19, Z24")
	emit("VPUNPCKHQDQ Z21, Z19, Z25")
	emit("VPUNPCKLQDQ Z22, Z20, Z26")
	emit("VPUNPCKHQDQ Z22, Z20, Z27")
}

// kq45Sub is the sub-block of dword lane L = 4c + m of a packed line
// (inLaneLines): qs half m/2's 128-bit lane c holds pair 2(m/2) + c/2, its
// low nibbles (m even) the pair's first sub-block, its high ones the second.
func kq45Sub(l int) int {
	c, m := l/4, l%4
	return 2*(2*(m/2)+c/2) + m%2
}

// genPrepW writes prepKIND_W4AVX512(dst, w *byte, wstride, nb int): 4 weight
// rows of nb blocks into the packed layout.
func genPrepW(kd kind) {
	fn := "prep" + kd.name + "W4AVX512"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, w *byte, wstride int, nb int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $128-32\n", fn)
	emit("MOVQ dst+0(FP), DI")
	emit("MOVQ w+8(FP), SI")
	emit("MOVQ wstride+16(FP), BX")
	emit("MOVQ nb+24(FP), CX")
	emit("LEAQ (BX)(BX*2), R10")
	emit("LEAQ (SI)(BX*4), R13")
	emit("VPBROADCASTB ·kq45Nib(SB), Z18")
	emit("VMOVDQU32 ·kq45IdxSub(SB), Z23")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	// The next group's weights (4 rows on), into L2 while this group's are
	// packed: a batch streams each weight row from memory once.
	for _, row := range []string{"(R13)", "(R13)(BX*1)", "(R13)(BX*2)", "(R13)(R10*1)"} {
		for off := 0; off < kd.blockSize; off += 64 {
			emit("PREFETCHT1 %s", at(off, row))
		}
		emit("PREFETCHT1 %s", at(kd.blockSize-1, row))
	}
	for j := 0; j < 4; j++ {
		decodeScalesTo(j, 32*j, false)
		inLaneLines(kd, wRow[j])
		for k := 0; k < 4; k++ {
			emit("VMOVDQU64 Z%d, %d(DI)", 24+k, pwLevels+64*(4*k+j))
		}
		emit("VPMOVZXWD %d(SP), Z26", 32*j)
		emit("VPERMD Z26, Z23, Z26")
		emit("VMOVDQU64 Z26, %d(DI)", pwScales+64*j)
	}
	emit("VMOVDQU64 0(SP), Z25")
	for h := 0; h < 2; h++ {
		emit("VMOVDQU64 ·kq45IdxM+%d(SB), Z24", 64*h)
		emit("VPERMI2W 64(SP), Z25, Z24")
		emit("VMOVDQU64 Z24, %d(DI)", pwMins+64*h)
	}
	emit("VCVTPH2PS X31, Y31")
	emit("VMOVDQU32 ·kq45IdxD(SB), Z24")
	emit("VPERMPS Z31, Z24, Z25")
	emit("VMOVUPS Z25, %d(DI)", pwD)
	emit("VMOVDQU32 ·kq45IdxDmin(SB), Z24")
	emit("VPERMPS Z31, Z24, Z25")
	emit("VMOVUPS Z25, %d(DI)", pwDmin)
	emit("ADDQ $%d, SI", kd.blockSize)
	emit("ADDQ $%d, R13", kd.blockSize)
	emit("ADDQ $%d, DI", pwBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("VZEROUPPER")
	emit("RET")
}

// genPrepA writes prepQ8_KA4AVX512(dst, a *byte, astride, nb int): 4
// activation rows of nb Q8_K blocks into the packed layout.
func genPrepA() {
	fn := "prepQ8_KA4AVX512"
	fmt.Fprintf(&out, "\n// func %s(dst *byte, a *byte, astride int, nb int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", fn)
	emit("MOVQ dst+0(FP), SI")
	emit("MOVQ a+8(FP), DI")
	emit("MOVQ astride+16(FP), DX")
	emit("MOVQ nb+24(FP), CX")
	emit("LEAQ (DX)(DX*2), R11")
	for k := 0; k < 4; k++ {
		emit("VMOVDQU32 ·kq45GatherA+%d(SB), Z%d", 64*k, 16+k)
	}
	// K1: the lanes whose sub-block is in values 128..255.
	emit("MOVW $0xcccc, AX")
	emit("KMOVW AX, K1")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	for i := 0; i < 4; i++ {
		r := aRow[i]
		for h := 0; h < 4; h++ {
			emit("VMOVDQU64 %s, Z%d", at(q8KQs+64*h, r), 24+h)
		}
		for k := 0; k < 4; k++ {
			emit("VMOVDQA64 Z%d, Z28", 16+k)
			emit("VPERMI2D Z25, Z24, Z28")
			emit("VMOVDQA64 Z%d, Z29", 16+k)
			emit("VPERMI2D Z27, Z26, Z29")
			emit("VMOVDQA32 Z29, K1, Z28")
			emit("VMOVDQU64 Z28, %d(SI)", paQuants+64*(4*k+i))
		}
		for s := 0; s < 8; s++ {
			emit("VPBROADCASTD %s, X24", at(q8KBsums+4*s, r))
			emit("VMOVDQU32 X24, %d(SI)", paBsums+64*s+16*i)
		}
		emit("VBROADCASTSS %s, X24", at(0, r))
		emit("VMOVUPS X24, %d(SI)", paDA+16*i)
	}
	emit("ADDQ $%d, DI", q8KBlock)
	emit("ADDQ $%d, SI", paBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("VZEROUPPER")
	emit("RET")
}

// genPackedX4 writes tileKPackedx4AVX512(w, a *byte, nb int, out *float32,
// ostride int): one packed weight group against one packed activation group.
func genPackedX4() {
	fn := "tileKPackedx4AVX512"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-40\n", fn)
	emit("MOVQ w+0(FP), SI")
	emit("MOVQ a+8(FP), DI")
	emit("MOVQ nb+16(FP), CX")
	emit("VPXORD Z16, Z16, Z16")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	for s := 0; s < 16; s++ {
		emit("VPXORD Z%d, Z%d, Z%d", s, s, s)
	}
	for k := 0; k < 4; k++ {
		for i := 0; i < 4; i++ {
			emit("VMOVDQU64 %d(DI), Z%d", paQuants+64*(4*k+i), 20+i)
		}
		for j := 0; j < 4; j++ {
			emit("VMOVDQU64 %d(SI), Z24", pwLevels+64*(4*k+j))
			for i := 0; i < 4; i++ {
				emit("VPDPBUSD Z%d, Z24, Z%d", 20+i, slotOf(i, j))
			}
		}
	}
	for j := 0; j < 4; j++ {
		emit("VMOVDQU64 %d(SI), Z%d", pwScales+64*j, 20+j)
		for i := 0; i < 4; i++ {
			emit("VPMULLD Z%d, Z%d, Z%d", 20+j, slotOf(i, j), slotOf(i, j))
		}
	}
	for s := 0; s < 8; s++ {
		emit("VSHUFI64X2 $0x44, Z%d, Z%d, Z24", s+8, s)
		emit("VSHUFI64X2 $0xee, Z%d, Z%d, Z25", s+8, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	treeFromA([8]int{0, 1, 2, 3, 4, 5, 6, 7}, 24, 25)
	packedX4Tail(fn)
}

// packedX4Tail writes the packed 4x4 tiles' end: with the integer sums
// reduced into Z0 (lane 4i+j: activation row i, weight row j), the mins
// against the bsums and the twin's two FMAs, the loop and the stores.
func packedX4Tail(fn string) {
	for s := 0; s < 8; s++ {
		emit("VBROADCASTI32X4 %d(SI), Z25", pwMins+16*s)
		if s == 0 {
			emit("VPMADDWD %d(DI), Z25, Z8", paBsums+64*s)
		} else {
			emit("VPDPWSSD %d(DI), Z25, Z8", paBsums+64*s)
		}
	}
	emit("VMOVUPS %d(DI), Z26", paDA)
	emit("VMULPS %d(SI), Z26, Z24", pwD)
	emit("VMULPS %d(SI), Z26, Z25", pwDmin)
	emit("VCVTDQ2PS Z0, Z0")
	emit("VCVTDQ2PS Z8, Z8")
	emit("VFMADD231PS Z24, Z0, Z16")
	emit("VFNMADD231PS Z25, Z8, Z16")
	emit("ADDQ $%d, SI", pwBlock)
	emit("ADDQ $%d, DI", paBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("MOVQ out+24(FP), AX")
	emit("MOVQ ostride+32(FP), R8")
	emit("SHLQ $2, R8")
	for i := 0; i < 4; i++ {
		emit("VEXTRACTF32X4 $%d, Z16, X24", i)
		emit("VMOVUPS X24, (AX)")
		if i < 3 {
			emit("ADDQ R8, AX")
		}
	}
	emit("VZEROUPPER")
	emit("RET")
}

// genX4PackedA writes tileKIND_x4PackedAAVX512(w *byte, wstride int, a
// *byte, nb int, out *float32, ostride int): 4 raw weight rows against one
// packed group of 4 activation rows (prepQ8_KA4AVX512's layout), the
// weights brought into the packed layout in registers as they are read.
// The batch of a few decode streams has too few activation rows to repay
// packing the weights in memory (genPrepW), yet VPDPBUSD over whole-block
// lanes halves the multiplies of the 4x4 tile.
func genX4PackedA(kd kind) {
	nextRow := [4]string{"(R13)", "(R13)(BX*1)", "(R13)(BX*2)", "(R13)(R10*1)"}
	fn := "tile" + kd.name + "x4PackedAAVX512"
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $512-48\n", fn)
	emit("MOVQ w+0(FP), SI")
	emit("MOVQ wstride+8(FP), BX")
	emit("MOVQ a+16(FP), DI")
	emit("MOVQ nb+24(FP), CX")
	emit("LEAQ (BX)(BX*2), R10")
	emit("LEAQ (SI)(BX*4), R13")
	emit("VPBROADCASTB ·kq45Nib(SB), Z18")
	emit("VMOVDQU32 ·kq45IdxSub(SB), Z23")
	emit("VPXORD Z16, Z16, Z16")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	// The next tile's weights (4 rows on), into L2 while this tile's are
	// read: a batch streams each weight row from memory once.
	for j := 0; j < 4; j++ {
		for off := 0; off < kd.blockSize; off += 64 {
			emit("PREFETCHT1 %s", at(off, nextRow[j]))
		}
		emit("PREFETCHT1 %s", at(kd.blockSize-1, nextRow[j]))
	}
	// Row j's scale and min words at 32j(SP); its scales as dwords, that
	// of sub-block kq45Sub(L) in lane L, at 256+64j(SP); the mins for the
	// VPDPWSSD at 128(SP) (m_j[s] in both words of 16s+4j).
	for j := 0; j < 4; j++ {
		decodeScalesTo(j, 32*j, false)
	}
	for j := 0; j < 4; j++ {
		emit("VPMOVZXWD %d(SP), Z25", 32*j)
		emit("VPERMD Z25, Z23, Z25")
		emit("VMOVDQU64 Z25, %d(SP)", 256+64*j)
	}
	emit("VMOVDQU64 0(SP), Z29")
	for h := 0; h < 2; h++ {
		emit("VMOVDQU64 ·kq45IdxM+%d(SB), Z24", 64*h)
		emit("VPERMI2W 64(SP), Z29, Z24")
		emit("VMOVDQU64 Z24, %d(SP)", 128+64*h)
	}
	for s := 0; s < 16; s++ {
		emit("VPXORD Z%d, Z%d, Z%d", s, s, s)
	}
	for j := 0; j < 4; j++ {
		inLaneLines(kd, wRow[j])
		for k := 0; k < 4; k++ {
			for i := 0; i < 4; i++ {
				emit("VPDPBUSD %d(DI), Z%d, Z%d", paQuants+64*(4*k+i), 24+k, slotOf(i, j))
			}
		}
	}
	for j := 0; j < 4; j++ {
		for i := 0; i < 4; i++ {
			emit("VPMULLD %d(SP), Z%d, Z%d", 256+64*j, slotOf(i, j), slotOf(i, j))
		}
	}
	for s := 0; s < 8; s++ {
		emit("VSHUFI64X2 $0x44, Z%d, Z%d, Z24", s+8, s)
		emit("VSHUFI64X2 $0xee, Z%d, Z%d, Z25", s+8, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	treeFromA([8]int{0, 1, 2, 3, 4, 5, 6, 7}, 24, 25)
	for s := 0; s < 8; s++ {
		emit("VBROADCASTI32X4 %d(SP), Z25", 128+16*s)
		if s == 0 {
			emit("VPMADDWD %d(DI), Z25, Z8", paBsums+64*s)
		} else {
			emit("VPDPWSSD %d(DI), Z25, Z8", paBsums+64*s)
		}
	}
	emit("VCVTPH2PS X31, Y31")
	emit("VMOVUPS %d(DI), Z26", paDA)
	emit("VMOVDQU32 ·kq45IdxD(SB), Z24")
	emit("VPERMPS Z31, Z24, Z25")
	emit("VMULPS Z25, Z26, Z25")
	emit("VMOVDQU32 ·kq45IdxDmin(SB), Z24")
	emit("VPERMPS Z31, Z24, Z24")
	emit("VMULPS Z24, Z26, Z24")
	emit("VCVTDQ2PS Z0, Z0")
	emit("VCVTDQ2PS Z8, Z8")
	emit("VFMADD231PS Z25, Z0, Z16")
	emit("VFNMADD231PS Z24, Z8, Z16")
	emit("ADDQ $%d, SI", kd.blockSize)
	emit("ADDQ $%d, R13", kd.blockSize)
	emit("ADDQ $%d, DI", paBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("MOVQ out+32(FP), AX")
	emit("MOVQ ostride+40(FP), R8")
	emit("SHLQ $2, R8")
	for i := 0; i < 4; i++ {
		emit("VEXTRACTF32X4 $%d, Z16, X24", i)
		emit("VMOVUPS X24, (AX)")
		if i < 3 {
			emit("ADDQ R8, AX")
		}
	}
	emit("VZEROUPPER")
	emit("RET")
}

// slotOf is the accumulator whose sum lands in lane 4i+j.
func slotOf(i, j int) int {
	for p, s := range slotOfLane {
		if p == 4*i+j {
			return s
		}
	}
	panic("no slot")
}

// genDotAVX2 writes dotKIND_AVX2(w, a *byte, nb int) float32: one weight row
// against one activation row with AVX2 (VEX registers only): per sub-block
// VPMADDUBSW (exact: at most 2·31·128) and VPMADDWD by the scale broadcast
// in words, summs as one VPMADDWD of the bsums by the mins, then the twin's
// two FMAs per block.
func genDotAVX2(kd kind) {
	fn := "dot" + kd.name + "AVX2"
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, nb int) float32\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-28\n", fn)
	emit("MOVQ w+0(FP), SI")
	emit("MOVQ a+8(FP), DI")
	emit("MOVQ nb+16(FP), CX")
	emit("VPBROADCASTB ·kq45Nib(SB), Y15")
	emit("VXORPS X14, X14, X14")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	// Scales and mins as bytes s0..7, m0..7 in both halves of Y8.
	emit("MOVQ 4(SI), AX")
	emit("MOVL 12(SI), R8")
	emit("MOVQ R8, R9")
	emit("SHLQ $28, R9")
	emit("ORQ R8, R9")
	emit("ANDQ ·kq45Nib(SB), R9")
	emit("MOVQ AX, R12")
	emit("SHRQ $2, R12")
	emit("ANDQ ·kq45Top(SB), R12")
	emit("ORQ R12, R9")
	emit("ANDQ ·kq45Low6(SB), AX")
	emit("VMOVQ AX, X8")
	emit("VMOVQ R9, X9")
	emit("VPUNPCKLDQ X9, X8, X8")
	emit("VINSERTI128 $1, X8, Y8, Y8")
	emit("VPSHUFB ·kq45A2Min(SB), Y8, Y9")
	emit("VPMADDWD %d(DI), Y9, Y12", q8KBsums)
	emit("VPXOR Y13, Y13, Y13")
	if kd.qhOffs != 0 {
		emit("VMOVDQU %d(SI), Y7", kd.qhOffs)
	}
	for k := 0; k < 4; k++ {
		emit("VMOVDQU %d(SI), Y0", kd.qsOffs+32*k)
		emit("VPSRLW $4, Y0, Y1")
		emit("VPAND Y15, Y0, Y0")
		emit("VPAND Y15, Y1, Y1")
		for h := 0; h < 2; h++ {
			y := h
			if kd.qhOffs != 0 {
				c := 2*k + h
				emit("VPAND ·kq45A2Bit+%d(SB), Y7, Y3", 32*c)
				emit("VPCMPEQB ·kq45A2Bit+%d(SB), Y3, Y3", 32*c)
				emit("VPAND ·kq45Sixteen(SB), Y3, Y3")
				emit("VPOR Y3, Y%d, Y%d", y, y)
			}
			emit("VPMADDUBSW %d(DI), Y%d, Y%d", q8KQs+64*k+32*h, y, y)
			emit("VPSHUFB ·kq45A2Sc+%d(SB), Y8, Y2", 32*(2*k+h))
			emit("VPMADDWD Y2, Y%d, Y%d", y, y)
			emit("VPADDD Y%d, Y13, Y13", y)
		}
	}
	// [isum, summs] in dwords 0, 1 of X0.
	emit("VPHADDD Y12, Y13, Y0")
	emit("VEXTRACTI128 $1, Y0, X1")
	emit("VPADDD X1, X0, X0")
	emit("VPHADDD X0, X0, X0")
	emit("VCVTDQ2PS X0, X0")
	emit("VMOVSHDUP X0, X1")
	emit("VMOVD (SI), X2")
	emit("VCVTPH2PS X2, X2") // d, dmin
	emit("VBROADCASTSS (DI), X3")
	emit("VMULPS X3, X2, X2")
	emit("VMOVSHDUP X2, X3")
	emit("VFMADD231SS X2, X0, X14")
	emit("VFNMADD231SS X3, X1, X14")
	emit("ADDQ $%d, SI", kd.blockSize)
	emit("ADDQ $%d, DI", q8KBlock)
	emit("DECQ CX")
	emit("JNZ %s_loop", fn)
	label(fn + "_done")
	emit("VZEROUPPER")
	emit("MOVSS X14, ret+24(FP)")
	emit("RET")
}

func data(name string, vals []byte) {
	for i := 0; i < len(vals); i += 8 {
		var q uint64
		for b := 0; b < 8 && i+b < len(vals); b++ {
			q |= uint64(vals[i+b]) << (8 * b)
		}
		fmt.Fprintf(&out, "DATA ·%s+%d(SB)/8, $0x%016x\n", name, i, q)
	}
	fmt.Fprintf(&out, "GLOBL ·%s(SB), RODATA|NOPTR, $%d\n", name, len(vals))
}

func words(ws []uint16) []byte {
	b := make([]byte, 2*len(ws))
	for i, w := range ws {
		b[2*i], b[2*i+1] = byte(w), byte(w>>8)
	}
	return b
}

func dwords(ds []uint32) []byte {
	b := make([]byte, 4*len(ds))
	for i, d := range ds {
		for k := 0; k < 4; k++ {
			b[4*i+k] = byte(d >> (8 * k))
		}
	}
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	for k := range b {
		b[k] = byte(v >> (8 * k))
	}
	return b
}

func main() {
	placeSlots()
	placeQ4TreeSlots()
	out.WriteString("// Code generated by kquant45_gen.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n")
	out.WriteString(strings.TrimSpace(`
// AVX-512 BW/VNNI tile kernels for Q4_K and Q5_K weights against Q8_K
// activations (see kquant45_amd64.go): 4 weight rows by 4 activation rows
// (x4) or by 1 (x1). Levels are unpacked to bytes once per tile, multiplied
// with VPMADDUBSW (u8·s8 pairs, at most 2·31·128: no saturation) and scaled
// per sub-block with VPDPWSSD; the per-block integer sums of all pairs are
// reduced together and finished with the twin's FMAs, one pair per lane.
`) + "\n")
	for _, kd := range []kind{q4K, q5K} {
		genX4(kd)
		genX1(kd)
		genPrepW(kd)
		genX4PackedA(kd)
		genDotAVX2(kd)
	}
	genPrepA()
	genPackedX4()
	genPackedX4Q4()
	out.WriteString("\n")
	// Constants.
	var shift []uint16
	for w := 0; w < 32; w++ {
		shift = append(shift, map[bool]uint16{false: 0, true: 4}[w >= 16])
	}
	data("kq45Shift", words(shift))
	data("kq45Nib", u64(0x0f0f0f0f0f0f0f0f))
	data("kq45Top", u64(0x3030303030303030))
	data("kq45Low6", u64(0x3f3f3f3f3f3f3f3f))
	var sixteen []byte
	for l := 0; l < 64; l++ {
		sixteen = append(sixteen, 0x10)
	}
	data("kq45Sixteen", sixteen)
	var idx []uint16
	for k := 0; k < 4; k++ {
		for w := 0; w < 32; w++ {
			idx = append(idx, uint16(2*k+w/16))
		}
	}
	data("kq45IdxScale", words(idx))
	var idxMin []uint16
	for w := 0; w < 32; w++ {
		idxMin = append(idxMin, uint16(8+w%16/2))
	}
	data("kq45IdxMin", words(idxMin))
	// VPSHUFB controls from the scale and min bytes (s_0..7, m_0..7 in each
	// 128-bit lane) to words: kq45ShufScale+64k: s_x1Sub[k] in lanes 0, 1,
	// s_(x1Sub[k]+2) in lanes 2, 3; kq45ShufMin: word w of each 256-bit half
	// m_(w/2). kq45HighBitX1+64k: the Q5_K high bit of those sub-blocks.
	var shufSc, shufMin, hbX1 []byte
	for k := 0; k < 4; k++ {
		for l := 0; l < 64; l++ {
			sb := x1Sub[k] + 2*(l/32)
			shufSc = append(shufSc, map[bool]byte{true: byte(sb), false: 0x80}[l%2 == 0])
			hbX1 = append(hbX1, byte(1)<<sb)
		}
	}
	data("kq45HighBitX1", hbX1)
	for l := 0; l < 64; l++ {
		w := l % 32 / 2
		shufMin = append(shufMin, map[bool]byte{true: byte(8 + w/2), false: 0x80}[l%2 == 0])
	}
	data("kq45ShufScale", shufSc)
	data("kq45ShufMin", shufMin)
	var hb []byte
	for k := 0; k < 4; k++ {
		for l := 0; l < 64; l++ {
			hb = append(hb, byte(1)<<(2*k+l/32))
		}
	}
	data("kq45HighBit", hb)
	var da, d, dmin []uint32
	for p := 0; p < 16; p++ {
		da = append(da, uint32(p/4))
		d = append(d, uint32(2*(p%4)))
		dmin = append(dmin, uint32(2*(p%4)+1))
	}
	data("kq45IdxDA", dwords(da))
	data("kq45IdxD", dwords(d))
	data("kq45IdxDmin", dwords(dmin))
	data("kq45IdxX1", dwords([]uint32{0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0}))
	data("kq45IdxX1Scales", dwords([]uint32{0, 2, 4, 6, 1, 3, 5, 7}))
	var sub, gather []uint32
	var hbL []byte
	for l := 0; l < 16; l++ {
		sub = append(sub, uint32(kq45Sub(l)))
	}
	for k := 0; k < 4; k++ {
		for l := 0; l < 16; l++ {
			// Values 16(c%2)+4k..+3 of sub-block kq45Sub(l): natural dword
			// 8·sub + 4(c%2) + k, of the first 128 values or (K1's lanes)
			// the last, mod 32.
			gather = append(gather, uint32(8*kq45Sub(l)+4*(l/4%2)+k)%32)
		}
	}
	for x := 0; x < 4; x++ { // A, B, C, D: lane c holds sub-block kq45Sub(4c+x)
		for b := 0; b < 64; b++ {
			hbL = append(hbL, byte(1)<<kq45Sub(4*(b/16)+x))
		}
	}
	data("kq45IdxSub", dwords(sub))
	data("kq45GatherA", dwords(gather))
	data("kq45HighBitL", hbL)
	var idxM []uint16
	for w := 0; w < 64; w++ {
		q := w / 2
		s, j := q/4, q%4
		idxM = append(idxM, uint16(16*j+8+s))
	}
	data("kq45IdxM", words(idxM))
	var a2min, a2sc, a2bit []byte
	for l := 0; l < 32; l++ {
		w := l % 16 / 2
		if l >= 16 {
			w += 8
		}
		a2min = append(a2min, map[bool]byte{true: byte(8 + w/2), false: 0x80}[l%2 == 0])
	}
	for sb := 0; sb < 8; sb++ {
		for l := 0; l < 32; l++ {
			a2sc = append(a2sc, map[bool]byte{true: byte(sb), false: 0x80}[l%2 == 0])
			a2bit = append(a2bit, byte(1)<<sb)
		}
	}
	data("kq45A2Min", a2min)
	data("kq45A2Sc", a2sc)
	data("kq45A2Bit", a2bit)
	if err := os.WriteFile("kquant45_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

// shufPS simulates VSHUFPS: in each 128-bit lane, dwords imm[1:0], imm[3:2]
// of a, then imm[5:4], imm[7:6] of b.
func shufPS(imm int, a, b vec) (r vec) {
	for l := 0; l < 4; l++ {
		for d := 0; d < 4; d++ {
			src := a
			if d >= 2 {
				src = b
			}
			r[4*l+d] = src[4*l+(imm>>(2*d)&3)]
		}
	}
	return
}

// packMadd simulates VPACKSSDW b, a then VPMADDWD: in each 128-bit lane,
// dwords 0, 1 are a's adjacent pairs, dwords 2, 3 b's.
func packMadd(a, b vec) (r vec) {
	for l := 0; l < 4; l++ {
		for d := 0; d < 4; d++ {
			src := a
			if d >= 2 {
				src = b
			}
			e := 4*l + 2*(d%2)
			r[4*l+d] = append(append([]int{}, src[e]...), src[e+1]...)
		}
	}
	return
}

// q4TreeSlotOfLane is slotOfLane for tileQ4_KPackedx4AVX512's reduction.
var q4TreeSlotOfLane [16]int

// simQ4Tree runs tileQ4_KPackedx4AVX512's reduction on 16 slot vectors.
func simQ4Tree(in [16]vec) vec {
	var r [8]vec
	for s := 0; s < 8; s++ {
		r[s] = packMadd(in[s], in[s+8])
	}
	for s := 0; s < 4; s++ {
		r[s] = add(shufPS(0x88, r[s], r[s+4]), shufPS(0xdd, r[s], r[s+4]))
	}
	for s := 0; s < 2; s++ {
		r[s] = add(shufI64x2(0x88, r[s], r[s+2]), shufI64x2(0xdd, r[s], r[s+2]))
	}
	return add(shufI64x2(0x88, r[0], r[1]), shufI64x2(0xdd, r[0], r[1]))
}

func placeQ4TreeSlots() {
	var in [16]vec
	for s := range in {
		for l := range in[s] {
			in[s][l] = []int{s}
		}
	}
	for p, srcs := range simQ4Tree(in) {
		if len(srcs) != 16 {
			panic("q4 tree: lane has wrong count")
		}
		for _, s := range srcs {
			if s != srcs[0] {
				panic("q4 tree: lane mixes slots")
			}
		}
		q4TreeSlotOfLane[p] = srcs[0]
	}
}

// genPackedX4Q4 writes tileQ4_KPackedx4AVX512, tileKPackedx4AVX512 for Q4_K
// weights only: each lane's sum of a block, at most 16·15·128 in magnitude,
// fits in a word, so VPACKSSDW packs two accumulators into one exactly and
// VPMADDWD multiplies by the scales and adds adjacent lanes in one step, the
// first level of a shorter reduction (integer sums: the same outputs, bit
// for bit, as the generic kernel's). Q5_K's levels (up to 31) could
// saturate the words, so Q5_K keeps tileKPackedx4AVX512.
func genPackedX4Q4() {
	fn := "tileQ4_KPackedx4AVX512"
	slot := func(i, j int) int { return q4TreeSlotOfLane[4*i+j] }
	var jOf [16]int
	for p, s := range q4TreeSlotOfLane {
		jOf[s] = p % 4
	}
	fmt.Fprintf(&out, "\n// func %s(w *byte, a *byte, nb int, out *float32, ostride int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-40\n", fn)
	emit("MOVQ w+0(FP), SI")
	emit("MOVQ a+8(FP), DI")
	emit("MOVQ nb+16(FP), CX")
	emit("VPXORD Z16, Z16, Z16")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", fn)
	label(fn + "_loop")
	for s := 0; s < 16; s++ {
		emit("VPXORD Z%d, Z%d, Z%d", s, s, s)
	}
	for k := 0; k < 4; k++ {
		for i := 0; i < 4; i++ {
			emit("VMOVDQU64 %d(DI), Z%d", paQuants+64*(4*k+i), 20+i)
		}
		for j := 0; j < 4; j++ {
			emit("VMOVDQU64 %d(SI), Z24", pwLevels+64*(4*k+j))
			for i := 0; i < 4; i++ {
				emit("VPDPBUSD Z%d, Z24, Z%d", 20+i, slot(i, j))
			}
		}
	}
	for j := 0; j < 4; j++ {
		emit("VMOVDQU64 %d(SI), Z%d", pwScales+64*j, 20+j)
	}
	// The scales of each pair of rows packed the same way as the
	// accumulators (Z24 on, one register per pair of rows met).
	pairReg := map[[2]int]int{}
	for s := 0; s < 8; s++ {
		pr := [2]int{jOf[s], jOf[s+8]}
		if _, ok := pairReg[pr]; !ok {
			reg := 24 + len(pairReg)
			pairReg[pr] = reg
			emit("VPACKSSDW Z%d, Z%d, Z%d", 20+pr[1], 20+pr[0], reg)
		}
	}
	for s := 0; s < 8; s++ {
		emit("VPACKSSDW Z%d, Z%d, Z%d", s+8, s, s)
		emit("VPMADDWD Z%d, Z%d, Z%d", pairReg[[2]int{jOf[s], jOf[s+8]}], s, s)
	}
	for s := 0; s < 4; s++ {
		emit("VSHUFPS $0x88, Z%d, Z%d, Z24", s+4, s)
		emit("VSHUFPS $0xdd, Z%d, Z%d, Z25", s+4, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	for s := 0; s < 2; s++ {
		emit("VSHUFI64X2 $0x88, Z%d, Z%d, Z24", s+2, s)
		emit("VSHUFI64X2 $0xdd, Z%d, Z%d, Z25", s+2, s)
		emit("VPADDD Z25, Z24, Z%d", s)
	}
	emit("VSHUFI64X2 $0x88, Z1, Z0, Z24")
	emit("VSHUFI64X2 $0xdd, Z1, Z0, Z25")
	emit("VPADDD Z25, Z24, Z0")
	packedX4Tail(fn)
}
