package main

func main() {
	println(123)
}
