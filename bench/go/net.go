// bench/go/net.go — TCP echo servers on Go's netpoller; twin of bench/net.c.
//
// The same workloads as net.c (tcp_pingpong: 100 connections bouncing a
// 64-byte message, ns per round trip; tcp_stream: 100 connections streaming
// 512-byte messages with up to 16 in flight, ns per message), the same
// server shape (runtime.GOMAXPROCS(1), an accept loop, one goroutine per
// connection reading into a 512-byte buffer and writing back what it read)
// and the same load: the C bench binary started as `net --load ...`, found
// beside this binary as ../bench/net (run.sh's layout: <builddir>/bench-go/net
// and <builddir>/bench/net) or at $BENCH_NET_LOAD. Each workload also prints
// <name>_cpu, the server process's CPU time per op. See net.c for the design.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
)

const serverBuf = 512

type workload struct {
	name                   string
	conns, msgSize, window int
	messages               int64
}

var workloads = []workload{
	{"tcp_pingpong", 100, 64, 1, 200000},
	{"tcp_stream", 100, 512, 16, 400000},
}

func echo(c net.Conn) {
	buf := make([]byte, serverBuf)
	for {
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		if _, err := c.Write(buf[:n]); err != nil {
			break
		}
	}
	c.Close()
}

func acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go echo(c)
	}
}

// loadGenerator finds the C load generator (net.c in --load mode).
func loadGenerator() string {
	if p := os.Getenv("BENCH_NET_LOAD"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return "net"
	}
	return filepath.Join(filepath.Dir(exe), "..", "bench", "net")
}

// runLoad runs the load generator against port for one workload.
func runLoad(load string, port int, w workload) (elapsed, ops int64, err error) {
	cmd := exec.Command(load, "--load", strconv.Itoa(port), strconv.Itoa(w.conns),
		strconv.Itoa(w.msgSize), strconv.Itoa(w.window), strconv.FormatInt(scaled(w.messages), 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v", load, err)
	}
	if _, err := fmt.Sscan(string(out), &elapsed, &ops); err != nil || ops <= 0 {
		return 0, 0, fmt.Errorf("unexpected load generator output %q", out)
	}
	return elapsed, ops, nil
}

func main() {
	runtime.GOMAXPROCS(1) // the server's P; the load generator has the other core
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "net: listen:", err)
		os.Exit(1)
	}
	go acceptLoop(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	load, failed := loadGenerator(), false
	for _, w := range workloads {
		if !wanted(w.name) {
			continue
		}
		cpu := cpuNs()
		elapsed, ops, err := runLoad(load, port, w)
		if err != nil {
			fmt.Fprintln(os.Stderr, "net:", err)
			failed = true
			continue
		}
		cpu = cpuNs() - cpu
		reportNs(w.name, elapsed, ops)
		reportNs(w.name+"_cpu", cpu, ops)
	}
	ln.Close()
	if failed {
		os.Exit(1)
	}
}
