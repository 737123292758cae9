#include "textflag.h"

// Exp32 on sixteen lanes: line for line the Go code (attention_math.go),
// each of its float32 operations one VMULPS, VADDPS or VSUBPS (rounded on
// its own, as Go rounds it; no FMA), and FlashWeights' factors built on it.
// R9 points to an expConsts: the table's high parts, held in Z24-Z27, its
// low parts in Z28-Z31, and the constants, broadcast from memory.

#define INVL 512
#define L1 516
#define NL2 520
#define L3 524
#define L4 528
#define SPLIT 532
#define C120 536
#define C24 540
#define C6 544
#define HALF 548
#define TWO 552
#define M90 556
#define P89 560
#define PINF 564
#define NINF 568
#define ONE 572
#define I127 576
#define IM126 580
#define I32 584

#define LOADTABLES \
	VMOVUPS 0(R9), Z24; \
	VMOVUPS 64(R9), Z25; \
	VMOVUPS 128(R9), Z26; \
	VMOVUPS 192(R9), Z27; \
	VMOVUPS 256(R9), Z28; \
	VMOVUPS 320(R9), Z29; \
	VMOVUPS 384(R9), Z30; \
	VMOVUPS 448(R9), Z31

// EXP32 sets Z1 to Exp32 of the lanes of Z0 (kept), with Z2-Z21 and K1-K4
// for scratch. The steps, in Exp32's names:
//   k = round(x·invL); t1 = x - k·L1; b = k·(-L2) (= -(k·L2), rounding is
//   symmetric); a, e = twoSum(t1, b); rl = (e - k·L3) - k·L4;
//   sq, sqe = twoProd(a, a) with a = ah + al (ah·al added twice: Go's ah·bl
//   and al·bh are the same product); h = (a·c120 + c24)·a + c6;
//   small = (0.5·sqe + (sq·a)·h) + (rl + a·rl);
//   th, tlo = expTable[ki&63] (two 32-entry permutes each, bit 5 picks);
//   ph, pl = twoProd(th, a); qh, ql = twoProd(th, 0.5·sq);
//   c = ((pl + ql) + th·small) + (tlo + tlo·a);
//   s1, e1 = twoSum(th, ph); s2, e2 = twoSum(s1, qh); y = s2 + ((e1 + e2) + c);
//   m = ki>>6; y·2^min(m, 127), doubled where m > 127; 0 where m < -125 or
//   not x >= -90; +Inf where x > 89; x where x is NaN.
#define EXP32 \
	VMULPS.BCST   INVL(R9), Z0, Z1; \
	VRNDSCALEPS   $0, Z1, Z1; \
	VCVTPS2DQ     Z1, Z2; \
	VMULPS.BCST   L1(R9), Z1, Z17; \
	VSUBPS        Z17, Z0, Z17; \
	VMULPS.BCST   NL2(R9), Z1, Z18; \
	VADDPS        Z18, Z17, Z3; \
	VSUBPS        Z17, Z3, Z19; \
	VSUBPS        Z19, Z3, Z20; \
	VSUBPS        Z20, Z17, Z20; \
	VSUBPS        Z19, Z18, Z19; \
	VADDPS        Z19, Z20, Z4; \
	VMULPS.BCST   L3(R9), Z1, Z20; \
	VSUBPS        Z20, Z4, Z4; \
	VMULPS.BCST   L4(R9), Z1, Z20; \
	VSUBPS        Z20, Z4, Z4; \
	VMULPS        Z3, Z3, Z7; \
	VMULPS.BCST   SPLIT(R9), Z3, Z17; \
	VSUBPS        Z3, Z17, Z18; \
	VSUBPS        Z18, Z17, Z5; \
	VSUBPS        Z5, Z3, Z6; \
	VMULPS        Z5, Z5, Z8; \
	VSUBPS        Z7, Z8, Z8; \
	VMULPS        Z6, Z5, Z17; \
	VADDPS        Z17, Z8, Z8; \
	VADDPS        Z17, Z8, Z8; \
	VMULPS        Z6, Z6, Z17; \
	VADDPS        Z17, Z8, Z8; \
	VMULPS.BCST   C120(R9), Z3, Z9; \
	VADDPS.BCST   C24(R9), Z9, Z9; \
	VMULPS        Z9, Z3, Z9; \
	VADDPS.BCST   C6(R9), Z9, Z9; \
	VMULPS.BCST   HALF(R9), Z8, Z8; \
	VMULPS        Z3, Z7, Z17; \
	VMULPS        Z9, Z17, Z17; \
	VADDPS        Z17, Z8, Z8; \
	VMULPS        Z4, Z3, Z17; \
	VADDPS        Z17, Z4, Z17; \
	VADDPS        Z17, Z8, Z8; \
	VMOVDQA32     Z2, Z10; \
	VPERMI2PS     Z25, Z24, Z10; \
	VMOVDQA32     Z2, Z17; \
	VPERMI2PS     Z27, Z26, Z17; \
	VMOVDQA32     Z2, Z11; \
	VPERMI2PS     Z29, Z28, Z11; \
	VMOVDQA32     Z2, Z18; \
	VPERMI2PS     Z31, Z30, Z18; \
	VPTESTMD.BCST I32(R9), Z2, K1; \
	VMOVAPS       Z17, K1, Z10; \
	VMOVAPS       Z18, K1, Z11; \
	VMULPS        Z3, Z10, Z14; \
	VMULPS.BCST   SPLIT(R9), Z10, Z17; \
	VSUBPS        Z10, Z17, Z18; \
	VSUBPS        Z18, Z17, Z12; \
	VSUBPS        Z12, Z10, Z13; \
	VMULPS        Z5, Z12, Z15; \
	VSUBPS        Z14, Z15, Z15; \
	VMULPS        Z6, Z12, Z17; \
	VADDPS        Z17, Z15, Z15; \
	VMULPS        Z5, Z13, Z17; \
	VADDPS        Z17, Z15, Z15; \
	VMULPS        Z6, Z13, Z17; \
	VADDPS        Z17, Z15, Z15; \
	VMULPS.BCST   HALF(R9), Z7, Z16; \
	VMULPS        Z16, Z10, Z19; \
	VMULPS.BCST   SPLIT(R9), Z16, Z17; \
	VSUBPS        Z16, Z17, Z18; \
	VSUBPS        Z18, Z17, Z17; \
	VSUBPS        Z17, Z16, Z16; \
	VMULPS        Z17, Z12, Z20; \
	VSUBPS        Z19, Z20, Z20; \
	VMULPS        Z16, Z12, Z21; \
	VADDPS        Z21, Z20, Z20; \
	VMULPS        Z17, Z13, Z21; \
	VADDPS        Z21, Z20, Z20; \
	VMULPS        Z16, Z13, Z21; \
	VADDPS        Z21, Z20, Z20; \
	VADDPS        Z20, Z15, Z15; \
	VMULPS        Z8, Z10, Z21; \
	VADDPS        Z21, Z15, Z15; \
	VMULPS        Z3, Z11, Z21; \
	VADDPS        Z21, Z11, Z21; \
	VADDPS        Z21, Z15, Z15; \
	VADDPS        Z14, Z10, Z16; \
	VSUBPS        Z10, Z16, Z17; \
	VSUBPS        Z17, Z16, Z18; \
	VSUBPS        Z18, Z10, Z18; \
	VSUBPS        Z17, Z14, Z17; \
	VADDPS        Z17, Z18, Z18; \
	VADDPS        Z19, Z16, Z20; \
	VSUBPS        Z16, Z20, Z17; \
	VSUBPS        Z17, Z20, Z21; \
	VSUBPS        Z21, Z16, Z21; \
	VSUBPS        Z17, Z19, Z17; \
	VADDPS        Z17, Z21, Z21; \
	VADDPS        Z21, Z18, Z18; \
	VADDPS        Z15, Z18, Z18; \
	VADDPS        Z18, Z20, Z1; \
	VPSRAD        $6, Z2, Z2; \
	VPCMPGTD.BCST I127(R9), Z2, K2; \
	VPCMPGTD.BCST IM126(R9), Z2, K3; \
	VPMINSD.BCST  I127(R9), Z2, Z2; \
	VPADDD.BCST   I127(R9), Z2, Z2; \
	VPSLLD        $23, Z2, Z2; \
	VMULPS        Z2, Z1, Z1; \
	VMULPS.BCST   TWO(R9), Z1, K2, Z1; \
	VCMPPS.BCST   $0x1d, M90(R9), Z0, K4; \
	KANDW         K3, K4, K3; \
	VMOVAPS.Z     Z1, K3, Z1; \
	VCMPPS.BCST   $0x1e, P89(R9), Z0, K4; \
	VBROADCASTSS  PINF(R9), K4, Z1; \
	VCMPPS        $3, Z0, Z0, K4; \
	VMOVAPS       Z0, K4, Z1

