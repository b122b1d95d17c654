#!/usr/bin/env bash
# bench/run.sh — run gort's bench suite side by side with its Go twins.
#
# Usage: bench/run.sh [builddir]      (default: build; `make bench` calls this)
#
# The protocol (see bench/README.md): every bench/<name>.c is built by the
# project's build into an executable <name> somewhere under builddir; run with
# no arguments it prints `BENCH <workload> <ns-per-op>` lines. Its Go twin
# bench/go/<name>.go prints the same workload names; it is built together with
# bench/go/bench.go, the twins' shared helpers (not a bench itself).
# bench/<name>_<variant>.c or .cpp (where bench/<name>.c exists) is an extra
# comparison, a peer, shown as a column named <variant>.
#
# For BENCH_ROUNDS rounds (default 5) every gort binary runs, then its Go twin,
# then its variants, alternately, so slow drifts of machine noise hit all sides.
# The table shows per workload the median and the spread (min-max over the
# rounds) of gort and of Go, the ratio of the medians gort/Go, the median of
# every peer column (variants: Boost.Fiber, glibc, mimalloc, Boehm, GLib), and
# the goal ratio with met/missed where one is set (GOALS below). A missing or
# failing binary shows as "-"; it never stops the run. The table also goes to
# bench/results.md, with an SVG chart of the ratios against their goals
# (bench/results.svg), for whoever runs it to commit.
#
# GORT_BENCH_QUICK=1 is the smoke run the test suite executes: one round, every
# count scaled by 0.01 (BENCH_SCALE, unless set), results in the build
# directory (bench-quick.md, bench-quick.svg) rather than the tree; it exits 1
# unless every workload produced a number for gort, and for Go where its bench
# has a Go twin (bench/gcwp.c measures the kernel's page tracking: no twin).
#
# Environment: BENCH_ROUNDS (5; quick: 1), BENCH_TIMEOUT seconds per binary run
# (600; quick: 120), BENCH_ONLY (space-separated bench names to run, default
# all), BENCH_SCALE (passed through: the benches scale their iteration counts
# by it), GO (the Go toolchain for the twins; default: the newest one found,
# see newest_go), BENCH_WRAP (a command every bench binary runs under, on both
# sides alike: "chrt -f 10" for real-time priority on a busy machine, "perf
# stat", ...), BENCH_RESULTS (the results' path without extension; default
# bench/results, quick: <builddir>/bench-quick).
set -u

# Goal ratios gort/Go (lower is better): workload:max[:note].
GOALS="yield:0.5 spawn_join:0.5 spawn_burst:0.5 pingpong:0.5 select2:0.6 ring:0.5 mpmc:0.7 alloc16:0.5 alloc64:1.0 alloc1k:1.0"
# The collector (bench/gc.c): binary-trees time and longest pause no worse
# than Go's, peak RSS (KiB, not ns) at most 1.2x.
GOALS+=" binarytrees:1.0 bt_pause_max:1.0 bt_rss_peak:1.2"
# Network (net, http): >= 1.3x and 1.5x Go's throughput; http_p99 is a
# latency in ns, not a cost per op, and "no worse than Go" is 1.0.
GOALS+=" tcp_pingpong:0.77 tcp_stream:0.77 http_hello:0.67 http_p99:1.0"
# Maps and slices (bench/map.c): every workload at most 0.8x Go.
GOALS+=" insert_u64_1k:0.8 hit_u64_1k:0.8 miss_u64_1k:0.8 delete_u64_1k:0.8 iter_u64_1k:0.8 insert_u64_1m:0.8 hit_u64_1m:0.8 miss_u64_1m:0.8 delete_u64_1m:0.8 iter_u64_1m:0.8 insert_str_1k:0.8 hit_str_1k:0.8 miss_str_1k:0.8 delete_str_1k:0.8 iter_str_1k:0.8 insert_str_1m:0.8 hit_str_1m:0.8 miss_str_1m:0.8 delete_str_1m:0.8 iter_str_1m:0.8 append_10m:0.8"
# Blocking C calls (bench/syscall.c): no dearer than Go's entersyscall/exitsyscall.
GOALS+=" syscall:1.0"

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
builddir=${1:-$root/build}
mkdir -p "$builddir" || exit 1
builddir=$(cd "$builddir" && pwd)
quick=${GORT_BENCH_QUICK:-0}
[[ $quick == 0 ]] && quick=
if [[ -n $quick ]]; then
    export BENCH_SCALE=${BENCH_SCALE:-0.01}
    rounds=${BENCH_ROUNDS:-1}
    timeout_s=${BENCH_TIMEOUT:-120}
    results=${BENCH_RESULTS:-$builddir/bench-quick}
