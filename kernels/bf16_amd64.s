#include "textflag.h"

// BF16 rows to and from float32, the BF16 dot and the BF16 tile packer.
// A bfloat16 value is the top half of a float32, so converting it is a
// zero-extension and a 16-bit shift (BF16CVT), exact for every value.

#define BF16CVT(SRC, Z) \
	VPMOVZXWD SRC, Z; \
	VPSLLD    $16, Z, Z

// func bf16ToF32AVX512(dst *float32, src *byte, n int)
TEXT ·bf16ToF32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

b2sloop:
	BF16CVT((SI), Z0)
	VMOVUPS Z0, (DI)
	ADDQ    $32, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     b2sloop
	VZEROUPPER
	RET

// func f32ToBF16AVX512(dst *byte, src *float32, n int)
// F32ToBF16 on 16 values at a time in integer arithmetic: (u + 0x7fff +
// (u>>16)&1) >> 16, or (u>>16) | 0x40 where |u| > 0x7f800000 (a NaN).
TEXT ·f32ToBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z10
	MOVL $1, AX
	VPBROADCASTD AX, Z11
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z12
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z13
	MOVL $0x40, AX
	VPBROADCASTD AX, Z14

s2bloop:
	VMOVDQU32 (SI), Z0
	VPSRLD    $16, Z0, Z1
	VPANDD    Z11, Z1, Z2
	VPADDD    Z10, Z0, Z3
	VPADDD    Z2, Z3, Z3
	VPSRLD    $16, Z3, Z3
	VPANDD    Z12, Z0, Z4
	VPCMPUD   $6, Z13, Z4, K1
	VPORD     Z14, Z1, K1, Z3
	VPMOVDW   Z3, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JNZ       s2bloop
	VZEROUPPER
	RET

// func dotBF16AVX512(w, a *byte, n int) float32
// dotBF16's order, as dotF16AVX512: accumulators Z0-Z3 hold lanes 0-15,
// 16-31, 32-47, 48-63; the last, partial, 64 values are loaded under masks
// that zero the rest (bits 16r..16r+15 of a 64-bit mask for register r).
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ CX, $64
	JLT  bf16tail

bf16loop:
	BF16CVT(0(SI), Z4)
	BF16CVT(0(DI), Z8)
	VFMADD231PS Z8, Z4, Z0
	BF16CVT(32(SI), Z5)
	BF16CVT(32(DI), Z9)
	VFMADD231PS Z9, Z5, Z1
	BF16CVT(64(SI), Z6)
	BF16CVT(64(DI), Z10)
	VFMADD231PS Z10, Z6, Z2
	BF16CVT(96(SI), Z7)
	BF16CVT(96(DI), Z11)
	VFMADD231PS Z11, Z7, Z3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JGE  bf16loop

bf16tail:
	TESTQ CX, CX
	JZ    bf16sum
	MOVQ  $-1, AX
	BZHIQ CX, AX, R8
	KMOVQ R8, K1
	KSHIFTRQ $16, K1, K2
	KSHIFTRQ $32, K1, K3
	KSHIFTRQ $48, K1, K4
	VMOVDQU16.Z 0(SI), K1, Y4
	VMOVDQU16.Z 0(DI), K1, Y8
	VMOVDQU16.Z 32(SI), K2, Y5
	VMOVDQU16.Z 32(DI), K2, Y9
	VMOVDQU16.Z 64(SI), K3, Y6
	VMOVDQU16.Z 64(DI), K3, Y10
	VMOVDQU16.Z 96(SI), K4, Y7
	VMOVDQU16.Z 96(DI), K4, Y11
	BF16CVT(Y4, Z4)
	BF16CVT(Y8, Z8)
	VFMADD231PS Z8, Z4, Z0
	BF16CVT(Y5, Z5)
	BF16CVT(Y9, Z9)
	VFMADD231PS Z9, Z5, Z1
	BF16CVT(Y6, Z6)
	BF16CVT(Y10, Z10)
	VFMADD231PS Z10, Z6, Z2
	BF16CVT(Y7, Z7)
	BF16CVT(Y11, Z11)
	VFMADD231PS Z11, Z7, Z3

bf16sum:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func packBF16TileAVX512(dst *float32, src *byte, nc int, mask uint64, step int)
// packF16TileAVX512 for a BF16 row: nc 64-value chunks (the last one masked
// by mask, zeros past the row end) to float32, group r of chunk c at byte
// (r*nc+c)*step of dst.
TEXT ·packBF16TileAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nc+16(FP), CX
	MOVQ mask+24(FP), R10
	MOVQ step+32(FP), R11
	MOVQ CX, R8
	IMULQ R11, R8
	LEAQ (R8)(R8*2), R9
	DECQ CX
	JZ   bpacktail

bpackloop:
	BF16CVT(0(SI), Z0)
	BF16CVT(32(SI), Z1)
	BF16CVT(64(SI), Z2)
	BF16CVT(96(SI), Z3)
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R8*1)
	VMOVUPS Z2, (DI)(R8*2)
	VMOVUPS Z3, (DI)(R9*1)
	ADDQ    $128, SI
	ADDQ    R11, DI
	DECQ    CX
	JNZ     bpackloop

bpacktail:
	KMOVQ       R10, K1
	KSHIFTRQ    $16, K1, K2
	KSHIFTRQ    $32, K1, K3
	KSHIFTRQ    $48, K1, K4
	VMOVDQU16.Z 0(SI), K1, Y0
	VMOVDQU16.Z 32(SI), K2, Y1
	VMOVDQU16.Z 64(SI), K3, Y2
	VMOVDQU16.Z 96(SI), K4, Y3
	BF16CVT(Y0, Z0)
	BF16CVT(Y1, Z1)
	BF16CVT(Y2, Z2)
	BF16CVT(Y3, Z3)
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, (DI)(R8*1)
	VMOVUPS     Z2, (DI)(R8*2)
	VMOVUPS     Z3, (DI)(R9*1)
	VZEROUPPER
	RET
