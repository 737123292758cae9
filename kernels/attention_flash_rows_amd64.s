#include "textflag.h"

// The flash attention kernels of attention_flash_amd64.s reading F16 key and
// value rows in place (strides in bytes): each 16-value group is converted
// by VCVTPH2PS as it is loaded, exactly, so the arithmetic and its bits are
// the float32 kernels'.

#define ROUND16(Z, Y) \
	VCVTPS2PH $0, Z, Y; \
	VCVTPH2PS Y, Z

// func attnScoresF16RowsAVX512(dst, q *float32, k *byte, kStride, nt, hd int)
// hd is a multiple of 64. Per key: four 16-lane sums over the 64-value
// chunks, then (0+2) + (1+3), halves 8 and 4 apart, (0+2) + (1+3).
TEXT ·attnScoresF16RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), R8
	MOVQ kStride+24(FP), R9
	MOVQ nt+32(FP), CX
	MOVQ hd+40(FP), DX
	SHLQ $2, DX

rkey:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ   AX, AX
	XORQ   BX, BX

rchunk:
	VMOVUPS (SI)(AX*1), Z4
	VMOVUPS 64(SI)(AX*1), Z5
	VMOVUPS 128(SI)(AX*1), Z6
	VMOVUPS 192(SI)(AX*1), Z7
	VCVTPH2PS (R8)(BX*1), Z8
	VCVTPH2PS 32(R8)(BX*1), Z9
	VCVTPH2PS 64(R8)(BX*1), Z10
	VCVTPH2PS 96(R8)(BX*1), Z11
	VMULPS  Z8, Z4, Z4
	VMULPS  Z9, Z5, Z5
	VMULPS  Z10, Z6, Z6
	VMULPS  Z11, Z7, Z7
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	ADDQ    $128, BX
	ADDQ    $256, AX
	CMPQ    AX, DX
	JLT     rchunk

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
	JNZ           rkey
	VZEROUPPER
	RET

// func attnAccumulateF16RowsAVX512(out, ms, vs *float32, v *byte, vStride, nt, hd int)
// hd is a multiple of 16; out holds the accumulator on entry and exit. Columns
// go 64 at a time (four independent chains) while they can, then 16; each
// column block runs through every key before the next.
TEXT ·attnAccumulateF16RowsAVX512(SB), NOSPLIT, $0-56
	MOVQ   out+0(FP), DI
	MOVQ   ms+8(FP), SI
	MOVQ   vs+16(FP), R10
	MOVQ   v+24(FP), R8
	MOVQ   vStride+32(FP), R9
	MOVQ   hd+48(FP), DX
	MOVL   $0x3f800000, AX
	VMOVD  AX, X15 // 1.0

rcols64:
	CMPQ    DX, $64
	JLT     rcols16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ    nt+40(FP), CX
	XORQ    AX, AX
	MOVQ    R8, BX

rrows64:
	VMOVSS       (SI)(AX*4), X8
	VUCOMISS     X15, X8
	JNE          rscale64
	JPC          rfma64 // ms == 1: nothing to rescale (NaN rescales)

rscale64:
	VBROADCASTSS X8, Z8
	VMULPS       Z8, Z0, Z0
	VMULPS       Z8, Z1, Z1
	VMULPS       Z8, Z2, Z2
	VMULPS       Z8, Z3, Z3
	ROUND16(Z0, Y4)
	ROUND16(Z1, Y5)
	ROUND16(Z2, Y6)
	ROUND16(Z3, Y7)

rfma64:
	VBROADCASTSS (R10)(AX*4), Z9
	VCVTPH2PS    (BX), Z10
	VCVTPH2PS    32(BX), Z11
	VCVTPH2PS    64(BX), Z12
	VCVTPH2PS    96(BX), Z13
	VFMADD231PS  Z10, Z9, Z0
	VFMADD231PS  Z11, Z9, Z1
	VFMADD231PS  Z12, Z9, Z2
	VFMADD231PS  Z13, Z9, Z3
	ROUND16(Z0, Y4)
	ROUND16(Z1, Y5)
	ROUND16(Z2, Y6)
	ROUND16(Z3, Y7)
	ADDQ         R9, BX
	INCQ         AX
	CMPQ         AX, CX
	JLT          rrows64
	VMOVUPS      Z0, (DI)
	VMOVUPS      Z1, 64(DI)
	VMOVUPS      Z2, 128(DI)
	VMOVUPS      Z3, 192(DI)
	ADDQ         $256, DI
	ADDQ         $128, R8
	SUBQ         $64, DX
	JMP          rcols64

rcols16:
	TESTQ   DX, DX
	JZ      rdone
	VMOVUPS (DI), Z0
	MOVQ    nt+40(FP), CX
	XORQ    AX, AX
	MOVQ    R8, BX

rrows16:
	VMOVSS       (SI)(AX*4), X8
	VUCOMISS     X15, X8
	JNE          rscale16
	JPC          rfma16 // ms == 1: nothing to rescale (NaN rescales)

rscale16:
	VBROADCASTSS X8, Z8
	VMULPS       Z8, Z0, Z0
	ROUND16(Z0, Y4)

rfma16:
	VBROADCASTSS (R10)(AX*4), Z9
	VCVTPH2PS    (BX), Z10
	VFMADD231PS  Z10, Z9, Z0
	ROUND16(Z0, Y4)
	ADDQ         R9, BX
	INCQ         AX
	CMPQ         AX, CX
	JLT          rrows16
	VMOVUPS      Z0, (DI)
	ADDQ         $64, DI
	ADDQ         $32, R8
	SUBQ         $16, DX
	JMP          rcols16

rdone:
	VZEROUPPER
	RET
