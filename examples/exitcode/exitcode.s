// exitcode: ending the process from assembly with a chosen status.
//
// Demonstrates:
//   - exit_group(2) (syscall 231) ends every thread of the process at once; a Go
//     program never returns from it, so nothing after the SYSCALL runs.
//     (Plain exit, syscall 60, would end only the calling thread, and the
//     rest of the Go runtime would keep going.)
//   - Returning from main.main would make runtime.main exit with status 0;
//     here main.main never returns, and the status seen by the shell is 7.

#include "textflag.h"

// func main()
TEXT ·main(SB), NOSPLIT, $0-0
	MOVQ $231, AX             // SYS_exit_group
	MOVQ $7, DI               // status
	SYSCALL
	INT  $3                   // not reached: trap if the kernel ever returns
