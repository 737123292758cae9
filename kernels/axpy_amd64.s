#include "textflag.h"

// func axpyF32AVX512(acc, x *float32, n int, w float32)
// acc[i] = fma(x[i], w, acc[i]) for n values, n a multiple of 16.
TEXT ·axpyF32AVX512(SB), NOSPLIT, $0-28
	MOVQ         acc+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS w+24(FP), Z0
	SHRQ         $4, CX
	JZ           axpydone

axpyloop:
	VMOVUPS     (SI), Z1
	VFMADD213PS (DI), Z0, Z1
	VMOVUPS     Z1, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         axpyloop

axpydone:
	VZEROUPPER
	RET

// func scaleF32AVX512(acc *float32, n int, m float32)
// acc[i] *= m for n values, n a multiple of 16.
TEXT ·scaleF32AVX512(SB), NOSPLIT, $0-20
	MOVQ         acc+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z0
	SHRQ         $4, CX
	JZ           scaledone

scaleloop:
	VMULPS  (DI), Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ    $64, DI
	DECQ    CX
	JNZ     scaleloop

scaledone:
	VZEROUPPER
	RET
