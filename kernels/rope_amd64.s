//go:build amd64

#include "textflag.h"

// func rotateHalvesAVX512(lo, hi, cos, sin *float32, n int)
// n is a positive multiple of 8. For each i < n, with x0 = lo[i], x1 = hi[i]:
// lo[i] = fma(x0, cos[i], -(x1*sin[i])), hi[i] = fma(x0, sin[i], x1*cos[i]),
// the products x1*sin and x1*cos rounded to float32 first (VMULPS).
TEXT ·rotateHalvesAVX512(SB), NOSPLIT, $0-40
	MOVQ lo+0(FP), DI
	MOVQ hi+8(FP), SI
	MOVQ cos+16(FP), DX
	MOVQ sin+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX          // byte offset
	MOVQ CX, BX
	SHRQ $4, BX          // whole blocks of 16 pairs
	JZ   halves512tail

halves512loop:
	VMOVUPS (DI)(AX*1), Z0 // x0
	VMOVUPS (SI)(AX*1), Z1 // x1
	VMOVUPS (DX)(AX*1), Z2 // cos
	VMOVUPS (R8)(AX*1), Z3 // sin
	VMULPS  Z3, Z1, Z4     // x1*sin
	VMULPS  Z2, Z1, Z5     // x1*cos
	VFMSUB231PS Z2, Z0, Z4 // x0*cos - x1*sin
	VFMADD231PS Z3, Z0, Z5 // x0*sin + x1*cos
	VMOVUPS Z4, (DI)(AX*1)
	VMOVUPS Z5, (SI)(AX*1)
	ADDQ $64, AX
	DECQ BX
	JNZ  halves512loop

halves512tail:
	TESTQ $8, CX
	JZ    halves512done
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS (SI)(AX*1), Y1
	VMOVUPS (DX)(AX*1), Y2
	VMOVUPS (R8)(AX*1), Y3
	VMULPS  Y3, Y1, Y4
	VMULPS  Y2, Y1, Y5
	VFMSUB231PS Y2, Y0, Y4
	VFMADD231PS Y3, Y0, Y5
	VMOVUPS Y4, (DI)(AX*1)
	VMOVUPS Y5, (SI)(AX*1)

halves512done:
	VZEROUPPER
	RET

// func rotateHalvesAVX2(lo, hi, cos, sin *float32, n int)
// rotateHalvesAVX512 with 8 pairs a step; n is a positive multiple of 8.
TEXT ·rotateHalvesAVX2(SB), NOSPLIT, $0-40
	MOVQ lo+0(FP), DI
	MOVQ hi+8(FP), SI
	MOVQ cos+16(FP), DX
	MOVQ sin+24(FP), R8
	MOVQ n+32(FP), CX
	XORQ AX, AX
	SHRQ $3, CX

