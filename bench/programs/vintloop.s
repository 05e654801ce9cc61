// bench/bench_vint.py: an integer SIMD kernel, the same work at 256 bits (AVX2) and at
// 128 bits (SSE), to compare the cost per instruction of VEX lane instructions with
// their legacy SSE forms.
//
// ROUNDS times, over a 1 KiB buffer: load a vector, mix it into four accumulators the
// way ChaCha/BLAKE-style and byte-scanning kernels do (add, xor, rotate by shifts,
// byte shuffle, saturating add, unsigned max, compare, multiply, SAD, unpack,
// alignr), store it back. Returns the low quadword of the accumulators' XOR in AX.

#include "textflag.h"

#ifndef ROUNDS
#define ROUNDS 4
#endif

GLOBL buf<>(SB), NOPTR, $1024

// func vintloop256() uint64
TEXT ·vintloop256(SB), NOSPLIT, $0-8
	MOVQ $ROUNDS, R8
	VPCMPEQB Y8, Y8, Y8          // all ones
	VPSRLW $13, Y8, Y9           // 0x0007 words: shuffle control
	VPXOR Y0, Y0, Y0
	VPSUBB Y8, Y0, Y1            // 0x01 bytes
	VPADDB Y1, Y1, Y2
	VPADDB Y2, Y1, Y3
round:
	LEAQ buf<>(SB), SI
	MOVQ $32, CX
block:
	VMOVDQU (SI), Y4
	VPADDD Y4, Y0, Y0
	VPXOR Y0, Y3, Y3
	VPSHUFB Y9, Y3, Y3
	VPADDD Y3, Y2, Y2
	VPXOR Y2, Y1, Y1
	VPSLLD $12, Y1, Y5
	VPSRLD $20, Y1, Y1
	VPOR Y5, Y1, Y1
	VPADDUSB Y1, Y4, Y6
	VPMAXUB Y6, Y2, Y2
	VPCMPEQB Y6, Y4, Y7
	VPMULLD Y7, Y3, Y5
	VPSADBW Y5, Y6, Y6
	VPUNPCKLBW Y6, Y1, Y5
	VPALIGNR $5, Y5, Y0, Y0
	VPADDQ Y6, Y5, Y5
	VMOVDQU Y5, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ block
	DECQ R8
	JNZ round
	VPXOR Y1, Y0, Y0
	VPXOR Y3, Y2, Y2
	VPXOR Y2, Y0, Y0
	MOVQ X0, AX
	MOVQ AX, ret+0(FP)
	RET

// func vintloop128() uint64
TEXT ·vintloop128(SB), NOSPLIT, $0-8
	MOVQ $ROUNDS, R8
	PCMPEQB X8, X8
	MOVO X8, X9
	PSRLW $13, X9
	PXOR X0, X0
	PXOR X1, X1
	PSUBB X8, X1
	MOVO X1, X2
	PADDB X1, X2
	MOVO X2, X3
	PADDB X1, X3
round:
	LEAQ buf<>(SB), SI
	MOVQ $64, CX
block:
	MOVOU (SI), X4
	PADDL X4, X0
	PXOR X0, X3
	PSHUFB X9, X3
	PADDL X3, X2
	PXOR X2, X1
	MOVO X1, X5
	PSLLL $12, X5
	PSRLL $20, X1
	POR X5, X1
	MOVO X4, X6
	PADDUSB X1, X6
	PMAXUB X6, X2
	MOVO X4, X7
	PCMPEQB X6, X7
	MOVO X3, X5
	PMULLD X7, X5
	PSADBW X5, X6
	MOVO X1, X5
	PUNPCKLBW X6, X5
	PALIGNR $5, X5, X0
	PADDQ X6, X5
	MOVOU X5, (SI)
	ADDQ $16, SI
	DECQ CX
	JNZ block
	DECQ R8
	JNZ round
	PXOR X1, X0
	PXOR X3, X2
	PXOR X2, X0
	MOVQ X0, AX
	MOVQ AX, ret+0(FP)
	RET
