#include "textflag.h"

// func f16RowsToF32AVX512(dst *float32, src *byte, rows, cols, stride int) (nan bool)
// rows of cols F16 values (cols a positive multiple of 16), stride bytes
// apart, to consecutive float32 rows; reports whether it met a NaN (see
// f16ToF32AVX512).
TEXT ·f16RowsToF32AVX512(SB), NOSPLIT, $0-41
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ cols+24(FP), R8
	MOVQ stride+32(FP), R9
	KXORW K2, K2, K2
	TESTQ DX, DX
	JZ    done

row:
	MOVQ SI, AX
	MOVQ R8, CX

col:
	VCVTPH2PS (AX), Z0
	VCMPPS    $3, Z0, Z0, K1
	KORW      K1, K2, K2
	VMOVUPS   Z0, (DI)
	ADDQ      $32, AX
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       col
	ADDQ      R9, SI
	DECQ      DX
	JNZ       row

done:
	KORTESTW K2, K2
	SETNE    nan+40(FP)
	VZEROUPPER
	RET
