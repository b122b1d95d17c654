#!/usr/bin/env bash
# test_examples.sh — smoke test of the examples, run by ctest as
# test_examples in every configuration: the servers, then each teaching
# example, its output checked.
#
#   tests/test_examples.sh <builddir>/examples [emulator [args...]]
#
# Starts each server example on a free loopback port (address 127.0.0.1:0;
# the server prints the port it got), drives it, and stops it:
#   echo_server   examples/echo_client with many connections, every byte
#                 checked (and once more over IPv6 when ::1 exists);
#   http_hello    raw HTTP/1.1 over bash's /dev/tcp: two keep-alive requests
#                 one after the other on one connection, two pipelined in one
#                 write, HEAD, HTTP/1.0, and a malformed request (400), each
#                 answer compared byte for byte (the Date value masked);
#   goroutine_leak  its output: no leak from the fixed search, two from the
#                 leaky one, reported as Go would, and again at exit under
#                 GORT_DEBUG=leakcheck=1.
# Cross builds pass their emulator (qemu-aarch64), which runs the examples;
# GORT_TEST_QEMU=1 shrinks the echo load there. Servers run under `timeout`
# and are killed at exit, so nothing outlives the test. An example that was
# not built (http_hello without libhttp-parser) is skipped, not failed.
# cpu_profile writes a CPU profile that `go tool pprof -top` must read.
set -uo pipefail
export LC_ALL=C

dir=$1
shift
emu=("$@")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gort-examples.XXXXXX") || exit 1
pids=()
passed=0 failed=0 skipped=0

cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1"; diff <(printf '%s' "$3") <(printf '%s' "$2") | cat -A | head -n 20; fi; }

# start_server NAME ADDRESS: runs examples/NAME ADDRESS in the background and
# waits (at most 60 s: qemu is slow to start) for its "listening on" line;
# sets $addr to the address it got and $server to its pid.
starts=0
start_server() {
    # A fresh file per start: a restarted server's file must not show the
    # line of the previous one before the new process has truncated it.
    local name=$1 out=$tmp/$1.$((++starts)) i
    : >"$out.out"
    timeout 600 "${emu[@]}" "$dir/$name" "$2" >"$out.out" 2>"$out.err" &
    server=$!
    pids+=("$server")
    for ((i = 0; i < 600; i++)); do
        addr=$(sed -n 's/^.*: listening on //p' "$out.out")
        [[ -n $addr ]] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start listening on $2:"
    cat "$out.err"
    return 1
}

stop_server() { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }

# ---- echo_server + echo_client ---------------------------------------------

echo_test() {   # echo_test ADDRESS CONNECTIONS LINES
    local out
    if ! start_server echo_server "$1"; then not_ok "echo_server on $1 starts"; return; fi
    out=$(timeout 300 "${emu[@]}" "$dir/echo_client" "$addr" "$2" "$3" 2>&1)
    check "echo_client: $2 connections x $3 lines through echo_server on $1" "$out" \
        "echo_client: $2 connections x $3 lines echoed intact"
    kill -0 "$server" 2>/dev/null && ok "echo_server survives its clients" || not_ok "echo_server survives its clients"
    stop_server
}

if [[ -x $dir/echo_server && -x $dir/echo_client ]]; then
    if [[ ${GORT_TEST_QEMU:-0} == 1 ]]; then echo_test 127.0.0.1:0 20 50; else echo_test 127.0.0.1:0 100 200; fi
    if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
        echo_test '[::1]:0' 4 20
    else
        echo "skip - IPv6 loopback (no ::1 on this machine)"; skipped=$((skipped + 1))
    fi
else
    not_ok "echo_server and echo_client built in $dir"
fi

# ---- http_hello ------------------------------------------------------------

# The answers, with the Date value masked as "X".
ok200() { printf 'HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 13\r\nContent-Type: text/plain; charset=utf-8\r\n%s\r\n%s' "$1" "$2"; }
hello_keep=$(ok200 "" "Hello, World!")
hello_close=$(ok200 $'Connection: close\r\n' "Hello, World!")
head_close=$(ok200 $'Connection: close\r\n' "")
bad=$'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request'
mask_date() { sed 's/^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} GMT\r$/Date: X\r/'; }

