#include "textflag.h"

// Dot products of 32-value blocks against Q8_0 activations, matching the Go
// twins (dotQ4_0, dotQ8_0) bit for bit: eight float32 lanes, lane l holding
// the exact integer sum of products 4l..4l+3 of a block, folded in with one
// VFMADD231PS of the block's scale d_w*d_a (a float32 product), and the lanes
// added as (l4+l0 + l6+l2) + (l5+l1 + l7+l3) at the end (see blockLanes).
//
// Integer sums are exact for every input byte, -128 included:
//   Q4_0: sum (q-8)*a = dpbusd(q, a) - dpbusd(8, a), q in 0..15 unsigned.
//   Q8_0: sum w*a = dpbusd(w+128, a) - dpbusd(128, a), w+128 = w^0x80.


// HSUM reduces the lanes of Y0 to X0[0] in the documented order; X1 is
// clobbered.
#define HSUM \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0

// func dotQ4_0VNNI(w, a *byte, nb int) float32
// Needs AVX512_VNNI, AVX512VL, AVX2, F16C, FMA.
TEXT ·dotQ4_0VNNI(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x08080808, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	TESTQ CX, CX
	JZ q40vdone

q40vloop:
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS X1, Y1
	VPBROADCASTW 0(DI), X2
	VCVTPH2PS X2, Y2
	VMULPS Y2, Y1, Y1
	VMOVDQU 2(SI), X3
	VPSRLW $4, X3, X4
	VINSERTI128 $1, X4, Y3, Y3
	VPAND Y15, Y3, Y3
	VMOVDQU 2(DI), Y5
	VPXOR Y6, Y6, Y6
	VPDPBUSD Y5, Y3, Y6
	VPXOR Y7, Y7, Y7
	VPDPBUSD Y5, Y14, Y7
	VPSUBD Y7, Y6, Y6
	VCVTDQ2PS Y6, Y6
	VFMADD231PS Y6, Y1, Y0
	ADDQ $18, SI
	ADDQ $34, DI
	DECQ CX
	JNZ q40vloop

q40vdone:
	HSUM
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ8_0VNNI(w, a *byte, nb int) float32
// Needs AVX512_VNNI, AVX512VL, AVX2, F16C, FMA.
TEXT ·dotQ8_0VNNI(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	MOVL $0x80808080, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	TESTQ CX, CX
	JZ q80vdone

q80vloop:
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS X1, Y1
	VPBROADCASTW 0(DI), X2
	VCVTPH2PS X2, Y2
	VMULPS Y2, Y1, Y1
	VMOVDQU 2(SI), Y3
	VPXOR Y14, Y3, Y3
	VMOVDQU 2(DI), Y5
	VPXOR Y6, Y6, Y6
	VPDPBUSD Y5, Y3, Y6
	VPXOR Y7, Y7, Y7
	VPDPBUSD Y5, Y14, Y7
	VPSUBD Y7, Y6, Y6
	VCVTDQ2PS Y6, Y6
	VFMADD231PS Y6, Y1, Y0
	ADDQ $34, SI
	ADDQ $34, DI
	DECQ CX
	JNZ q80vloop

q80vdone:
	HSUM
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ4_0AVX2(w, a *byte, nb int) float32
// Needs AVX2, F16C, FMA. VPMADDUBSW cannot saturate here: |q*a| <= 15*128.
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x08080808, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x00010001, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ q40adone

q40aloop:
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS X1, Y1
	VPBROADCASTW 0(DI), X2
	VCVTPH2PS X2, Y2
	VMULPS Y2, Y1, Y1
	VMOVDQU 2(SI), X3
	VPSRLW $4, X3, X4
	VINSERTI128 $1, X4, Y3, Y3
	VPAND Y15, Y3, Y3
	VMOVDQU 2(DI), Y5
	VPMADDUBSW Y5, Y3, Y6
	VPMADDUBSW Y5, Y14, Y7
	VPSUBW Y7, Y6, Y6
	VPMADDWD Y13, Y6, Y6
	VCVTDQ2PS Y6, Y6
	VFMADD231PS Y6, Y1, Y0
	ADDQ $18, SI
	ADDQ $34, DI
	DECQ CX
	JNZ q40aloop

q40adone:
	HSUM
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ8_0AVX2(w, a *byte, nb int) float32
// Needs AVX2, F16C, FMA. The bytes are widened to int16 (VPMOVSXBW), so
// no product saturates; VPHADDD leaves the lanes in the order
// 0 1 4 5 | 2 3 6 7 in the accumulator, put back with one VPERMQ at the end.
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	TESTQ CX, CX
	JZ q80adone

q80aloop:
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS X1, Y1
	VPBROADCASTW 0(DI), X2
	VCVTPH2PS X2, Y2
	VMULPS Y2, Y1, Y1
	VPMOVSXBW 2(SI), Y3
	VPMOVSXBW 18(SI), Y4
	VPMOVSXBW 2(DI), Y5
	VPMOVSXBW 18(DI), Y6
	VPMADDWD Y5, Y3, Y3
	VPMADDWD Y6, Y4, Y4
	VPHADDD Y4, Y3, Y3
	VCVTDQ2PS Y3, Y3
	VFMADD231PS Y3, Y1, Y0
	ADDQ $34, SI
	ADDQ $34, DI
	DECQ CX
	JNZ q80aloop

q80adone:
	VPERMQ $0xd8, Y0, Y0
	HSUM
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET
