// bench/go/chan.go — the Go twin of bench/chan.c: channels, select, mutex, timers.
//
// What it measures (one `BENCH <workload> <ns-per-op>` line each; GOMAXPROCS=2):
//
//	pingpong  two goroutines bouncing an int over two unbuffered channels;
//	          ns per round trip (two handoffs, two park/ready pairs).
//	select2   one goroutine selecting over two receive cases, fed by two
//	          sender goroutines on unbuffered channels; ns per select.
//	ring      10 000 goroutines in a ring of unbuffered channels passing one
//	          token around; ns per hop (a wakeup with a cold-ish goroutine).
//	mpmc      4 producers and 4 consumers on one channel of capacity 128;
//	          ns per message (buffered path, lock contention, wakeups).
//	mutex     4 goroutines contending on one sync.Mutex around a counter;
//	          ns per lock/unlock pair (spinning, starvation mode, semaphores).
//	timers    100 000 goroutines each sleeping 1 ms ten times; total wall ns
//	          divided by the number of sleeps (timer heaps, netpoll/futex waits).
//
// Why it is a fair comparison: bench/chan.c does the same work with the same
// counts, element type (int64), capacities, goroutine structure and GOMAXPROCS
// through gort_chan_*, gort_select, gort_mutex_* and gort_sleep. Goroutines are
// started with named functions and pointer arguments, not closures, so Go
// allocates nothing the C side does not. Setup and teardown (spawning the
// ring, joining it) are outside the timed region on both sides. BENCH_SCALE
// (a factor, default 1) scales every count on both sides alike. Arguments
// name the workloads to run (all by default); the helpers are in bench.go.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	pingpongTrips = 1_000_000
	select2PerCh  = 1_000_000 // messages per sender; 2 senders
	ringSize      = 10_000
	ringLaps      = 200
	mpmcSides     = 4 // producers, and as many consumers
	mpmcCap       = 128
	mpmcMessages  = 4_000_000
	mutexWorkers  = 4
	mutexOps      = 8_000_000
	timerGs       = 100_000
	timerSleeps   = 10
)

// sink keeps every result observable so nothing is optimised away.
var sink int64

// ---- pingpong ----

func ponger(ping, pong chan int64, wg *sync.WaitGroup) {
	for v := range ping {
		pong <- v + 1
	}
	wg.Done()
}

func benchPingpong() {
	trips := scaled(pingpongTrips)
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go ponger(ping, pong, &wg)
	var v int64
	for i := int64(0); i < trips; i++ {
		ping <- v
		v = <-pong
	}
	report("pingpong", start, trips)
	close(ping)
	wg.Wait()
	sink += v
}

// ---- select2 ----

func sender(c chan int64, n int64, wg *sync.WaitGroup) {
	for i := int64(0); i < n; i++ {
		c <- i
	}
	wg.Done()
}

func benchSelect2() {
	perCh := scaled(select2PerCh)
	a, b := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go sender(a, perCh, &wg)
	go sender(b, perCh, &wg)
	var sum int64
	for i := int64(0); i < 2*perCh; i++ {
		select {
		case v := <-a:
			sum += v
		case v := <-b:
			sum += v
		}
	}
	report("select2", start, 2*perCh)
	wg.Wait()
	sink += sum
}

// ---- ring ----

// ringNode forwards the token, counting hops, until its input is closed; the
// node that sees the last hop reports on done instead of forwarding.
func ringNode(in, out, done chan int64, hops int64, wg *sync.WaitGroup) {
	for t := range in {
		if t >= hops {
			done <- t
			continue
		}
		out <- t + 1
	}
	wg.Done()
}

func benchRing() {
	hops := scaled(ringLaps) * ringSize
	chans := make([]chan int64, ringSize)
	for i := range chans {
		chans[i] = make(chan int64)
	}
	done := make(chan int64)
	var wg sync.WaitGroup
	wg.Add(ringSize)
	for i := 0; i < ringSize; i++ {
		go ringNode(chans[i], chans[(i+1)%ringSize], done, hops, &wg)
	}
	start := time.Now()
	chans[0] <- 0
	sink += <-done
	report("ring", start, hops)
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
}

// ---- mpmc ----

func producer(c chan int64, n int64, wg *sync.WaitGroup) {
	for i := int64(0); i < n; i++ {
		c <- i
	}
	wg.Done()
}

func consumer(c chan int64, wg *sync.WaitGroup) {
	var sum int64
	for v := range c {
		sum += v
	}
	atomic.AddInt64(&sink, sum)
	wg.Done()
}

func benchMpmc() {
	perProducer := scaled(mpmcMessages) / mpmcSides
	c := make(chan int64, mpmcCap)
	var producers, consumers sync.WaitGroup
	start := time.Now()
	producers.Add(mpmcSides)
	consumers.Add(mpmcSides)
	for i := 0; i < mpmcSides; i++ {
		go producer(c, perProducer, &producers)
		go consumer(c, &consumers)
	}
	producers.Wait()
	close(c)
	consumers.Wait()
	report("mpmc", start, perProducer*mpmcSides)
}

// ---- mutex ----

type lockedCounter struct {
	mu sync.Mutex
	n  int64
}

func incrementer(lc *lockedCounter, n int64, wg *sync.WaitGroup) {
	for i := int64(0); i < n; i++ {
		lc.mu.Lock()
		lc.n++
		lc.mu.Unlock()
	}
	wg.Done()
}

func benchMutex() {
	perWorker := scaled(mutexOps) / mutexWorkers
	var lc lockedCounter
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(mutexWorkers)
	for i := 0; i < mutexWorkers; i++ {
		go incrementer(&lc, perWorker, &wg)
	}
	wg.Wait()
	report("mutex", start, perWorker*mutexWorkers)
	sink += lc.n
}

// ---- timers ----

func sleeper(n int, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		time.Sleep(time.Millisecond)
	}
	wg.Done()
}

func benchTimers() {
	gs := scaled(timerGs)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(int(gs))
	for i := int64(0); i < gs; i++ {
		go sleeper(timerSleeps, &wg)
	}
	wg.Wait()
	report("timers", start, gs*timerSleeps)
}

var workloads = []struct {
	name string
	run  func()
}{
	{"pingpong", benchPingpong}, {"select2", benchSelect2}, {"ring", benchRing},
	{"mpmc", benchMpmc}, {"mutex", benchMutex}, {"timers", benchTimers},
}

func main() {
	runtime.GOMAXPROCS(2)
	for _, w := range workloads {
		if wanted(w.name) {
			w.run()
		}
	}
	if sink == 0 {
		fmt.Println("sink", sink)
	}
}
