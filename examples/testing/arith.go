// Package arith holds small integer routines written in assembly (arith_amd64.s).
// The body-less declarations below are the functions' Go signatures: the Go
// toolchain checks the assembly against them (go vet) and goasm reads them to lay
// out each call's arguments and results (see test_arith.py).
package arith

// Add returns a+b and whether the sum fits in an int64.
func Add(a, b int64) (sum int64, ok bool)

// Sum returns the sum of xs (wrapping around on overflow, like Go's +).
func Sum(xs []int64) int64

// IndexByte returns the index of the first c in s, or -1 if there is none.
func IndexByte(s []byte, c byte) int
