// bench/go/syscall.go — the Go twin of bench/syscall.c: short system calls
// made through Go's entersyscall/exitsyscall.
//
// What it measures (one `BENCH <workload> <ns-per-op>` line each):
//
//	syscall      GOMAXPROCS=2, 2 goroutines, each doing 100 000 pipe round
//	             trips on its own pipe: syscall.Write of 1 byte, then
//	             syscall.Read of 1 byte. An op is one round trip.
//	syscall_1p   the same with GOMAXPROCS=1.
//
// Why it is a fair comparison: syscall.Write and syscall.Read call the
// kernel through syscall.Syscall, which brackets the call with
// entersyscall/exitsyscall, as bench/syscall.c brackets its write and read
// with gort_syscall_enter/exit. The pipe descriptors are blocking (no
// netpoller), the counts and GOMAXPROCS are the same. BENCH_SCALE scales
// the counts on both sides alike; arguments name the workloads to run.
package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	roundTrips = 100_000 // per goroutine
	goroutines = 2
)

var sink int64

func roundtripper(n int64, wg *sync.WaitGroup) {
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	buf := []byte{'x'}
	var got int64
	for i := int64(0); i < n; i++ {
		syscall.Write(fds[1], buf)
		k, _ := syscall.Read(fds[0], buf)
		got += int64(k)
	}
	syscall.Close(fds[0])
	syscall.Close(fds[1])
	atomic.AddInt64(&sink, got)
	wg.Done()
}

func benchSyscall(name string, procs int) {
	if !wanted(name) {
		return
	}
	n := scaled(roundTrips)
	runtime.GOMAXPROCS(procs)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go roundtripper(n, &wg)
	}
	wg.Wait()
	report(name, start, goroutines*n)
}

func main() {
	benchSyscall("syscall", 2)
	benchSyscall("syscall_1p", 1)
	if atomic.LoadInt64(&sink) == 0 {
		println("sink 0")
	}
}
