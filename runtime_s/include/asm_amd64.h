// goasm's asm_amd64.h (the role of Go's $GOROOT/pkg/include/asm_amd64.h): with
// GOAMD64 set to a micro-architecture level (x86-64 psABI: v2 adds POPCNT and
// SSE4.2, v3 AVX and AVX2, v4 AVX-512 F/BW/VL), assembly may use those features
// without testing internal/cpu at run time. go build passes -D GOAMD64_<level>.

#ifdef GOAMD64_v4
#define hasAVX512F
#define hasAVX512BW
#define hasAVX512VL
#define hasAVX2
#define hasAVX
#define hasSSE42
#define hasPOPCNT
#endif

#ifdef GOAMD64_v3
#define hasAVX2
#define hasAVX
#define hasSSE42
#define hasPOPCNT
#endif

#ifdef GOAMD64_v2
#define hasSSE42
#define hasPOPCNT
#endif
