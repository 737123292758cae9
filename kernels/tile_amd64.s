#include "textflag.h"

// Tiles of 4 weight rows by 1 activation row (tile4x4_amd64.s has 4 by 4):
// each output keeps its own eight float lanes and gets exactly the operations
// dotQ4_0VNNI and dotQ8_0VNNI apply (and so the Go twins' bits); the tile
// only shares loads,
// the activation's correction terms, the weights' unpacking and the block
// scales' conversion between outputs, and gives the FMA chains 4
// independent accumulators.
//
// Each block's scales are made for the whole tile at once: the weights' four
// fp16 scales are gathered into X4, converted, and their products d_w*d_a
// with the activation's (one float32 VMULPS, as in the dots) stored on the
// stack, from where each output's FMA broadcasts its own.
//
// Registers: weight rows at SI, R8, R9, R10 (BX = 4 rows) (quants Y0-Y3 as
// unsigned bytes); activation row at DI (quants Y8, minus the
// correction dpbusd(Y14, a) in Y9); Y11 temporary; Y13 the nibble mask, Y15
// zero; accumulators Y16-Y19, output j in Y(16+j).

// nibbleShift shifts the upper 128 bits of a ymm right by 4 (per qword).
DATA nibbleShift<>+0(SB)/8, $0
DATA nibbleShift<>+8(SB)/8, $0
DATA nibbleShift<>+16(SB)/8, $4
DATA nibbleShift<>+24(SB)/8, $4
GLOBL nibbleShift<>(SB), RODATA|NOPTR, $32

// Q4_0 weights: q = nibbles in value order (unsigned 0..15); Y14 = 8s. The
// next tile's rows (4 rows on) are prefetched as this one is read.
#define LOADW_Q4_0(P, Q) \
	PREFETCHT0     0(P)(BX*1); \
	VBROADCASTI128 2(P), Q; \
	VPSRLVQ        nibbleShift<>(SB), Q, Q; \
	VPAND          Y13, Q, Q

// Q8_0 weights: q = w^0x80 = w+128 (unsigned); Y14 = 0x80s.
#define LOADW_Q8_0(P, Q) \
	PREFETCHT0 0(P)(BX*1); \
	VMOVDQU    2(P), Q; \
	VPXOR      Y14, Q, Q

// SCALES4 gathers the fp16 scales at P0..P3 into X (lanes 0..3) as float32.
#define SCALES4(P0, P1, P2, P3, X) \
	MOVWQZX   0(P0), AX; \
	MOVWQZX   0(P1), DX; \
	SHLQ      $16, DX; \
	ORQ       DX, AX; \
	MOVWQZX   0(P2), DX; \
	SHLQ      $32, DX; \
	ORQ       DX, AX; \
	MOVWQZX   0(P3), DX; \
	SHLQ      $48, DX; \
	ORQ       DX, AX; \
	VMOVQ     AX, X; \
	VCVTPH2PS X, X

// SCALES4x1 stores d_w(j)*d_a at 4j(SP).
#define SCALES4x1 \
	SCALES4(SI, R8, R9, R10, X4); \
	VPBROADCASTW 0(DI), X5; \
	VCVTPH2PS    X5, X5; \
	VMULPS       X5, X4, X6; \
	VMOVUPS      X6, 0(SP)

#define LOADA(P) \
	VMOVDQU  2(P), Y8; \
	VPXOR    Y9, Y9, Y9; \
	VPDPBUSD Y8, Y14, Y9; \
	VPSUBD   Y9, Y15, Y9

// STEP folds block Q x Y8, scaled by the float32 at S, into ACC.
#define STEP(Q, S, ACC) \
	VMOVDQA          Y9, Y11; \
	VPDPBUSD         Y8, Q, Y11; \
	VCVTDQ2PS        Y11, Y11; \
	VFMADD231PS.BCST S, Y11, ACC

#define ROW(OFF, A0, A1, A2, A3) \
	STEP(Y0, OFF+0(SP), A0); \
	STEP(Y1, OFF+4(SP), A1); \
	STEP(Y2, OFF+8(SP), A2); \
	STEP(Y3, OFF+12(SP), A3)

// STORE reduces ACC as HSUM in dot_amd64.s does and stores it at OFF(P).
#define STORE(ACC, OFF, P) \
	VMOVAPS      ACC, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0; \
	VMOVSS       X0, OFF(P)

#define PROLOGUE(CONST) \
	MOVQ w+0(FP), SI; \
	MOVQ wstride+8(FP), AX; \
	LEAQ (AX*4), BX; \
	LEAQ (SI)(AX*1), R8; \
	LEAQ (R8)(AX*1), R9; \
	LEAQ (R9)(AX*1), R10; \
	MOVQ a+16(FP), DI; \
	MOVQ astride+24(FP), AX; \
	LEAQ (DI)(AX*1), R11; \
	LEAQ (R11)(AX*1), R12; \
	LEAQ (R12)(AX*1), R13; \
	MOVQ nb+32(FP), CX; \
	MOVL $0x0f0f0f0f, AX; \
	VMOVD AX, X13; \
	VPBROADCASTD X13, Y13; \
	MOVL CONST, AX; \
	VMOVD AX, X14; \
	VPBROADCASTD X14, Y14; \
	VPXOR Y15, Y15, Y15

#define ZERO4(A0, A1, A2, A3) \
	VXORPS A0, A0, A0; \
	VXORPS A1, A1, A1; \
	VXORPS A2, A2, A2; \
	VXORPS A3, A3, A3

#define LOADW4(LOADW) \
	LOADW(SI, Y0); \
	LOADW(R8, Y1); \
	LOADW(R9, Y2); \
	LOADW(R10, Y3)

#define ADVANCEW(WB) \
	ADDQ WB, SI; \
	ADDQ WB, R8; \
	ADDQ WB, R9; \
	ADDQ WB, R10

#define STORE4(P, A0, A1, A2, A3) \
	STORE(A0, 0, P); \
	STORE(A1, 4, P); \
	STORE(A2, 8, P); \
	STORE(A3, 12, P)

// TILE4x1 is the body of a 4x1 tile kernel (one activation row).
#define TILE4x1(LOADW, WB, CONST, LOOP, DONE) \
	PROLOGUE(CONST); \
	ZERO4(Y16, Y17, Y18, Y19); \
	TESTQ CX, CX; \
	JZ DONE; \
LOOP: \
	SCALES4x1; \
	LOADW4(LOADW); \
	LOADA(DI); \
	ROW(0, Y16, Y17, Y18, Y19); \
	ADVANCEW(WB); \
	ADDQ $34, DI; \
	DECQ CX; \
	JNZ LOOP; \
DONE: \
	MOVQ out+40(FP), DX; \
	STORE4(DX, Y16, Y17, Y18, Y19); \
	VZEROUPPER; \
	RET

// func tileQ4_0x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)
TEXT ·tileQ4_0x1VNNI(SB), NOSPLIT, $16-56
	TILE4x1(LOADW_Q4_0, $18, $0x08080808, q40x1loop, q40x1done)

// func tileQ8_0x1VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)
TEXT ·tileQ8_0x1VNNI(SB), NOSPLIT, $16-56
	TILE4x1(LOADW_Q8_0, $34, $0x80808080, q80x1loop, q80x1done)
