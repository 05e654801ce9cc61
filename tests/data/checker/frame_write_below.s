// A write below the hardware SP: outside the frame, overwritten by anything that
// pushes (an asynchronous preemption, a signal) at any moment.
// call: belowsp(5)
#include "textflag.h"

// func belowsp(a int64) int64
TEXT ·belowsp(SB), NOSPLIT, $0-16
	MOVQ	a+0(FP), AX
	MOVQ	AX, -8(SP)		// want frame-write "below the stack pointer"
	MOVQ	AX, ret+8(FP)
	RET
