// bench/bench_vfp.py: a floating-point kernel, the same work at 256 bits (AVX2 + FMA)
// and at 128 bits (SSE2), to compare the cost per instruction of VEX floating-point
// lane instructions with their legacy SSE forms.
//
// ROUNDS times, over a 1 KiB buffer of doubles in [1, 2): a polynomial by FMAs (SSE:
// multiply then add), a product, a quotient, a square root, a maximum, a compare and a
// conversion, the way numeric kernels mix them; the results stay in [1/4, 64] (no
// overflow, underflow or NaN: the default MXCSR's common case). Returns the low
// quadword of the accumulators' sum in AX.

#include "textflag.h"

#ifndef ROUNDS
#define ROUNDS 4
#endif

GLOBL buf<>(SB), NOPTR, $1024
DATA consts<>+0(SB)/8, $0.25
DATA consts<>+8(SB)/8, $0.5
DATA consts<>+16(SB)/8, $1.0
DATA consts<>+24(SB)/8, $1.5
GLOBL consts<>(SB), RODATA, $32

// func vfploop256() uint64
TEXT ·vfploop256(SB), NOSPLIT, $0-8
	MOVQ $ROUNDS, R8
	VBROADCASTSD consts<>+0(SB), Y8      // 0.25
	VBROADCASTSD consts<>+8(SB), Y9      // 0.5
	VBROADCASTSD consts<>+16(SB), Y10    // 1.0
	VBROADCASTSD consts<>+24(SB), Y11    // 1.5
	VMOVAPD Y10, Y0
	VMOVAPD Y10, Y1
round:
	LEAQ buf<>(SB), SI
	MOVQ $32, CX
block:
	VMOVUPD (SI), Y4                    // x in [1, 2)
	VMOVAPD Y8, Y5
	VFMADD213PD Y9, Y4, Y5              // 0.25x + 0.5
	VFMADD213PD Y10, Y4, Y5             // (..)x + 1
	VMULPD Y4, Y5, Y6                   // p * x
	VDIVPD Y4, Y6, Y7                   // p
	VSQRTPD Y7, Y7                      // sqrt(p)
	VMAXPD Y7, Y11, Y7
	VADDPD Y7, Y0, Y0
	VMULPD Y9, Y0, Y0                   // acc = (acc + ..) / 2
	VCMPPD $1, Y11, Y7, Y12             // sqrt(p) < 1.5
	VANDPD Y12, Y10, Y12
	VADDPD Y12, Y1, Y1
	VADDPD Y10, Y1, Y1
	VMULPD Y9, Y1, Y1                   // acc2 = (acc2 + 1 + [sqrt(p) < 1.5]) / 2
	VCVTPD2PSY Y1, X13
	VCVTPS2PD X13, Y13
	VADDPD Y13, Y4, Y4
	VMULPD Y9, Y4, Y4
	VADDPD Y10, Y4, Y4                  // back into [1, 2)
	VMOVUPD Y4, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ block
	DECQ R8
	JNZ round
	VADDPD Y1, Y0, Y0
	MOVQ X0, AX
	MOVQ AX, ret+0(FP)
	RET

// func vfploop128() uint64
TEXT ·vfploop128(SB), NOSPLIT, $0-8
	MOVQ $ROUNDS, R8
	MOVSD consts<>+0(SB), X8
	MOVDDUP X8, X8
	MOVSD consts<>+8(SB), X9
	MOVDDUP X9, X9
	MOVSD consts<>+16(SB), X10
	MOVDDUP X10, X10
	MOVSD consts<>+24(SB), X11
	MOVDDUP X11, X11
	MOVAPD X10, X0
	MOVAPD X10, X1
round:
	LEAQ buf<>(SB), SI
	MOVQ $64, CX
block:
	MOVUPD (SI), X4
	MOVAPD X8, X5
	MULPD X4, X5
	ADDPD X9, X5
	MULPD X4, X5
	ADDPD X10, X5
	MOVAPD X5, X6
	MULPD X4, X6
	MOVAPD X6, X7
	DIVPD X4, X7
	SQRTPD X7, X7
	MAXPD X11, X7
	ADDPD X7, X0
	MULPD X9, X0
	MOVAPD X7, X12
	CMPPD X11, X12, $1
	ANDPD X10, X12
	ADDPD X12, X1
	ADDPD X10, X1
	MULPD X9, X1
	CVTPD2PS X1, X13
	CVTPS2PD X13, X13
	ADDPD X13, X4
	MULPD X9, X4
	ADDPD X10, X4
	MOVUPD X4, (SI)
	ADDQ $16, SI
	DECQ CX
	JNZ block
	DECQ R8
	JNZ round
	ADDPD X1, X0
	MOVQ X0, AX
	MOVQ AX, ret+0(FP)
	RET
