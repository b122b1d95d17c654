// bench/go/gc.go — Go twin of bench/gc.c: binary-trees depth 18, its
// longest GC pause and peak RSS. See bench/gc.c for the workloads.
package main

import (
	"os"
	"runtime"
	"time"
)

type node struct{ l, r *node }

func bottomUp(depth int) *node {
	n := &node{}
	if depth > 0 {
		n.l = bottomUp(depth - 1)
		n.r = bottomUp(depth - 1)
	}
	return n
}

func check(n *node) int64 {
	if n.l == nil {
		return 1
	}
	return 1 + check(n.l) + check(n.r)
}

var checksum int64

func binarytrees(maxDepth int) {
	checksum += check(bottomUp(maxDepth + 1))
	longLived := bottomUp(maxDepth)
	for d := 4; d <= maxDepth; d += 2 {
		iters := int64(1) << (maxDepth - d + 4)
		for i := int64(0); i < iters; i++ {
			checksum += check(bottomUp(d))
		}
	}
	checksum += check(longLived)
}

func main() {
	depth := int(scaled(18))
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	gc0 := st.NumGC
	start := time.Now()
	binarytrees(depth)
	report("binarytrees", start, 1)
	runtime.ReadMemStats(&st)
	var maxPause uint64
	for i := gc0; i < st.NumGC; i++ {
		if p := st.PauseNs[i%256]; p > maxPause {
			maxPause = p
		}
	}
	reportNs("bt_pause_max", int64(maxPause), 1)
	reportNs("bt_rss_peak", vmhwmKiB(), 1)
	if checksum == 0 {
		os.Exit(1)
	}
}
