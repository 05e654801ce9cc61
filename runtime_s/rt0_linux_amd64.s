// goasm's runtime: the first instructions of a linux/amd64 Go program.
//
// This is goasm's own code, written to follow the sequence of Go's
// runtime/rt0_linux_amd64.s and the top of runtime/asm_amd64.s, so that running it
// under goasm shows the real start-up path of a Go binary:
//
//	_rt0_amd64_linux -> _rt0_amd64 -> runtime·rt0_go (asm_amd64.s)
//
// When the kernel starts the program (execve), the stack pointer points at argc,
// followed by the argv pointers, a NULL, the envp pointers, a NULL and the auxiliary
// vector (see goasm/machine/process.py and the System V AMD64 ABI, section 3.4.1
// "Initial Stack and Register State"). No Go code has run: there is no g, no m, no TLS.

#include "textflag.h"

// The ELF entry point of a statically linked linux/amd64 Go executable (the linker
// sets e_entry to this symbol, "go tool link -E _rt0_amd64_linux" by default).
// $-8: no frame at all; the SP on entry is the kernel's.
TEXT _rt0_amd64_linux(SB),NOSPLIT,$-8
	JMP	_rt0_amd64(SB)

// Common to every amd64 Unix: pick argc and argv off the kernel's stack and pass them
// in DI and SI (the C ABI's first two argument registers) to rt0_go.
TEXT _rt0_amd64(SB),NOSPLIT,$-8
	MOVQ	0(SP), DI	// argc: the word at the entry SP
	LEAQ	8(SP), SI	// argv: the address just above it (argv[0] pointer)
	JMP	runtime·rt0_go(SB)
