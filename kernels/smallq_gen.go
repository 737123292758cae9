//go:build ignore

// smallq_gen writes smallq_amd64.s, the AVX-512 VNNI tile kernels for the
// 32-value block types Q4_1, Q5_0, Q5_1 and IQ4_NL (see smallq_amd64.go):
//
//	go run smallq_gen.go
//
// The kernels of one family differ only in how a weight block becomes 32
// unsigned bytes and in the correction subtracted from the integer sums, so
// they are written out from one description per type.
package main

import (
	"bytes"
	"fmt"
	"os"
)

type smallType struct {
	name   string
	wBlock int // bytes per weight block
	qsOff  int // offset of the 16 nibble bytes
	qhOff  int // offset of the fifth bits (uint32), or -1
	hasMin bool
	corr   int  // unsigned weights are q+corr: subtract corr*Σa (0: none)
	table  bool // nibbles index iq4Levels (stored +128)
	aBlock int  // bytes per activation block (Q8_0 34, Q8_1 36)
	aQsOff int
}

var types = []smallType{
	{"Q4_1", 20, 4, -1, true, 0, false, 36, 4},
	{"Q5_0", 22, 6, 2, false, 16, false, 34, 2},
	{"Q5_1", 24, 8, 4, true, 0, false, 36, 4},
	{"IQ4_NL", 18, 2, -1, false, 128, true, 34, 2},
}

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// wRow and aRow address row r (0..3) of the weights (SI, R8 stride, R11 =
// SI+R8) and of the activations (DI, R9, R12 = DI+R9) at byte offset off.
func wRow(r, off int) string { return rowAddr(r, off, "SI", "R8", "R11") }
func aRow(r, off int) string { return rowAddr(r, off, "DI", "R9", "R12") }

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

func prologue(name string, frame int) {
	fmt.Fprintf(&out, "\n// func %s(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $%d-56\n", name, frame)
	p("MOVQ w+0(FP), SI")
	p("MOVQ wstride+8(FP), R8")
	p("MOVQ a+16(FP), DI")
	p("MOVQ astride+24(FP), R9")
	p("MOVQ nb+32(FP), CX")
	p("LEAQ (SI)(R8*1), R11")
	p("LEAQ (DI)(R9*1), R12")
}

// constants: Z25 = 0x0f bytes, Z26 = 0x10 bytes (fifth bit), Z27 = the
// correction bytes, Z28 = the level table, K1 = the words of the odd 128-bit
// chunks (high nibbles).
func consts(t smallType) {
	p("MOVL $0x0f0f0f0f, AX")
	p("VPBROADCASTD AX, Z25")
	if t.qhOff >= 0 {
		p("MOVL $0x10101010, AX")
		p("VPBROADCASTD AX, Z26")
	}
	if t.corr != 0 {
		p("MOVL $0x%02x%02x%02x%02x, AX", t.corr, t.corr, t.corr, t.corr)
		p("VPBROADCASTD AX, Z27")
	}
	if t.table {
		p("VMOVDQU32 smallqIQ4Table<>(SB), Z28")
	}
	if t.corr != 0 {
		p("VPXORD Z29, Z29, Z29")
	}
	p("MOVL $0xff00ff00, AX")
	p("KMOVD AX, K1")
}

// nibbles turns the 16 nibble bytes already broadcast into all four chunks
// of z into values: low nibbles in chunks 0 and 2, high in 1 and 3, the
// fifth bits added from K2 (set up by the caller) and the table applied.
func nibbles(t smallType, z string) {
	p("VPSRLW $4, %s, K1, %s", z, z)
	p("VPANDD Z25, %s, %s", z, z)
	if t.qhOff >= 0 {
		p("VPADDB Z26, %s, K2, %s", z, z)
	}
	if t.table {
		p("VPSHUFB %s, Z28, %s", z, z)
	}
}

// correction sets n to −corr·Σa over each lane's four activations of a.
func correction(t smallType, a, n string) {
	if t.corr == 0 {
		return
	}
	p("VPXORD %s, %s, %s", n, n, n)
	p("VPDPBUSD %s, Z27, %s", a, n)
	p("VPSUBD %s, Z29, %s", n, n)
}

// isum sets acc to the lane sums of weights w times activations a, less the
// correction n.
func isum(t smallType, w, a, n, acc string) {
	if t.corr != 0 {
		p("VMOVDQA32 %s, %s", n, acc)
	} else {
		p("VPXORD %s, %s, %s", acc, acc, acc)
	}
	p("VPDPBUSD %s, %s, %s", a, w, acc)
}

// loadScales4 converts the first two fp16 of the four rows at base into
// 8 floats in y: [x0 y0 x1 y1 x2 y2 x3 y3] (d and m, or d and s; the second
// is junk for the types with only d).
func loadScales4(row func(int, int) string, x, y string) {
	p("VMOVD %s, %s", row(0, 0), x)
	p("VPINSRD $1, %s, %s, %s", row(1, 0), x, x)
	p("VPINSRD $2, %s, %s, %s", row(2, 0), x, x)
	p("VPINSRD $3, %s, %s, %s", row(3, 0), x, x)
	p("VCVTPH2PS %s, %s", x, y)
}

func advance(t smallType, x4 bool) {
	p("ADDQ $%d, SI", t.wBlock)
	p("ADDQ $%d, R11", t.wBlock)
	p("ADDQ $%d, DI", t.aBlock)
	if x4 {
		p("ADDQ $%d, R12", t.aBlock)
	}
	p("DECQ CX")
}

