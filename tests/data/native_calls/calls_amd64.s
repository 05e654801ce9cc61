// Functions with every argument kind goasm's call() supports; see calls.go.

#include "textflag.h"

// func mix(a int8, b uint8, c int16, d uint16, e int32, f uint32, k int64, h uint64) (r1 int64, r2 uint64, r3 int32, r4 bool)
TEXT ·mix(SB), NOSPLIT, $0-53
	MOVBQSX	a+0(FP), AX
	MOVWQSX	c+2(FP), BX
	MOVLQSX	e+8(FP), CX
	MOVQ	AX, DX
	ADDQ	BX, DX
	ADDQ	CX, DX
	ADDQ	k+16(FP), DX
	MOVQ	DX, r1+32(FP)
	MOVBQZX	b+1(FP), SI
	MOVWQZX	d+4(FP), DI
	MOVL	f+12(FP), R8
	ADDQ	DI, SI
	ADDQ	R8, SI
	ADDQ	h+24(FP), SI
	MOVQ	SI, r2+40(FP)
	IMULL	BX, AX
	MOVL	AX, r3+48(FP)
	MOVQ	k+16(FP), AX
	TESTQ	AX, AX
	SETLT	r4+52(FP)
	RET

// func narrow(x int64) (a int8, b uint16, c int32, d bool, e uint8)
TEXT ·narrow(SB), NOSPLIT, $0-18
	MOVQ	x+0(FP), AX
	MOVB	AL, a+8(FP)
	MOVQ	AX, BX
	SHRQ	$8, BX
	MOVW	BX, b+10(FP)
	MOVQ	AX, CX
	SARQ	$16, CX
	MOVL	CX, c+12(FP)
	TESTQ	AX, AX
	SETNE	d+16(FP)
	SHRQ	$56, AX
	MOVB	AL, e+17(FP)
	RET

// func words(a int, b uint, p uintptr) (int, uint, uintptr)
TEXT ·words(SB), NOSPLIT, $0-48
	MOVQ	a+0(FP), AX
	IMULQ	$3, AX
	MOVQ	AX, ret+24(FP)
	MOVQ	b+8(FP), AX
	SHRQ	$1, AX
	MOVQ	AX, ret1+32(FP)
	MOVQ	p+16(FP), AX
	XORQ	$0xdeadbeef, AX	// imm32, sign-extended by the CPU
	MOVQ	AX, ret2+40(FP)
	RET

// func bools(a bool, x int32, b bool) (and bool, or bool, n int16)
TEXT ·bools(SB), NOSPLIT, $0-20
	MOVBLZX	a+0(FP), AX
	MOVBLZX	b+8(FP), BX
	MOVL	AX, CX
	ANDL	BX, CX
	MOVB	CX, and+16(FP)
	MOVL	AX, CX
	ORL	BX, CX
	MOVB	CX, or+17(FP)
	MOVL	x+4(FP), CX
	ADDL	AX, CX
	ADDL	BX, CX
	MOVW	CX, n+18(FP)
	RET

// func deref(p *int64, q *uint32) (int64, uint32)
TEXT ·deref(SB), NOSPLIT, $0-28
	MOVQ	p+0(FP), AX
	MOVQ	(AX), BX
	ADDQ	$7, BX
	MOVQ	BX, (AX)
	MOVQ	BX, ret+16(FP)
	MOVQ	q+8(FP), AX
	MOVL	(AX), BX
	XORL	$0xffff, BX
	MOVL	BX, (AX)
	MOVL	BX, ret1+24(FP)
	RET

// func peek(u unsafe.Pointer, n int) uint64
// Sum of the n bytes at u, each shifted left by its index mod 8 bytes.
TEXT ·peek(SB), NOSPLIT, $0-24
	MOVQ	u+0(FP), SI
	MOVQ	n+8(FP), CX
	XORQ	AX, AX
	XORQ	DX, DX		// index
ploop:
	CMPQ	DX, CX
	JEQ	pdone
	MOVBQZX	(SI)(DX*1), BX
	MOVQ	DX, R8
	ANDQ	$7, R8
	SHLQ	$3, R8
	MOVQ	CX, R9
	MOVQ	R8, CX
	SHLQ	CX, BX
	MOVQ	R9, CX
	ADDQ	BX, AX
	INCQ	DX
	JMP	ploop
