// recursion: deep recursion through real frames, and goroutine stack growth.
//
// Demonstrates:
//   - The ABI0 calling convention: arguments and results live in the caller's
//     frame. The caller stores n at 0(SP) (hardware SP: the bottom of its own
//     frame), CALLs, and reads the result at 8(SP); the callee sees the same
//     words as n+0(FP) and ret+8(FP).
//   - Frame layout. `$112-16` reserves 112 bytes of locals and outgoing
//     arguments (the assembler adds 8 more for the saved BP, and CALL pushes
//     8 for the return PC), and declares 16 bytes of arguments and results.
//   - The stack-split check. sum is not NOSPLIT, so the assembler begins it with
//     "is SP below g.stackguard0?"; when it is, runtime·morestack allocates a
//     stack twice as large, copies the old one over and restarts sum there.
//     Goroutine stacks start small (2 KiB on Linux; the main goroutine has
//     usually grown to 4 KiB by the time main.main runs). 20000 frames of
//     128 bytes need about 2.5 MiB, so the stack doubles again and again on the
//     way down until it is 4 MiB: natively, ten copies from 4 KiB.
//   - NO_LOCAL_POINTERS (funcdata.h). While copying a stack, the runtime must
//     know which words of every frame are pointers. Go functions get that from
//     the compiler; an assembly frame with locals has to say so itself, and
//     without it the copy stops with "missing stackmap". The argument words are
//     described by the Go declarations in main.go.
//   - An itoa in assembly: DIVQ by 10, writing digits right to left.
//
// Output: 200010000 (= 20000*20001/2) and a newline.

#include "textflag.h"
#include "funcdata.h"

#define DEPTH 20000

// func main()
// 16 bytes of frame: the argument area for the functions main calls
// (sum's n at 0(SP) and its result at 8(SP); then printuint's v at 0(SP)).
TEXT ·main(SB), $16-0
	NO_LOCAL_POINTERS
	MOVQ $DEPTH, 0(SP)        // sum(n = DEPTH)
	CALL ·sum(SB)
	MOVQ 8(SP), AX            // the result
	MOVQ AX, 0(SP)            // printuint(v = result)
	CALL ·printuint(SB)
	RET

// func sum(n uint64) uint64
// sum(0) = 0; sum(n) = n + sum(n-1).
TEXT ·sum(SB), $112-16
	NO_LOCAL_POINTERS
	MOVQ n+0(FP), AX
	TESTQ AX, AX
	JZ   base
	MOVQ AX, saved-8(SP)      // a local (pseudo-SP: top of the frame, going down)
	DECQ AX
	MOVQ AX, 0(SP)            // outgoing argument: n-1
	CALL ·sum(SB)
	MOVQ 8(SP), AX            // sum(n-1)
	ADDQ saved-8(SP), AX      // + n (n+0(FP) would do as well: it is still there)
	MOVQ AX, ret+8(FP)
	RET
base:
	MOVQ $0, ret+8(FP)
	RET

// func printuint(v uint64)
// Writes v in decimal and a newline to standard output.
// A leaf with a small frame: NOSPLIT is safe, no stack check is needed.
TEXT ·printuint(SB), NOSPLIT, $24-8
	MOVQ v+0(FP), AX
	LEAQ 23(SP), DI           // last byte of the 24-byte buffer at 0(SP)
	MOVB $'\n', (DI)
	MOVQ $10, CX
digit:
	DECQ DI
	XORL DX, DX               // DIVQ divides DX:AX, so clear the high half
	DIVQ CX                   // AX = quotient, DX = remainder
	ADDB $'0', DX
	MOVB DX, (DI)
	TESTQ AX, AX
	JNZ  digit
	LEAQ 24(SP), DX           // count = end of buffer - first digit
	SUBQ DI, DX
	MOVQ DI, SI               // buf
	MOVQ $1, DI               // fd 1
	MOVQ $1, AX               // SYS_write
	SYSCALL
	RET