// Register use (x4): Z0..Z7 the lane accumulators [j][q] (row j of the
// weights against activation rows 2q, 2q+1 in the two 256-bit halves), or
// for IQ4_NL the block's integer sums; Z8 the offsets (or IQ4_NL's
// accumulators, lane 4i+j); Z9..Z12 the weights, Z13, Z14 the activation
// pairs, Z15, Z16 their corrections, Z17, Z18 d_a per pair; Z23, Z24 the
// block's weight and activation scales as floats.
func x4(t smallType) {
	name := fmt.Sprintf("tile%sx4VNNI", t.name)
	lanes := !t.table
	frame := 0
	if lanes {
		frame = 32
	}
	prologue(name, frame)
	for z := 0; z <= 8; z++ {
		p("VPXORD Z%d, Z%d, Z%d", z, z, z)
	}
	consts(t)
	// The permutations of the scales: Z30, Z31 d_a by pairs (lanes types);
	// Z26, Z27 (Q4_1) or Z27, Z28 (Q5_1) m_w and s_a by lane 4i+j; Z30, Z31
	// d_w and d_a by lane 4i+j (IQ4_NL).
	idxMin := [2]string{"Z26", "Z27"}
	if t.qhOff >= 0 {
		idxMin = [2]string{"Z27", "Z28"}
	}
	if lanes {
		p("VMOVDQU32 smallqIdxPair0<>(SB), Z30")
		p("VMOVDQU32 smallqIdxPair1<>(SB), Z31")
	} else {
		p("VMOVDQU32 smallqIdxEven4<>(SB), Z30")
		p("VMOVDQU32 smallqIdxEvenBy4<>(SB), Z31")
	}
	if t.hasMin {
		p("VMOVDQU32 smallqIdxOdd4<>(SB), %s", idxMin[0])
		p("VMOVDQU32 smallqIdxOddBy4<>(SB), %s", idxMin[1])
	}
	loop := name + "_loop"
	label(loop)
	loadScales4(wRow, "X23", "Y23")
	loadScales4(aRow, "X24", "Y24")
	if lanes {
		p("VMOVUPS Y23, 0(SP)")
		p("VPERMPS Z24, Z30, Z17")
		p("VPERMPS Z24, Z31, Z18")
	}
	if t.hasMin {
		p("VPERMPS Z23, %s, Z19", idxMin[0])
		p("VPERMPS Z24, %s, Z20", idxMin[1])
		p("VMULPS Z20, Z19, Z19")
		p("VADDPS Z19, Z8, Z8")
	}
	for q := 0; q < 2; q++ {
		a := fmt.Sprintf("Z%d", 13+q)
		p("VMOVDQU %s, Y%d", aRow(2*q, t.aQsOff), 13+q)
		p("VINSERTI64X4 $1, %s, %s, %s", aRow(2*q+1, t.aQsOff), a, a)
		correction(t, a, fmt.Sprintf("Z%d", 15+q))
	}
	for j := 0; j < 4; j++ {
		w := fmt.Sprintf("Z%d", 9+j)
		p("VBROADCASTI32X4 %s, %s", wRow(j, t.qsOff), w)
		if t.qhOff >= 0 {
			p("KMOVD %s, K2", wRow(j, t.qhOff))
			p("KUNPCKDQ K2, K2, K2")
		}
		nibbles(t, w)
	}
	for j := 0; j < 4; j++ {
		for q := 0; q < 2; q++ {
			w, a, n := fmt.Sprintf("Z%d", 9+j), fmt.Sprintf("Z%d", 13+q), fmt.Sprintf("Z%d", 15+q)
			acc := fmt.Sprintf("Z%d", 2*j+q)
			if !lanes {
				isum(t, w, a, n, acc)
				continue
			}
			tz, sz := fmt.Sprintf("Z%d", 19+q), fmt.Sprintf("Z%d", 21+q)
			isum(t, w, a, n, tz)
			p("VCVTDQ2PS %s, %s", tz, tz)
			p("VMULPS.BCST %d(SP), Z%d, %s", 8*j, 17+q, sz)
			p("VFMADD231PS %s, %s, %s", sz, tz, acc)
		}
	}
	if !lanes {
		reduce4("VSHUFI32X4", "VPUNPCKLQDQ", "VPUNPCKHQDQ", "VPADDD")
		p("VCVTDQ2PS Z19, Z19")
		p("VPERMPS Z23, Z30, Z20")
		p("VPERMPS Z24, Z31, Z21")
		p("VMULPS Z21, Z20, Z20")
		p("VFMADD231PS Z20, Z19, Z8")
	}
	advance(t, true)
	p("JNZ %s", loop)
	if lanes {
		reduce4("VSHUFF32X4", "VUNPCKLPD", "VUNPCKHPD", "VADDPS")
		if t.hasMin {
			p("VADDPS Z8, Z19, Z19")
		}
	} else {
		p("VMOVAPS Z8, Z19")
	}
	p("MOVQ out+40(FP), DX")
	p("MOVQ ostride+48(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*1), R13")
	p("VMOVUPS X19, (DX)")
	p("VEXTRACTF32X4 $1, Z19, (DX)(R10*1)")
	p("VEXTRACTF32X4 $2, Z19, (DX)(R10*2)")
	p("VEXTRACTF32X4 $3, Z19, (R13)(R10*2)")
	p("VZEROUPPER")
	p("RET")
}

// reduce4 sums Z0..Z7 ([j][q] as in x4) into Z19, lane 4i+j the sum for
// weight row j and activation row i: lanes l and l+4 first, then the pairs
// (l0+l4)+(l2+l6) and (l1+l5)+(l3+l7), then those two, as blockLanes.sum.
func reduce4(shuf, unpckl, unpckh, add string) {
	for j := 0; j < 4; j++ {
		p("%s $0x88, Z%d, Z%d, Z19", shuf, 2*j+1, 2*j)
		p("%s $0xdd, Z%d, Z%d, Z20", shuf, 2*j+1, 2*j)
		p("%s Z20, Z19, Z%d", add, 2*j)
	}
	for j := 0; j < 4; j += 2 {
		p("%s Z%d, Z%d, Z19", unpckl, 2*j+2, 2*j)
		p("%s Z%d, Z%d, Z20", unpckh, 2*j+2, 2*j)
		p("%s Z20, Z19, Z%d", add, 2*j)
	}
	p("VSHUFPS $0x88, Z4, Z0, Z19")
	p("VSHUFPS $0xdd, Z4, Z0, Z20")
	p("%s Z20, Z19, Z19", add)
}

