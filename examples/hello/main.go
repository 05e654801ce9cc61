// Command hello is written entirely in assembly: see hello.s.
//
// A Go package may declare functions without a body when one of its .s files
// provides them. main.main is such a function here: the runtime starts up as
// for any Go program and then calls the assembly in hello.s.
package main

func main()
