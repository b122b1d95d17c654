// bench/go/map.go — the Go twin of bench/map.c: map and slice workloads
// (see bench/map_bench.h for the list; the same keys, counts and order).
//
// 8-byte keys: map[uint64]int64; string keys: map[string]int64 with
// 16-character keys made before timing; append: []int64 grown one element
// at a time from nil, kept in a global so it lives on the heap. Go's
// numbers include its garbage collector. BENCH_SCALE scales the round
// counts on both sides alike; arguments name the workloads to run.
package main

import (
	"fmt"
	"time"
)

var (
	keys, misses   []uint64
	skeys, smisses []string
	sinkInt        int64
	sinkSlice      []int64
)

func mapKey(i uint64) uint64 { return (i + 1) * 0x9e3779b97f4a7c15 }

func makeKeys(n int) {
	keys, misses = make([]uint64, n), make([]uint64, n)
	skeys, smisses = make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		keys[i] = mapKey(uint64(i))
		misses[i] = mapKey(uint64(i + n))
		skeys[i] = fmt.Sprintf("%016x", keys[i])
		smisses[i] = fmt.Sprintf("%016x", misses[i])
	}
}

func filledU64(n int) map[uint64]int64 {
	m := make(map[uint64]int64)
	for i := 0; i < n; i++ {
		m[keys[i]] = int64(i)
	}
	return m
}

func filledStr(n int) map[string]int64 {
	m := make(map[string]int64)
	for i := 0; i < n; i++ {
		m[skeys[i]] = int64(i)
	}
	return m
}

var sinkMapU64 map[uint64]int64
var sinkMapStr map[string]int64

func insert(name string, str bool, n int, rounds int64) {
	if !wanted(name) {
		return
	}
	rounds = scaled(rounds)
	start := time.Now()
	for r := int64(0); r < rounds; r++ {
		if str {
			sinkMapStr = filledStr(n)
		} else {
			sinkMapU64 = filledU64(n)
		}
	}
	report(name, start, rounds*int64(n))
}

func lookup(name string, str, hit bool, n int, rounds int64) {
	if !wanted(name) {
		return
	}
	rounds = scaled(rounds)
	var sum int64
	if str {
		m := filledStr(n)
		k := skeys
		if !hit {
			k = smisses
		}
		start := time.Now()
		for r := int64(0); r < rounds; r++ {
			for i := 0; i < n; i++ {
				sum += m[k[i]]
			}
		}
		report(name, start, rounds*int64(n))
	} else {
		m := filledU64(n)
		k := keys
		if !hit {
			k = misses
		}
		start := time.Now()
		for r := int64(0); r < rounds; r++ {
			for i := 0; i < n; i++ {
				sum += m[k[i]]
			}
		}
		report(name, start, rounds*int64(n))
	}
	sinkInt += sum
}

func del(name string, str bool, n int, rounds int64) {
	if !wanted(name) {
		return
	}
	rounds = scaled(rounds)
	var total time.Duration
	for r := int64(0); r < rounds; r++ {
		if str {
			m := filledStr(n)
			start := time.Now()
			for i := 0; i < n; i++ {
				delete(m, skeys[i])
			}
			total += time.Since(start)
		} else {
			m := filledU64(n)
			start := time.Now()
			for i := 0; i < n; i++ {
				delete(m, keys[i])
			}
			total += time.Since(start)
		}
	}
	fmt.Printf("BENCH %s %.2f\n", name, float64(total.Nanoseconds())/float64(rounds*int64(n)))
}

func iterate(name string, str bool, n int, rounds int64) {
	if !wanted(name) {
		return
	}
	rounds = scaled(rounds)
	var sum int64
	if str {
		m := filledStr(n)
		start := time.Now()
		for r := int64(0); r < rounds; r++ {
			for _, v := range m {
				sum += v
			}
		}
		report(name, start, rounds*int64(n))
	} else {
		m := filledU64(n)
		start := time.Now()
		for r := int64(0); r < rounds; r++ {
			for _, v := range m {
				sum += v
			}
		}
		report(name, start, rounds*int64(n))
	}
	sinkInt += sum
}

func appends(name string, n int, rounds int64) {
	if !wanted(name) {
		return
	}
	rounds = scaled(rounds)
	start := time.Now()
	for r := int64(0); r < rounds; r++ {
		var s []int64
		for i := 0; i < n; i++ {
			s = append(s, int64(i))
		}
		sinkSlice = s
		sinkInt += s[n-1]
	}
	report(name, start, rounds*int64(n))
}

func main() {
	makeKeys(int(sized(1000000)))
	for _, k := range []struct {
		suffix string
		str    bool
	}{{"u64", false}, {"str", true}} {
		name := func(op, size string) string { return op + "_" + k.suffix + "_" + size }
		insert(name("insert", "1k"), k.str, 1000, 3000)
		lookup(name("hit", "1k"), k.str, true, 1000, 20000)
		lookup(name("miss", "1k"), k.str, false, 1000, 20000)
		del(name("delete", "1k"), k.str, 1000, 3000)
		iterate(name("iter", "1k"), k.str, 1000, 20000)
		insert(name("insert", "1m"), k.str, int(sized(1000000)), 3)
		lookup(name("hit", "1m"), k.str, true, int(sized(1000000)), 5)
		lookup(name("miss", "1m"), k.str, false, int(sized(1000000)), 5)
		del(name("delete", "1m"), k.str, int(sized(1000000)), 3)
		iterate(name("iter", "1m"), k.str, int(sized(1000000)), 20)
	}
	appends("append_10m", int(sized(10000000)), 3)
}