// x1: Z0, Z1 the accumulators (or sums) of weight rows (0, 1) and (2, 3)
// against the one activation row; Z8 the offsets (IQ4_NL: accumulators).
func x1(t smallType) {
	name := fmt.Sprintf("tile%sx1VNNI", t.name)
	lanes := !t.table
	prologue(name, 0)
	for _, z := range []int{0, 1, 8} {
		p("VPXORD Z%d, Z%d, Z%d", z, z, z)
	}
	consts(t)
	p("VMOVDQU32 smallqIdxPair0<>(SB), Z30")
	p("VMOVDQU32 smallqIdxPair1<>(SB), Z31")
	idxOdd := "Z26" // m_w by lane j (Q4_1; Q5_1 Z27)
	if t.qhOff >= 0 {
		idxOdd = "Z27"
	}
	if t.hasMin {
		p("VMOVDQU32 smallqIdxOdd4<>(SB), %s", idxOdd)
	}
	loop := name + "_loop"
	label(loop)
	loadScales4(wRow, "X23", "Y23")
	p("VMOVD (DI), X24")
	p("VCVTPH2PS X24, X24")
	p("VBROADCASTSS X24, Z17")
	if lanes {
		p("VPERMPS Z23, Z30, Z21")
		p("VMULPS Z17, Z21, Z21")
		p("VPERMPS Z23, Z31, Z22")
		p("VMULPS Z17, Z22, Z22")
	}
	if t.hasMin {
		p("VPERMPS Z23, %s, Z19", idxOdd)
		p("VPERMILPS $0x55, X24, X20")
		p("VMULPS X20, X19, X19")
		p("VADDPS X19, X8, X8")
	}
	p("VBROADCASTI64X4 %d(DI), Z13", t.aQsOff)
	correction(t, "Z13", "Z15")
	for pr := 0; pr < 2; pr++ {
		w := fmt.Sprintf("Z%d", 9+pr)
		p("VBROADCASTI32X4 %s, %s", wRow(2*pr, t.qsOff), w)
		p("VINSERTI32X4 $2, %s, %s, %s", wRow(2*pr+1, t.qsOff), w, w)
		p("VINSERTI32X4 $3, %s, %s, %s", wRow(2*pr+1, t.qsOff), w, w)
		if t.qhOff >= 0 {
			p("KMOVD %s, K2", wRow(2*pr, t.qhOff))
			p("KMOVD %s, K3", wRow(2*pr+1, t.qhOff))
			p("KUNPCKDQ K2, K3, K2")
		}
		nibbles(t, w)
	}
	for pr := 0; pr < 2; pr++ {
		w, acc := fmt.Sprintf("Z%d", 9+pr), fmt.Sprintf("Z%d", pr)
		if !lanes {
			isum(t, w, "Z13", "Z15", acc)
			continue
		}
		tz := fmt.Sprintf("Z%d", 19+pr)
		isum(t, w, "Z13", "Z15", tz)
		p("VCVTDQ2PS %s, %s", tz, tz)
		p("VFMADD231PS Z%d, %s, %s", 21+pr, tz, acc)
	}
	if !lanes {
		p("VSHUFI32X4 $0x88, Z1, Z0, Z19")
		p("VSHUFI32X4 $0xdd, Z1, Z0, Z20")
		p("VPADDD Z20, Z19, Z19")
		p("VPSHUFD $0x4e, Z19, Z20")
		p("VPADDD Z20, Z19, Z19")
		p("VPSHUFD $0xb1, Z19, Z20")
		p("VPADDD Z20, Z19, Z19")
		p("VMOVDQU32 smallqIdxCompress<>(SB), Z20")
		p("VPERMD Z19, Z20, Z19")
		p("VCVTDQ2PS X19, X19")
		p("VMOVDQU32 smallqIdxEven4<>(SB), Z20")
		p("VPERMPS Z23, Z20, Z20")
		p("VMULPS X17, X20, X20")
		p("VFMADD231PS X20, X19, X8")
	}
	advance(t, false)
	p("JNZ %s", loop)
	p("MOVQ out+40(FP), DX")
	if lanes {
		p("VSHUFF32X4 $0x88, Z1, Z0, Z19")
		p("VSHUFF32X4 $0xdd, Z1, Z0, Z20")
		p("VADDPS Z20, Z19, Z19")
		p("VPERMILPS $0x4e, Z19, Z20")
		p("VADDPS Z20, Z19, Z19")
		p("VPERMILPS $0xb1, Z19, Z20")
		p("VADDPS Z20, Z19, Z19")
		p("VMOVDQU32 smallqIdxCompress<>(SB), Z20")
		p("VPERMPS Z19, Z20, Z19")
		if t.hasMin {
			p("VADDPS X8, X19, X19")
		}
		p("VMOVUPS X19, (DX)")
	} else {
		p("VMOVUPS X8, (DX)")
	}
	p("VZEROUPPER")
	p("RET")
}

