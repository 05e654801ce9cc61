// Signal delivery and rt_sigreturn: SIGUSR1 sent to ourselves runs the handler (which
// records the signal number, si_code and that it runs on the alternate stack); then a
// nil dereference raises SIGSEGV, whose handler resumes the program at ·after by
// editing the saved RIP in the ucontext. Exit status: a digest of what was seen.
#include "textflag.h"

GLOBL act<>(SB), NOPTR, $32
GLOBL altstack<>(SB), NOPTR, $16384
GLOBL ss<>(SB), NOPTR, $24
GLOBL seen<>(SB), NOPTR, $64

TEXT ·start(SB), NOSPLIT|NOFRAME, $0
	// sigaltstack({altstack, 0, 16384}, NULL)
	LEAQ	altstack<>(SB), AX
	MOVQ	AX, ss<>+0(SB)
	MOVQ	$16384, ss<>+16(SB)
	LEAQ	ss<>(SB), DI
	MOVQ	$0, SI
	MOVL	$131, AX
	SYSCALL
	// rt_sigaction(SIGUSR1, {handler, SA_SIGINFO|SA_ONSTACK|SA_RESTORER, restorer, 0}, NULL, 8)
	LEAQ	·handler(SB), AX
	MOVQ	AX, act<>+0(SB)
	MOVQ	$0x0c000004, act<>+8(SB)
	LEAQ	·restorer(SB), AX
	MOVQ	AX, act<>+16(SB)
	MOVL	$10, DI
	LEAQ	act<>(SB), SI
	MOVQ	$0, DX
	MOVL	$8, R10
	MOVL	$13, AX
	SYSCALL
	// the same handler for SIGSEGV
	MOVL	$11, DI
	LEAQ	act<>(SB), SI
	MOVQ	$0, DX
	MOVL	$8, R10
	MOVL	$13, AX
	SYSCALL
	// kill(getpid(), SIGUSR1)
	MOVL	$39, AX
	SYSCALL
	MOVQ	AX, DI
	MOVL	$10, SI
	MOVL	$62, AX
	SYSCALL
	MOVQ	AX, seen<>+24(SB)	// kill's result survives the handler: 0
	MOVQ	$0, BX
	MOVQ	(BX), AX		// SIGSEGV
	MOVQ	$99, seen<>+32(SB)	// skipped by the handler
	RET

TEXT ·after(SB), NOSPLIT|NOFRAME, $0
	// exit_group(usr1 + segv*2 + code1 + onstack*4 + kill result)
	MOVQ	seen<>+0(SB), DI
	ADDQ	seen<>+8(SB), DI
	ADDQ	seen<>+16(SB), DI
	ADDQ	seen<>+24(SB), DI
	ADDQ	seen<>+32(SB), DI
	ADDQ	seen<>+40(SB), DI
	MOVL	$231, AX
	SYSCALL
	RET

// handler(sig DI, info SI, uc DX)
TEXT ·handler(SB), NOSPLIT|NOFRAME, $0
	CMPL	DI, $10
	JNE	segv
	MOVQ	$10, seen<>+0(SB)		// SIGUSR1: 10
	LEAQ	altstack<>(SB), AX
	CMPQ	SP, AX
	JLS	notalt
	ADDQ	$16384, AX
	CMPQ	SP, AX
	JHI	notalt
	MOVQ	$4, seen<>+40(SB)		// on the alternate stack: 4
notalt:
	RET
segv:
	MOVQ	$22, seen<>+8(SB)		// SIGSEGV: 11*2
	MOVL	8(SI), AX			// si_code: SEGV_MAPERR (1)
	MOVQ	AX, seen<>+16(SB)
	MOVQ	16(SI), AX			// si_addr: 0
	ADDQ	AX, seen<>+16(SB)
	LEAQ	·after(SB), AX
	MOVQ	AX, 168(DX)			// uc_mcontext.rip (40 + 16*8)
	RET

TEXT ·restorer(SB), NOSPLIT|NOFRAME, $0
	MOVL	$15, AX				// rt_sigreturn
	SYSCALL
	RET
