// goasm's runtime: the assembly half of the Go runtime for linux/amd64.
//
// goasm's own code, written after reading Go's runtime/asm_amd64.s, proc.go and
// stack.go. It performs the same start-up sequence as a real Go binary, with the same
// struct offsets (go_asm.h is generated from goasm/machine/layout.py and equals the
// compiler's), so that registers, stack bounds and TLS contents can be compared with a
// real program under gdb. What Go writes in Go (check, args, osinit, schedinit,
// newproc, mstart0, schedule, newstack, goexit1, runtime.main) goasm models in Python
// (goasm/machine/runtime.py): those functions are "natives", called with CALL like any
// other, taking ABI0 arguments from the stack.
//
// Where this file differs from Go's, the comment says so. The main differences:
//   - no cgo (_cgo_init is never set, so that branch is left out);
//   - no GOAMD64 feature check (goasm runs every GOAMD64 level);
//   - morestack/gogo/mcall use ABI0 only (Go's mcall is ABIInternal).

#include "go_asm.h"
#include "go_tls.h"
#include "funcdata.h"
#include "textflag.h"

// _rt0_amd64 (rt0_linux_amd64.s) jumps here with argc in DI and argv in SI.
// TOPFRAME: tracebacks stop here. NOFRAME,$0: we manage SP ourselves.
TEXT runtime·rt0_go(SB),NOSPLIT|NOFRAME|TOPFRAME,$0
	// Step 1: an aligned stack with room for our own use.
	// 5 words: 3 outgoing argument slots for the calls below (0, 8, 16(SP)) and 2
	// "autos" where argc and argv are kept (24 and 32(SP)). Then round SP down to a
	// multiple of 16. If the kernel gave us SP = E, from now on SP = (E - 40) &^ 15.
	MOVQ	DI, AX		// argc
	MOVQ	SI, BX		// argv
	SUBQ	$(5*8), SP
	ANDQ	$~15, SP
	MOVQ	AX, 24(SP)
	MOVQ	BX, 32(SP)

	// Frame-pointer unwinders must stop here: the outermost frame has BP = 0.
	MOVQ	$0, BP

	// Step 2: g0, the scheduler's goroutine, gets its stack out of the OS stack:
	// the 64 KiB below the current SP. hi = SP, lo = SP - 64 KiB. Both stack guards
	// start at lo itself: until mstart0 raises them to lo + const_stackGuard (the
	// normal red zone), no split check on g0 can fire. (A cgo binary adds the
	// guard right here, after _cgo_init has told the runtime the real stack size.)
	MOVQ	$runtime·g0(SB), DI
	LEAQ	(-64*1024)(SP), BX
	MOVQ	BX, g_stackguard0(DI)
	MOVQ	BX, g_stackguard1(DI)
	MOVQ	BX, (g_stack+stack_lo)(DI)
	MOVQ	SP, (g_stack+stack_hi)(DI)

	// Step 3: what CPU is this? CPUID leaf 0 returns the highest leaf in AX and the
	// vendor string in BX, DX, CX ("Genu" "ineI" "ntel" on Intel). Go uses it to pick
	// LFENCE or MFENCE before RDTSC (runtime·cputicks) and the CPU features (leaf 1)
	// for its hash functions. (Go 1.27 names the flag runtime·isIntel and keeps leaf
	// 1's AX in runtime·processorVersionInfo; older releases used the names here.)
	MOVL	$0, AX
	CPUID
	CMPL	AX, $0
	JEQ	nocpuinfo
	CMPL	BX, $0x756E6547	// "Genu"
	JNE	notintel
	CMPL	DX, $0x49656E69	// "ineI"
	JNE	notintel
	CMPL	CX, $0x6C65746E	// "ntel"
	JNE	notintel
	MOVB	$1, runtime·lfenceBeforeRdtsc(SB)
notintel:
	MOVL	$1, AX
	CPUID
	MOVL	AX, runtime·processorVersionInfo(SB)
	MOVL	CX, runtime·cpuid_ecx(SB)
	MOVL	DX, runtime·cpuid_edx(SB)
