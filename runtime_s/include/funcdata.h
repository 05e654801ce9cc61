// goasm's funcdata.h: the IDs used with the PCDATA and FUNCDATA pseudo-instructions
// and the GO_ARGS / GO_RESULTS_INITIALIZED / NO_LOCAL_POINTERS helpers that Go
// assembly uses to describe pointers in a frame to the garbage collector.
//
// The numbers are those of Go's runtime/funcdata.h (and cmd/internal/objabi), so that
// files written for the real toolchain assemble unchanged. goasm accepts and ignores
// PCDATA/FUNCDATA when executing: there is no garbage collector in the machine.

#define PCDATA_UnsafePoint 0
#define PCDATA_StackMapIndex 1
#define PCDATA_InlTreeIndex 2
#define PCDATA_ArgLiveIndex 3
#define PCDATA_PanicBounds 4

#define FUNCDATA_ArgsPointerMaps 0
#define FUNCDATA_LocalsPointerMaps 1
#define FUNCDATA_StackObjects 2
#define FUNCDATA_InlTree 3
#define FUNCDATA_OpenCodedDeferInfo 4
#define FUNCDATA_ArgInfo 5
#define FUNCDATA_ArgLiveInfo 6
#define FUNCDATA_WrapInfo 7

// The argument pointer map comes from the Go declaration of the function.
#define GO_ARGS	FUNCDATA $FUNCDATA_ArgsPointerMaps, go_args_stackmap(SB)

// From here on the results are initialised (they may be scanned).
#define GO_RESULTS_INITIALIZED	PCDATA $PCDATA_StackMapIndex, $1

// The frame holds no pointers the collector needs to see.
#define NO_LOCAL_POINTERS	FUNCDATA $FUNCDATA_LocalsPointerMaps, no_pointers_stackmap(SB)

// The argument size of a function whose frame size is written without "-args".
#define ArgsSizeUnknown 0x80000000