else
    rounds=${BENCH_ROUNDS:-5}
    timeout_s=${BENCH_TIMEOUT:-600}
    results=${BENCH_RESULTS:-$here/results}
fi
gobin=$builddir/bench-go
go_shared=$here/go/bench.go   # helpers linked into every Go twin; not a bench

work=$(mktemp -d "${TMPDIR:-/tmp}/gort-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
samples=$work/samples     # lines: <column> <workload> <ns-per-op>
order=$work/order         # workloads and columns in order of first sight
: >"$samples"; : >"$order"

log() { printf '%s\n' "$*" >&2; }

# newest_go: prints the path of the newest Go toolchain on the machine. The
# twins must run on the newest Go (the rival), not whichever `go` happens to
# come first on PATH: Debian's golang-go is older than /usr/local/go.
newest_go() {
    local best="" bestv="" cand v
    for cand in "$(command -v go 2>/dev/null)" /usr/local/go/bin/go /usr/lib/go/bin/go /usr/lib/go-*/bin/go; do
        [ -n "$cand" ] && [ -x "$cand" ] || continue
        v=$("$cand" env GOVERSION 2>/dev/null | sed 's/^go//') || continue
        [ -n "$v" ] || continue
        if [ -z "$bestv" ] || [ "$(printf '%s\n%s\n' "$bestv" "$v" | sort -V | tail -n1)" != "$bestv" ]; then
            best=$cand bestv=$v
        fi
    done
    printf '%s\n' "$best"
}
GO=${GO:-$(newest_go)}

machine_info() {
    echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host:    $(uname -srm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'))"
    echo "gort:    $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
    echo "go:      $([ -n "$GO" ] && "$GO" version 2>/dev/null || echo 'not found') ($GO; the newest Go on this machine)"
    echo "gcc:     $(gcc --version 2>/dev/null | head -n1 || echo 'not found')"
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
    echo "load:    $load (1/5/15 min)$(awk -v n="$(nproc)" '$1 > n { print "; above the CPU count: expect noise" }' <<<"$load")"
    echo "rounds:  $rounds${BENCH_SCALE:+, BENCH_SCALE=$BENCH_SCALE}${quick:+ (GORT_BENCH_QUICK: a smoke run, not a measurement)}${BENCH_WRAP:+, every binary under: $BENCH_WRAP}"
}

# base_of STEM: prints the bench that STEM is a variant of ("alloc" for
# "alloc_glibc" when bench/alloc.c exists), or nothing for a primary bench.
base_of() {
    local stem=$1 prefix=$1
    while [[ $prefix == *_* ]]; do
        prefix=${prefix%_*}
        [[ -f $here/$prefix.c ]] && { echo "$prefix"; return; }
    done
}

# find_bin STEM: prints the path of the built executable STEM, or nothing.
find_bin() {
    local stem=$1 p
    for p in "$builddir/bench/$stem" "$builddir/$stem"; do
        [[ -f $p && -x $p ]] && { echo "$p"; return; }
    done
    find "$builddir" -path "$gobin" -prune -o -type f -perm -u+x -name "$stem" -print 2>/dev/null | head -n1
}

# Go's build cache must be writable; fall back to one inside builddir.
setup_go_env() {
    if [[ -z ${GOCACHE:-} ]] && ! { [[ -n ${HOME:-} && -w ${HOME:-/nonexistent} ]]; }; then
        export GOCACHE=$builddir/.gocache
    fi
    export GO111MODULE=${GO111MODULE:-auto} GOFLAGS=${GOFLAGS:-}
}

# build_go_twin NAME: builds bench/go/NAME.go with the shared helpers. Naming
# the files (not a package directory) keeps every twin its own package main,
# built without a module and without the network.
build_go_twin() {
    local name=$1 src=$here/go/$1.go
    [[ -f $src ]] || return 0
    [ -n "$GO" ] || { log "bench: go not found, skipping Go twins"; return 0; }
    mkdir -p "$gobin"
    (cd "$here/go" && "$GO" build -o "$gobin/$name" "$src" "$go_shared") || log "bench: go build $src failed"
}

# run_bin COLUMN PATH: runs one binary, appending its BENCH lines to samples.
run_bin() {
    local column=$1 bin=$2 out=$work/out status
    [[ -n $bin && -x $bin ]] || return 0
    # shellcheck disable=SC2086  # BENCH_WRAP is a command line: split it
    timeout "$timeout_s" ${BENCH_WRAP:-} "$bin" >"$out" 2>"$work/err"
    status=$?
    if ((status != 0)); then
        log "bench: $bin exited with status $status$( ((status == 124)) && echo ' (timeout)')"
        tail -n 5 "$work/err" >&2
    fi
    awk -v col="$column" '$1 == "BENCH" && NF >= 3 && $3 + 0 == $3 { print col, $2, $3 }' \
        "$out" | tee -a "$samples" | awk '{ print "workload", $2; print "column", $1 }' >>"$order"
}

# ---- discover the suite -------------------------------------------------

names=()       # primary benches: from bench/*.c and bench/go/*.go
declare -A variants=()   # name -> "stem:variant ..."
for f in "$here"/*.c "$here"/*.cpp "$here"/go/*.go; do
    [[ -f $f && $f != "$go_shared" ]] || continue
    stem=$(basename "${f%.*}")
    base=$( [[ $f != *.go ]] && base_of "$stem")
    if [[ -n $base ]]; then
        variants[$base]+="$stem:${stem#"${base}_"} "
    elif [[ " ${names[*]} " != *" $stem "* ]]; then
        names+=("$stem")
    fi
done
if [[ -n ${BENCH_ONLY:-} ]]; then
    keep=(); for n in "${names[@]}"; do [[ " $BENCH_ONLY " == *" $n "* ]] && keep+=("$n"); done
    names=("${keep[@]}")
fi
for name in "${names[@]}"; do       # every variant gets a column, even if never built
    for v in ${variants[$name]:-}; do echo "column ${v#*:}" >>"$order"; done
done

machine_info | tee "$work/info"
echo

setup_go_env
for name in "${names[@]}"; do build_go_twin "$name"; done

for name in "${names[@]}"; do
    bin=$(find_bin "$name")
    [[ -n $bin ]] || log "bench: no gort binary for $name under $builddir (shown as -)"
done

# ---- run ----------------------------------------------------------------

for ((r = 1; r <= rounds; r++)); do
    log "bench: round $r/$rounds"
    for name in "${names[@]}"; do
        : >"$work/out"
        run_bin gort "$(find_bin "$name")"
        [[ -f $here/go/$name.go ]] || awk '$1 == "BENCH" { print $2 }' "$work/out" >>"$work/notwin"
        run_bin go "$gobin/$name"
        for v in ${variants[$name]:-}; do
            run_bin "${v#*:}" "$(find_bin "${v%%:*}")"
        done
    done
done

# ---- report -------------------------------------------------------------

# per column and workload over the rounds: lines "<column> <workload> <median> <min> <max>"
sort -k1,1 -k2,2 -k3,3g "$samples" | awk '
    function flush() { if (n) print key, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[1], v[n] }
    { k = $1 " " $2; if (k != key) { flush(); key = k; n = 0 } v[++n] = $3 }
    END { flush() }' >"$work/stats"

# table rows, tab-separated, header first; a row per workload in order of
# first sight: gort and Go with their spreads, the ratio, every peer, the goal
awk -v goals="$GOALS" '
    function fmt(x) { return x == "" ? "-" : x < 10 ? sprintf("%.2f", x) : x < 1000 ? sprintf("%.1f", x) : sprintf("%.0f", x) }
    function spread(c, w) { return ((c, w) in lo) ? fmt(lo[c, w]) "-" fmt(hi[c, w]) : "-" }
    FILENAME == ARGV[1] { med[$1, $2] = $3; lo[$1, $2] = $4; hi[$1, $2] = $5; next }
    $1 == "workload" && !($2 in seenw) { seenw[$2]; wl[++nw] = $2 }
    $1 == "column" && $2 != "gort" && $2 != "go" && !($2 in seenc) { seenc[$2]; xc[++nx] = $2 }
    END {
        ng = split(goals, g, " ")
        for (i = 1; i <= ng; i++) { split(g[i], f, ":"); goal[f[1]] = f[2]; note[f[1]] = f[3] }
        hdr = "workload\tgort ns/op\tgort min-max\tGo ns/op\tGo min-max\tgort/Go"
        for (j = 1; j <= nx; j++) hdr = hdr "\t" xc[j] " ns/op"
        print hdr "\tgoal\tmet"
        for (i = 1; i <= nw; i++) {
            w = wl[i]; a = med["gort", w]; b = med["go", w]
            ratio = (a != "" && b != "" && b > 0) ? a / b : ""
            row = w "\t" fmt(a) "\t" spread("gort", w) "\t" fmt(b) "\t" spread("go", w)
            row = row "\t" (ratio == "" ? "-" : sprintf("%.2f", ratio))
            for (j = 1; j <= nx; j++) row = row "\t" fmt(med[xc[j], w])
            gl = "-"; met = "-"
            if (w in goal) {
                gl = "<=" goal[w] (note[w] != "" ? " (" note[w] ")" : ""); gsub(/_/, " ", gl)
                if (ratio != "") met = ratio <= goal[w] ? "yes" : "NO"
            }
            print row "\t" gl "\t" met
        }
    }' "$work/stats" "$order" >"$work/table"

# plain text for the terminal
awk -F'\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } nf = NF }
    END { for (r = 1; r <= NR; r++) { line = ""
            for (i = 1; i <= nf; i++) line = line sprintf(i == 1 ? "%-*s" : "  %*s", w[i], cell[r, i])
            print line } }' "$work/table"

# svg_chart: the ratios of the table on a log scale, one bar per workload
# from 1 (as fast as Go) to its ratio, green where the goal is met, red where
# it is missed, grey without a goal; the goal is a black tick on the row.
svg_chart() {
    awk -F'\t' -v title="gort/Go per workload (lower is better; black tick: goal)" '
        function x(r) { return left + width * (log(r) - log(lo)) / (log(hi) - log(lo)) }
        function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $(col["gort/Go"]) != "-" {
            n++; name[n] = $1; ratio[n] = $(col["gort/Go"]) + 0
            goal[n] = $(col["goal"]); sub(/^<=/, "", goal[n]); sub(/ .*/, "", goal[n])
            met[n] = $(col["met"])
        }
        END {
            lo = 0.1; hi = 10
            for (i = 1; i <= n; i++) {
                while (ratio[i] > 0 && ratio[i] < lo) lo /= 10
                while (ratio[i] > hi) hi *= 10
            }
            left = 140; width = 520; rowh = 18; top = 40
            h = top + n * rowh + 30
            printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n", left + width + 60, h
            printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            printf "<text x=\"%d\" y=\"16\" font-size=\"13\">%s</text>\n", left, esc(title)
            for (t = lo; t <= hi * 1.001; t *= 10)
                for (k = 1; k <= 5; k += (k == 1 ? 1 : 3)) {
                    v = t * k; if (v > hi * 1.001) break
                    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n", x(v), top - 6, x(v), top + n * rowh, v == 1 ? "#444" : "#ddd"
                    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%g</text>\n", x(v), top + n * rowh + 14, v
                }
            for (i = 1; i <= n; i++) {
                y = top + (i - 1) * rowh
                color = met[i] == "yes" ? "#3a3" : met[i] == "NO" ? "#d33" : "#999"
                x0 = x(1); x1 = x(ratio[i] < lo ? lo : ratio[i])
                printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 6, y + 12, esc(name[i])
                printf "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", x0 < x1 ? x0 : x1, y + 3, x0 < x1 ? x1 - x0 : x0 - x1, rowh - 6, color
                if (goal[i] != "" && goal[i] != "-")
                    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\" stroke-width=\"2\"/>\n", x(goal[i]), y + 1, x(goal[i]), y + rowh - 1
                printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%.2f</text>\n", left + width + 6, y + 12, color, ratio[i]
            }
            print "</svg>"
        }' "$work/table"
}

