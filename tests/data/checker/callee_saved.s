// ABIInternal functions must return with R14 = g and X15 = 0 (abi-internal.md), and
// keep R15 when dynamically linked. (Only the runtime may define ABIInternal
// assembly; goasm runs it anyway.)
// call: clobberg(1)
// call: clobberx15(1)
// call: clobberr15(1)
#include "textflag.h"

// func clobberg(a int) int
TEXT ·clobberg<ABIInternal>(SB), NOSPLIT, $0
	XORQ	R14, R14
	INCQ	AX
	RET				// want callee-saved "R14"

// func clobberx15(a int) int
TEXT ·clobberx15<ABIInternal>(SB), NOSPLIT, $0
	MOVQ	AX, X15
	RET				// want callee-saved "X15 not zero"

// func clobberr15(a int) int
TEXT ·clobberr15<ABIInternal>(SB), NOSPLIT, $0
	MOVQ	AX, R15
	RET				// want callee-saved "R15"
