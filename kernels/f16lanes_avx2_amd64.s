//go:build amd64

#include "textflag.h"

// AVX2 dots in dotF16's 64-lane order (for CPUs without AVX-512): Y0..Y7
// hold lanes 0-7, 8-15, ..., 56-63, one FMA per lane, then sumF16Lanes'
// reduction. A partial last chunk comes zero-padded in wt, at (nil: none):
// its lanes then add 0·0, as the twin's do.

// F32CHUNK accumulates 64 float32 pairs from SI, DI.
#define F32CHUNK \
	VMOVUPS 0(SI), Y8; VFMADD231PS 0(DI), Y8, Y0; \
	VMOVUPS 32(SI), Y9; VFMADD231PS 32(DI), Y9, Y1; \
	VMOVUPS 64(SI), Y10; VFMADD231PS 64(DI), Y10, Y2; \
	VMOVUPS 96(SI), Y11; VFMADD231PS 96(DI), Y11, Y3; \
	VMOVUPS 128(SI), Y8; VFMADD231PS 128(DI), Y8, Y4; \
	VMOVUPS 160(SI), Y9; VFMADD231PS 160(DI), Y9, Y5; \
	VMOVUPS 192(SI), Y10; VFMADD231PS 192(DI), Y10, Y6; \
	VMOVUPS 224(SI), Y11; VFMADD231PS 224(DI), Y11, Y7

// BF16LANE accumulates 8 bfloat16 pairs at byte offset off into acc.
#define BF16LANE(off, acc) \
	VPMOVZXWD off(SI), Y8; VPSLLD $16, Y8, Y8; \
	VPMOVZXWD off(DI), Y9; VPSLLD $16, Y9, Y9; \
	VFMADD231PS Y9, Y8, acc

#define BF16CHUNK \
	BF16LANE(0, Y0); BF16LANE(16, Y1); BF16LANE(32, Y2); BF16LANE(48, Y3); \
	BF16LANE(64, Y4); BF16LANE(80, Y5); BF16LANE(96, Y6); BF16LANE(112, Y7)

// SUMLANES reduces Y0..Y7 as sumF16Lanes into X0.
#define SUMLANES \
	VADDPS Y2, Y0, Y0; VADDPS Y6, Y4, Y4; VADDPS Y4, Y0, Y0; \
	VADDPS Y3, Y1, Y1; VADDPS Y7, Y5, Y5; VADDPS Y5, Y1, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; VADDPS X1, X0, X0; \
	VMOVHLPS X0, X0, X1; VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; VADDSS X1, X0, X0

#define ZEROLANES \
	VXORPS Y0, Y0, Y0; VXORPS Y1, Y1, Y1; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7

// func dotF32AVX2(w, a *byte, nc int, wt, at *byte) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nc+16(FP), CX
	ZEROLANES
	TESTQ CX, CX
	JZ    f32tail

f32loop:
	F32CHUNK
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  f32loop

f32tail:
	MOVQ wt+24(FP), SI
	MOVQ at+32(FP), DI
	TESTQ SI, SI
	JZ    f32sum
	F32CHUNK

f32sum:
	SUMLANES
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// func dotBF16AVX2(w, a *byte, nc int, wt, at *byte) float32
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nc+16(FP), CX
	ZEROLANES
	TESTQ CX, CX
	JZ    bf16tail

bf16loop:
	BF16CHUNK
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  bf16loop

bf16tail:
	MOVQ wt+24(FP), SI
	MOVQ at+32(FP), DI
	TESTQ SI, SI
	JZ    bf16sum
	BF16CHUNK

bf16sum:
	SUMLANES
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET
