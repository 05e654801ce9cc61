// BP used as a scratch register in a frameless function: the frame-pointer chain
// tracebacks and profilers walk is broken when it returns.
// call: badbp(5)
#include "textflag.h"

// func badbp(a int64) int64
TEXT ·badbp(SB), NOSPLIT, $0-16
	MOVQ	a+0(FP), BP
	MOVQ	BP, ret+8(FP)
	RET				// want bp "BP not restored"
