#include "textflag.h"

// Flash attention's inner loops with the bits of their Go twins
// (attnScoresF16, attnAccumulateF16). Products of F16 values are exact in
// float32, so VMULPS then VADDPS is the twins' (and ggml's) fused step;
// VFMADD231PS rounds once as fma32; VCVTPS2PH with immediate 0 rounds to
// nearest even as F32ToF16, and VCVTPH2PS is exact.

// func attnScoresF16AVX512(dst, q, k *float32, kStride, nt, hd int)
// hd is a multiple of 64. Per key: four 16-lane sums over the 64-value
// chunks, then (0+2) + (1+3), halves 8 and 4 apart, (0+2) + (1+3).
TEXT ·attnScoresF16AVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), R8
	MOVQ kStride+24(FP), R9
	SHLQ $2, R9
	MOVQ nt+32(FP), CX
	MOVQ hd+40(FP), DX
	SHLQ $2, DX

key:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ   AX, AX

chunk:
	VMOVUPS (SI)(AX*1), Z4
	VMOVUPS 64(SI)(AX*1), Z5
	VMOVUPS 128(SI)(AX*1), Z6
	VMOVUPS 192(SI)(AX*1), Z7
	VMULPS  (R8)(AX*1), Z4, Z4
	VMULPS  64(R8)(AX*1), Z5, Z5
	VMULPS  128(R8)(AX*1), Z6, Z6
	VMULPS  192(R8)(AX*1), Z7, Z7
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	ADDQ    $256, AX
	CMPQ    AX, DX
	JLT     chunk

	VADDPS        Z2, Z0, Z0
	VADDPS        Z3, Z1, Z1
	VADDPS        Z1, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VMOVSS        X0, (DI)
	ADDQ          $4, DI
	ADDQ          R9, R8
	DECQ          CX
	JNZ           key
	VZEROUPPER
	RET

// ROUND16 rounds the float32 lanes of Z to F16 values in place.
#define ROUND16(Z, Y) \
	VCVTPS2PH $0, Z, Y; \
	VCVTPH2PS Y, Z

// func attnAccumulateF16AVX512(out, ms, vs, v *float32, vStride, nt, hd int)
// hd is a multiple of 16; out holds the accumulator on entry and exit. Columns
// go 64 at a time (four independent chains) while they can, then 16; each
// column block runs through every key before the next.
TEXT ·attnAccumulateF16AVX512(SB), NOSPLIT, $0-56
	MOVQ   out+0(FP), DI
	MOVQ   ms+8(FP), SI
	MOVQ   vs+16(FP), R10
	MOVQ   v+24(FP), R8
	MOVQ   vStride+32(FP), R9
	SHLQ   $2, R9
	MOVQ   hd+48(FP), DX
	MOVL   $0x3f800000, AX
	VMOVD  AX, X15 // 1.0

cols64:
	CMPQ    DX, $64
	JLT     cols16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ    nt+40(FP), CX
	XORQ    AX, AX
	MOVQ    R8, BX

rows64:
	VMOVSS       (SI)(AX*4), X8
	VUCOMISS     X15, X8
	JNE          scale64
	JPC          fma64 // ms == 1: nothing to rescale (NaN rescales)

scale64:
	VBROADCASTSS X8, Z8
	VMULPS       Z8, Z0, Z0
	VMULPS       Z8, Z1, Z1
	VMULPS       Z8, Z2, Z2
	VMULPS       Z8, Z3, Z3
	ROUND16(Z0, Y4)
	ROUND16(Z1, Y5)
	ROUND16(Z2, Y6)
	ROUND16(Z3, Y7)

fma64:
	VBROADCASTSS (R10)(AX*4), Z9
	VFMADD231PS  (BX), Z9, Z0
	VFMADD231PS  64(BX), Z9, Z1
	VFMADD231PS  128(BX), Z9, Z2
	VFMADD231PS  192(BX), Z9, Z3
	ROUND16(Z0, Y4)
	ROUND16(Z1, Y5)
	ROUND16(Z2, Y6)
	ROUND16(Z3, Y7)
	ADDQ         R9, BX
	INCQ         AX
	CMPQ         AX, CX
	JLT          rows64
	VMOVUPS      Z0, (DI)
	VMOVUPS      Z1, 64(DI)
	VMOVUPS      Z2, 128(DI)
	VMOVUPS      Z3, 192(DI)
	ADDQ         $256, DI
	ADDQ         $256, R8
	SUBQ         $64, DX
	JMP          cols64

cols16:
	TESTQ   DX, DX
	JZ      done
	VMOVUPS (DI), Z0
	MOVQ    nt+40(FP), CX
	XORQ    AX, AX
	MOVQ    R8, BX

rows16:
	VMOVSS       (SI)(AX*4), X8
	VUCOMISS     X15, X8
	JNE          scale16
	JPC          fma16 // ms == 1: nothing to rescale (NaN rescales)

scale16:
	VBROADCASTSS X8, Z8
	VMULPS       Z8, Z0, Z0
	ROUND16(Z0, Y4)

fma16:
	VBROADCASTSS (R10)(AX*4), Z9
	VFMADD231PS  (BX), Z9, Z0
	ROUND16(Z0, Y4)
	ADDQ         R9, BX
	INCQ         AX
	CMPQ         AX, CX
	JLT          rows16
	VMOVUPS      Z0, (DI)
	ADDQ         $64, DI
	ADDQ         $64, R8
	SUBQ         $16, DX
	JMP          cols16

done:
	VZEROUPPER
	RET