// lanesTile writes a ymm tile kernel for the lanes types (Q4_1, Q5_0,
// Q5_1): nw weight rows (4, or 1 for Format.Dot) by na activation rows (4
// or 1). The nw·na scales d_w·d_a of a block are multiplied into a table on
// the stack one block ahead (two tables, swapped each block), so that their
// loads, conversions and products are off the accumulators' path; each
// (weight, activation) pair takes an exact VPDPBUSD into a fresh integer
// register, a VCVTDQ2PS and one VFMADD231PS with the scale broadcast from
// the table: blockLanes' per-lane FMA, and no multiply per pair.
//
// Registers: Y(4i+j) the lanes of weight row j against activation row i;
// Y16..Y19 the unpacked weight rows, Y20..Y23 the activation rows, Y24..Y27
// the corrections −16·Σa (Q5_0), or Z24 the offsets m_w·s_a by lane 4i+j
// with Z25 a temporary and Z26, Z27 their permutations (Q4_1, Q5_1); Y28,
// Y29, Y30 temporaries, Y31 the 0x10 bytes (fifth bit, and Q5_0's
// correction). BX points at the current block's scale table (4i+j), DX at
// the next one's.
func lanesTile(t smallType, name string, nw, na int) {
	prologue(name, 128)
	for i := 0; i < na; i++ {
		for j := 0; j < nw; j++ {
			p("VPXORD Y%d, Y%d, Y%d", 4*i+j, 4*i+j, 4*i+j)
		}
	}
	if t.qhOff >= 0 || t.corr != 0 {
		p("MOVL $0x10101010, AX")
		p("VPBROADCASTD AX, Y31")
	}
	p("MOVL $0xff00ff00, AX")
	p("KMOVD AX, K1")
	if t.hasMin {
		p("VPXORD Z24, Z24, Z24")
		p("VMOVDQU32 smallqIdxOdd4<>(SB), Z26")
		p("VMOVDQU32 smallqIdxOddBy4<>(SB), Z27")
	}
	p("LEAQ 0(SP), BX")
	p("LEAQ 64(SP), DX")
	// scales fills the table at tab with the scales of the block at byte
	// offsets wOff, aOff, and adds its offsets.
	scales := func(wOff, aOff int, tab string) {
		load := func(row func(int, int) string, rows, off int, x, y string) {
			p("VMOVD %s, %s", row(0, off), x)
			for r := 1; r < rows; r++ {
				p("VPINSRD $%d, %s, %s, %s", r, row(r, off), x, x)
			}
			p("VCVTPH2PS %s, %s", x, y)
		}
		load(wRow, nw, wOff, "X28", "Y28") // [d m] by weight row
		load(aRow, na, aOff, "X29", "Y29") // [d s] by activation row
		if t.hasMin {
			p("VPERMPS Z28, Z26, Z25")
			p("VPERMPS Z29, Z27, Z30")
			p("VMULPS Z30, Z25, Z25")
			p("VADDPS Z25, Z24, Z24")
		}
		if nw > 1 {
			p("VEXTRACTF32X4 $1, Y28, X30")
			p("VSHUFPS $0x88, X30, X28, X28") // [d0 d1 d2 d3]
		}
		for i := 0; i < na; i++ {
			if i == 2 {
				p("VEXTRACTF32X4 $1, Y29, X29")
			}
			p("VSHUFPS $0x%02x, X29, X29, X30", []int{0x00, 0xaa}[i%2])
			p("VMULPS X30, X28, X30")
			p("VMOVUPS X30, %d(%s)", 16*i, tab)
		}
	}
	scales(0, 0, "BX")
	loop, skip := name+"_loop", name+"_current"
	label(loop)
	p("CMPQ CX, $1")
	p("JEQ %s", skip)
	scales(t.wBlock, t.aBlock, "DX")
	label(skip)
	for i := 0; i < na; i++ {
		a := fmt.Sprintf("Y%d", 20+i)
		p("VMOVDQU32 %s, %s", aRow(i, t.aQsOff), a)
		if t.corr != 0 {
			c := fmt.Sprintf("Y%d", 24+i)
			p("VPXORD %s, %s, %s", c, c, c)
			p("VPDPBUSD %s, Y31, %s", a, c)
			p("VPXORD Y30, Y30, Y30")
			p("VPSUBD %s, Y30, %s", c, c)
		}
	}
	for j := 0; j < nw; j++ {
		w := fmt.Sprintf("Y%d", 16+j)
		p("VBROADCASTI32X4 %s, %s", wRow(j, t.qsOff), w)
		p("VPSRLW $4, %s, K1, %s", w, w)
		p("VPANDD.BCST smallqNibbles<>(SB), %s, %s", w, w)
		if t.qhOff >= 0 {
			p("KMOVD %s, K2", wRow(j, t.qhOff))
			p("VPADDB Y31, %s, K2, %s", w, w)
		}
	}
	k := 0
	for i := 0; i < na; i++ {
		for j := 0; j < nw; j++ {
			tz := fmt.Sprintf("Y%d", 28+k%3)
			k++
			if t.corr != 0 {
				p("VMOVDQA32 Y%d, %s", 24+i, tz)
			} else {
				p("VPXORD %s, %s, %s", tz, tz, tz)
			}
			p("VPDPBUSD Y%d, Y%d, %s", 20+i, 16+j, tz)
			p("VCVTDQ2PS %s, %s", tz, tz)
			p("VFMADD231PS.BCST %d(BX), %s, Y%d", 16*i+4*j, tz, 4*i+j)
		}
	}
	p("XCHGQ BX, DX")
	advance(t, na > 1)
	p("JNZ %s", loop)
	// Lanes l and l+4, then (s0+s2)+(s1+s3) as blockLanes.sum, row i's
	// nw sums into X28.
	p("MOVQ out+40(FP), DX")
	p("MOVQ ostride+48(FP), R10")
	p("SHLQ $2, R10")
	for i := 0; i < na; i++ {
		for j := 0; j < nw; j++ {
			r := 4*i + j
			p("VEXTRACTF32X4 $1, Y%d, X28", r)
			p("VADDPS X28, X%d, X%d", r, r)
		}
		b := 4 * i
		if nw > 1 {
			for h := 0; h < 2; h++ {
				p("VUNPCKLPD X%d, X%d, X28", b+2*h+1, b+2*h)
				p("VUNPCKHPD X%d, X%d, X29", b+2*h+1, b+2*h)
				p("VADDPS X29, X28, X%d", b+2*h)
			}
			p("VSHUFPS $0x88, X%d, X%d, X28", b+2, b)
			p("VSHUFPS $0xdd, X%d, X%d, X29", b+2, b)
			p("VADDPS X29, X28, X28")
		} else {
			p("VUNPCKHPD X%d, X%d, X29", b, b) // [s2 s3 s2 s3]
			p("VADDPS X29, X%d, X28", b)       // [s0+s2, s1+s3, ...]
			p("VMOVSHDUP X28, X29")
			p("VADDSS X29, X28, X28")
		}
		if t.hasMin {
			p("VEXTRACTF32X4 $%d, Z24, X29", i)
			if nw > 1 {
				p("VADDPS X29, X28, X28")
			} else {
				p("VADDSS X29, X28, X28")
			}
		}
		if nw > 1 {
			p("VMOVUPS X28, (DX)")
		} else {
			p("VMOVSS X28, (DX)")
		}
		if i+1 < na {
			p("ADDQ R10, DX")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// iq4Dot1 writes the single-row IQ4_NL kernel (Format.Dot): per block
// the levels + 128 against the activations by VPDPBUSD, less 128·Σa from
// another VPDPBUSD, the eight lanes added into one exact integer sum, and
// one scalar FMA of it with d_w·d_a, as dotIQ4_NL.
func iq4Dot1(name string) {
	prologue(name, 0)
	p("VXORPS X9, X9, X9")
	p("VBROADCASTI32X4 smallqIQ4Table<>(SB), Y5")
	p("MOVL $0x80808080, AX")
	p("VPBROADCASTD AX, Y6")
	p("MOVL $0xff00ff00, AX")
	p("KMOVD AX, K1")
	loop := name + "_loop"
	label(loop)
	p("VMOVDQU32 2(DI), Y0")
	p("VPXORD Y1, Y1, Y1")
	p("VPDPBUSD Y0, Y6, Y1")
	p("VBROADCASTI32X4 2(SI), Y2")
	p("VPSRLW $4, Y2, K1, Y2")
	p("VPANDD.BCST smallqNibbles<>(SB), Y2, Y2")
	p("VPSHUFB Y2, Y5, Y2")
	p("VPXORD Y3, Y3, Y3")
	p("VPDPBUSD Y0, Y2, Y3")
	p("VPSUBD Y1, Y3, Y3")
	p("VEXTRACTI32X4 $1, Y3, X4")
	p("VPADDD X4, X3, X3")
	p("VPSHUFD $0x4e, X3, X4")
	p("VPADDD X4, X3, X3")
	p("VPSHUFD $0xb1, X3, X4")
	p("VPADDD X4, X3, X3")
	p("VCVTDQ2PS X3, X3")
	p("MOVWLZX (SI), AX")
	p("MOVWLZX (DI), DX")
	p("VMOVD AX, X7")
	p("VPINSRW $1, DX, X7, X7")
	p("VCVTPH2PS X7, X7")
	p("VMOVSHDUP X7, X8")
	p("VMULSS X8, X7, X7")
	p("VFMADD231SS X3, X7, X9")
	p("ADDQ $%d, SI", 18)
	p("ADDQ $%d, DI", 34)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("MOVQ out+40(FP), DX")
	p("VMOVSS X9, (DX)")
	p("VZEROUPPER")
	p("RET")
}

// avx2Tile writes an AVX2 tile kernel for the lanes types (16 ymm
// registers, no VNNI, no masks): nw weight rows (4 or 1) by na activation
// rows (4 or 1), the activations taken two rows a pass. Per block: the
// weights unpacked to bytes (nibbles, plus 0x10 where the fifth bit is
// set), VPMADDUBSW against the activations (exact: pairs of products reach
// at most 2·31·128 < 32768) less 16·(a+a') for Q5_0, VPMADDWD by ones into
// the lanes of four products, a conversion and an FMA with the broadcast
// scale d_w·d_a from a table made for the block, as lanesTile.
//
// Registers: Y(4i+j) the lanes of weight row j against the pass's
// activation row i; Y8..Y11 the unpacked weight rows; Y12..Y15
// temporaries. Stack: 0..31 the scale table (16i+4j), 32..63 the offsets
// m_w·s_a (Q4_1, Q5_1), 64..127 the corrections 16·(a+a') as words (Q5_0).
func avx2Tile(t smallType, name string, nw, na int) {
	prologue(name, 128)
	for pass := 0; pass*2 < na; pass++ {
		rows := min(2, na-2*pass)
		if pass > 0 {
			p("MOVQ w+0(FP), SI")
			p("LEAQ (SI)(R8*1), R11")
			p("MOVQ a+16(FP), DI")
			p("LEAQ (DI)(R9*2), DI")
			p("MOVQ nb+32(FP), CX")
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < nw; j++ {
				p("VPXOR Y%d, Y%d, Y%d", 4*i+j, 4*i+j, 4*i+j)
			}
		}
		if t.hasMin {
			p("VPXOR Y12, Y12, Y12")
			p("VMOVDQU Y12, 32(SP)")
		}
		loop := fmt.Sprintf("%s_loop%d", name, pass)
		label(loop)
		// Scales: X13 [d0 d1 d2 d3] of the weight rows, X15 [d s] by
		// activation row.
		p("VMOVD %s, X14", wRow(0, 0))
		for r := 1; r < nw; r++ {
			p("VPINSRD $%d, %s, X14, X14", r, wRow(r, 0))
		}
		p("VCVTPH2PS X14, Y14")
		p("VMOVD %s, X15", aRow(0, 0))
		if rows > 1 {
			p("VPINSRD $1, %s, X15, X15", aRow(1, 0))
		}
		p("VCVTPH2PS X15, X15")
		p("VEXTRACTF128 $1, Y14, X12")
		p("VSHUFPS $0x88, X12, X14, X13")
		if t.hasMin {
			p("VSHUFPS $0xdd, X12, X14, X12") // [m0 m1 m2 m3]
		}
		for i := 0; i < rows; i++ {
			p("VSHUFPS $0x%02x, X15, X15, X14", []int{0x00, 0xaa}[i])
			p("VMULPS X14, X13, X14")
			p("VMOVUPS X14, %d(SP)", 16*i)
			if t.hasMin {
				p("VSHUFPS $0x%02x, X15, X15, X14", []int{0x55, 0xff}[i])
				p("VMULPS X14, X12, X14")
				p("VADDPS %d(SP), X14, X14", 32+16*i)
				p("VMOVUPS X14, %d(SP)", 32+16*i)
			}
		}
		if t.corr != 0 {
			for i := 0; i < rows; i++ {
				p("VMOVDQU smallqAVX2Bytes16<>(SB), Y14")
				p("VPMADDUBSW %s, Y14, Y14", aRow(i, t.aQsOff))
				p("VMOVDQU Y14, %d(SP)", 64+32*i)
			}
		}
		for j := 0; j < nw; j++ {
			w := fmt.Sprintf("Y%d", 8+j)
			x := fmt.Sprintf("X%d", 8+j)
			p("VMOVDQU %s, %s", wRow(j, t.qsOff), x)
			p("VPSRLW $4, %s, X14", x)
			p("VINSERTI128 $1, X14, %s, %s", w, w)
			p("VPAND smallqAVX2Nibbles<>(SB), %s, %s", w, w)
			if t.qhOff >= 0 {
				p("VPBROADCASTD %s, Y14", wRow(j, t.qhOff))
				p("VPSHUFB smallqAVX2QhShuf<>(SB), Y14, Y14")
				p("VPAND smallqAVX2QhBits<>(SB), Y14, Y14")
				p("VPCMPEQB smallqAVX2QhBits<>(SB), Y14, Y14")
				p("VPAND smallqAVX2Bytes16<>(SB), Y14, Y14")
				p("VPOR Y14, %s, %s", w, w)
			}
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < nw; j++ {
				tz := fmt.Sprintf("Y%d", 12+(j%2))
				sz := fmt.Sprintf("Y%d", 14+(j%2))
				p("VPMADDUBSW %s, Y%d, %s", aRow(i, t.aQsOff), 8+j, tz)
				if t.corr != 0 {
					p("VPSUBW %d(SP), %s, %s", 64+32*i, tz, tz)
				}
				p("VPMADDWD smallqAVX2Ones<>(SB), %s, %s", tz, tz)
				p("VCVTDQ2PS %s, %s", tz, tz)
				p("VBROADCASTSS %d(SP), %s", 16*i+4*j, sz)
				p("VFMADD231PS %s, %s, Y%d", sz, tz, 4*i+j)
			}
		}
		p("ADDQ $%d, SI", t.wBlock)
		p("ADDQ $%d, R11", t.wBlock)
		p("ADDQ $%d, DI", t.aBlock)
		p("DECQ CX")
		p("JNZ %s", loop)
		p("MOVQ ostride+48(FP), R10")
		p("SHLQ $2, R10")
		p("MOVQ out+40(FP), DX")
		if pass > 0 {
			p("LEAQ (DX)(R10*2), DX")
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < nw; j++ {
				r := 4*i + j
				p("VEXTRACTF128 $1, Y%d, X12", r)
				p("VADDPS X12, X%d, X%d", r, r)
			}
			b := 4 * i
			if nw > 1 {
				for h := 0; h < 2; h++ {
					p("VUNPCKLPD X%d, X%d, X12", b+2*h+1, b+2*h)
					p("VUNPCKHPD X%d, X%d, X13", b+2*h+1, b+2*h)
					p("VADDPS X13, X12, X%d", b+2*h)
				}
				p("VSHUFPS $0x88, X%d, X%d, X12", b+2, b)
				p("VSHUFPS $0xdd, X%d, X%d, X13", b+2, b)
				p("VADDPS X13, X12, X12")
				if t.hasMin {
					p("VADDPS %d(SP), X12, X12", 32+16*i)
				}
				p("VMOVUPS X12, (DX)")
			} else {
				p("VUNPCKHPD X%d, X%d, X13", b, b)
				p("VADDPS X13, X%d, X12", b)
				p("VMOVSHDUP X12, X13")
				p("VADDSS X13, X12, X12")
				if t.hasMin {
					p("VADDSS %d(SP), X12, X12", 32+16*i)
				}
				p("VMOVSS X12, (DX)")
			}
			if i+1 < rows {
				p("ADDQ R10, DX")
			}
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// avx2IQ4NL writes an AVX2 IQ4_NL kernel: 4 weight rows by 4 or 1
// activation rows (two a pass), or 1 by 1 (Format.Dot). The levels are
// signed bytes; VPMADDUBSW takes |a| against the levels signed as a
// (VPSIGNB), so no pair of products passes 2·128·127 < 32768 and nothing
// saturates. VPMADDWD by ones gives lanes of four products, the lanes of
// each pair are added (VPHADDD) into one exact sum per block, and the sums
// of the pass's pairs (lane 4i+j) take one FMA with d_w·d_a, as dotIQ4_NL.
//
// Registers: Y0 the pass's accumulators (lane 4i+j); Y1..Y7, Y12 the pairs'
// sums; Y8..Y11 the weight levels; Y13, Y14 |a| of the pass's rows; Y15 and
// the sums' registers before they are used, temporaries.
func avx2IQ4NL(name string, nw, na int) {
	const wBlock, aBlock, qs = 18, 34, 2
	prologue(name, 0)
	p("VBROADCASTI128 smallqIQ4Signed<>(SB), Y15")
	p("VMOVDQU Y15, Y12") // the table, kept in Y12 until the sums need it
	for pass := 0; pass*2 < na; pass++ {
		rows := min(2, na-2*pass)
		if pass > 0 {
			p("MOVQ w+0(FP), SI")
			p("LEAQ (SI)(R8*1), R11")
			p("MOVQ a+16(FP), DI")
			p("LEAQ (DI)(R9*2), DI")
			p("MOVQ nb+32(FP), CX")
		}
		p("VXORPS Y0, Y0, Y0")
		loop := fmt.Sprintf("%s_loop%d", name, pass)
		label(loop)
		// Scales into Y15: lane 4i+j d_w[j]·d_a[i].
		p("VMOVD %s, X1", wRow(0, 0))
		for r := 1; r < nw; r++ {
			p("VPINSRD $%d, %s, X1, X1", r, wRow(r, 0))
		}
		p("VCVTPH2PS X1, Y1")
		p("VMOVD %s, X2", aRow(0, 0))
		if rows > 1 {
			p("VPINSRD $1, %s, X2, X2", aRow(1, 0))
		}
		p("VCVTPH2PS X2, X2")
		p("VEXTRACTF128 $1, Y1, X3")
		p("VSHUFPS $0x88, X3, X1, X1") // [d0 d1 d2 d3]
		p("VSHUFPS $0x00, X2, X2, X3")
		p("VMULPS X3, X1, X15")
		if rows > 1 {
			p("VSHUFPS $0xaa, X2, X2, X3")
			p("VMULPS X3, X1, X3")
			p("VINSERTF128 $1, X3, Y15, Y15")
		}
		for j := 0; j < nw; j++ {
			w, x := fmt.Sprintf("Y%d", 8+j), fmt.Sprintf("X%d", 8+j)
			p("VMOVDQU %s, %s", wRow(j, qs), x)
			p("VPSRLW $4, %s, X1", x)
			p("VINSERTI128 $1, X1, %s, %s", w, w)
			p("VPAND smallqAVX2Nibbles<>(SB), %s, %s", w, w)
			p("VPSHUFB %s, Y12, %s", w, w)
		}
		for i := 0; i < rows; i++ {
			p("VPABSB %s, Y%d", aRow(i, qs), 13+i)
		}
		sum := func(k int) string { return []string{"Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Y12"}[k] }
		if nw == 1 {
			// Y12 stays the table: the one sum goes to Y1.
			p("VPSIGNB %s, Y8, Y1", aRow(0, qs))
			p("VPMADDUBSW Y1, Y13, Y1")
			p("VPMADDWD smallqAVX2Ones<>(SB), Y1, Y1")
			p("VEXTRACTI128 $1, Y1, X2")
			p("VPADDD X2, X1, X1")
			p("VPSHUFD $0x4e, X1, X2")
			p("VPADDD X2, X1, X1")
			p("VPSHUFD $0xb1, X1, X2")
			p("VPADDD X2, X1, X1")
			p("VCVTDQ2PS X1, X1")
			p("VFMADD231SS X15, X1, X0")
		} else {
			for i := 0; i < rows; i++ {
				for j := 0; j < 4; j++ {
					k := 4*i + j
					if k == 7 {
						continue // Y12 holds the table until the rest are done
					}
					p("VPSIGNB %s, Y%d, %s", aRow(i, qs), 8+j, sum(k))
					p("VPMADDUBSW %s, Y%d, %s", sum(k), 13+i, sum(k))
					p("VPMADDWD smallqAVX2Ones<>(SB), %s, %s", sum(k), sum(k))
				}
			}
			if rows > 1 {
				p("VPSIGNB %s, Y11, Y12", aRow(1, qs))
				p("VPMADDUBSW Y12, Y14, Y12")
				p("VPMADDWD smallqAVX2Ones<>(SB), Y12, Y12")
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
				p("VBROADCASTI128 smallqIQ4Signed<>(SB), Y12")
			} else {
				p("VPHADDD Y2, Y1, Y1")
				p("VPHADDD Y4, Y3, Y3")
				p("VPHADDD Y3, Y1, Y1")
				p("VEXTRACTI128 $1, Y1, X2")
				p("VPADDD X2, X1, X1")
				p("VCVTDQ2PS X1, X1")
				p("VFMADD231PS X15, X1, X0")
			}
		}
		p("ADDQ $%d, SI", wBlock)
		p("ADDQ $%d, R11", wBlock)
		p("ADDQ $%d, DI", aBlock)
		p("DECQ CX")
		p("JNZ %s", loop)
		p("MOVQ out+40(FP), DX")
		switch {
		case nw == 1:
			p("VMOVSS X0, (DX)")
		default:
			p("MOVQ ostride+48(FP), R10")
			p("SHLQ $2, R10")
			if pass > 0 {
				p("LEAQ (DX)(R10*2), DX")
			}
			p("VMOVUPS X0, (DX)")
			if rows > 1 {
				p("VEXTRACTF128 $1, Y0, (DX)(R10*1)")
			}
		}
	}
	p("VZEROUPPER")
	p("RET")
}

// IQ4_XS (256-value super-blocks of 8 sub-blocks with 6-bit signed scales,
// against Q8_K): per super-block the exact sum Σ_s scale_s·Σ level·a as
// int32 lanes (VPMULLD by the sub-block's scale), then as the twin
// sum += float32(d_w·d_a)·float32(isum), a multiply and an add.
const (
	xsBlock  = 136
	xsAQs    = 4
	xsABlock = 292
)

// xsScales decodes the 8 sub-block scales (−32..31) of weight rows r0 and r1
// into lanes 0..7 and 8..15 of z.
func xsScales(r0, r1 int, z, tmp string) {
	p("VPBROADCASTD %s, %s", wRow(r0, 4), z)
	p("VPBROADCASTD %s, K3, %s", wRow(r1, 4), z)
	p("VPSRLVD Z30, %s, %s", z, z)
	p("VPANDD.BCST smallqDword15<>(SB), %s, %s", z, z)
	p("VPBROADCASTD %s, %s", wRow(r0, 2), tmp)
	p("VPBROADCASTD %s, K3, %s", wRow(r1, 2), tmp)
	p("VPSRLVD Z31, %s, %s", tmp, tmp)
	p("VPANDD.BCST smallqDword3<>(SB), %s, %s", tmp, tmp)
	p("VPSLLD $4, %s, %s", tmp, tmp)
	p("VPORD %s, %s, %s", tmp, z, z)
	p("VPSUBD.BCST smallqDword32<>(SB), %s, %s", z, z)
}

func xsConsts() {
	p("MOVL $0x0f0f0f0f, AX")
	p("VPBROADCASTD AX, Z25")
	p("MOVL $0x80808080, AX")
	p("VPBROADCASTD AX, Z27")
	p("VMOVDQU32 smallqIQ4Table<>(SB), Z28")
	p("VPXORD Z29, Z29, Z29")
	p("VMOVDQU32 smallqXSShiftL<>(SB), Z30")
	p("VMOVDQU32 smallqXSShiftH<>(SB), Z31")
	p("MOVL $0xff00ff00, AX")
	p("KMOVD AX, K1")
	p("MOVL $0xff00, AX")
	p("KMOVW AX, K3")
}

// xsCorrection sets n to −128·Σa over each lane's four activations of a.
func xsCorrection(a, n string) {
	p("VPXORD %s, %s, %s", n, n, n)
	p("VPDPBUSD %s, Z27, %s", a, n)
	p("VPSUBD %s, Z29, %s", n, n)
}

func xs4() {
	name := "tileIQ4_XSx4VNNI"
	prologue(name, 128)
	p("VPXORD Z8, Z8, Z8")
	xsConsts()
	loop := name + "_loop"
	label(loop)
	for z := 0; z < 8; z++ {
		p("VPXORD Z%d, Z%d, Z%d", z, z, z)
	}
	xsScales(0, 1, "Z17", "Z18")
	p("VMOVDQU32 Z17, 0(SP)")
	xsScales(2, 3, "Z17", "Z18")
	p("VMOVDQU32 Z17, 64(SP)")
	for s := 0; s < 8; s++ {
		for q := 0; q < 2; q++ {
			a := fmt.Sprintf("Z%d", 13+q)
			p("VMOVDQU %s, Y%d", aRow(2*q, xsAQs+32*s), 13+q)
			p("VINSERTI64X4 $1, %s, %s, %s", aRow(2*q+1, xsAQs+32*s), a, a)
			xsCorrection(a, fmt.Sprintf("Z%d", 15+q))
		}
		for j := 0; j < 4; j++ {
			w := fmt.Sprintf("Z%d", 9+j)
			p("VBROADCASTI32X4 %s, %s", wRow(j, 8+16*s), w)
			p("VPSRLW $4, %s, K1, %s", w, w)
			p("VPANDD Z25, %s, %s", w, w)
			p("VPSHUFB %s, Z28, %s", w, w)
		}
		for j := 0; j < 4; j++ {
			for q := 0; q < 2; q++ {
				tz := fmt.Sprintf("Z%d", 17+(2*j+q)%6)
				p("VMOVDQA32 Z%d, %s", 15+q, tz)
				p("VPDPBUSD Z%d, Z%d, %s", 13+q, 9+j, tz)
				p("VPMULLD.BCST %d(SP), %s, %s", 4*(8*j+s), tz, tz)
				p("VPADDD %s, Z%d, Z%d", tz, 2*j+q, 2*j+q)
			}
		}
	}
	reduce4("VSHUFI32X4", "VPUNPCKLQDQ", "VPUNPCKHQDQ", "VPADDD")
	p("VCVTDQ2PS Z19, Z19")
	loadScales4(wRow, "X23", "Y23")
	p("VMOVD (DI), X24")
	p("VPINSRD $1, (DI)(R9*1), X24, X24")
	p("VPINSRD $2, (DI)(R9*2), X24, X24")
	p("VPINSRD $3, (R12)(R9*2), X24, X24")
	p("VMOVDQU32 smallqIdxEven4<>(SB), Z20")
	p("VPERMPS Z23, Z20, Z20")
	p("VMOVDQU32 smallqIdxBy4<>(SB), Z21")
	p("VPERMPS Z24, Z21, Z21")
	p("VMULPS Z21, Z20, Z20")
	p("VMULPS Z19, Z20, Z20")
	p("VADDPS Z20, Z8, Z8")
	p("ADDQ $%d, SI", xsBlock)
	p("ADDQ $%d, R11", xsBlock)
	p("ADDQ $%d, DI", xsABlock)
	p("ADDQ $%d, R12", xsABlock)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("MOVQ out+40(FP), DX")
	p("MOVQ ostride+48(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (DX)(R10*1), R13")
	p("VMOVUPS X8, (DX)")
	p("VEXTRACTF32X4 $1, Z8, (DX)(R10*1)")
	p("VEXTRACTF32X4 $2, Z8, (DX)(R10*2)")
	p("VEXTRACTF32X4 $3, Z8, (R13)(R10*2)")
	p("VZEROUPPER")
	p("RET")
}

// xs1: Z0, Z1 the integer sums of weight rows (0, 1) and (2, 3); Z2, Z3
// their scales (lanes 0..7 one row's sub-blocks, 8..15 the other's), Z4 the
// permutation picking sub-block s of each row into the halves.
func xs1() {
	name := "tileIQ4_XSx1VNNI"
	prologue(name, 0)
	p("VPXORD Z8, Z8, Z8")
	xsConsts()
	loop := name + "_loop"
	label(loop)
	p("VPXORD Z0, Z0, Z0")
	p("VPXORD Z1, Z1, Z1")
	xsScales(0, 1, "Z2", "Z17")
	xsScales(2, 3, "Z3", "Z17")
	p("VMOVDQU32 smallqIdxPair0<>(SB), Z4")
	p("VPSLLD $2, Z4, Z4") // [0×8, 8×8]
	for s := 0; s < 8; s++ {
		if s > 0 {
			p("VPSUBD.BCST smallqDwordM1<>(SB), Z4, Z4")
		}
		p("VBROADCASTI64X4 %d(DI), Z13", xsAQs+32*s)
		xsCorrection("Z13", "Z15")
		for pr := 0; pr < 2; pr++ {
			w := fmt.Sprintf("Z%d", 9+pr)
			p("VBROADCASTI32X4 %s, %s", wRow(2*pr, 8+16*s), w)
			p("VINSERTI32X4 $2, %s, %s, %s", wRow(2*pr+1, 8+16*s), w, w)
			p("VINSERTI32X4 $3, %s, %s, %s", wRow(2*pr+1, 8+16*s), w, w)
			p("VPSRLW $4, %s, K1, %s", w, w)
			p("VPANDD Z25, %s, %s", w, w)
			p("VPSHUFB %s, Z28, %s", w, w)
		}
		for pr := 0; pr < 2; pr++ {
			tz, sz := fmt.Sprintf("Z%d", 17+pr), fmt.Sprintf("Z%d", 19+pr)
			p("VPERMD Z%d, Z4, %s", 2+pr, sz)
			p("VMOVDQA32 Z15, %s", tz)
			p("VPDPBUSD Z13, Z%d, %s", 9+pr, tz)
			p("VPMULLD %s, %s, %s", sz, tz, tz)
			p("VPADDD %s, Z%d, Z%d", tz, pr, pr)
		}
	}
	p("VSHUFI32X4 $0x88, Z1, Z0, Z19")
	p("VSHUFI32X4 $0xdd, Z1, Z0, Z20")
	p("VPADDD Z20, Z19, Z19")
	p("VPSHUFD $0x4e, Z19, Z20")
	p("VPADDD Z20, Z19, Z19")
	p("VPSHUFD $0xb1, Z19, Z20")
	p("VPADDD Z20, Z19, Z19")
	p("VMOVDQU32 smallqIdxCompress<>(SB), Z20")
	p("VPERMD Z19, Z20, Z19")
	p("VCVTDQ2PS X19, X19")
	loadScales4(wRow, "X23", "Y23")
	p("VMOVDQU32 smallqIdxEven4<>(SB), Z20")
	p("VPERMPS Z23, Z20, Z20")
	p("VMULPS.BCST (DI), X20, X20")
	p("VMULPS X19, X20, X20")
	p("VADDPS X20, X8, X8")
	p("ADDQ $%d, SI", xsBlock)
	p("ADDQ $%d, R11", xsBlock)
	p("ADDQ $%d, DI", xsABlock)
	p("DECQ CX")
	p("JNZ %s", loop)
	p("MOVQ out+40(FP), DX")
	p("VMOVUPS X8, (DX)")
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

func main() {
	out.WriteString("// Code generated by smallq_gen.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n\n")
	data("smallqIdxPair0", rep(16, func(i int) int { return 2 * (i / 8) }), 4)
	data("smallqIdxPair1", rep(16, func(i int) int { return 4 + 2*(i/8) }), 4)
	data("smallqIdxOdd4", rep(16, func(i int) int { return 2*(i%4) + 1 }), 4)
	data("smallqIdxOddBy4", rep(16, func(i int) int { return 2*(i/4) + 1 }), 4)
	data("smallqIdxEven4", rep(16, func(i int) int { return 2 * (i % 4) }), 4)
	data("smallqIdxEvenBy4", rep(16, func(i int) int { return 2 * (i / 4) }), 4)
	data("smallqIdxCompress", rep(16, func(i int) int { return 4 * (i % 4) }), 4)
	levels := []int{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}
	data("smallqIQ4Table", rep(64, func(i int) int { return levels[i%16] + 128 }), 1)
	data("smallqIdxBy4", rep(16, func(i int) int { return i / 4 }), 4)
	data("smallqXSShiftL", rep(16, func(i int) int { return 4 * (i % 8) }), 4)
	data("smallqXSShiftH", rep(16, func(i int) int { return 2 * (i % 8) }), 4)
	data("smallqDword15", []int{15}, 4)
	data("smallqNibbles", []int{0x0f0f0f0f}, 4)
	data("smallqIQ4Signed", rep(16, func(i int) int { return levels[i] & 0xff }), 1)
	data("smallqAVX2Nibbles", rep(32, func(int) int { return 0x0f }), 1)
	data("smallqAVX2Bytes16", rep(32, func(int) int { return 0x10 }), 1)
	data("smallqAVX2Ones", rep(16, func(int) int { return 1 }), 2)
	data("smallqAVX2QhShuf", rep(32, func(i int) int { return i%16/8 + 2*(i/16) }), 1)
	data("smallqAVX2QhBits", rep(32, func(i int) int { return 1 << (i % 8) }), 1)
	data("smallqDword3", []int{3}, 4)
	data("smallqDword32", []int{32}, 4)
	data("smallqDwordM1", []int{-1}, 4)
	for _, t := range types {
		if t.table {
			x4(t)
			x1(t)
			iq4Dot1(fmt.Sprintf("dot%sVNNI", t.name))
			avx2IQ4NL("tileIQ4_NLx4AVX2", 4, 4)
			avx2IQ4NL("tileIQ4_NLx1AVX2", 4, 1)
			avx2IQ4NL("dotIQ4_NLAVX2", 1, 1)
			continue
		}
		lanesTile(t, fmt.Sprintf("tile%sx4VNNI", t.name), 4, 4)
		lanesTile(t, fmt.Sprintf("tile%sx1VNNI", t.name), 4, 1)
		lanesTile(t, fmt.Sprintf("dot%sVNNI", t.name), 1, 1)
		avx2Tile(t, fmt.Sprintf("tile%sx4AVX2", t.name), 4, 4)
		avx2Tile(t, fmt.Sprintf("tile%sx1AVX2", t.name), 4, 1)
		avx2Tile(t, fmt.Sprintf("dot%sAVX2", t.name), 1, 1)
	}
	xs4()
	xs1()
	if err := os.WriteFile("smallq_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
}