// TAILMASK sets K6 to the lanes of the next chunk: all 16 while CX >= 16,
// else the low CX.
#define TAILMASK \
	MOVL    $1, AX; \
	SHLL    CX, AX; \
	DECL    AX; \
	MOVL    $0xffff, DX; \
	CMPQ    CX, $16; \
	CMOVLGE DX, AX; \
	KMOVW   AX, K6

// func exp32AVX512(dst, src *float32, n int, c *expConsts)
// n > 0.
TEXT ·exp32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), R9
	LOADTABLES

exploop:
	TAILMASK
	VMOVUPS.Z (SI), K6, Z0
	EXP32
	VMOVUPS   Z1, K6, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JGT       exploop
	VZEROUPPER
	RET

// func flashFactorsAVX512(ms, vs, scores *float32, n int, scale float32, c *expConsts) float32
// n > 0. Two passes over the chunks of 16 scores s (times scale). The first
// finds the running maximum before each key, P: the carried maximum combined
// with an inclusive scan of the chunk (NaN scores, which never become the
// maximum, as -Inf), the combining step later > earlier ? later : earlier
// being VMAXPS's (it keeps the earlier of equal values, as FlashWeights
// keeps its M); where s > P it leaves P - s in vs and 0 in ms, elsewhere
// s - P and 1. The second takes e = EXP32 of vs and sets ms = e, vs = 1
// where ms is 0, else vs = e (ms stays 1), and runs FlashWeights' sum over
// the factors it stored, one chunk behind; it returns the sum. Apart, the
// passes keep more exponentials in flight than one loop with the scan's
// latency in it.
TEXT ·flashFactorsAVX512(SB), NOSPLIT, $0-52
	MOVQ         ms+0(FP), DI
	MOVQ         vs+8(FP), R8
	MOVQ         scores+16(FP), SI
	MOVQ         n+24(FP), CX
	VBROADCASTSS scale+32(FP), Z23
	MOVQ         c+40(FP), R9
	VBROADCASTSS NINF(R9), Z22     // the running maximum, from -Inf
	VBROADCASTSS NINF(R9), Z18
	VBROADCASTSS ONE(R9), Z2

