// Go declarations of the seeded-bug functions in this folder (one .s file per kind
// of mistake the runtime checker reports; see tests/test_checker.py).
package main

func belowsp(a int64) int64
func aboveargs(a int64) int64
func retaddr(a int64) int64
func readret(a int64) int64
func badsp(a int64) int64
func badbp(a int64) int64
func clobberg(a int) int
func clobberx15(a int) int
func clobberr15(a int) int
func noret(a int64) (int64, bool)
func halfret(a int64) int64
func badsize(a, b int64) int64
func clean(a int64, xs []int64) (sum int64, ok bool)
func leaf(a int64) int64
func internal(a int) int
func callsempty(a int64) int64
func empty()
func tailinternal(a int) int
