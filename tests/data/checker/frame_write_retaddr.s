// A write over the function's own return address (0(SP) at entry, -8(FP)).
// call: retaddr(5)
#include "textflag.h"

// func retaddr(a int64) int64
TEXT ·retaddr(SB), NOSPLIT, $0-16
	MOVQ	0(SP), BX
	MOVQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	MOVQ	$0, 0(SP)		// want frame-write "over the return address"
	MOVQ	BX, 0(SP)		// want frame-write "over the return address"
	RET
