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
# bench/<name>_<variant>.c (where bench/<name>.c exists) is an extra
# comparison, shown as a column named <variant>.
#
# For BENCH_ROUNDS rounds (default 5) every gort binary runs, then its Go twin,
# then its variants, alternately, so slow drifts of machine noise hit all sides.
# The table shows per-workload medians, the ratio gort/Go, and the goal ratio
# where one is set (GOALS below). A missing or failing binary shows as "-";
# it never stops the run. The table also goes to <builddir>/bench-results.md.
#
# Environment: BENCH_ROUNDS (5), BENCH_TIMEOUT seconds per binary run (600),
# BENCH_ONLY (space-separated bench names to run, default all), BENCH_SCALE
# (passed through: the benches scale their iteration counts by it), GO (the Go
# toolchain for the twins; default: the newest one found, see newest_go),
# BENCH_WRAP (a command every bench binary runs under, on both sides alike:
# "chrt -f 10" for real-time priority on a busy machine, "perf stat", ...).
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
rounds=${BENCH_ROUNDS:-5}
timeout_s=${BENCH_TIMEOUT:-600}
gobin=$builddir/bench-go
go_shared=$here/go/bench.go   # helpers linked into every Go twin; not a bench
results_md=$builddir/bench-results.md

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
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1/5/15 min; above the CPU count, expect noise)"
    echo "rounds:  $rounds${BENCH_SCALE:+, BENCH_SCALE=$BENCH_SCALE}${BENCH_WRAP:+, every binary under: $BENCH_WRAP}"
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
for f in "$here"/*.c "$here"/go/*.go; do
    [[ -f $f && $f != "$go_shared" ]] || continue
    stem=$(basename "${f%.*}")
    base=$( [[ $f == *.c ]] && base_of "$stem")
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
        run_bin gort "$(find_bin "$name")"
        run_bin go "$gobin/$name"
        for v in ${variants[$name]:-}; do
            run_bin "${v#*:}" "$(find_bin "${v%%:*}")"
        done
    done
done

# ---- report -------------------------------------------------------------

# medians: lines "<column> <workload> <median>"
sort -k1,1 -k2,2 -k3,3g "$samples" | awk '
    function flush() { if (n) print key, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }
    { k = $1 " " $2; if (k != key) { flush(); key = k; n = 0 } v[++n] = $3 }
    END { flush() }' >"$work/medians"

# table rows, tab-separated, header first
awk -v goals="$GOALS" '
    function fmt(x) { return x == "" ? "-" : x < 10 ? sprintf("%.2f", x) : x < 1000 ? sprintf("%.1f", x) : sprintf("%.0f", x) }
    FILENAME == ARGV[1] { med[$1, $2] = $3; next }
    $1 == "workload" && !($2 in seenw) { seenw[$2]; wl[++nw] = $2 }
    $1 == "column" && $2 != "gort" && $2 != "go" && !($2 in seenc) { seenc[$2]; xc[++nx] = $2 }
    END {
        ng = split(goals, g, " ")
        for (i = 1; i <= ng; i++) { split(g[i], f, ":"); goal[f[1]] = f[2]; note[f[1]] = f[3] }
        hdr = "workload\tgort ns/op\tGo ns/op\tgort/Go"
        for (j = 1; j <= nx; j++) hdr = hdr "\t" xc[j] " ns/op"
        print hdr "\tgoal\tmet"
        for (i = 1; i <= nw; i++) {
            w = wl[i]; a = med["gort", w]; b = med["go", w]
            ratio = (a != "" && b != "" && b > 0) ? a / b : ""
            row = w "\t" fmt(a) "\t" fmt(b) "\t" (ratio == "" ? "-" : sprintf("%.2f", ratio))
            for (j = 1; j <= nx; j++) row = row "\t" fmt(med[xc[j], w])
            gl = "-"; met = "-"
            if (w in goal) {
                gl = "<=" goal[w] (note[w] != "" ? " (" note[w] ")" : ""); gsub(/_/, " ", gl)
                if (ratio != "") met = ratio <= goal[w] ? "yes" : "NO"
            }
            print row "\t" gl "\t" met
        }
    }' "$work/medians" "$order" >"$work/table"

# plain text for the terminal, markdown for the file
awk -F'\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } nf = NF }
    END { for (r = 1; r <= NR; r++) { line = ""
            for (i = 1; i <= nf; i++) line = line sprintf(i == 1 ? "%-*s" : "  %*s", w[i], cell[r, i])
            print line } }' "$work/table"

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
    echo "Medians of $rounds rounds; gort/Go < 1 means gort is faster. Goals are gort/Go ratios."
} >"$results_md"
echo
echo "(written to $results_md)"
