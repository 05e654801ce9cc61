package main

import (
	"fmt"
	"sync"
	"time"
	"unicode"
	"strings"
)

type shape interface{ area() float64 }
type rect struct{ w, h float64 }
type circle struct{ r float64 }

func (r rect) area() float64   { return r.w * r.h }
func (c circle) area() float64 { return 3.14159 * c.r * c.r }

func main() {
	shapes := []shape{rect{2, 3}, circle{1}, rect{1.5, 4}}
	total := 0.0
	for _, s := range shapes {
		total += s.area()
		fmt.Printf("%T %+v %.2f\n", s, s, s.area())
	}
	fmt.Println(total)
	fmt.Println(strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, "Héllo, Wörld! ΑΒΓ"))
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	ready := 0
	for i := 0; i < 5; i++ {
		go func() {
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			ready++
			cond.Broadcast()
			mu.Unlock()
		}()
	}
	mu.Lock()
	for ready < 5 {
		cond.Wait()
	}
	mu.Unlock()
	tick := time.NewTicker(time.Millisecond)
	n := 0
	for range tick.C {
		n++
		if n == 3 {
			tick.Stop()
			break
		}
	}
	fmt.Println("ready", ready, "ticks", n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var a []int
		_ = a[5]
	}()
	<-done
	fmt.Println("unreachable")
}