# http_open / http_send TEXT / http_read_n BYTES / http_read_all: one
# connection on fd 3; reads give up after 30 s.
http_open() { exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"; }
http_send() { printf '%s' "$1" >&3; }
http_read_n() { local r; IFS= read -r -N "$1" -t 30 r <&3; printf '%s' "$r" | mask_date; }
http_read_all() { timeout 30 cat <&3 | mask_date; }
http_close() { exec 3<&-; }

get=$'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'
get_close=$'GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'

if [[ -x $dir/http_hello ]]; then
    if start_server http_hello 127.0.0.1:0; then
        http_open
        http_send "$get"
        first=$(http_read_n $((${#hello_keep} - 1 + 29)))   # a real Date value has 29 characters
        http_send "$get_close"
        second=$(http_read_all)
        http_close
        check "http_hello: keep-alive request, then Connection: close on the same connection" \
            "$first|$second" "$hello_keep|$hello_close"

        http_open
        http_send "$get$get$get_close"
        check "http_hello: three pipelined requests in one write, answered in order" \
            "$(http_read_all)" "$hello_keep$hello_keep$hello_close"
        http_close

        http_open
        http_send $'HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
        check "http_hello: HEAD gets the headers without the body" "$(http_read_all)" "$head_close"
        http_close

        http_open
        http_send $'GET / HTTP/1.0\r\n\r\n'
        check "http_hello: HTTP/1.0 without keep-alive is answered and closed" \
            "$(http_read_all)" "$hello_close"
        http_close

        http_open
        http_send $'GET / HTTP/1.1\r\nHost: localhost\r\n\r\nBLAH BLAH\x01\r\n\r\n'
        check "http_hello: a good request, then a malformed one: 200, 400, closed" \
            "$(http_read_all)" "$hello_keep$bad"
        http_close

        kill -0 "$server" 2>/dev/null && ok "http_hello survives its clients" || not_ok "http_hello survives its clients"
        stop_server
    else
        not_ok "http_hello starts"
    fi
else
    echo "skip - http_hello (not built: libhttp-parser missing)"; skipped=$((skipped + 1))
fi

# ---- cpu_profile ---------------------------------------------------------------
# Writes a CPU profile of its prime counting; `go tool pprof -top` (the
# newest Go on the machine) must list the hot function, count_primes. Under
# qemu and TSan the count is checked and the profile must parse: emulation
# gives few samples, and they may land anywhere; TSan delivers a signal only
# at the thread's next interceptor or atomic, never inside count_primes's
# plain arithmetic, so no sample can name it there.

gocmd=/usr/local/go/bin/go
[[ -x $gocmd ]] || gocmd=$(command -v go || true)
if [[ -x $dir/cpu_profile ]]; then
    limit=300000 want=25997
    [[ ${GORT_TEST_QEMU:-} == 1 ]] && limit=100000 want=9592
    out=$(timeout 600 "${emu[@]}" "$dir/cpu_profile" "$tmp/cpu.pb.gz" "$limit" 2>&1)
    check "cpu_profile: counts the primes" "$(head -n 1 <<<"$out")" "$want primes below $limit"
    if [[ -z $gocmd ]]; then
        echo "skip - cpu_profile: no go command to read the profile"; skipped=$((skipped + 1))
    else
        top=$("$gocmd" tool pprof -top "$tmp/cpu.pb.gz" 2>&1)
        parse_only=
        [[ ${GORT_TEST_QEMU:-} == 1 ]] && parse_only=qemu
        ldd "$dir/cpu_profile" 2>/dev/null | grep -q libtsan && parse_only=tsan
        if [[ -n $parse_only ]]; then
            if grep -q "^Type: cpu" <<<"$top"; then
                ok "cpu_profile: go tool pprof -top reads the profile ($parse_only)"
            else
                not_ok "cpu_profile: go tool pprof -top reads the profile ($parse_only)"
                printf '%s\n' "$top" | head -n 20
            fi
        elif grep -q "count_primes" <<<"$top"; then
            ok "cpu_profile: go tool pprof -top lists count_primes"
        else
            not_ok "cpu_profile: go tool pprof -top lists count_primes"
            printf '%s\n' "$top" | head -n 20
        fi
    fi
else
    not_ok "cpu_profile was built"
fi

# ---- goroutine_leak ----------------------------------------------------------

# Runs examples/goroutine_leak (GORT_DEBUG as given) and prints its stdout,
# then its stderr. Which replica answers first depends on the machine's load:
# the checks mask it.
run_leak_example() {
    GORT_DEBUG=$1 timeout 120 "${emu[@]}" "$dir/goroutine_leak" 2>"$tmp/leak.err"
    cat "$tmp/leak.err"
}

if [[ -x $dir/goroutine_leak ]]; then
    out=$(run_leak_example "")
    check "goroutine_leak: the fixed search leaks nothing, the leaky one two goroutines" \
        "$(head -n 2 <<<"$out" | sed 's/answer [1-3],/answer N,/')" \
        $'fixed search: answer N, 0 leaked goroutines\nleaky search: answer N, 2 leaked goroutines'
    check "goroutine_leak: both reported blocked in their send, made by search in goroutine 1" \
        "$(grep -c '^goroutine [0-9]* \[chan send (leaked)\]:$' <<<"$out") $(grep -c '^created by search+0x[0-9a-f]* in goroutine 1$' <<<"$out")" "2 2"
    out=$(run_leak_example leakcheck=1)
    check "goroutine_leak: GORT_DEBUG=leakcheck=1 reports them again when main returns" \
        "$(grep -c '^leakcheck: 2 leaked goroutines$' <<<"$out") $(grep -c '(leaked)\]:$' <<<"$out")" "1 4"
else
    not_ok "goroutine_leak built in $dir"
fi

# ---- the teaching examples -------------------------------------------------

# run_example NAME: runs examples/NAME (60 s at most); sets $out (stdout)
# and $err (stderr). Returns 1 if it was not built or did not exit 0.
run_example() {
    out= err=
    if [[ ! -x $dir/$1 ]]; then not_ok "$1 built in $dir"; return 1; fi
    out=$(timeout 60 "${emu[@]}" "$dir/$1" 2>"$tmp/$1.err")
    local rc=$?
    err=$(cat "$tmp/$1.err")
    if ((rc != 0)); then not_ok "$1 exits 0 (status $rc)"; echo "$err" | head -n 20; return 1; fi
}
# has NAME TEXT REGEX: ok when REGEX matches a line of TEXT.
has() { if grep -qE -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1"; printf '%s\n' "$2" | head -n 20; fi; }

run_example hello && check "hello: sum of squares" "$out" "sum of squares 1..10 = 385"
run_example sieve && check "sieve: the first 20 primes" "$(tr '\n' ' ' <<<"$out")" \
    "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 "
run_example pingpong && check "pingpong: 1000 hits" "$out" \
    $'ping 1, pong 2\nping 3, pong 4\nping-pong: 1000 hits, ball at 1000'
run_example workerpool && check "workerpool: every job done once" "$out" \
    "worker pool: 4 workers did 100 jobs, sum of squares 338350"
run_example pipeline && check "pipeline: the odd squares summed" "$out" \
    "pipeline: 50 odd squares of 1..100, sum 166650"
run_example select_timeout && check "select_timeout: a timeout, then a reply" "$out" \
    $'timed out after 50 ms\nreply 42 within 5000 ms'
run_example sizeclasses && check "sizeclasses: the talk's three sizes and more" "$out" \
    $'8 -> 8\n8192 -> 8192\n8200 -> 9472\n32768 -> 32768\n32769 -> 40960\n8388616 -> 8396800'
if run_example gctrace; then
    has "gctrace: several collections" "$out" '^collections: several$'
    has "gctrace: the live heap and the goal" "$out" '^live heap [0-9]+ MB, next GC when the heap reaches [0-9]+ MB$'
    has "gctrace: Go's gc line on stderr" "$err" '^gc 1 @[0-9.]+s [0-9]+%: .* MB goal, .* P'
fi
if run_example schedtrace; then
    has "schedtrace: the program's line" "$out" '^8 goroutines computed for 300 ms on 2 Ps$'
    has "schedtrace: Go's SCHED line on stderr" "$err" '^SCHED [0-9]+ms: gomaxprocs=2 idleprocs=[0-9]+ threads=[0-9]+ '
fi
run_example sysmon_retake && check "sysmon_retake: sysmon handed the P over during the call" "$out" \
    "the other goroutine ran during the slow call: yes"
if run_example preempt; then
    if [[ $out == "TSan build"* ]]; then
        has "preempt: a TSan build says it cannot preempt" "$out" '^TSan build: no asynchronous preemption'
    else
        check "preempt: the spinning goroutine was preempted" "$out" "preempted: yes"
    fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
