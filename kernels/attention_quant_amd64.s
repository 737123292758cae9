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

// Block dots of one Q8_0 query against nt keys (kernels' Format.Dot: per
// block the exact integer sum of products, then acc = fma(d_k*d_q, sum,
// acc) block after block). Each block's 32 products go to 16 int32 lanes
// (VPMADDWD on sign-extended words), summed across lanes exactly.

// func scoresQ8_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)
TEXT ·scoresQ8_0AVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DX
	MOVQ kStride+24(FP), R8
	MOVQ nt+32(FP), CX
	MOVQ nb+40(FP), R9

q8key:
	MOVQ   DX, BX
	MOVQ   SI, R10
	MOVQ   R9, R11
	VXORPS X0, X0, X0

q8block:
	VPMOVSXBW     2(BX), Z1
	VPMOVSXBW     2(R10), Z2
	VPMADDWD      Z1, Z2, Z3
	VEXTRACTI64X4 $1, Z3, Y4
	VPADDD        Y4, Y3, Y3
	VEXTRACTI128  $1, Y3, X4
	VPADDD        X4, X3, X3
	VPSHUFD       $0x4e, X3, X4
	VPADDD        X4, X3, X3
	VPSHUFD       $0xb1, X3, X4
	VPADDD        X4, X3, X3
	VCVTDQ2PS     X3, X3
	MOVWQZX       (BX), AX
	VMOVQ         AX, X5
	VCVTPH2PS     X5, X5
	MOVWQZX       (R10), AX
	VMOVQ         AX, X6
	VCVTPH2PS     X6, X6
	VMULSS        X6, X5, X5
	VFMADD231SS   X3, X5, X0
	ADDQ          $34, BX
	ADDQ          $34, R10
	DECQ          R11
	JNZ           q8block

	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, DX
	DECQ   CX
	JNZ    q8key
	VZEROUPPER
	RET

// func scoresQ4_0AVX512(dst *float32, q, k *byte, kStride, nt, nb int)
// As scoresQ8_0AVX512 with Q4_0 keys: the low nibbles are values 0-15, the
// high ones 16-31, each less 8.
TEXT ·scoresQ4_0AVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         q+8(FP), SI
	MOVQ         k+16(FP), DX
	MOVQ         kStride+24(FP), R8
	MOVQ         nt+32(FP), CX
	MOVQ         nb+40(FP), R9
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, X7
	MOVL         $0x08080808, AX
	VPBROADCASTD AX, Y8

q4key:
	MOVQ   DX, BX
	MOVQ   SI, R10
	MOVQ   R9, R11
	VXORPS X0, X0, X0

q4block:
	VMOVDQU       2(BX), X1
	VPAND         X7, X1, X2
	VPSRLW        $4, X1, X1
	VPAND         X7, X1, X1
	VINSERTI128   $1, X1, Y2, Y1
	VPSUBB        Y8, Y1, Y1
	VPMOVSXBW     Y1, Z1
	VPMOVSXBW     2(R10), Z2
	VPMADDWD      Z1, Z2, Z3
	VEXTRACTI64X4 $1, Z3, Y4
	VPADDD        Y4, Y3, Y3
	VEXTRACTI128  $1, Y3, X4
	VPADDD        X4, X3, X3
	VPSHUFD       $0x4e, X3, X4
	VPADDD        X4, X3, X3
	VPSHUFD       $0xb1, X3, X4
	VPADDD        X4, X3, X3
	VCVTDQ2PS     X3, X3
	MOVWQZX       (BX), AX
	VMOVQ         AX, X5
	VCVTPH2PS     X5, X5
	MOVWQZX       (R10), AX
	VMOVQ         AX, X6
	VCVTPH2PS     X6, X6
	VMULSS        X6, X5, X5
	VFMADD231SS   X3, X5, X0
	ADDQ          $18, BX
	ADDQ          $34, R10
	DECQ          R11
	JNZ           q4block

	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, DX
	DECQ   CX
	JNZ    q4key
	VZEROUPPER
	RET

