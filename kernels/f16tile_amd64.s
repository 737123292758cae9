#include "textflag.h"

// F16 matrix tiles: 4 weight rows (F16) by 6, 4 or 2 activation rows (float32
// values of F16 activations, packed by packF16TileAVX512). Each output gets
// exactly the operations of dotF16AVX512 (and so dotF16's bits): its 64
// lanes are four 16-lane registers r = 0..3, register r taking values
// 64c+16r..64c+16r+15 of chunk c, one FMA per chunk, weights as the first
// factor; then (r0+r1) + (r2+r3) and the 16 lanes halved.
//
// The four registers of one output never meet until the end, so a tile
// computes them one after another ("passes"): pass r keeps one accumulator
// per output, 4 x rows of them, and converts each weight vector once for all
// the activation rows, which makes a 4x6 tile fit the 32 registers (24
// accumulators, 4 weights, 4 activation temporaries). Between passes the
// accumulators wait on the stack, at R12 (64-byte aligned, so that no spill
// splits a cache line): r0+r1 at 0(R12), r2 at 1536(R12).
//
// The activations are packed for the tile: pass by pass, chunk by chunk, the
// rows' 16 values side by side (64 bytes a row), so that a pass reads one
// stream. Registers: weight rows at SI, SI+BX, SI+2BX, SI+DX (DX = 3BX), SI
// moving by 128 bytes a chunk from R9 = w+32r; activations at DI. CX counts
// chunks, R8 the pass, R10 holds the last chunk's lane mask (16 bits a pass,
// the lowest for this pass), R13 the output row stride in bytes. With
// prefetch set, pass r also fetches row r of the next 4 weight rows into L2,
// at SI+R11 (R11 = 4BX + r(BX-32)), so that the next tiles find them there
// rather than in memory.
// Accumulators: activation row i, weight row j in Z(4i+j); weights Z24-Z27;
// Z28-Z31 temporaries.

// lane0Of4 gathers lane 0 of each 128-bit block (VPERMPS indices).
DATA lane0Of4<>+0(SB)/4, $0
DATA lane0Of4<>+4(SB)/4, $4
DATA lane0Of4<>+8(SB)/4, $8
DATA lane0Of4<>+12(SB)/4, $12
DATA lane0Of4<>+16(SB)/8, $0
DATA lane0Of4<>+24(SB)/8, $0
DATA lane0Of4<>+32(SB)/8, $0
DATA lane0Of4<>+40(SB)/8, $0
DATA lane0Of4<>+48(SB)/8, $0
DATA lane0Of4<>+56(SB)/8, $0
GLOBL lane0Of4<>(SB), RODATA|NOPTR, $64

// LOADW converts one 16-value group of each weight row, OFF bytes on.
#define LOADW(OFF) \
	VCVTPH2PS OFF(SI), Z24; \
	VCVTPH2PS OFF(SI)(BX*1), Z25; \
	VCVTPH2PS OFF(SI)(BX*2), Z26; \
	VCVTPH2PS OFF(SI)(DX*1), Z27

// LOADWMASKED is LOADW for the last chunk: lanes past the row end are 0 (K1).
#define LOADWMASKED \
	VMOVDQU16.Z (SI), K1, Y24; \
	VMOVDQU16.Z (SI)(BX*1), K1, Y25; \
	VMOVDQU16.Z (SI)(BX*2), K1, Y26; \
	VMOVDQU16.Z (SI)(DX*1), K1, Y27; \
	VCVTPH2PS   Y24, Z24; \
	VCVTPH2PS   Y25, Z25; \
	VCVTPH2PS   Y26, Z26; \
	VCVTPH2PS   Y27, Z27

// LOADWBF16 is LOADW for BF16 weights: zero-extend and shift, exact.
#define LOADWBF16(OFF) \
	VPMOVZXWD OFF(SI), Z24; \
	VPMOVZXWD OFF(SI)(BX*1), Z25; \
	VPMOVZXWD OFF(SI)(BX*2), Z26; \
	VPMOVZXWD OFF(SI)(DX*1), Z27; \
	VPSLLD    $16, Z24, Z24; \
	VPSLLD    $16, Z25, Z25; \
	VPSLLD    $16, Z26, Z26; \
	VPSLLD    $16, Z27, Z27

