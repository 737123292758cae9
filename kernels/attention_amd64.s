#include "textflag.h"

// Attention's inner loops with the bits of their Go twins (attnScores,
// attnWeightedSum): each product is a float32 VMULPS, widened exactly with
// VCVTPS2PD and added in float64 in the twin's order; only independent sums
// share a register. VCVTPD2PS rounds to nearest even, as Go's conversion.

// SCORE folds key value d (at K) of one key into ACC for the 8 heads in Y8.
#define SCORE(K, T, ACC) \
	VBROADCASTSS (K)(AX*4), T; \
	VMULPS       Y8, T, T; \
	VCVTPS2PD    T, Z9; \
	VADDPD       Z9, ACC, ACC

// func attnScoresAVX512(dst, qT, k *float32, kStride, nt, hd int)
// Keys go 4 at a time (four independent float64 chains), the rest one by one.
TEXT ·attnScoresAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ qT+8(FP), SI
	MOVQ k+16(FP), R8
	MOVQ kStride+24(FP), R9
	SHLQ $2, R9
	MOVQ nt+32(FP), CX
	MOVQ hd+40(FP), DX

four:
	CMPQ CX, $4
	JLT  one
	LEAQ (R8)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), R12
	VXORPD Z16, Z16, Z16
	VXORPD Z17, Z17, Z17
	VXORPD Z18, Z18, Z18
	VXORPD Z19, Z19, Z19
	XORQ AX, AX
	MOVQ SI, BX

fourd:
	VMOVUPS (BX), Y8
	SCORE(R8, Y0, Z16)
	SCORE(R10, Y1, Z17)
	SCORE(R11, Y2, Z18)
	SCORE(R12, Y3, Z19)
	ADDQ $32, BX
	INCQ AX
	CMPQ AX, DX
	JLT  fourd
	VCVTPD2PS Z16, Y16
	VCVTPD2PS Z17, Y17
	VCVTPD2PS Z18, Y18
	VCVTPD2PS Z19, Y19
	VMOVUPS Y16, 0(DI)
	VMOVUPS Y17, 32(DI)
	VMOVUPS Y18, 64(DI)
	VMOVUPS Y19, 96(DI)
	ADDQ $128, DI
	LEAQ (R12)(R9*1), R8
	SUBQ $4, CX
	JMP  four

one:
	TESTQ CX, CX
	JZ    done
	VXORPD Z16, Z16, Z16
	XORQ AX, AX
	MOVQ SI, BX

oned:
	VMOVUPS (BX), Y8
	SCORE(R8, Y0, Z16)
	ADDQ $32, BX
	INCQ AX
	CMPQ AX, DX
	JLT  oned
	VCVTPD2PS Z16, Y16
	VMOVUPS Y16, 0(DI)
	ADDQ $32, DI
	ADDQ R9, R8
	DECQ CX
	JMP  one

done:
	VZEROUPPER
	RET

// func attnWeightedSumAVX512(out, w, v *float32, vStride, nt, hd int)
// hd is a multiple of 16. For each 16 columns (two float64 registers of 8
// sums each), every row t is folded in in order.
TEXT ·attnWeightedSumAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ v+16(FP), R8
	MOVQ vStride+24(FP), R9
	SHLQ $2, R9
	MOVQ hd+40(FP), DX

cols:
	VXORPD Z16, Z16, Z16
	VXORPD Z17, Z17, Z17
	VXORPD Z18, Z18, Z18
	VXORPD Z19, Z19, Z19
	MOVQ nt+32(FP), CX
	XORQ AX, AX
	MOVQ R8, BX
	CMPQ DX, $32
	JLT  rows16

rows32:
	VBROADCASTSS  (SI)(AX*4), Z8
	VMULPS        (BX), Z8, Z0
	VMULPS        64(BX), Z8, Z1
	VEXTRACTF32X8 $1, Z0, Y2
	VEXTRACTF32X8 $1, Z1, Y3
	VCVTPS2PD     Y0, Z0
	VCVTPS2PD     Y2, Z2
	VCVTPS2PD     Y1, Z1
	VCVTPS2PD     Y3, Z3
	VADDPD        Z0, Z16, Z16
	VADDPD        Z2, Z17, Z17
	VADDPD        Z1, Z18, Z18
	VADDPD        Z3, Z19, Z19
	ADDQ          R9, BX
	INCQ          AX
	CMPQ          AX, CX
	JLT           rows32
	VCVTPD2PS Z16, Y16
	VCVTPD2PS Z17, Y17
	VCVTPD2PS Z18, Y18
	VCVTPD2PS Z19, Y19
	VMOVUPS   Y16, 0(DI)
	VMOVUPS   Y17, 32(DI)
	VMOVUPS   Y18, 64(DI)
	VMOVUPS   Y19, 96(DI)
	ADDQ      $128, DI
	ADDQ      $128, R8
	SUBQ      $32, DX
	JNZ       cols
	JMP       done

rows16:
	VBROADCASTSS  (SI)(AX*4), Z8
	VMULPS        (BX), Z8, Z0
	VEXTRACTF32X8 $1, Z0, Y2
	VCVTPS2PD     Y0, Z0
	VCVTPS2PD     Y2, Z2
	VADDPD        Z0, Z16, Z16
	VADDPD        Z2, Z17, Z17
	ADDQ          R9, BX
	INCQ          AX
	CMPQ          AX, CX
	JLT           rows16
	VCVTPD2PS Z16, Y16
	VCVTPD2PS Z17, Y17
	VMOVUPS   Y16, 0(DI)
	VMOVUPS   Y17, 32(DI)
	ADDQ      $64, DI
	ADDQ      $64, R8
	SUBQ      $16, DX
	JNZ       cols

done:
	VZEROUPPER
	RET
