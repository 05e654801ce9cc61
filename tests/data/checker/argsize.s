// The TEXT's argument size disagrees with the Go declaration.
// call: badsize(5, 6)
#include "textflag.h"

// func badsize(a, b int64) int64
TEXT ·badsize(SB), NOSPLIT, $0-16	// want argsize "wrong argument size 16; expected $...-24"
	MOVQ	a+0(FP), AX
	ADDQ	b+8(FP), AX
	MOVQ	AX, ret+16(FP)
	RET
