package main

import (
	"fmt"
	"syscall"
)

//go:noinline
func openSocket() (int, error) {
	return syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
}

func main() {
	fmt.Println("opening a socket")
	fd, err := openSocket()
	fmt.Println(fd, err)
}
