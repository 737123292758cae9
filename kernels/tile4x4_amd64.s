#include "textflag.h"

// Tiles of 4 weight rows by 4 activation rows (tile_amd64.s has 4 by 1): each output keeps its
// own eight float lanes and gets exactly the operations dotQ4_0VNNI and
// dotQ8_0VNNI apply (and so the Go twins' bits); the tile only shares loads,
// the activations' correction terms, the weights' unpacking and the block
// scales' conversion between outputs, and gives the FMA chains independent
// accumulators.
//
// Outputs go two to a 512-bit register: weight rows 0,1 (pair 0) and 2,3
// (pair 1) are unpacked side by side, each 256-bit half holding one row's
// block, against the activation row's block in both halves; so the lower
// eight float lanes of an accumulator are one output's and the upper eight
// the next weight row's, each lane getting the same integer sums, products
// and FMAs as in the dots.
//
// Registers: weight rows at SI, R8, R9, R10 (BX = 4 rows); activation rows at
// DI, R11, R12, R13. Per block: pair quants Z0, Z1 (unsigned bytes), pair
// scales Z2, Z3 (d_w of each row in its half), activation quants Z8 (in both
// halves), minus the correction dpbusd(Z14, a) in Z9, activation scales as
// float32 at 0(SP).. (4 bytes per row); Z11, Z12 temporaries. Constants: Z6
// nibble shifts, Z7 and Z10 the indices that spread weight scales 0,1 and
// 2,3 over the halves, Z13 nibble mask, Z14 8s or 0x80s, Z15 zero.
// Accumulators Z16-Z23: activation row i, pair p in Z(16+2i+p).

// nibbleShift2 shifts the 2nd and 4th 128 bits right by 4 (per qword): with
// a row's 16 quant bytes in two lanes, low nibbles then high.
DATA nibbleShift2<>+0(SB)/8, $0
DATA nibbleShift2<>+8(SB)/8, $0
DATA nibbleShift2<>+16(SB)/8, $4
DATA nibbleShift2<>+24(SB)/8, $4
DATA nibbleShift2<>+32(SB)/8, $0
DATA nibbleShift2<>+40(SB)/8, $0
DATA nibbleShift2<>+48(SB)/8, $4
DATA nibbleShift2<>+56(SB)/8, $4
GLOBL nibbleShift2<>(SB), RODATA|NOPTR, $64

// spread01 takes lane 0 to lanes 0..7 and lane 1 to 8..15; spread23 lanes 2, 3.
DATA spread01<>+0(SB)/8, $0
DATA spread01<>+8(SB)/8, $0
DATA spread01<>+16(SB)/8, $0
DATA spread01<>+24(SB)/8, $0
DATA spread01<>+32(SB)/8, $0x0000000100000001
DATA spread01<>+40(SB)/8, $0x0000000100000001
DATA spread01<>+48(SB)/8, $0x0000000100000001
DATA spread01<>+56(SB)/8, $0x0000000100000001
GLOBL spread01<>(SB), RODATA|NOPTR, $64
DATA spread23<>+0(SB)/8, $0x0000000200000002
DATA spread23<>+8(SB)/8, $0x0000000200000002
DATA spread23<>+16(SB)/8, $0x0000000200000002
DATA spread23<>+24(SB)/8, $0x0000000200000002
DATA spread23<>+32(SB)/8, $0x0000000300000003
DATA spread23<>+40(SB)/8, $0x0000000300000003
DATA spread23<>+48(SB)/8, $0x0000000300000003
DATA spread23<>+56(SB)/8, $0x0000000300000003
GLOBL spread23<>(SB), RODATA|NOPTR, $64

// Q4_0 weight pair (rows at P, R): q = nibbles in value order (unsigned
// 0..15); Z14 = 8s. The next tile's rows (4 rows on) are prefetched as this
// one is read.
#define LOADW_Q4_0(P, R, Q, YQ) \
	PREFETCHT0      0(P)(BX*1); \
	PREFETCHT0      0(R)(BX*1); \
	VBROADCASTI32X4 2(P), Q; \
	VBROADCASTI128  2(R), Y12; \
	VINSERTI64X4    $1, Y12, Q, Q; \
	VPSRLVQ         Z6, Q, Q; \
	VPANDD          Z13, Q, Q

// Q8_0 weight pair: q = w^0x80 = w+128 (unsigned); Z14 = 0x80s.
#define LOADW_Q8_0(P, R, Q, YQ) \
	PREFETCHT0   0(P)(BX*1); \
	PREFETCHT0   0(R)(BX*1); \
	VMOVDQU      2(P), YQ; \
	VINSERTI64X4 $1, 2(R), Q, Q; \
	VPXORD       Z14, Q, Q

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

// WSCALES spreads the weight rows' scales over the pairs' halves.
#define WSCALES \
	SCALES4(SI, R8, R9, R10, X4); \
	VPERMPS Z4, Z7, Z2; \
	VPERMPS Z4, Z10, Z3

