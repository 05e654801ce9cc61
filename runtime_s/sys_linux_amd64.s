// goasm's runtime: the system-call wrappers of linux/amd64.
//
// goasm's own code, following the wrappers of Go's runtime/sys_linux_amd64.s. Each is
// an ABI0 function: arguments at name+off(FP), results after them. The Linux system
// call convention (syscall(2), "Architecture calling conventions"): number in AX,
// arguments in DI, SI, DX, R10, R8, R9; the result comes back in AX, a value in
// [-4095, -1] being -errno; the kernel clobbers CX and R11. goasm emulates the kernel
// (goasm/machine/syscalls.py): nothing reaches the host except writes to fd 1 and 2.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

#define SYS_read		0
#define SYS_write		1
#define SYS_mmap		9
#define SYS_munmap		11
#define SYS_sched_yield 	24
#define SYS_madvise		28
#define SYS_nanosleep		35
#define SYS_getpid		39
#define SYS_exit		60
#define SYS_arch_prctl		158
#define SYS_gettid		186
#define SYS_clock_gettime	228
#define SYS_exit_group		231

#define ARCH_SET_FS	0x1002
#define CLOCK_REALTIME	0
#define CLOCK_MONOTONIC	1

// func exit(code int32)
// Ends the whole process: exit_group(2), not exit(2), which would end only this thread.
TEXT runtime·exit(SB),NOSPLIT,$0-4
	MOVL	code+0(FP), DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	RET

// func exitThread(wait *atomic.Uint32)
// Ends the calling thread: tells the waiter the stack is free, then exit(2).
TEXT runtime·exitThread(SB),NOSPLIT,$0-8
	MOVQ	wait+0(FP), AX
	MOVL	$0, (AX)	// from here on, the stack may be reused
	MOVL	$0, DI
	MOVL	$SYS_exit, AX
	SYSCALL
	INT	$3		// exit does not return
	JMP	0(PC)

// func write1(fd uintptr, p unsafe.Pointer, n int32) int32
// Returns the byte count or -errno, unchanged from the kernel.
TEXT runtime·write1(SB),NOSPLIT,$0-28
	MOVQ	fd+0(FP), DI
	MOVQ	p+8(FP), SI
	MOVL	n+16(FP), DX
	MOVL	$SYS_write, AX
	SYSCALL
	MOVL	AX, ret+24(FP)
	RET

// func write(fd uintptr, p unsafe.Pointer, n int32) int32
// In Go, write is a Go function over write1 (it may also go through a debug log);
// here it is the same system call.
TEXT runtime·write(SB),NOSPLIT,$0-28
	JMP	runtime·write1(SB)

// func read(fd int32, p unsafe.Pointer, n int32) int32
TEXT runtime·read(SB),NOSPLIT,$0-28
	MOVL	fd+0(FP), DI
	MOVQ	p+8(FP), SI
	MOVL	n+16(FP), DX
	MOVL	$SYS_read, AX
	SYSCALL
	MOVL	AX, ret+24(FP)
	RET

// func settls(DI = address of the TLS block)
// Points the FS segment base just past the block's first word: Go's code reads the
// current g from -8(FS) (the ELF TLS ABI puts thread variables below the thread
// pointer), so -8(FS) is the word DI points at, m.tls[0].
// Not an ABI0 function: the argument is in DI (called from rt0_go only).
TEXT runtime·settls(SB),NOSPLIT,$0
	ADDQ	$8, DI		// ELF wants to use -8(FS)
	MOVQ	DI, SI		// arch_prctl(ARCH_SET_FS, addr): addr is the 2nd argument
	MOVQ	$ARCH_SET_FS, DI
	MOVQ	$SYS_arch_prctl, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001	// -4095..-1: an error
	JLS	2(PC)
	MOVL	$0xf1, 0xf1	// crash: write to an unmapped address
	RET

// func osyield()
TEXT runtime·osyield(SB),NOSPLIT,$0
	MOVL	$SYS_sched_yield, AX
	SYSCALL
	RET

// func usleep(usec uint32)
// nanosleep(2) with a timespec built on the stack: {sec, nsec}.
TEXT runtime·usleep(SB),NOSPLIT,$16
	MOVL	$0, DX
	MOVL	usec+0(FP), AX
	MOVL	$1000000, CX
	DIVL	CX		// AX = seconds, DX = microseconds left
	MOVQ	AX, 0(SP)
	MOVL	$1000, AX
	MULL	DX		// nanoseconds
	MOVQ	AX, 8(SP)
	MOVQ	SP, DI		// req
	MOVL	$0, SI		// rem: not needed
	MOVL	$SYS_nanosleep, AX
	SYSCALL
	RET

// func getpid() int
TEXT runtime·getpid(SB),NOSPLIT,$0-8
	MOVL	$SYS_getpid, AX
	SYSCALL
	MOVQ	AX, ret+0(FP)
	RET

// func gettid() uint32
TEXT runtime·gettid(SB),NOSPLIT,$0-4
	MOVL	$SYS_gettid, AX
	SYSCALL
	MOVL	AX, ret+0(FP)
	RET

// func nanotime1() int64
// Go asks the vDSO's clock_gettime(CLOCK_MONOTONIC) first; goasm has no vDSO, so
// this is the plain system call (which is what Go falls back to as well).
TEXT runtime·nanotime1(SB),NOSPLIT,$16-8
	MOVL	$CLOCK_MONOTONIC, DI
	MOVQ	SP, SI		// a timespec on our frame
	MOVL	$SYS_clock_gettime, AX
	SYSCALL
	MOVQ	0(SP), AX	// sec
	MOVQ	8(SP), DX	// nsec
	IMULQ	$1000000000, AX
	ADDQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func mmap(addr unsafe.Pointer, n uintptr, prot, flags, fd int32, off uint32) (p unsafe.Pointer, err int)
// Go's sysMmap: an error comes back as p = nil, err = errno.
TEXT runtime·mmap(SB),NOSPLIT,$0
	MOVQ	addr+0(FP), DI
	MOVQ	n+8(FP), SI
	MOVL	prot+16(FP), DX
	MOVL	flags+20(FP), R10
	MOVL	fd+24(FP), R8
	MOVL	off+28(FP), R9
	MOVL	$SYS_mmap, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NOTQ	AX		// -errno -> errno: NOT then +1 is negation
	INCQ	AX
	MOVQ	$0, p+32(FP)
	MOVQ	AX, err+40(FP)
	RET
ok:
	MOVQ	AX, p+32(FP)
	MOVQ	$0, err+40(FP)
	RET

// func munmap(addr unsafe.Pointer, n uintptr)
TEXT runtime·munmap(SB),NOSPLIT,$0
	MOVQ	addr+0(FP), DI
	MOVQ	n+8(FP), SI
	MOVQ	$SYS_munmap, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	2(PC)
	MOVL	$0xf1, 0xf1	// crash
	RET

// func madvise(addr unsafe.Pointer, n uintptr, flags int32) int32
TEXT runtime·madvise(SB),NOSPLIT,$0
	MOVQ	addr+0(FP), DI
	MOVQ	n+8(FP), SI
	MOVL	flags+16(FP), DX
	MOVQ	$SYS_madvise, AX
	SYSCALL
	MOVL	AX, ret+24(FP)
	RET
