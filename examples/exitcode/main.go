// Command exitcode leaves with status 7 straight from assembly: see exitcode.s.
package main

func main()