// ASCALES4 stores the four activation rows' scales at 0(SP)..12(SP).
#define ASCALES4 \
	SCALES4(DI, R11, R12, R13, X5); \
	VMOVUPS X5, 0(SP)

#define LOADA(P) \
	VBROADCASTI64X4 2(P), Z8; \
	VPXORD          Z9, Z9, Z9; \
	VPDPBUSD        Z8, Z14, Z9; \
	VPSUBD          Z9, Z15, Z9

// STEP folds the block of weight pair (Q, D) x Z8 into ACC; S is the
// activation's scale: d_w*d_a is one VMULPS, as in the dots.
#define STEP(Q, D, S, ACC) \
	VMOVDQA64        Z9, Z11; \
	VPDPBUSD         Z8, Q, Z11; \
	VCVTDQ2PS        Z11, Z11; \
	VMULPS.BCST      S, D, Z12; \
	VFMADD231PS      Z12, Z11, ACC

#define ROW(S, A0, A1) \
	STEP(Z0, Z2, S, A0); \
	STEP(Z1, Z3, S, A1)

// HSUM reduces the eight lanes of Y0 to X0 as HSUM in dot_amd64.s does.
#define HSUM \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0

// STORE2 stores the two outputs of accumulator Z (lower half YL) at OFF(P)
// and OFF+4(P).
#define STORE2(Z, YL, OFF, P) \
	VEXTRACTF32X8 $1, Z, Y2; \
	VMOVAPS       YL, Y0; \
	HSUM; \
	VMOVSS        X0, OFF(P); \
	VMOVAPS       Y2, Y0; \
	HSUM; \
	VMOVSS        X0, OFF+4(P)

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
	VPBROADCASTD AX, Z13; \
	MOVL CONST, AX; \
	VPBROADCASTD AX, Z14; \
	VPXORD Z15, Z15, Z15; \
	VMOVDQU64 nibbleShift2<>(SB), Z6; \
	VMOVDQU32 spread01<>(SB), Z7; \
	VMOVDQU32 spread23<>(SB), Z10

#define ZERO2(A0, A1) \
	VPXORD A0, A0, A0; \
	VPXORD A1, A1, A1

#define LOADW4(LOADW) \
	LOADW(SI, R8, Z0, Y0); \
	LOADW(R9, R10, Z1, Y1)

#define ADVANCEW(WB) \
	ADDQ WB, SI; \
	ADDQ WB, R8; \
	ADDQ WB, R9; \
	ADDQ WB, R10

// TILE4x4 is the body of a 4x4 tile kernel.
#define TILE4x4(LOADW, WB, CONST, LOOP, DONE) \
	PROLOGUE(CONST); \
	ZERO2(Z16, Z17); \
	ZERO2(Z18, Z19); \
	ZERO2(Z20, Z21); \
	ZERO2(Z22, Z23); \
	TESTQ CX, CX; \
	JZ DONE; \
LOOP: \
	WSCALES; \
	ASCALES4; \
	LOADW4(LOADW); \
	LOADA(DI); \
	ROW(0(SP), Z16, Z17); \
	LOADA(R11); \
	ROW(4(SP), Z18, Z19); \
	LOADA(R12); \
	ROW(8(SP), Z20, Z21); \
	LOADA(R13); \
	ROW(12(SP), Z22, Z23); \
	ADVANCEW(WB); \
	ADDQ $34, DI; \
	ADDQ $34, R11; \
	ADDQ $34, R12; \
	ADDQ $34, R13; \
	DECQ CX; \
	JNZ LOOP; \
DONE: \
	MOVQ out+40(FP), DX; \
	MOVQ ostride+48(FP), AX; \
	SHLQ $2, AX; \
	STORE2(Z16, Y16, 0, DX); \
	STORE2(Z17, Y17, 8, DX); \
	ADDQ AX, DX; \
	STORE2(Z18, Y18, 0, DX); \
	STORE2(Z19, Y19, 8, DX); \
	ADDQ AX, DX; \
	STORE2(Z20, Y20, 0, DX); \
	STORE2(Z21, Y21, 8, DX); \
	ADDQ AX, DX; \
	STORE2(Z22, Y22, 0, DX); \
	STORE2(Z23, Y23, 8, DX); \
	VZEROUPPER; \
	RET

// func tileQ4_0x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)
TEXT ·tileQ4_0x4VNNI(SB), NOSPLIT, $16-56
	TILE4x4(LOADW_Q4_0, $18, $0x08080808, q40x4loop, q40x4done)

// func tileQ8_0x4VNNI(w *byte, wstride int, a *byte, astride int, nb int, out *float32, ostride int)
TEXT ·tileQ8_0x4VNNI(SB), NOSPLIT, $16-56
	TILE4x4(LOADW_Q8_0, $34, $0x80808080, q80x4loop, q80x4done)
