package main

import "fmt"

func main() {
	ch := make(chan string)
	go func() {
		ch <- "hello from a goroutine"
	}()
	msg := <-ch
	fmt.Println(msg, 42, 3.5)
}
