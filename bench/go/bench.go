// bench/go/bench.go — what every Go twin shares (bench/bench.h holds the
// same helpers for the C side). Not a bench itself: run.sh builds it
// together with each twin (`go build -o <bin> <name>.go bench.go`).
//
//	scaled  applies BENCH_SCALE, which scales each iteration count on both
//	        sides alike;
//	sized   a data-set size (a map of 1 M keys): it stays as it is,
//	        except in the smoke run (GORT_BENCH_QUICK=1), where it shrinks
//	        by BENCH_SCALE like a count;
//	report  prints the `BENCH <workload> <ns-per-op>` line run.sh reads
//	        (reportNs: the same for a time measured elsewhere, as bench.h's
//	        report, e.g. by a load generator in another process);
//	vmhwmKiB the peak resident set, for the collector benches;
//	cpuNs   the process's CPU time, every thread (the _cpu rows);
//	wanted  the workload filter: `bench-go/chan pingpong mpmc` runs only
//	        those two workloads (for profiling one of them); no arguments,
//	        as run.sh calls every twin, runs them all.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// scaled applies BENCH_SCALE to an iteration count (at least 1).
func scaled(n int64) int64 {
	f, err := strconv.ParseFloat(os.Getenv("BENCH_SCALE"), 64)
	if err != nil || f <= 0 {
		return n
	}
	if s := int64(float64(n) * f); s > 0 {
		return s
	}
	return 1
}

// sized applies BENCH_SCALE to a data-set size only in a smoke run.
func sized(n int64) int64 {
	if q := os.Getenv("GORT_BENCH_QUICK"); q != "" && q != "0" {
		return scaled(n)
	}
	return n
}

// report prints one result line: the time since start, in ns per op.
func report(name string, start time.Time, ops int64) {
	elapsed := time.Since(start).Nanoseconds()
	fmt.Printf("BENCH %s %.2f\n", name, float64(elapsed)/float64(ops))
}

// reportNs prints one result line for elapsedNs measured by someone else.
func reportNs(name string, elapsedNs, ops int64) {
	fmt.Printf("BENCH %s %.2f\n", name, float64(elapsedNs)/float64(ops))
}

// wanted reports whether to run workload name: all run when the command
// line names none.
func wanted(name string) bool {
	if len(os.Args) < 2 {
		return true
	}
	for _, arg := range os.Args[1:] {
		if arg == name {
			return true
		}
	}
	return false
}

// vmhwmKiB is the peak resident set (VmHWM), in KiB.
func vmhwmKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(s.Text()[6:], "kB")), 10, 64)
			return v
		}
	}
	return 0
}

// cpuNs is the CPU time (user + system, every thread) this process has used.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
