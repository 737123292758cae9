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
