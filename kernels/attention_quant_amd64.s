#include "textflag.h"

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

// func accumulateQ8_0AVX512(out, ms, vs *float32, v *byte, vStride, nt, nb int)
// accumulateF32 over Q8_0 value rows converted on the fly: per row t,
// out = fma(float(q)*d, vs[t], out*ms[t]) (out*1 is out, bit for bit, so
// the product is taken whatever ms[t] is).
TEXT ·accumulateQ8_0AVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ms+8(FP), R8
	MOVQ vs+16(FP), R9
	MOVQ v+24(FP), SI
	MOVQ vStride+32(FP), R10
	MOVQ nt+40(FP), CX
	MOVQ nb+48(FP), R11

aq8row:
	VBROADCASTSS (R9), Z0
	VBROADCASTSS (R8), Z1
	MOVQ         DI, BX
	MOVQ         SI, DX
	MOVQ         R11, R12

aq8block:
	MOVWQZX      (DX), AX
	VMOVQ        AX, X5
	VCVTPH2PS    X5, X5
	VBROADCASTSS X5, Z5
	VPMOVSXBD    2(DX), Z2
	VPMOVSXBD    18(DX), Z3
	VCVTDQ2PS    Z2, Z2
	VCVTDQ2PS    Z3, Z3
	VMULPS       Z5, Z2, Z2
	VMULPS       Z5, Z3, Z3
	VMULPS       (BX), Z1, Z6
	VMULPS       64(BX), Z1, Z7
	VFMADD213PS  Z6, Z0, Z2
	VFMADD213PS  Z7, Z0, Z3
	VMOVUPS      Z2, (BX)
	VMOVUPS      Z3, 64(BX)
	ADDQ         $34, DX
	ADDQ         $128, BX
	DECQ         R12
	JNZ          aq8block

	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ R10, SI
	DECQ CX
	JNZ  aq8row
	VZEROUPPER
	RET

// func accumulateQ4_0AVX512(out, ms, vs *float32, v *byte, vStride, nt, nb int)
// As accumulateQ8_0AVX512 with Q4_0 values: float(nibble-8)*d.
TEXT ·accumulateQ4_0AVX512(SB), NOSPLIT, $0-56
	MOVQ         dst+0(FP), DI
	MOVQ         ms+8(FP), R8
	MOVQ         vs+16(FP), R9
	MOVQ         v+24(FP), SI
	MOVQ         vStride+32(FP), R10
	MOVQ         nt+40(FP), CX
	MOVQ         nb+48(FP), R11
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, X7
	MOVL         $8, AX
	VPBROADCASTD AX, Z8

aq4row:
	VBROADCASTSS (R9), Z0
	VBROADCASTSS (R8), Z1
	MOVQ         DI, BX
	MOVQ         SI, DX
	MOVQ         R11, R12

aq4block:
	MOVWQZX      (DX), AX
	VMOVQ        AX, X5
	VCVTPH2PS    X5, X5
	VBROADCASTSS X5, Z5
	VMOVDQU      2(DX), X4
	VPAND        X7, X4, X2
	VPSRLW       $4, X4, X4
	VPAND        X7, X4, X4
	VPMOVZXBD    X2, Z2
	VPMOVZXBD    X4, Z3
	VPSUBD       Z8, Z2, Z2
	VPSUBD       Z8, Z3, Z3
	VCVTDQ2PS    Z2, Z2
	VCVTDQ2PS    Z3, Z3
	VMULPS       Z5, Z2, Z2
	VMULPS       Z5, Z3, Z3
	VMULPS       (BX), Z1, Z6
	VMULPS       64(BX), Z1, Z9
	VFMADD213PS  Z6, Z0, Z2
	VFMADD213PS  Z9, Z0, Z3
	VMOVUPS      Z2, (BX)
	VMOVUPS      Z3, 64(BX)
	ADDQ         $18, DX
	ADDQ         $128, BX
	DECQ         R12
	JNZ          aq4block

	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ R10, SI
	DECQ CX
	JNZ  aq4row
	VZEROUPPER
	RET