// LOADWBF16MASKED is LOADWMASKED for BF16 weights.
#define LOADWBF16MASKED \
	VMOVDQU16.Z (SI), K1, Y24; \
	VMOVDQU16.Z (SI)(BX*1), K1, Y25; \
	VMOVDQU16.Z (SI)(BX*2), K1, Y26; \
	VMOVDQU16.Z (SI)(DX*1), K1, Y27; \
	VPMOVZXWD   Y24, Z24; \
	VPMOVZXWD   Y25, Z25; \
	VPMOVZXWD   Y26, Z26; \
	VPMOVZXWD   Y27, Z27; \
	VPSLLD      $16, Z24, Z24; \
	VPSLLD      $16, Z25, Z25; \
	VPSLLD      $16, Z26, Z26; \
	VPSLLD      $16, Z27, Z27

// ROWFMA folds one activation row's group (at ADDR, via T) into its four
// accumulators.
#define ROWFMA(ADDR, T, A0, A1, A2, A3) \
	VMOVUPS     ADDR, T; \
	VFMADD231PS T, Z24, A0; \
	VFMADD231PS T, Z25, A1; \
	VFMADD231PS T, Z26, A2; \
	VFMADD231PS T, Z27, A3

// FMASn folds the chunk OFF bytes on of the n activation rows.
#define FMAS2(OFF) \
	ROWFMA(OFF+0(DI), Z28, Z0, Z1, Z2, Z3); \
	ROWFMA(OFF+64(DI), Z29, Z4, Z5, Z6, Z7)

#define FMAS4(OFF) \
	FMAS2(OFF); \
	ROWFMA(OFF+128(DI), Z30, Z8, Z9, Z10, Z11); \
	ROWFMA(OFF+192(DI), Z31, Z12, Z13, Z14, Z15)

#define FMAS6(OFF) \
	FMAS4(OFF); \
	ROWFMA(OFF+256(DI), Z28, Z16, Z17, Z18, Z19); \
	ROWFMA(OFF+320(DI), Z29, Z20, Z21, Z22, Z23)

// Per-row operations on the four accumulators of a row (spill slot OFF).
#define ZEROQ(OFF, A0, A1, A2, A3) \
	VPXORD A0, A0, A0; \
	VPXORD A1, A1, A1; \
	VPXORD A2, A2, A2; \
	VPXORD A3, A3, A3

// SPILLQ stores the accumulators at OFF(R12) (r0 or r2).
#define SPILLQ(OFF, A0, A1, A2, A3) \
	VMOVUPS A0, OFF+0(R12); \
	VMOVUPS A1, OFF+64(R12); \
	VMOVUPS A2, OFF+128(R12); \
	VMOVUPS A3, OFF+192(R12)

// ADDQ4 makes each accumulator A the sum (value at OFF(R12)) + A, the stored
// value first, as dotF16AVX512 adds r0+r1 and r2+r3.
#define ADDQ4(OFF, A0, A1, A2, A3) \
	VMOVUPS OFF+0(R12), Z28; \
	VMOVUPS OFF+64(R12), Z29; \
	VMOVUPS OFF+128(R12), Z30; \
	VMOVUPS OFF+192(R12), Z31; \
	VADDPS  A0, Z28, A0; \
	VADDPS  A1, Z29, A1; \
	VADDPS  A2, Z30, A2; \
	VADDPS  A3, Z31, A3

// SUM01Q: r0+r1, stored for the last pass.
#define SUM01Q(OFF, A0, A1, A2, A3) \
	ADDQ4(OFF, A0, A1, A2, A3); \
	SPILLQ(OFF, A0, A1, A2, A3)

// SPILLQ1536 stores r2 past the r0+r1 slots.
#define SPILLQ1536(OFF, A0, A1, A2, A3) \
	SPILLQ(OFF+1536, A0, A1, A2, A3)

// SUMALLQ: (r0+r1) + (r2+r3), r2 at 1536 bytes past r0+r1.
#define SUMALLQ(OFF, A0, A1, A2, A3) \
	ADDQ4(OFF+1536, A0, A1, A2, A3); \
	ADDQ4(OFF, A0, A1, A2, A3)

