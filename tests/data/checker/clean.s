// No mistakes: frames, locals, PUSH/POP, calls, stack growth, ABIInternal done right.
// call: clean(3, [1, 2])
// call: internal(41)
#include "textflag.h"

// func clean(a int64, xs []int64) (sum int64, ok bool)
TEXT ·clean(SB), $40-41
	MOVQ	a+0(FP), AX
	MOVQ	AX, saved-8(SP)
	PUSHQ	AX
	POPQ	BX
	MOVQ	BX, 0(SP)
	CALL	·leaf(SB)
	MOVQ	8(SP), AX
	ADDQ	saved-8(SP), AX
	MOVQ	AX, sum+32(FP)
	MOVB	$1, ok+40(FP)
	RET

// func leaf(a int64) int64
TEXT ·leaf(SB), NOSPLIT, $16-16
	MOVQ	a+0(FP), AX
	MOVQ	AX, x-8(SP)
	SHLQ	$1, AX
	MOVQ	AX, ret+8(FP)
	RET

// func internal(a int) int
TEXT ·internal<ABIInternal>(SB), NOSPLIT, $0
	INCQ	AX
	RET
