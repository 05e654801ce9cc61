package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[int]int{}
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, 1024)
			for j := range buf {
				buf[j] = byte(i + j)
			}
			mu.Lock()
			counts[i%10] += int(buf[i])
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	runtime.GC()
	time.Sleep(time.Millisecond)
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		fmt.Println(k, counts[k])
	}
}