// REDUCEQ halves the 16 lanes of the row's four outputs as dotF16AVX512
// does (lane l plus lane l+8, l+4, l+2, l+1, the lower lane first), four
// outputs side by side, and stores them at (AX); AX moves on a row.
#define REDUCEQ(OFF, A0, A1, A2, A3) \
	VSHUFF32X4 $0x44, A1, A0, Z28; \
	VSHUFF32X4 $0xEE, A1, A0, Z29; \
	VADDPS     Z29, Z28, Z28; \
	VSHUFF32X4 $0x44, A3, A2, Z30; \
	VSHUFF32X4 $0xEE, A3, A2, Z31; \
	VADDPS     Z31, Z30, Z30; \
	VSHUFF32X4 $0x88, Z30, Z28, Z29; \
	VSHUFF32X4 $0xDD, Z30, Z28, Z31; \
	VADDPS     Z31, Z29, Z29; \
	VPERMILPS  $0xEE, Z29, Z31; \
	VADDPS     Z31, Z29, Z29; \
	VMOVSHDUP  Z29, Z31; \
	VADDPS     Z31, Z29, Z29; \
	VPERMPS    Z29, Z24, Z29; \
	VMOVUPS    X29, (AX); \
	ADDQ       R13, AX

// ROWSn applies a per-row operation to the first n rows.
#define ROWS2(OP) \
	OP(0, Z0, Z1, Z2, Z3); \
	OP(256, Z4, Z5, Z6, Z7)

#define ROWS4(OP) \
	ROWS2(OP); \
	OP(512, Z8, Z9, Z10, Z11); \
	OP(768, Z12, Z13, Z14, Z15)

#define ROWS6(OP) \
	ROWS4(OP); \
	OP(1024, Z16, Z17, Z18, Z19); \
	OP(1280, Z20, Z21, Z22, Z23)

// TILEF16 is the body of a tile kernel; LW and LWM load the weights (F16 or
// BF16: LOADW and LOADWMASKED or their BF16 forms); ROWS, FMAS and STEP (the bytes of a
// chunk's activations; STEPOFF the same as an offset, STEP2 twice it) give
// its row count. A pass runs its full chunks two a loop iteration (ODD takes
// one first if their count is odd), or one an iteration in PFLOOP, which
// prefetches and sits after the RET, out of the way of the other loop; then
// the last chunk, masked.
#define TILEF16(LW, LWM, ROWS, FMAS, STEP, STEPOFF, STEP2, PASS, ODD, LOOP, PFLOOP, TAIL, AFTER1, AFTER23, NEXT, DONE) \
	MOVQ w+0(FP), R9; \
	MOVQ wstride+8(FP), BX; \
	LEAQ (BX)(BX*2), DX; \
	LEAQ (BX*4), R11; \
	LEAQ 63(SP), R12; \
	ANDQ $~63, R12; \
	MOVQ a+16(FP), DI; \
	MOVQ mask+32(FP), R10; \
	XORQ R8, R8; \
PASS: \
	ROWS(ZEROQ); \
	MOVQ R9, SI; \
	MOVQ nc+24(FP), CX; \
	DECQ CX; \
	JZ   TAIL; \
	CMPB prefetch+56(FP), $0; \
	JNE  PFLOOP; \
	TESTQ $1, CX; \
	JZ   LOOP; \
ODD: \
	LW(0); \
	FMAS(0); \
	ADDQ $128, SI; \
	ADDQ STEP, DI; \
	DECQ CX; \
	JZ   TAIL; \
LOOP: \
	LW(0); \
	FMAS(0); \
	LW(128); \
	FMAS(STEPOFF); \
	ADDQ $256, SI; \
	ADDQ STEP2, DI; \
	SUBQ $2, CX; \
	JNZ  LOOP; \
TAIL: \
	KMOVW R10, K1; \
	LWM; \
	FMAS(0); \
	ADDQ STEP, DI; \
	CMPQ R8, $1; \
	JEQ  AFTER1; \
	JGT  AFTER23; \
	ROWS(SPILLQ); \
	JMP  NEXT; \
AFTER1: \
	ROWS(SUM01Q); \
	JMP  NEXT; \
AFTER23: \
	CMPQ R8, $3; \
	JEQ  DONE; \
	ROWS(SPILLQ1536); \
NEXT: \
	INCQ R8; \
	ADDQ $32, R9; \
	ADDQ BX, R11; \
	SUBQ $32, R11; \
	SHRQ $16, R10; \
	JMP  PASS; \
DONE: \
	ROWS(SUMALLQ); \
	VMOVUPS lane0Of4<>(SB), Z24; \
	MOVQ out+40(FP), AX; \
	MOVQ ostride+48(FP), R13; \
	SHLQ $2, R13; \
	ROWS(REDUCEQ); \
	VZEROUPPER; \
	RET; \
PFLOOP: \
	PREFETCHT1 (SI)(R11*1); \
	PREFETCHT1 64(SI)(R11*1); \
	LW(0); \
	FMAS(0); \
	ADDQ $128, SI; \
	ADDQ STEP, DI; \
	DECQ CX; \
	JNZ  PFLOOP; \
	JMP  TAIL

