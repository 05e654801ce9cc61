// Command recursion sums 1..20000 by recursion in assembly: see recursion.s.
//
// The declarations below have no body: recursion.s implements them. They are
// not just documentation. From them the compiler emits the pointer maps of the
// argument words (main.sum.args_stackmap), which the runtime needs whenever it
// copies a stack holding a sum frame; without the declaration of sum the
// program dies on its first stack growth with "untyped args ... missing stackmap".
package main

func main()

// sum returns 1 + 2 + ... + n, recursing n levels deep.
func sum(n uint64) uint64

// printuint writes v in decimal and a newline to standard output.
func printuint(v uint64)
