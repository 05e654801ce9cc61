// Declarations of the assembly functions in calls_amd64.s: one or more for every
// argument kind goasm's call() supports (integers of every width, bool, uintptr,
// unsafe.Pointer, pointers, slices, strings, arrays of those), with Go's alignment and
// padding between them. tests/test_calls.py calls them with goasm and, through
// main.go, natively, on the same inputs.
package main

import "unsafe"

func mix(a int8, b uint8, c int16, d uint16, e int32, f uint32, k int64, h uint64) (r1 int64, r2 uint64, r3 int32, r4 bool)
func narrow(x int64) (a int8, b uint16, c int32, d bool, e uint8)
func words(a int, b uint, p uintptr) (int, uint, uintptr)
func bools(a bool, x int32, b bool) (and bool, or bool, n int16)
func deref(p *int64, q *uint32) (int64, uint32)
func peek(u unsafe.Pointer, n int) uint64
func sumsl(xs []int32) (sum int64, l int, c int)
func rev(b []byte)
func fnv(s string) (h uint32, n int)
func tail(s string) string
func half(b []byte) []byte
func arr(a [3]uint16, b [2]int64) (s [3]uint16, t int64)
func arrp(a [2]*int32) int32
func strs(a [2]string) int
func slstr(xs []string) int
