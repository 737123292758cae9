//go:build amd64

#include "textflag.h"

// func swigluAVX512(out, gate, up *float32, n int)
// n is a positive multiple of 16. Each lane computes what SwiGLU's Go twin
// does for one value: silu(x) = x/(1+vexp32(0-x)), times up, where vexp32 is
// ggml_v_expf: every FMA below is one of its fused steps, VSCALEFPS its
// scaling by 2^n.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	MOVL $0x4b400000, AX // 0x1.8p23
	VPBROADCASTD AX, Z20
	MOVL $0x3fb8aa3b, AX // log2(e)
	VPBROADCASTD AX, Z21
	MOVL $0x3f317200, AX // ln2, high part
	VPBROADCASTD AX, Z22
	MOVL $0x35bfbe8e, AX // ln2, low part
	VPBROADCASTD AX, Z23
	MOVL $0x3c072010, AX
	VPBROADCASTD AX, Z24
	MOVL $0x3d2b9f17, AX
	VPBROADCASTD AX, Z25
	MOVL $0x3e2aaf33, AX
	VPBROADCASTD AX, Z26
	MOVL $0x3efffedb, AX
	VPBROADCASTD AX, Z27
	MOVL $0x3f7ffff6, AX
	VPBROADCASTD AX, Z28
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z29
	MOVL $0x43400000, AX // 192
	VPBROADCASTD AX, Z30
	MOVL $0x7fffffff, AX // |.| mask
	VPBROADCASTD AX, Z31
	MOVL $0x7f800000, AX // +Inf
	VPBROADCASTD AX, Z19
	VPXORD Z18, Z18, Z18 // 0

loop:
	VMOVUPS (SI), Z0      // x
	VSUBPS Z0, Z18, Z1    // t = 0 - x
	// z = fma(t, log2e, shift); n = z - shift
	VMOVAPS Z20, Z2
	VFMADD231PS Z21, Z1, Z2
	VSUBPS Z20, Z2, Z3    // n
	// b = fma(-n, ln2lo, fma(-n, ln2hi, t))
	VMOVAPS Z1, Z4
	VFNMADD231PS Z22, Z3, Z4
	VFNMADD231PS Z23, Z3, Z4 // b
	VMULPS Z4, Z4, Z5     // u = b*b
	VMOVAPS Z25, Z6
	VFMADD231PS Z4, Z24, Z6 // p1 = fma(c4, b, c5)
	VMOVAPS Z27, Z7
	VFMADD231PS Z4, Z26, Z7 // p2 = fma(c6, b, c7)
	VFMADD231PS Z5, Z6, Z7  // p3 = fma(p1, u, p2)
	VMOVAPS Z29, Z8
	VFMADD231PS Z4, Z28, Z8 // p4 = fma(c8, b, 1)
	VFMADD231PS Z5, Z7, Z8  // j = fma(p3, u, p4)
	VSCALEFPS Z3, Z8, Z9    // e = j * 2^n
	// |n| > 192: e = n <= 0 ? 0 : +Inf
	VANDPS Z31, Z3, Z10
	VCMPPS $30, Z30, Z10, K1 // |n| > 192 (GT_OQ)
	VCMPPS $18, Z18, Z3, K2  // n <= 0 (LE_OQ)
	VMOVAPS Z19, Z11
	VMOVAPS Z18, K2, Z11
	VMOVAPS Z11, K1, Z9
	// silu(x)*up = (x / (1 + e)) * up
	VADDPS Z9, Z29, Z9
	VDIVPS Z9, Z0, Z0
	VMULPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET
