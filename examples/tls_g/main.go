// Command tls_g finds its own goroutine through thread-local storage and
// checks the goroutine's stack bounds: see tls_g.s.
package main

func main()
