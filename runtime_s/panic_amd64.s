// goasm's runtime: what assembly calls besides memory helpers: bounds-check panics,
// GC write barriers, and the system-call bracket of the scheduler.
//
// goasm's own code. The entry points and their registers are those of Go's
// asm_amd64.s (Go 1.21, before panicBounds replaced them): each panic entry takes the
// failing index x and the length/capacity y in registers, stores them as ABI0
// arguments and tail-calls the Go-level goPanic* function, which goasm models in
// Python (goasm/machine/runtime.py: "panic: runtime error: ..." on stderr, exit 2).

#include "textflag.h"

// func panicXxx(): x and y in registers (the table of Go 1.21's asm_amd64.s).
TEXT runtime·panicIndex<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicIndex(SB)

TEXT runtime·panicIndexU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicIndexU(SB)

TEXT runtime·panicSliceAlen<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSliceAlen(SB)

TEXT runtime·panicSliceAlenU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSliceAlenU(SB)

TEXT runtime·panicSliceAcap<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSliceAcap(SB)

TEXT runtime·panicSliceAcapU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSliceAcapU(SB)

TEXT runtime·panicSliceB<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicSliceB(SB)

TEXT runtime·panicSliceBU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicSliceBU(SB)

TEXT runtime·panicSlice3Alen<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	DX, x+0(FP)
	MOVQ	BX, y+8(FP)
	JMP	runtime·goPanicSlice3Alen(SB)

TEXT runtime·panicSlice3AlenU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	DX, x+0(FP)
	MOVQ	BX, y+8(FP)
	JMP	runtime·goPanicSlice3AlenU(SB)

TEXT runtime·panicSlice3Acap<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	DX, x+0(FP)
	MOVQ	BX, y+8(FP)
	JMP	runtime·goPanicSlice3Acap(SB)

TEXT runtime·panicSlice3AcapU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	DX, x+0(FP)
	MOVQ	BX, y+8(FP)
	JMP	runtime·goPanicSlice3AcapU(SB)

TEXT runtime·panicSlice3B<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSlice3B(SB)

TEXT runtime·panicSlice3BU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	CX, x+0(FP)
	MOVQ	DX, y+8(FP)
	JMP	runtime·goPanicSlice3BU(SB)

TEXT runtime·panicSlice3C<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicSlice3C(SB)

TEXT runtime·panicSlice3CU<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	AX, x+0(FP)
	MOVQ	CX, y+8(FP)
	JMP	runtime·goPanicSlice3CU(SB)

TEXT runtime·panicSliceConvert<ABIInternal>(SB),NOSPLIT|DUPOK,$0-16
	MOVQ	DX, x+0(FP)
	MOVQ	BX, y+8(FP)
	JMP	runtime·goPanicSliceConvert(SB)

// gcWriteBarrier1..8: the caller is about to store N pointers and asks for a buffer
// of N*8 bytes to record them in for the garbage collector (R11 returns its address;
// Go 1.21+ ABI). goasm has no collector: every caller gets the same scratch buffer,
// whose contents nobody reads.
TEXT runtime·gcWriteBarrier1<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier2<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier3<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier4<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier5<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier6<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier7<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

TEXT runtime·gcWriteBarrier8<ABIInternal>(SB),NOSPLIT|NOFRAME|DUPOK,$0
	LEAQ	wbscratch<>(SB), R11
	RET

GLOBL	wbscratch<>(SB),NOPTR,$64

// gcWriteBarrier (Go <= 1.20): store AX at (DI), informing the collector.
TEXT runtime·gcWriteBarrier<ABIInternal>(SB),NOSPLIT|DUPOK,$0
	MOVQ	AX, (DI)
	RET

// runtime.writeBarrier: the flag compiled code tests before calling a write
// barrier (struct { enabled bool; ... }); always off in goasm.
GLOBL	runtime·writeBarrier(SB),NOPTR|DUPOK,$16

// func entersyscall(), exitsyscall()
// Go tells the scheduler that the goroutine is in a system call (another M may run
// its P meanwhile). goasm runs one goroutine at a time on one thread: nothing to do.
TEXT runtime·entersyscall(SB),NOSPLIT|DUPOK,$0-0
	RET

TEXT runtime·exitsyscall(SB),NOSPLIT|DUPOK,$0-0
	RET