// func dequantizeQ8_0AVX512(dst *float32, src *byte, nb int)
// y = float(q) * d, 32 values a block.
TEXT ·dequantizeQ8_0AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX

dq8block:
	MOVWQZX      (SI), AX
	VMOVQ        AX, X5
	VCVTPH2PS    X5, X5
	VBROADCASTSS X5, Z5
	VPMOVSXBD    2(SI), Z1
	VPMOVSXBD    18(SI), Z2
	VCVTDQ2PS    Z1, Z1
	VCVTDQ2PS    Z2, Z2
	VMULPS       Z5, Z1, Z1
	VMULPS       Z5, Z2, Z2
	VMOVUPS      Z1, (DI)
	VMOVUPS      Z2, 64(DI)
	ADDQ         $34, SI
	ADDQ         $128, DI
	DECQ         CX
	JNZ          dq8block
	VZEROUPPER
	RET

// func dequantizeQ4_0AVX512(dst *float32, src *byte, nb int)
// y[j] = float(lo_j - 8) * d, y[j+16] = float(hi_j - 8) * d.
TEXT ·dequantizeQ4_0AVX512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), CX
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, X7
	MOVL         $8, AX
	VPBROADCASTD AX, Z8

dq4block:
	MOVWQZX      (SI), AX
	VMOVQ        AX, X5
	VCVTPH2PS    X5, X5
	VBROADCASTSS X5, Z5
	VMOVDQU      2(SI), X1
	VPAND        X7, X1, X2
	VPSRLW       $4, X1, X1
	VPAND        X7, X1, X1
	VPMOVZXBD    X2, Z2
	VPMOVZXBD    X1, Z1
	VPSUBD       Z8, Z2, Z2
	VPSUBD       Z8, Z1, Z1
	VCVTDQ2PS    Z2, Z2
	VCVTDQ2PS    Z1, Z1
	VMULPS       Z5, Z2, Z2
	VMULPS       Z5, Z1, Z1
	VMOVUPS      Z2, (DI)
	VMOVUPS      Z1, 64(DI)
	ADDQ         $18, SI
	ADDQ         $128, DI
	DECQ         CX
	JNZ          dq4block
	VZEROUPPER
	RET

// func accumulateF32AVX512(out, ms, vs, v *float32, vStride, nt, hd int)
// For each of nt rows of v (vStride floats apart): out = out*ms[t] when
// ms[t] != 1, then out = fma(v[t], vs[t], out); hd a multiple of 16.
TEXT ·accumulateF32AVX512(SB), NOSPLIT, $0-56
	MOVQ         out+0(FP), DI
	MOVQ         ms+8(FP), R8
	MOVQ         vs+16(FP), R9
	MOVQ         v+24(FP), SI
	MOVQ         vStride+32(FP), R10
	SHLQ         $2, R10
	MOVQ         nt+40(FP), CX
	MOVQ         hd+48(FP), R11
	SHRQ         $4, R11
	MOVL         $0x3f800000, AX
	VMOVD        AX, X9

accrow:
	VBROADCASTSS (R9), Z0
	VMOVSS       (R8), X1
	VUCOMISS     X9, X1
	JNE          accscale
	JP           accscale

	// ms == 1: only the fma
	MOVQ DI, BX
	MOVQ SI, DX
	MOVQ R11, R12

accfma:
	VMOVUPS     (DX), Z2
	VFMADD213PS (BX), Z0, Z2
	VMOVUPS     Z2, (BX)
	ADDQ        $64, BX
	ADDQ        $64, DX
	DECQ        R12
	JNZ         accfma
	JMP         accnext

accscale:
	VBROADCASTSS X1, Z1
	MOVQ         DI, BX
	MOVQ         SI, DX
	MOVQ         R11, R12

accscalefma:
	VMULPS      (BX), Z1, Z3
	VMOVUPS     (DX), Z2
	VFMADD213PS Z3, Z0, Z2
	VMOVUPS     Z2, (BX)
	ADDQ        $64, BX
	ADDQ        $64, DX
	DECQ        R12
	JNZ         accscalefma

accnext:
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ R10, SI
	DECQ CX
	JNZ  accrow
	VZEROUPPER
	RET
