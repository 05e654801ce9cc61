// bench/bench_memory.py: a memory-heavy loop, copy and compare.
//
// ROUNDS times: update each of the 1024 quadwords of src in place (read-modify-write),
// copy it to dst, then compare src and dst quadword by quadword. Returns the number
// of rounds whose comparison found no difference in AX (ROUNDS when all is well).

#include "textflag.h"

#ifndef ROUNDS
#define ROUNDS 8
#endif

GLOBL src<>(SB), NOPTR, $8192
GLOBL dst<>(SB), NOPTR, $8192

// func memloop() int
TEXT ·memloop(SB), NOSPLIT, $0-8
	MOVQ $ROUNDS, R8
	XORQ R9, R9                 // rounds that compared equal
round:
	LEAQ src<>(SB), SI
	LEAQ dst<>(SB), DI
	MOVQ $1024, CX
copy:
	MOVQ (SI), AX
	ADDQ R8, AX
	MOVQ AX, (SI)
	MOVQ AX, (DI)
	ADDQ $8, SI
	ADDQ $8, DI
	DECQ CX
	JNZ copy
	LEAQ src<>(SB), SI
	LEAQ dst<>(SB), DI
	XORQ CX, CX
compare:
	MOVQ (SI)(CX*8), AX
	CMPQ AX, (DI)(CX*8)
	JNE differ
	INCQ CX
	CMPQ CX, $1024
	JLT compare
	INCQ R9
differ:
	DECQ R8
	JNZ round
	MOVQ R9, ret+0(FP)
	RET