mkdir -p "$(dirname "$results")"
svg_chart >"$results.svg"
{
    echo "# gort bench results"
    echo
    sed 's/^/    /' "$work/info"
    echo
    awk -F'\t' '
        { line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line }
        NR == 1 { line = "|"; for (i = 1; i <= NF; i++) line = line (i == 1 ? " --- |" : " ---: |"); print line }' \
        "$work/table"
    echo
    echo "Medians and spreads (min-max) of $rounds rounds, in ns per op; gort/Go < 1 means gort"
    echo "is faster. Goals are gort/Go ratios. Peer columns: fiber = Boost.Fiber (scheduler and"
    echo "channel rows), glibc / mimalloc = malloc+free, boehm = the Boehm collector, glib = GLib's"
    echo "hash table and array."
    echo
    echo "![gort/Go ratios against their goals]($(basename "$results").svg)"
} >"$results.md"
echo
echo "(written to $results.md and $results.svg)"

# The smoke run's check: every workload has a number for gort and for Go.
if [[ -n $quick ]]; then
    touch "$work/notwin"
    missing=$(awk -F'\t' 'FILENAME == ARGV[1] { notwin[$1]; next }
        FNR > 1 && ($2 == "-" || ($4 == "-" && !($1 in notwin))) { printf "%s%s", sep, $1; sep = " " }' \
        "$work/notwin" "$work/table")
    rows=$(($(wc -l <"$work/table") - 1))
    if ((rows == 0)) || [[ -n $missing ]]; then
        log "bench: quick run: ${rows} workloads; no number for gort or Go in: ${missing:-(no workloads at all)}"
        exit 1
    fi
    log "bench: quick run: all $rows workloads have numbers for gort, and for Go where there is a twin"
fi