// func tileF16x6AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileF16x6AVX512(SB), 0, $3136-57
	TILEF16(LOADW, LOADWMASKED, ROWS6, FMAS6, $384, 384, $768, f16x6pass, f16x6odd, f16x6loop, f16x6pfloop, f16x6tail, f16x6after1, f16x6after23, f16x6next, f16x6done)

// func tileF16x4AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileF16x4AVX512(SB), 0, $3136-57
	TILEF16(LOADW, LOADWMASKED, ROWS4, FMAS4, $256, 256, $512, f16x4pass, f16x4odd, f16x4loop, f16x4pfloop, f16x4tail, f16x4after1, f16x4after23, f16x4next, f16x4done)

// func tileF16x2AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileF16x2AVX512(SB), 0, $3136-57
	TILEF16(LOADW, LOADWMASKED, ROWS2, FMAS2, $128, 128, $256, f16x2pass, f16x2odd, f16x2loop, f16x2pfloop, f16x2tail, f16x2after1, f16x2after23, f16x2next, f16x2done)

// func tileBF16x6AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileBF16x6AVX512(SB), 0, $3136-57
	TILEF16(LOADWBF16, LOADWBF16MASKED, ROWS6, FMAS6, $384, 384, $768, bf16x6pass, bf16x6odd, bf16x6loop, bf16x6pfloop, bf16x6tail, bf16x6after1, bf16x6after23, bf16x6next, bf16x6done)

// func tileBF16x4AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileBF16x4AVX512(SB), 0, $3136-57
	TILEF16(LOADWBF16, LOADWBF16MASKED, ROWS4, FMAS4, $256, 256, $512, bf16x4pass, bf16x4odd, bf16x4loop, bf16x4pfloop, bf16x4tail, bf16x4after1, bf16x4after23, bf16x4next, bf16x4done)

// func tileBF16x2AVX512(w *byte, wstride int, a *float32, nc int, mask uint64, out *float32, ostride int, prefetch bool)
TEXT ·tileBF16x2AVX512(SB), 0, $3136-57
	TILEF16(LOADWBF16, LOADWBF16MASKED, ROWS2, FMAS2, $128, 128, $256, bf16x2pass, bf16x2odd, bf16x2loop, bf16x2pfloop, bf16x2tail, bf16x2after1, bf16x2after23, bf16x2next, bf16x2done)

// func packF16TileAVX512(dst *float32, src *byte, nc int, mask uint64, step int)
// Converts one F16 row of nc 64-value chunks (the last one masked by mask,
// zeros past the row end) to float32 for a tile whose chunks are step bytes
// apart: group r of chunk c at byte (r*nc+c)*step of dst.
TEXT ·packF16TileAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nc+16(FP), CX
	MOVQ mask+24(FP), R10
	MOVQ step+32(FP), R11
	MOVQ CX, R8
	IMULQ R11, R8
	LEAQ (R8)(R8*2), R9
	DECQ CX
	JZ   packtail

packloop:
	VCVTPH2PS 0(SI), Z0
	VCVTPH2PS 32(SI), Z1
	VCVTPH2PS 64(SI), Z2
	VCVTPH2PS 96(SI), Z3
	VMOVUPS   Z0, (DI)
	VMOVUPS   Z1, (DI)(R8*1)
	VMOVUPS   Z2, (DI)(R8*2)
	VMOVUPS   Z3, (DI)(R9*1)
	ADDQ      $128, SI
	ADDQ      R11, DI
	DECQ      CX
	JNZ       packloop

packtail:
	KMOVW       R10, K1
	SHRQ        $16, R10
	KMOVW       R10, K2
	SHRQ        $16, R10
	KMOVW       R10, K3
	SHRQ        $16, R10
	KMOVW       R10, K4
	VMOVDQU16.Z 0(SI), K1, Y0
	VMOVDQU16.Z 32(SI), K2, Y1
	VMOVDQU16.Z 64(SI), K3, Y2
	VMOVDQU16.Z 96(SI), K4, Y3
	VCVTPH2PS   Y0, Z0
	VCVTPH2PS   Y1, Z1
	VCVTPH2PS   Y2, Z2
	VCVTPH2PS   Y3, Z3
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, (DI)(R8*1)
	VMOVUPS     Z2, (DI)(R8*2)
	VMOVUPS     Z3, (DI)(R9*1)
	VZEROUPPER
	RET
