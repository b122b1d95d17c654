// bench/go/sched.go — the Go twin of bench/sched.c: scheduler microbenchmarks.
//
// What it measures (one `BENCH <workload> <ns-per-op>` line each):
//
//	yield          GOMAXPROCS=1, 2 goroutines calling runtime.Gosched in a loop:
//	               the cost of one goroutine switch through the run queue.
//	yield_2p       GOMAXPROCS=2, 4 goroutines yielding: the same with two Ps,
//	               so runq traffic, wakeups and stealing show up.
//	spawn_join     GOMAXPROCS=2, batches of 1000 goroutines doing one atomic add,
//	               joined with a sync.WaitGroup: the cost of one go statement
//	               plus its exit and its share of the join, per goroutine.
//	spawn_join_1p  the same with GOMAXPROCS=1 (no wakeups, no stealing).
//	spawn_burst    GOMAXPROCS=2, 1 000 000 goroutines spawned with no
//	               batching, all alive at once: each blocks receiving from
//	               one channel that is closed once all are spawned, then
//	               calls wg.Done; one wg.Wait joins them all. Per goroutine:
//	               the spawn of a goroutine that needs a fresh stack, its
//	               park, wakeup and exit.
//
// Why it is a fair comparison: bench/sched.c does the same work with the same
// counts, structure and GOMAXPROCS (gort_go/gort_yield/gort_waitgroup_* for
// go/Gosched/sync.WaitGroup). Workers are named functions taking pointers, not
// closures, so Go does not heap-allocate a closure that the C side does not
// have. BENCH_SCALE (a factor, default 1) shrinks or grows every count on
// both sides alike, for quick smoke runs. Arguments name the workloads to run
// (all by default); the helpers are in bench.go.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	yieldsPerG = 4_000_000 // yield: per goroutine, 2 goroutines
	yields2P   = 500_000   // yield_2p: per goroutine, 4 goroutines
	spawnBatch = 1000      // spawn_join: goroutines per WaitGroup round
	spawnRuns  = 1500      // spawn_join: number of rounds
	burst      = 1_000_000 // spawn_burst: goroutines alive at once
)

// sink keeps every result observable so nothing is optimised away.
var sink int64

// bench runs body with GOMAXPROCS=procs and reports elapsed/ops as ns per op.
func bench(name string, procs int, ops int64, body func()) {
	runtime.GOMAXPROCS(procs)
	start := time.Now()
	body()
	report(name, start, ops)
}

func yielder(n int64, wg *sync.WaitGroup) {
	for i := int64(0); i < n; i++ {
		runtime.Gosched()
	}
	atomic.AddInt64(&sink, n)
	wg.Done()
}

// yieldRun starts g goroutines that each yield n times and waits for them.
func yieldRun(g int, n int64) {
	var wg sync.WaitGroup
	wg.Add(g)
	for i := 0; i < g; i++ {
		go yielder(n, &wg)
	}
	wg.Wait()
}

func spawnWorker(counter *int64, wg *sync.WaitGroup) {
	atomic.AddInt64(counter, 1)
	wg.Done()
}

// spawnJoinRun spawns runs batches of batch goroutines, joining each batch.
func spawnJoinRun(runs, batch int64) {
	var wg sync.WaitGroup
	var counter int64
	for r := int64(0); r < runs; r++ {
		wg.Add(int(batch))
		for i := int64(0); i < batch; i++ {
			go spawnWorker(&counter, &wg)
		}
		wg.Wait()
	}
	atomic.AddInt64(&sink, counter)
}

func burstWorker(gate chan struct{}, wg *sync.WaitGroup) {
	<-gate
	wg.Done()
}

// spawnBurstRun spawns n goroutines that all block on gate, then releases
// and joins them.
func spawnBurstRun(n int64) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go burstWorker(gate, &wg)
	}
	close(gate)
	wg.Wait()
	atomic.AddInt64(&sink, n)
}

func benchYield(name string, procs, goroutines int, perG int64) {
	if !wanted(name) {
		return
	}
	n := scaled(perG)
	bench(name, procs, int64(goroutines)*n, func() { yieldRun(goroutines, n) })
}

func benchSpawnJoin(name string, procs int) {
	if !wanted(name) {
		return
	}
	runs := scaled(spawnRuns)
	bench(name, procs, runs*spawnBatch, func() { spawnJoinRun(runs, spawnBatch) })
}

func benchSpawnBurst(name string, procs int) {
	if !wanted(name) {
		return
	}
	n := scaled(burst)
	bench(name, procs, n, func() { spawnBurstRun(n) })
}

func main() {
	benchYield("yield", 1, 2, yieldsPerG)
	benchYield("yield_2p", 2, 4, yields2P)
	benchSpawnJoin("spawn_join", 2)
	benchSpawnJoin("spawn_join_1p", 1)
	benchSpawnBurst("spawn_burst", 2)
	if sink == 0 {
		fmt.Println("sink", sink)
	}
}