pdone:
	MOVQ	AX, ret+16(FP)
	RET

// func sumsl(xs []int32) (sum int64, l int, c int)
TEXT ·sumsl(SB), NOSPLIT, $0-48
	MOVQ	xs_base+0(FP), SI
	MOVQ	xs_len+8(FP), CX
	MOVQ	CX, l+32(FP)
	MOVQ	xs_cap+16(FP), AX
	MOVQ	AX, c+40(FP)
	XORQ	AX, AX
sloop:
	TESTQ	CX, CX
	JZ	sdone
	MOVLQSX	(SI), BX
	ADDQ	BX, AX
	ADDQ	$4, SI
	DECQ	CX
	JMP	sloop
sdone:
	MOVQ	AX, sum+24(FP)
	RET

// func rev(b []byte)
TEXT ·rev(SB), NOSPLIT, $0-24
	MOVQ	b_base+0(FP), SI
	MOVQ	b_len+8(FP), DI
	LEAQ	-1(SI)(DI*1), DI	// last byte
rloop:
	CMPQ	SI, DI
	JCC	rdone			// SI >= DI (unsigned)
	MOVB	(SI), AX
	MOVB	(DI), BX
	MOVB	BX, (SI)
	MOVB	AX, (DI)
	INCQ	SI
	DECQ	DI
	JMP	rloop
rdone:
	RET

// func fnv(s string) (h uint32, n int)
// FNV-1a, 32 bits.
TEXT ·fnv(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), CX
	MOVQ	CX, n+24(FP)
	MOVL	$2166136261, AX
floop:
	TESTQ	CX, CX
	JZ	fdone
	MOVBLZX	(SI), BX
	XORL	BX, AX
	IMULL	$16777619, AX
	INCQ	SI
	DECQ	CX
	JMP	floop
fdone:
	MOVL	AX, h+16(FP)
	RET

// func tail(s string) string
TEXT ·tail(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), CX
	TESTQ	CX, CX
	JZ	tsame
	INCQ	SI
	DECQ	CX
tsame:
	MOVQ	SI, ret_base+16(FP)
	MOVQ	CX, ret_len+24(FP)
	RET

// func half(b []byte) []byte
TEXT ·half(SB), NOSPLIT, $0-48
	MOVQ	b_base+0(FP), AX
	MOVQ	AX, ret_base+24(FP)
	MOVQ	b_len+8(FP), AX
	SHRQ	$1, AX
	MOVQ	AX, ret_len+32(FP)
	MOVQ	b_cap+16(FP), AX
	MOVQ	AX, ret_cap+40(FP)
	RET

// func arr(a [3]uint16, b [2]int64) (s [3]uint16, t int64)
TEXT ·arr(SB), NOSPLIT, $0-40
	MOVW	a_0+0(FP), AX
	MOVW	AX, s_2+28(FP)
	MOVW	a_1+2(FP), AX
	MOVW	AX, s_1+26(FP)
	MOVW	a_2+4(FP), AX
	MOVW	AX, s_0+24(FP)
	MOVQ	b_0+8(FP), AX
	SUBQ	b_1+16(FP), AX
	MOVQ	AX, t+32(FP)
	RET

// func arrp(a [2]*int32) int32
TEXT ·arrp(SB), NOSPLIT, $0-20
	MOVQ	a_0+0(FP), AX
	MOVL	(AX), CX
	MOVQ	a_1+8(FP), AX
	ADDL	(AX), CX
	MOVL	CX, ret+16(FP)
	RET

// func strs(a [2]string) int
TEXT ·strs(SB), NOSPLIT, $0-40
	MOVQ	a_0_len+8(FP), AX
	IMULQ	$1000, AX
	ADDQ	a_1_len+24(FP), AX
	MOVQ	AX, ret+32(FP)
	RET

// func slstr(xs []string) int
TEXT ·slstr(SB), NOSPLIT, $0-32
	MOVQ	xs_base+0(FP), SI
	MOVQ	xs_len+8(FP), CX
	XORQ	AX, AX
xloop:
	TESTQ	CX, CX
	JZ	xdone
	ADDQ	8(SI), AX
	ADDQ	$16, SI
	DECQ	CX
	JMP	xloop
xdone:
	MOVQ	AX, ret+24(FP)
	RET