scanloop:
	TAILMASK
	VMOVUPS.Z    (SI), K6, Z17
	VMULPS       Z23, Z17, Z17     // s
	VCMPPS       $7, Z17, Z17, K1  // ordered
	VBLENDMPS    Z17, Z18, K1, Z19
	VALIGND      $15, Z18, Z19, Z20
	VMAXPS       Z20, Z19, Z19
	VALIGND      $14, Z18, Z19, Z20
	VMAXPS       Z20, Z19, Z19
	VALIGND      $12, Z18, Z19, Z20
	VMAXPS       Z20, Z19, Z19
	VALIGND      $8, Z18, Z19, Z20
	VMAXPS       Z20, Z19, Z19     // the chunk's inclusive maximum
	VALIGND      $15, Z22, Z19, Z20
	VMAXPS       Z22, Z20, Z20     // P, the maximum before each key
	VMAXPS       Z22, Z19, Z19
	VSHUFF32X4   $0xff, Z19, Z19, Z19
	VSHUFPS      $0xff, Z19, Z19, Z22 // carried to the next chunk
	VCMPPS       $0x1e, Z20, Z17, K5 // s > P
	VSUBPS       Z17, Z20, Z21
	VSUBPS       Z20, Z17, Z0
	VMOVAPS      Z21, K5, Z0
	KNOTW        K5, K5
	VMOVAPS.Z    Z2, K5, Z3        // 0 where s > P, else 1
	VMOVUPS      Z3, K6, (DI)
	VMOVUPS      Z0, K6, (R8)
	ADDQ         $64, SI
	ADDQ         $64, DI
	ADDQ         $64, R8
	SUBQ         $16, CX
	JGT          scanloop

	MOVQ   ms+0(FP), DI
	MOVQ   vs+8(FP), R8
	MOVQ   n+24(FP), CX
	LOADTABLES
	VXORPS X22, X22, X22 // the sum
	XORQ   R10, R10      // 1 once a chunk waits to be summed

