// A write above the argument area: the caller's frame (its locals, its saved BP).
// call: aboveargs(5)
#include "textflag.h"

// func aboveargs(a int64) int64
TEXT ·aboveargs(SB), NOSPLIT, $0-16
	MOVQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	MOVQ	AX, 24(SP)		// want frame-write "above the 16-byte argument area"
	RET
