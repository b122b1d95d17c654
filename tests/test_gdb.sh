#!/usr/bin/env bash
# test_gdb.sh — the gdb extension (tools/gdb/gort-gdb.py) in gdb batch mode.
#
#   tests/test_gdb.sh <gdb_target> <gort-gdb.py> [emulator [args...]]
#
# Runs tests/gdb/gdb_target under gdb to its breakpoint (goroutine 1 running,
# 2-4 parked on a channel, a mutex and a sleep), then `info goroutines` and
# `goroutine N bt`, and checks their output. Exits 77 (ctest's skip) without
# gdb, and for a cross build: the program runs under qemu-user there, and
# the host's gdb cannot debug an arm64 process without gdb-multiarch and
# qemu's gdb stub.
set -uo pipefail
export LC_ALL=C

target=$1 ext=$2
shift 2
if (($# > 0)); then echo "skip - cross build: $1 runs the program, gdb cannot attach"; exit 77; fi
if ! command -v gdb >/dev/null; then echo "skip - no gdb"; exit 77; fi

out=$(timeout 300 gdb -nx -batch \
    -ex 'set pagination off' -ex 'set confirm off' \
    -ex "source $ext" \
    -ex 'break gdb_stop_here' -ex run \
    -ex 'info goroutines' \
    -ex 'echo ==bt2==\n' -ex 'goroutine 2 bt' \
    -ex 'echo ==bt3==\n' -ex 'goroutine 3 bt' \
    -ex 'echo ==bt1==\n' -ex 'goroutine 1 bt' \
    -ex 'echo ==after==\n' -ex 'bt 1' \
    -ex kill "$target" 2>&1)

failed=0
expect() {   # expect DESCRIPTION REGEX TEXT
    if grep -qE -- "$2" <<<"$3"; then echo "ok - $1"; else echo "not ok - $1"; failed=1; fi
}
section() { sed -n "/^==$1==\$/,/^==/p" <<<"$out"; }

expect "info goroutines: 1 is running, selected" '^\* 1 running 0x[0-9a-f]+ gdb_stop_here' "$out"
expect "info goroutines: 2 waits on a channel" '^  2 chan receive 0x[0-9a-f]+ ' "$out"
expect "info goroutines: 3 waits on a mutex" '^  3 sync.Mutex.Lock 0x[0-9a-f]+ ' "$out"
expect "info goroutines: 4 sleeps" '^  4 sleep 0x[0-9a-f]+ ' "$out"
expect "goroutine 2 bt: gopark, then on_chan" 'in on_chan .*gdb_target.c' "$(section bt2)"
expect "goroutine 2 bt: ends at gostart" 'gostart' "$(section bt2)"
expect "goroutine 3 bt: on_mutex" 'in on_mutex .*gdb_target.c' "$(section bt3)"
expect "goroutine 1 bt (running): main_goroutine" 'main_goroutine .*gdb_target.c' "$(section bt1)"
expect "registers restored after goroutine N bt" '^#0 .*gdb_stop_here' "$(section after)"
if ((failed)); then echo "--- gdb output:"; echo "$out"; fi
exit $failed