nocpuinfo:

	// Step 4: thread-local storage. The g slot lives in m0.tls[0]; settls points
	// the FS base at &m0.tls[0] + 8 with arch_prctl(ARCH_SET_FS), so -8(FS), which
	// every "MOVQ (TLS), reg" reads, is m0.tls[0]. (A cgo binary would have let
	// _cgo_init set TLS up instead.)
	LEAQ	runtime·m0+m_tls(SB), DI
	CALL	runtime·settls(SB)

	// Store through the TLS slot and read the same word back directly: if the two
	// do not agree, TLS does not work and nothing else can. Crash by writing to
	// address 0 (Go 1.27 calls runtime·abort here instead).
	get_tls(BX)
	MOVQ	$0x123, g(BX)
	MOVQ	runtime·m0+m_tls(SB), AX
	CMPQ	AX, $0x123
	JEQ	2(PC)
	MOVL	AX, 0		// abort

	// Step 5: the current g is g0, running on m0; link the two.
	get_tls(BX)
	LEAQ	runtime·g0(SB), CX
	MOVQ	CX, g(BX)		// TLS g slot = &g0 (so m0.tls[0] = &g0)
	LEAQ	runtime·m0(SB), AX
	MOVQ	CX, m_g0(AX)		// m0.g0 = &g0
	MOVQ	AX, g_m(CX)		// g0.m = &m0

	CLD				// Go's convention: the direction flag is always clear

	// Step 6: the Go half of start-up (goasm: Python natives, see runtime.py).
	// check: sanity checks of the compiler's assumptions (runtime1.go).
	CALL	runtime·check(SB)

	// args(argc, argv): remember argc/argv, read the auxiliary vector (page size,
	// AT_RANDOM). The arguments go in the outgoing slots at 0 and 8(SP).
	MOVL	24(SP), AX		// argc
	MOVL	AX, 0(SP)
	MOVQ	32(SP), AX		// argv
	MOVQ	AX, 8(SP)
	CALL	runtime·args(SB)
	// osinit: number of CPUs, huge page size (os_linux.go).
	CALL	runtime·osinit(SB)
	// schedinit: the scheduler, memory allocator, GC, the Ps (proc.go).
	CALL	runtime·schedinit(SB)

	// Step 7: the main goroutine. newproc(fn *funcval) creates a g that will run
	// fn (runtime.main) and puts it on the run queue; mainPC is that funcval.
	MOVQ	$runtime·mainPC(SB), AX
	PUSHQ	AX
	CALL	runtime·newproc(SB)
	POPQ	AX

	// Step 8: this thread becomes m0's scheduler loop; it switches to the main
	// goroutine and never comes back.
	CALL	runtime·mstart(SB)

	CALL	runtime·abort(SB)	// mstart never returns
	RET

// mainPC is a func value (a *funcval: a pointer to a word holding the code
// address) for runtime.main, the first goroutine's function.
DATA	runtime·mainPC+0(SB)/8,$runtime·main(SB)
GLOBL	runtime·mainPC(SB),RODATA,$8

// func mstart()
// The root frame of every M; on m0 it is called from rt0_go. BP = 0 ends the
// frame-pointer chain. mstart0 (Go) finishes setting up g0 and enters schedule().
TEXT runtime·mstart(SB),NOSPLIT|TOPFRAME|NOFRAME,$0
	MOVQ	$0, BP
	CALL	runtime·mstart0(SB)
	RET	// not reached

// func gogo(buf *gobuf)
// Resume the context saved in buf (a longjmp): make buf.g the current g, load its
// SP, BP and closure context (DX) and jump to its PC. The scheduler's execute()
// starts goroutines with it; newstack resumes the grown goroutine with it.
TEXT runtime·gogo(SB),NOSPLIT,$0-8
	MOVQ	buf+0(FP), BX		// BX = buf
	MOVQ	gobuf_g(BX), DX		// DX = buf.g
	MOVQ	0(DX), CX		// load through it: a nil g faults here, not later
	get_tls(CX)
	MOVQ	DX, g(CX)		// TLS g slot = buf.g
	MOVQ	DX, R14			// R14 is the g register of ABIInternal code
	MOVQ	gobuf_sp(BX), SP	// switch stacks
	MOVQ	gobuf_ctxt(BX), DX
	MOVQ	gobuf_bp(BX), BP
	MOVQ	$0, gobuf_sp(BX)	// the gobuf is consumed (and no stale pointers
	MOVQ	$0, gobuf_ctxt(BX)	// are left for the garbage collector)
	MOVQ	$0, gobuf_bp(BX)
	MOVQ	gobuf_pc(BX), BX
	JMP	BX

// func mcall(fn func(*g))
// Switch to g0's stack and call fn(g), g being the caller's goroutine. fn must not
// return: it continues g later with gogo(&g.sched). The caller's context is saved
// in g.sched so that gogo resumes right after the CALL to mcall.
// (Go's mcall is ABIInternal: fn arrives in AX and g is R14. This one is ABI0 and
// finds g in TLS.)
TEXT runtime·mcall(SB),NOSPLIT,$0-8
	MOVQ	fn+0(FP), DI		// DI = fn (a *funcval)
	get_tls(CX)
	MOVQ	g(CX), AX		// AX = g
	MOVQ	0(SP), BX		// the caller's PC
	MOVQ	BX, (g_sched+gobuf_pc)(AX)
	LEAQ	fn+0(FP), BX		// the caller's SP (its argument area)
	MOVQ	BX, (g_sched+gobuf_sp)(AX)
	MOVQ	BP, (g_sched+gobuf_bp)(AX)

	MOVQ	g_m(AX), BX
	MOVQ	m_g0(BX), SI		// SI = g.m.g0
	CMPQ	SI, AX
	JNE	goodm
	JMP	runtime·badmcall(SB)	// mcall on g0 makes no sense