exploop2:
	TAILMASK
	VMOVUPS.Z    (R8), K6, Z0
	VMOVUPS.Z    (DI), K6, Z23
	VPTESTNMD    Z23, Z23, K6, K5 // new maximum: ms is 0
	EXP32
	VBROADCASTSS ONE(R9), Z2
	VBLENDMPS    Z1, Z2, K5, Z3
	VMOVAPS      Z2, K5, Z1
	VMOVUPS      Z3, K6, (DI)
	VMOVUPS      Z1, K6, (R8)

	// The sum over the previous chunk's 16 keys (64 bytes back) in order,
	// behind this chunk's exponentials so that its chain runs beside the
	// next: S = S·ms + vs, or S + vs while no key rescales (S·1 is S).
	TESTQ    R10, R10
	JZ       summed
	KORTESTW K7, K7
	JNZ      rescale16
	VADDSS   -64(R8), X22, X22
	VADDSS   -60(R8), X22, X22
	VADDSS   -56(R8), X22, X22
	VADDSS   -52(R8), X22, X22
	VADDSS   -48(R8), X22, X22
	VADDSS   -44(R8), X22, X22
	VADDSS   -40(R8), X22, X22
	VADDSS   -36(R8), X22, X22
	VADDSS   -32(R8), X22, X22
	VADDSS   -28(R8), X22, X22
	VADDSS   -24(R8), X22, X22
	VADDSS   -20(R8), X22, X22
	VADDSS   -16(R8), X22, X22
	VADDSS   -12(R8), X22, X22
	VADDSS   -8(R8), X22, X22
	VADDSS   -4(R8), X22, X22
	JMP      summed

rescale16:
	MOVQ $-16, AX

r16:
	VMULSS (DI)(AX*4), X22, X22
	VADDSS (R8)(AX*4), X22, X22
	INCQ   AX
	JNZ    r16

summed:
	KMOVW K5, K7
	MOVQ  $1, R10
	ADDQ  $64, DI
	ADDQ  $64, R8
	SUBQ  $16, CX
	JGT   exploop2

	// The last chunk: CX+16 keys.
	MOVQ     $-16, AX
	KORTESTW K7, K7
	JNZ      lastrescale

last:
	VADDSS (R8)(AX*4), X22, X22
	INCQ   AX
	CMPQ   AX, CX
	JLT    last
	JMP    done

lastrescale:
	VMULSS (DI)(AX*4), X22, X22
	VADDSS (R8)(AX*4), X22, X22
	INCQ   AX
	CMPQ   AX, CX
	JLT    lastrescale

done:
	VMOVSS     X22, ret+48(FP)
	VZEROUPPER
	RET
