// bench/go/parked.go — Go twin of bench/parked.c: RSS growth per parked
// goroutine with 1 000 000 goroutines blocked on one channel receive.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

const parked = 1000000

func rssBytes() int64 {
	var pages, resident int64
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return 0
	}
	defer f.Close()
	fmt.Fscan(f, &pages, &resident)
	return resident * int64(os.Getpagesize())
}

func waiter(gate chan struct{}, wg *sync.WaitGroup) {
	<-gate
	wg.Done()
}

func main() {
	n := int(scaled(parked))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	before := rssBytes()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go waiter(gate, &wg)
	}
	for runtime.NumGoroutine() < n+1 {
		runtime.Gosched()
	}
	after := rssBytes()
	fmt.Printf("BENCH parked_bytes %.1f\n", float64(after-before)/float64(n))
	close(gate)
	wg.Wait()
}
