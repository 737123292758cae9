#include "textflag.h"

// F16 rows to and from float32, 16 values at a time. VCVTPH2PS is exact and
// VCVTPS2PH with immediate 0 rounds to nearest even, as F16ToF32 and F32ToF16;
// only NaNs may differ (payload quieting), so each kernel reports whether it
// met one and its Go wrapper then converts the row with the twin.

// func f16ToF32AVX512(dst *float32, src *byte, n int) (nan bool)
TEXT ·f16ToF32AVX512(SB), NOSPLIT, $0-25
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	KXORW K2, K2, K2

h2sloop:
	VCVTPH2PS (SI), Z0
	VCMPPS    $3, Z0, Z0, K1
	KORW      K1, K2, K2
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       h2sloop
	KORTESTW  K2, K2
	SETNE     nan+24(FP)
	VZEROUPPER
	RET

// func f32ToF16AVX512(dst *byte, src *float32, n int) (nan bool)
TEXT ·f32ToF16AVX512(SB), NOSPLIT, $0-25
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	KXORW K2, K2, K2

s2hloop:
	VMOVUPS   (SI), Z0
	VCMPPS    $3, Z0, Z0, K1
	KORW      K1, K2, K2
	VCVTPS2PH $0, Z0, Y1
	VMOVDQU   Y1, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JNZ       s2hloop
	KORTESTW  K2, K2
	SETNE     nan+24(FP)
	VZEROUPPER
	RET

// func roundF16AVX512(v *float32, n int) (nan bool)
// NaN lanes are left as they are (masked store): the twin, run again over the
// row, rounds them and leaves the rounded values as they are.
TEXT ·roundF16AVX512(SB), NOSPLIT, $0-17
	MOVQ v+0(FP), DI
	MOVQ n+8(FP), CX
	KXORW K2, K2, K2

roundloop:
	VMOVUPS   (DI), Z0
	VCMPPS    $3, Z0, Z0, K1
	KORW      K1, K2, K2
	KNOTW     K1, K3
	VCVTPS2PH $0, Z0, Y1
	VCVTPH2PS Y1, Z1
	VMOVUPS   Z1, K3, (DI)
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       roundloop
	KORTESTW  K2, K2
	SETNE     nan+16(FP)
	VZEROUPPER
	RET

// func dotF16AVX512(w, a *byte, n int) float32
// dotF16's order: accumulators Z0-Z3 hold lanes 0-15, 16-31, 32-47, 48-63;
// the last, partial, 64 values are loaded under masks that zero the rest.
TEXT ·dotF16AVX512(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ CX, $64
	JLT  f16tail

f16loop:
	VCVTPH2PS   0(SI), Z4
	VCVTPH2PS   0(DI), Z8
	VFMADD231PS Z8, Z4, Z0
	VCVTPH2PS   32(SI), Z5
	VCVTPH2PS   32(DI), Z9
	VFMADD231PS Z9, Z5, Z1
	VCVTPH2PS   64(SI), Z6
	VCVTPH2PS   64(DI), Z10
	VFMADD231PS Z10, Z6, Z2
	VCVTPH2PS   96(SI), Z7
	VCVTPH2PS   96(DI), Z11
	VFMADD231PS Z11, Z7, Z3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JGE  f16loop

f16tail:
	TESTQ CX, CX
	JZ    f16sum
	// Masks of min(max(CX-16k, 0), 16) ones for the four registers.
	MOVQ $-1, AX
	MOVQ CX, DX
	CMPQ DX, $16
	JGE  f16m0full
	BZHIQ DX, AX, R8
	JMP  f16m0
f16m0full:
	MOVQ AX, R8
f16m0:
	KMOVW R8, K1
	SUBQ  $16, DX
	JGE   f16m1pos
	XORQ  DX, DX
f16m1pos:
	CMPQ DX, $16
	JGE  f16m1full
	BZHIQ DX, AX, R8
	JMP  f16m1
f16m1full:
	MOVQ AX, R8
f16m1:
	KMOVW R8, K2
	SUBQ  $16, DX
	JGE   f16m2pos
	XORQ  DX, DX
f16m2pos:
	CMPQ DX, $16
	JGE  f16m2full
	BZHIQ DX, AX, R8
	JMP  f16m2
f16m2full:
	MOVQ AX, R8
f16m2:
	KMOVW R8, K3
	SUBQ  $16, DX
	JGE   f16m3pos
	XORQ  DX, DX
f16m3pos:
	BZHIQ DX, AX, R8
	KMOVW R8, K4
	VMOVDQU16.Z 0(SI), K1, Y4
	VMOVDQU16.Z 0(DI), K1, Y8
	VMOVDQU16.Z 32(SI), K2, Y5
	VMOVDQU16.Z 32(DI), K2, Y9
	VMOVDQU16.Z 64(SI), K3, Y6
	VMOVDQU16.Z 64(DI), K3, Y10
	VMOVDQU16.Z 96(SI), K4, Y7
	VMOVDQU16.Z 96(DI), K4, Y11
	VCVTPH2PS   Y4, Z4
	VCVTPH2PS   Y8, Z8
	VFMADD231PS Z8, Z4, Z0
	VCVTPH2PS   Y5, Z5
	VCVTPH2PS   Y9, Z9
	VFMADD231PS Z9, Z5, Z1
	VCVTPH2PS   Y6, Z6
	VCVTPH2PS   Y10, Z10
	VFMADD231PS Z10, Z6, Z2
	VCVTPH2PS   Y7, Z7
	VCVTPH2PS   Y11, Z11
	VFMADD231PS Z11, Z7, Z3

f16sum:
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
