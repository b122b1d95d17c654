// bench/go/http.go — HTTP/1.1 "Hello, World!" with keep-alive under wrk, on
// net/http; twin of bench/http.c.
//
// The same workloads from one wrk run (http_hello: ns per request, 1e9 /
// requests per second; http_p99: the 99th percentile latency in ns;
// http_cpu: the server process's CPU time per request), the same load
// (`wrk -t1 -c50 -d3s --latency`; $BENCH_WRK overrides the path) and one P
// for the server: runtime.GOMAXPROCS(1), as http.c starts
// examples/http_hello with GORT_MAXPROCS=1. The handler writes the 13-byte
// body; net/http adds Date, Content-Length and Content-Type, as the C server
// does. A run with socket errors or non-2xx answers prints no BENCH line.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

const wrkSeconds = 3

func hello(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("Hello, World!"))
}

// wrkNs converts one of wrk's durations ("635.00us", "2.64ms", "1.01s") to ns.
func wrkNs(s string) float64 {
	for _, u := range []struct {
		suffix string
		ns     float64
	}{{"us", 1e3}, {"ms", 1e6}, {"s", 1e9}} {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64); strings.HasSuffix(s, u.suffix) && err == nil {
			return v * u.ns
		}
	}
	return -1
}

type wrkResult struct {
	rps, p99 float64 // requests per second; 99th percentile, ns
	requests int64   // in all
}

// parseWrk reads wrk's --latency report.
func parseWrk(out string) (res wrkResult, err error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "  Socket errors:"), strings.HasPrefix(line, "  Non-2xx or 3xx responses:"):
			return res, fmt.Errorf("wrk saw errors: %s", strings.TrimSpace(line))
		case len(f) == 2 && f[0] == "Requests/sec:":
			res.rps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "99%":
			res.p99 = wrkNs(f[1])
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			res.requests, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	if res.rps <= 0 || res.p99 <= 0 || res.requests <= 0 {
		return res, fmt.Errorf("cannot read wrk's report:\n%s", out)
	}
	return res, nil
}

func main() {
	if !wanted("http_hello") && !wanted("http_p99") && !wanted("http_cpu") {
		return
	}
	runtime.GOMAXPROCS(1) // the server's P; wrk has the other core
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "http: listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", hello)
	go http.Serve(ln, mux)

	wrk := os.Getenv("BENCH_WRK")
	if wrk == "" {
		wrk = "wrk"
	}
	cpu := cpuNs()
	out, err := exec.Command(wrk, "-t1", "-c50", "-d", fmt.Sprintf("%ds", scaled(wrkSeconds)),
		"--latency", "http://"+ln.Addr().String()+"/").Output()
	cpu = cpuNs() - cpu
	if err != nil {
		fmt.Fprintf(os.Stderr, "http: wrk failed: %v\n%s", err, out)
		os.Exit(1)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
	if wanted("http_hello") {
		reportNs("http_hello", int64(1e12/res.rps), 1000)
	}
	if wanted("http_p99") {
		reportNs("http_p99", int64(res.p99), 1)
	}
	if wanted("http_cpu") {
		reportNs("http_cpu", cpu, res.requests)
	}
}
