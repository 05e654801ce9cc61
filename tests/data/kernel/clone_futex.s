// A thread made with clone(2) wakes its parent through a futex; the parent exits with
// the value the child stored (42). No Go runtime: raw system calls only.
#include "textflag.h"

GLOBL flag<>(SB), NOPTR, $8
GLOBL stack<>(SB), NOPTR, $8192

TEXT ·start(SB), NOSPLIT|NOFRAME, $0
	// clone(CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, stack top, 0, 0, 0)
	MOVL	$0x50f00, DI
	LEAQ	stack<>+8192(SB), SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVL	$56, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
wait:
	// futex(&flag, FUTEX_WAIT_PRIVATE, 0, NULL)
	LEAQ	flag<>(SB), DI
	MOVL	$128, SI
	MOVL	$0, DX
	MOVQ	$0, R10
	MOVL	$202, AX
	SYSCALL
	MOVL	flag<>(SB), DI
	CMPL	DI, $0
	JEQ	wait
	MOVL	$231, AX	// exit_group(flag)
	SYSCALL
	RET
child:
	MOVL	$20000, CX	// burn a few dozen quanta first
spin:
	DECL	CX
	JNE	spin
	MOVL	$42, flag<>(SB)
	LEAQ	flag<>(SB), DI
	MOVL	$129, SI	// FUTEX_WAKE_PRIVATE
	MOVL	$1, DX
	MOVL	$202, AX
	SYSCALL
	MOVL	$0, DI
	MOVL	$60, AX		// exit(0): this thread only
	SYSCALL
	RET
