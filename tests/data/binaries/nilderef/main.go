package main

type point struct {
	x, y int
}

//go:noinline
func length(p *point) int {
	return p.x + p.y
}

func main() {
	var p *point
	println("before")
	println(length(p))
}
