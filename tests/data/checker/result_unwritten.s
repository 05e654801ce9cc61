// Results left unwritten, wholly or in part (MOVL to an 8-byte result).
// call: noret(5)
// call: halfret(5)
#include "textflag.h"

// func noret(a int64) (int64, bool)
TEXT ·noret(SB), NOSPLIT, $0-17
	MOVQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	RET				// want result-unwritten "RET without writing to 1-byte ret1+16(FP)"

// func halfret(a int64) int64
TEXT ·halfret(SB), NOSPLIT, $0-16
	MOVQ	a+0(FP), AX
	MOVL	AX, ret+8(FP)
	RET				// want result-unwritten "only 4 of the 8 bytes of ret+8(FP)"
