// bench/go/gcserver.go — Go twin of bench/gcserver.c: a 100 MB live heap
// that keeps changing under 1 GB/s of paced allocation; its CPU cost per
// request, GC CPU fraction, longest pause and peak RSS. See
// bench/gcserver.c for the workload.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	recordSize   = 512
	childSize    = 64
	nodeSize     = 64
	bufSize      = 4096
	listLen      = 16
	requestBytes = recordSize + childSize + listLen*nodeSize + bufSize
	workers      = 2
)

type child struct{ v [childSize / 8]uint64 }
type record struct {
	child *child
	pad   [recordSize - 8]byte
}
type lnode struct {
	next *lnode
	v    [7]uint64
}

var (
	slots          []*record
	batchPerWorker int64
	batches        int64
	lateBatches    atomic.Int64
	sink           atomic.Uint64
)

func xorshift(s *uint64) uint64 {
	*s ^= *s << 13
	*s ^= *s >> 7
	*s ^= *s << 17
	return *s
}

func newRecord(seed uint64) *record {
	r := &record{child: &child{}}
	r.pad[0] = byte(seed)
	return r
}

func request(rng *uint64) {
	x := xorshift(rng)
	slots[x%uint64(len(slots))] = newRecord(x)
	var head *lnode
	for i := 0; i < listLen; i++ {
		head = &lnode{next: head, v: [7]uint64{x + uint64(i)}}
	}
	var sum uint64
	for n := head; n != nil; n = n.next {
		sum += n.v[0]
	}
	buf := make([]byte, bufSize)
	for i := 0; i < bufSize; i += 64 { // one store per cache line, as the C side
		buf[i] = byte(sum)
	}
	sink.Add(uint64(buf[bufSize-64]))
}

func worker(w int, wg *sync.WaitGroup) {
	rng := 0x9e3779b97f4a7c15 * uint64(w+1)
	start := time.Now()
	for b := int64(0); b < batches; b++ {
		for i := int64(0); i < batchPerWorker; i++ {
			request(&rng)
		}
		ahead := time.Duration(b+1)*time.Millisecond - time.Since(start)
		if ahead > 0 {
			time.Sleep(ahead)
		} else if ahead < -time.Millisecond {
			lateBatches.Add(1)
		}
	}
	wg.Done()
}

func main() {
	slots = make([]*record, sized(100<<20)/(recordSize+childSize))
	for i := range slots {
		slots[i] = newRecord(uint64(i))
	}
	batchPerWorker = 1000000000 / 1000 / requestBytes / workers
	batches = scaled(3000)
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	gc0 := st.NumGC
	cpu0, start := cpuNs(), time.Now()
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go worker(w, &wg)
	}
	wg.Wait()
	elapsed, requests := time.Since(start), batches*batchPerWorker*workers
	reportNs("srv_cpu", cpuNs()-cpu0, requests)
	runtime.ReadMemStats(&st)
	reportNs("srv_gc_cpu", int64(st.GCCPUFraction*1000*100), 100)
	var maxPause uint64
	i := gc0
	if st.NumGC-gc0 > 256 {
		i = st.NumGC - 256
	}
	for ; i < st.NumGC; i++ {
		if p := st.PauseNs[i%256]; p > maxPause {
			maxPause = p
		}
	}
	reportNs("srv_pause_max", int64(maxPause), 1)
	reportNs("srv_rss_peak", vmhwmKiB(), 1)
	if n := lateBatches.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "gcserver: behind the rate: %d of %d batches over 1 ms late; %.0f MB/s\n",
			n, batches*workers, float64(requests)*requestBytes/elapsed.Seconds()/1e6)
	}
}
