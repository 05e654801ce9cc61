// SUBQ on SP is not tracked by the assembler (only PUSH/POP/ADJSP are): RET then
// pops the wrong word as its return address.
// call: badsp(5)
#include "textflag.h"

// func badsp(a int64) int64
TEXT ·badsp(SB), NOSPLIT, $0-16
	MOVQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	SUBQ	$8, SP
	RET				// want sp "RET with SP 8 bytes below its value at entry"
