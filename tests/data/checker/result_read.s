// Reading a result before writing it: its content is whatever the caller's frame
// held (Go does not zero the results of an assembly function).
// call: readret(5)
#include "textflag.h"

// func readret(a int64) int64
TEXT ·readret(SB), NOSPLIT, $0-16
	MOVQ	ret+8(FP), AX		// want result-read "read of ret+8(FP) before any write"
	ADDQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	RET
