package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	lines := 0
	words := 0
	for sc.Scan() {
		lines++
		words += len(strings.Fields(sc.Text()))
	}
	fmt.Printf("args=%q\n", os.Args[1:])
	fmt.Printf("GREETING=%q\n", os.Getenv("GREETING"))
	fmt.Printf("lines=%d words=%d\n", lines, words)
	fmt.Fprintln(os.Stderr, "to stderr")
	os.Exit(lines*10 + len(os.Args))
}
