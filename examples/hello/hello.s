// hello: the smallest useful Go assembly program.
//
// Demonstrates:
//   - TEXT ·main(SB) is main.main: the middle dot stands for "this package".
//     The runtime starts up normally (rt0 -> rt0_go -> schedinit -> runtime.main)
//     and calls it; when it returns, runtime.main exits the process with status 0.
//   - A read-only string built with DATA and published with GLOBL:
//     RODATA puts it in read-only memory, NOPTR tells the garbage collector that
//     it holds no pointers. The <> suffix makes the symbol private to this file.
//   - A raw Linux system call: write(1, msg, 13) is SYSCALL with the number in AX
//     and the arguments in DI, SI, DX (the kernel's convention, not Go's).

#include "textflag.h"

// "hello, world\n" is 13 bytes; DATA writes it 8 bytes at a time at offsets 0 and 8.
DATA msg<>+0(SB)/8, $"hello, w"
DATA msg<>+8(SB)/5, $"orld\n"
GLOBL msg<>(SB), RODATA|NOPTR, $13

// func main()
// NOSPLIT and a zero frame: this function calls nothing, so it needs
// no stack-split check and no room for outgoing arguments.
TEXT ·main(SB), NOSPLIT, $0-0
	MOVQ $1, AX               // SYS_write
	MOVQ $1, DI               // fd 1: standard output
	LEAQ msg<>(SB), SI        // buf: address of the string
	MOVQ $13, DX              // count
	SYSCALL                   // AX = bytes written (or -errno); ignored here
	RET
