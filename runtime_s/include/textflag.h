// goasm's textflag.h: the flag bits of TEXT and GLOBL directives.
//
// The values are the ones Go's assembler and linker give these names
// (runtime/textflag.h, cmd/internal/obj/textflag.go); goasm's loader reads the same
// bits (goasm/arch/amd64.py TEXTFLAGS).

#define NOPROF	1		// do not profile (obsolete; accepted)
#define DUPOK	2		// the linker may see several definitions; keep one
#define NOSPLIT	4		// no stack-split check in the prologue
#define RODATA	8		// GLOBL: put the data in read-only memory
#define NOPTR	16		// GLOBL: the data holds no pointers
#define WRAPPER 32		// a wrapper: does not count as a frame for recover
#define NEEDCTXT 64		// uses the closure context register (DX)
#define TLSBSS	256		// GLOBL: thread-local storage slot
#define NOFRAME 512		// no frame at all: no BP save, frame size must be 0
#define REFLECTMETHOD 1024	// calls reflect.Type.Method (linker dead-code hint)
#define TOPFRAME 2048		// outermost frame: tracebacks stop here
#define ABIWRAPPER 4096		// an ABI0 <-> ABIInternal wrapper