halves2loop:
	VMOVUPS (DI)(AX*1), Y0 // x0
	VMOVUPS (SI)(AX*1), Y1 // x1
	VMOVUPS (DX)(AX*1), Y2 // cos
	VMOVUPS (R8)(AX*1), Y3 // sin
	VMULPS  Y3, Y1, Y4     // x1*sin
	VMULPS  Y2, Y1, Y5     // x1*cos
	VFMSUB231PS Y2, Y0, Y4 // x0*cos - x1*sin
	VFMADD231PS Y3, Y0, Y5 // x0*sin + x1*cos
	VMOVUPS Y4, (DI)(AX*1)
	VMOVUPS Y5, (SI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ  halves2loop
	VZEROUPPER
	RET

// Indexes for VPERMT2PS interleaving eight cosines (table 1) with eight
// sines (table 2): c0 s0 c1 s1 ... c7 s7.
DATA ropeInterleave<>+0(SB)/4, $0
DATA ropeInterleave<>+4(SB)/4, $16
DATA ropeInterleave<>+8(SB)/4, $1
DATA ropeInterleave<>+12(SB)/4, $17
DATA ropeInterleave<>+16(SB)/4, $2
DATA ropeInterleave<>+20(SB)/4, $18
DATA ropeInterleave<>+24(SB)/4, $3
DATA ropeInterleave<>+28(SB)/4, $19
DATA ropeInterleave<>+32(SB)/4, $4
DATA ropeInterleave<>+36(SB)/4, $20
DATA ropeInterleave<>+40(SB)/4, $5
DATA ropeInterleave<>+44(SB)/4, $21
DATA ropeInterleave<>+48(SB)/4, $6
DATA ropeInterleave<>+52(SB)/4, $22
DATA ropeInterleave<>+56(SB)/4, $7
DATA ropeInterleave<>+60(SB)/4, $23
GLOBL ropeInterleave<>(SB), RODATA|NOPTR, $64

// func rotatePairsAVX512(head, cos, sin *float32, n int)
// n is a positive multiple of 8. For pair i, x0 = head[2i], x1 = head[2i+1],
// the same two fused outputs as rotateHalvesAVX512, with no deinterleaving:
// a = (x0, x0), b = (cos, sin), d = (x1*sin, x1*cos) rounded, and
// VFMADDSUB231PS gives a*b - d in the even lane and a*b + d in the odd one.
TEXT ·rotatePairsAVX512(SB), NOSPLIT, $0-32
	MOVQ head+0(FP), DI
	MOVQ cos+8(FP), DX
	MOVQ sin+16(FP), R8
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	VMOVUPS ropeInterleave<>(SB), Z16

pairs512loop:
	VMOVUPS (DX), Y1             // c0..c7
	VMOVUPS (R8), Y2             // s0..s7
	VPERMT2PS Z2, Z16, Z1        // c0 s0 c1 s1 ...
	VPERMILPS $0xB1, Z1, Z3      // s0 c0 s1 c1 ...
	VMOVUPS (DI), Z0             // x0 x1 ... of 8 pairs
	VMOVSLDUP Z0, Z4             // x0 x0
	VMOVSHDUP Z0, Z5             // x1 x1
	VMULPS  Z3, Z5, Z5           // x1*sin, x1*cos
	VFMADDSUB231PS Z1, Z4, Z5    // x0*cos - x1*sin, x0*sin + x1*cos
	VMOVUPS Z5, (DI)
	ADDQ $64, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  pairs512loop
	VZEROUPPER
	RET

// func rotatePairsAVX2(head, cos, sin *float32, n int)
// rotatePairsAVX512 with 4 pairs a step; n is a positive multiple of 8.
TEXT ·rotatePairsAVX2(SB), NOSPLIT, $0-32
	MOVQ head+0(FP), DI
	MOVQ cos+8(FP), DX
	MOVQ sin+16(FP), R8
	MOVQ n+24(FP), CX
	SHRQ $2, CX

pairs2loop:
	VMOVUPS (DX), X1             // c0..c3
	VMOVUPS (R8), X2             // s0..s3
	VUNPCKLPS X2, X1, X3         // c0 s0 c1 s1
	VUNPCKHPS X2, X1, X4         // c2 s2 c3 s3
	VINSERTF128 $1, X4, Y3, Y3   // c0 s0 ... c3 s3
	VPERMILPS $0xB1, Y3, Y5      // s0 c0 ... s3 c3
	VMOVUPS (DI), Y0             // 4 pairs
	VMOVSLDUP Y0, Y6             // x0 x0
	VMOVSHDUP Y0, Y7             // x1 x1
	VMULPS  Y5, Y7, Y7           // x1*sin, x1*cos
	VFMADDSUB231PS Y3, Y6, Y7    // x0*cos - x1*sin, x0*sin + x1*cos
	VMOVUPS Y7, (DI)
	ADDQ $32, DI
	ADDQ $16, DX
	ADDQ $16, R8
	DECQ CX
	JNZ  pairs2loop
	VZEROUPPER
	RET
