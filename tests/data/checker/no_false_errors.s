// Correct code the checker once misjudged (issue 15): nothing may be reported.
// A callee whose first instruction is RET: the caller's result writes after the
// call still count. An ABIInternal function that tail-jumps into an ABI0 helper
// (internal/bytealg Compare -> cmpbody<>): the RET is judged by the ABI of the
// function that was called, whose result is in AX.
// call: callsempty(7)
// call: tailinternal(2)
#include "textflag.h"

// func callsempty(a int64) int64
TEXT ·callsempty(SB), $8-16
	CALL	·empty(SB)
	MOVQ	a+0(FP), AX
	MOVQ	AX, ret+8(FP)
	RET

// func empty()
TEXT ·empty(SB), NOSPLIT, $0-0
	RET

// func tailinternal(a int) int
TEXT ·tailinternal<ABIInternal>(SB), NOSPLIT, $0-16
	MOVQ	AX, BX
	JMP	helper<>(SB)

// input BX, output AX
TEXT helper<>(SB), NOSPLIT, $0-0
	LEAQ	1(BX), AX
	RET
