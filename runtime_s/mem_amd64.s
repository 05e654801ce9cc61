// goasm's runtime: the memory helpers Go assembly calls.
//
// goasm's own code. Each helper has the ABI0 entry assembly code calls
// (CALL runtime·memmove(SB): arguments at name+off(FP)) and an ABIInternal entry
// (Go's register ABI, cmd/compile abi-internal.md: integer arguments in AX, BX, CX,
// DI, SI, ...; the result in AX), both NOSPLIT, as in Go. They are DUPOK: a package
// loaded with goasm.load_package that defines one itself (internal/bytealg defines
// runtime·memequal and runtime·cmpstring) keeps its own, since package files are
// linked before the runtime's and the linker keeps the first definition.
//
// The string instructions do the work (Intel SDM Vol. 2, MOVS/STOS/CMPS with REP):
// DF=0 walks up, DF=1 (STD) walks down; Go code runs with DF=0, so CLD after STD.

#include "textflag.h"

// func memmove(to, from unsafe.Pointer, n uintptr)
// Copies n bytes; the areas may overlap (a copy downwards when to is inside
// [from, from+n)).
TEXT runtime·memmove(SB),NOSPLIT|DUPOK,$0-24
	MOVQ	to+0(FP), AX
	MOVQ	from+8(FP), BX
	MOVQ	n+16(FP), CX
	JMP	memmovebody<>(SB)

TEXT runtime·memmove<ABIInternal>(SB),NOSPLIT|DUPOK,$0-24
	JMP	memmovebody<>(SB)

// AX = to, BX = from, CX = n; clobbers SI, DI, CX.
TEXT memmovebody<>(SB),NOSPLIT|DUPOK,$0-0
	MOVQ	AX, DI
	MOVQ	BX, SI
	CMPQ	DI, SI
	JLS	forward		// to <= from: an upward copy never overwrites unread bytes
	LEAQ	(SI)(CX*1), DX
	CMPQ	DI, DX
	JCC	forward		// to >= from+n: no overlap
	LEAQ	-1(SI)(CX*1), SI	// overlapping, to above from: copy from the top down
	LEAQ	-1(DI)(CX*1), DI
	STD
	REP;	MOVSB
	CLD
	RET
forward:
	REP;	MOVSB
	RET

// func memclrNoHeapPointers(ptr unsafe.Pointer, n uintptr)
// Zeroes n bytes at ptr.
TEXT runtime·memclrNoHeapPointers(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	ptr+0(FP), AX
	MOVQ	n+8(FP), BX
	JMP	memclrbody<>(SB)

TEXT runtime·memclrNoHeapPointers<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	JMP	memclrbody<>(SB)

// AX = ptr, BX = n; clobbers DI, CX.
TEXT memclrbody<>(SB),NOSPLIT|DUPOK,$0-0
	MOVQ	AX, DI
	MOVQ	BX, CX
	XORL	AX, AX
	REP;	STOSB
	RET

// func memequal(a, b unsafe.Pointer, size uintptr) bool
// Whether the size bytes at a and b are equal.
TEXT runtime·memequal(SB),NOSPLIT|DUPOK,$0-25
	MOVQ	a+0(FP), AX
	MOVQ	b+8(FP), BX
	MOVQ	size+16(FP), CX
	CALL	memequalbody<>(SB)
	MOVB	AX, ret+24(FP)
	RET

TEXT runtime·memequal<ABIInternal>(SB),NOSPLIT|DUPOK,$0-25
	JMP	memequalbody<>(SB)

// AX = a, BX = b, CX = size; result in AX (0 or 1); clobbers SI, DI, CX.
TEXT memequalbody<>(SB),NOSPLIT|DUPOK,$0-0
	MOVQ	AX, SI
	MOVQ	BX, DI
	XORL	AX, AX
	CMPQ	SI, DI
	JEQ	equal		// the same bytes
	TESTQ	CX, CX
	JEQ	equal		// nothing to compare
	REP;	CMPSB
	JNE	done
equal:
	MOVL	$1, AX
done:
	RET

// func cmpstring(a, b string) int
// -1, 0 or +1 as a sorts before, equal to or after b (bytewise, then by length).
TEXT runtime·cmpstring(SB),NOSPLIT|DUPOK,$0-40
	MOVQ	a_base+0(FP), AX
	MOVQ	a_len+8(FP), BX
	MOVQ	b_base+16(FP), CX
	MOVQ	b_len+24(FP), DI
	CALL	cmpstringbody<>(SB)
	MOVQ	AX, ret+32(FP)
	RET

TEXT runtime·cmpstring<ABIInternal>(SB),NOSPLIT|DUPOK,$0-40
	JMP	cmpstringbody<>(SB)

// AX = a base, BX = a len, CX = b base, DI = b len; result in AX;
// clobbers SI, DI, CX, DX, R8.
TEXT cmpstringbody<>(SB),NOSPLIT|DUPOK,$0-0
	MOVQ	AX, SI
	MOVQ	DI, DX		// DX = b len
	MOVQ	CX, DI		// DI = b base
	MOVQ	BX, CX
	CMPQ	DX, CX
	CMOVQLT	DX, CX		// CX = min(a len, b len)
	MOVQ	BX, R8
	XORL	AX, AX
	TESTQ	CX, CX
	JEQ	lengths
	REP;	CMPSB
	JEQ	lengths
	MOVB	-1(SI), R8
	CMPB	R8, -1(DI)
	JCS	less		// unsigned byte compare: the first difference decides
	MOVQ	$1, AX
	RET
lengths:
	CMPQ	R8, DX
	JEQ	same
	JCS	less
	MOVQ	$1, AX
	RET
less:
	MOVQ	$-1, AX
same:
	RET
