// arith: integer routines in Go assembly, tested with goasm (test_arith.py).
//
// Each function is ABI0: arguments and results live in the caller's frame, at
// name+offset(FP) as laid out from the Go declarations in arith.go.

#include "textflag.h"

// func Add(a, b int64) (sum int64, ok bool)
TEXT ·Add(SB), NOSPLIT, $0-25
	MOVQ	a+0(FP), AX
	ADDQ	b+8(FP), AX
	MOVQ	AX, sum+16(FP)
	SETOC	ok+24(FP)		// ok = no signed overflow (OF clear)
	RET

// func Sum(xs []int64) int64
TEXT ·Sum(SB), NOSPLIT, $0-32
	MOVQ	xs_base+0(FP), SI
	MOVQ	xs_len+8(FP), CX
	XORQ	AX, AX
loop:
	TESTQ	CX, CX
	JZ	done
	ADDQ	(SI), AX
	ADDQ	$8, SI
	DECQ	CX
	JMP	loop
done:
	MOVQ	AX, ret+24(FP)
	RET

// func IndexByte(s []byte, c byte) int
TEXT ·IndexByte(SB), NOSPLIT, $0-40
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), CX
	MOVB	c+24(FP), AL
	XORQ	BX, BX			// BX = index
next:
	CMPQ	BX, CX
	JEQ	notfound
	CMPB	(SI)(BX*1), AL
	JEQ	found
	INCQ	BX
	JMP	next
found:
	MOVQ	BX, ret+32(FP)
	RET
notfound:
	MOVQ	$-1, ret+32(FP)
	RET