goodm:
	MOVQ	SI, g(CX)		// the current g is g0
	MOVQ	SI, R14
	MOVQ	(g_sched+gobuf_sp)(SI), SP	// on g0's stack
	MOVQ	$0, BP
	PUSHQ	AX			// fn's argument: the old g
	MOVQ	DI, DX			// closure context
	MOVQ	0(DI), DI
	CALL	DI			// fn(g)
	POPQ	AX
	JMP	runtime·badmcall2(SB)	// fn returned
	RET

// Stack growth. A function that is not NOSPLIT starts with (inserted by the loader,
// as by Go's assembler):
//
//	MOVQ	(TLS), R14; CMPQ SP, g_stackguard0(R14); JLS morestack_tail
//	...
//	morestack_tail: CALL runtime·morestack_noctxt(SB); JMP 0
//
// so morestack is entered with f's SP minus the return address, which points at
// "JMP 0", back to f's first instruction: once newstack has moved the goroutine to
// a larger stack, f runs its prologue again and the check passes.
//
// func morestack()
TEXT runtime·morestack(SB),NOSPLIT|NOFRAME,$0-0
	get_tls(CX)
	MOVQ	g(CX), DI		// DI = g, the goroutine out of stack
	MOVQ	g_m(DI), BX		// BX = m

	// g.sched = f's context: where to resume (the JMP 0), f's SP before the call,
	// its BP and closure context. newstack moves all of it to the new stack.
	MOVQ	0(SP), AX
	MOVQ	AX, (g_sched+gobuf_pc)(DI)
	LEAQ	8(SP), AX
	MOVQ	AX, (g_sched+gobuf_sp)(DI)
	MOVQ	BP, (g_sched+gobuf_bp)(DI)
	MOVQ	DX, (g_sched+gobuf_ctxt)(DI)

	// g0's stack is the OS stack: it cannot grow.
	MOVQ	m_g0(BX), SI
	CMPQ	DI, SI
	JNE	notg0
	CALL	runtime·badmorestackg0(SB)
	CALL	runtime·abort(SB)
notg0:
	// Neither can the signal-handling goroutine's.
	MOVQ	m_gsignal(BX), SI
	CMPQ	DI, SI
	JNE	notgsignal
	CALL	runtime·badmorestackgsignal(SB)
	CALL	runtime·abort(SB)
notgsignal:
	// m.morebuf = f's caller (for tracebacks of the growth).
	MOVQ	8(SP), AX		// f's return address
	MOVQ	AX, (m_morebuf+gobuf_pc)(BX)
	LEAQ	16(SP), AX		// f's caller's SP
	MOVQ	AX, (m_morebuf+gobuf_sp)(BX)
	MOVQ	DI, (m_morebuf+gobuf_g)(BX)

	// Run newstack on g0's stack, where mstart0 left g0.sched.sp.
	MOVQ	m_g0(BX), BX
	MOVQ	BX, g(CX)		// current g = g0
	MOVQ	(g_sched+gobuf_sp)(BX), SP
	MOVQ	$0, BP
	CALL	runtime·newstack(SB)	// resumes g with gogo; does not return
	CALL	runtime·abort(SB)
	RET

// func morestack_noctxt()
// morestack for functions without a closure context: DX = 0 so that g.sched.ctxt
// holds no stale pointer.
TEXT runtime·morestack_noctxt(SB),NOSPLIT,$0
	MOVL	$0, DX
	JMP	runtime·morestack(SB)

// func abort()
// Crash with a breakpoint trap (SIGTRAP): the runtime's "cannot happen".
TEXT runtime·abort(SB),NOSPLIT,$0-0
	INT	$3
loop:
	JMP	loop

// func goexit()
// The return address of every goroutine's first function: newproc puts goexit+1
// (the CALL, one instruction past the NOP) under the goroutine's first frame, so
// returning from it calls goexit1, which ends the goroutine. The NOPs keep the
// address range of goexit around the CALL, which tracebacks rely on.
TEXT runtime·goexit(SB),NOSPLIT|TOPFRAME|NOFRAME,$0-0
	BYTE	$0x90	// NOP
	CALL	runtime·goexit1(SB)	// does not return
	BYTE	$0x90	// NOP

// Variables. In Go, g0 and m0 are declared in proc.go ("var m0 m; var g0 g") and
// the CPU flags in runtime2.go/cpuflags.go; goasm's runtime declares them here, with
// the real sizes (g__size, m__size from go_asm.h). NOPTR: the collector need not
// scan them (there is none in goasm).
GLOBL	runtime·g0(SB),NOPTR,$g__size
GLOBL	runtime·m0(SB),NOPTR,$m__size
GLOBL	runtime·lfenceBeforeRdtsc(SB),NOPTR,$1
GLOBL	runtime·processorVersionInfo(SB),NOPTR,$4
GLOBL	runtime·cpuid_ecx(SB),NOPTR,$4
GLOBL	runtime·cpuid_edx(SB),NOPTR,$4
GLOBL	runtime·argc(SB),NOPTR,$4
GLOBL	runtime·argv(SB),NOPTR,$8
