// tls_g: finding the current goroutine (g) through thread-local storage.
//
// Demonstrates:
//   - The TLS pseudo-register. On linux/amd64 the runtime keeps a pointer to the
//     running g in a thread-local slot; `MOVQ (TLS), CX` loads it (the assembler
//     turns it into a load from -8(FS)). The runtime's go_tls.h wraps this as
//     get_tls/g(); that header is private to the runtime, so the direct form is
//     used here. (ABIInternal Go code keeps g in R14 too, but an ABI0 assembly
//     function like this one must not rely on R14.)
//   - The first field of a g is its stack: g.stack.lo at offset 0 and
//     g.stack.hi at offset 8 ([lo, hi) is the memory the goroutine may use;
//     g.stackguard0 at offset 16 is what every stack-split check compares SP with).
//   - What a goroutine stack looks like: lo < SP <= hi, and the size hi - lo is a
//     power of two of at least 2 KiB (on Linux goroutine stacks start at 2 KiB,
//     the runtime's stackMin, and grow by doubling; natively the main goroutine
//     has already grown to 4 KiB when main.main starts).
//
// Output: "g stack ok" and exit status 0, or a message naming the failed check
// and exit status 3.

#include "textflag.h"

#define STACK_MIN 2048    // the runtime's stackMin: the smallest goroutine stack

DATA okmsg<>+0(SB)/8, $"g stack "
DATA okmsg<>+8(SB)/3, $"ok\n"
GLOBL okmsg<>(SB), RODATA|NOPTR, $11

DATA spmsg<>+0(SB)/8, $"SP not i"
DATA spmsg<>+8(SB)/8, $"n (lo, h"
DATA spmsg<>+16(SB)/3, $"i]\n"
GLOBL spmsg<>(SB), RODATA|NOPTR, $19

DATA sizemsg<>+0(SB)/8, $"bad stac"
DATA sizemsg<>+8(SB)/6, $"k size"
DATA sizemsg<>+14(SB)/1, $"\n"
GLOBL sizemsg<>(SB), RODATA|NOPTR, $15

// func main()
TEXT ·main(SB), NOSPLIT, $0-0
	MOVQ (TLS), CX            // CX = g
	MOVQ 0(CX), R8            // R8 = g.stack.lo
	MOVQ 8(CX), R9            // R9 = g.stack.hi

	// lo < SP <= hi (unsigned comparisons: these are addresses).
	CMPQ SP, R8
	JLS  badsp                // SP <= lo
	CMPQ SP, R9
	JHI  badsp                // SP > hi

	// size = hi - lo must be >= STACK_MIN and have exactly one bit set.
	MOVQ R9, AX
	SUBQ R8, AX               // AX = size
	CMPQ AX, $STACK_MIN
	JCS  badsize              // size < STACK_MIN
	LEAQ -1(AX), BX
	TESTQ BX, AX              // size & (size-1) == 0 for a power of two
	JNZ  badsize

	LEAQ okmsg<>(SB), SI
	MOVQ $11, DX
	MOVQ $1, DI               // fd 1
	MOVQ $1, AX               // SYS_write
	SYSCALL
	RET                       // back to runtime.main: exit status 0

badsp:
	LEAQ spmsg<>(SB), SI
	MOVQ $19, DX
	JMP  fail
badsize:
	LEAQ sizemsg<>(SB), SI
	MOVQ $15, DX
fail:
	MOVQ $2, DI               // fd 2: standard error
	MOVQ $1, AX               // SYS_write
	SYSCALL
	MOVQ $3, DI               // exit status 3
	MOVQ $231, AX             // SYS_exit_group
	SYSCALL
	INT  $3                   // not reached
