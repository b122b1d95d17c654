// bench/go/alloc.go — the Go twin of bench/alloc.c: allocation workloads.
//
// Each workload allocates count objects of one size in a loop, writes one
// byte of each and stores it in a global (so the compiler must heap-allocate
// it and cannot drop it), exactly as bench/alloc_bench.h does in C:
//
//	alloc16     make([]byte, 16)        (gort_alloc_noscan(16))
//	alloc16ptr  new([2]*byte)           (gort_alloc(16): may hold pointers)
//	alloc64     make([]byte, 64)
//	alloc1k     make([]byte, 1024)
//	alloc8200   make([]byte, 8200)      (a 9472-byte size class)
//	alloc1m     make([]byte, 1<<20)     (a large object)
//
// Both sides' numbers include their garbage collector and the zeroing of
// reused memory. BENCH_SCALE (a factor, default 1)
// scales every count on both sides alike. Arguments name the workloads to
// run (all by default); the helpers are in bench.go.
package main

import "time"

// Sinks keep every allocation observable.
var (
	sink    []byte
	sinkPtr *[2]*byte
)

// benchSize times count make([]byte, size) calls.
func benchSize(name string, size int, count int64) {
	if !wanted(name) {
		return
	}
	count = scaled(count)
	start := time.Now()
	for i := int64(0); i < count; i++ {
		b := make([]byte, size)
		b[0] = 1
		sink = b
	}
	report(name, start, count)
}

// benchPtr times count allocations of a 16-byte object holding pointers.
func benchPtr(name string, count int64) {
	if !wanted(name) {
		return
	}
	count = scaled(count)
	start := time.Now()
	for i := int64(0); i < count; i++ {
		p := new([2]*byte)
		p[0] = nil
		sinkPtr = p
	}
	report(name, start, count)
}

func main() {
	benchSize("alloc16", 16, 10_000_000)
	benchPtr("alloc16ptr", 10_000_000)
	benchSize("alloc64", 64, 5_000_000)
	benchSize("alloc1k", 1024, 500_000)
	benchSize("alloc8200", 8200, 100_000)
	benchSize("alloc1m", 1<<20, 1000)
}
