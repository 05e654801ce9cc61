// goasm's go_tls.h: how Go assembly reaches the current g on linux/amd64.
//
// The runtime keeps the pointer to the running goroutine's g in a thread-local slot.
// On linux/amd64 that slot is at -8(FS): runtime·settls points the FS base 8 bytes
// past &m.tls[0], so -8(FS) is m.tls[0].
//
//	get_tls(CX)		// CX = the TLS pseudo-register
//	MOVQ	g(CX), AX	// AX = current g
//
// The loader turns the pair into one "(TLS)" access, which the machine executes as a
// load from FS-base - 8, the same rewrite Go's assembler does for a statically linked
// executable (cmd/internal/obj/x86: TLS accesses become MOVQ -8(FS)).

#ifdef GOARCH_amd64
#define	get_tls(r)	MOVQ TLS, r
#define	g(r)	0(r)(TLS*1)
#endif
