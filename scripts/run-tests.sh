#!/usr/bin/env bash
# run-tests.sh — build and test gort in one or more configurations.
#
#   scripts/run-tests.sh [config...]     (default: native arm64 asan tsan; `make test`)
#
# For each configuration in turn: `make build-<config>` (configures build/<config>
# if needed, builds it), then ctest in build/<config>. Stops at the first
# configuration that fails to build or has a failing test, and exits non-zero.
# At the end prints tests passed per configuration and, when all passed, one
# last line "N passed, 0 failed".
#
# The test environment comes from CMakeLists.txt, so a plain ctest in a build
# directory behaves the same: GORT_TEST_QEMU=1 under qemu (arm64), sanitizer
# defaults (ASAN_OPTIONS=detect_leaks=0, TSAN_OPTIONS=halt_on_error=1:
# report_signal_unsafe=0:...: the fatal-signal handler prints a traceback),
# a 600 s timeout per test. Options already in the environment win.
#
# Environment: BUILD_DIR (build), MAKE (make), CTEST_JOBS (tests run at once
# per configuration, default 1: many tests time things and use both cores).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
build_dir=${BUILD_DIR:-build}
make_cmd=${MAKE:-make}
ctest_jobs=${CTEST_JOBS:-1}
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(native arm64 asan tsan)

summary=()
total=0
say() { printf '\n==== %s\n' "$*"; }

finish_failed() {
    local i
    summary+=("$(printf '%-8s %s' "$1" "$2")")
    for ((i = $3 + 1; i < ${#configs[@]}; i++)); do
        summary+=("$(printf '%-8s not run' "${configs[i]}")")
    done
    say "summary"
    printf '%s\n' "${summary[@]}"
    printf 'FAILED in configuration %s\n' "$1"
    exit 1
}

for ((idx = 0; idx < ${#configs[@]}; idx++)); do
    cfg=${configs[idx]}
    dir=$build_dir/$cfg
    t0=$SECONDS

    say "$cfg: configure and build ($dir)"
    if ! "$make_cmd" --no-print-directory "build-$cfg"; then
        finish_failed "$cfg" "build failed" "$idx"
    fi
    t1=$SECONDS

    say "$cfg: ctest"
    log=$dir/ctest.log
    ctest --test-dir "$dir" --output-on-failure --no-tests=error \
          --parallel "$ctest_jobs" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    t2=$SECONDS

    # "100% tests passed, 0 tests failed out of 11"
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    failed=$(sed -nE 's/.* ([0-9]+) tests? failed out of.*/\1/p' <<<"$line")
    count=$(sed -nE 's/.* out of ([0-9]+).*/\1/p' <<<"$line")
    if [ "$status" -ne 0 ] || [ -z "$count" ] || [ "${failed:-1}" -ne 0 ]; then
        # The names under "The following tests FAILED:" (not the skipped ones
        # listed under "did not run", in the same format).
        names=$(sed -nE '/^The following tests FAILED:/,/^[^[:space:]]/s/^\s+[0-9]+ - (\S+) .*/\1/p' "$log" | xargs)
        finish_failed "$cfg" "FAILED: ${failed:-?} of ${count:-?} tests failed${names:+: $names} (ctest status $status, log $log)" "$idx"
    fi

    total=$((total + count))
    summary+=("$(printf '%-8s %3d passed   (build %ds, tests %ds)' "$cfg" "$count" $((t1 - t0)) $((t2 - t1)))")
done

say "summary"
printf '%s\n' "${summary[@]}"
printf '%d passed, 0 failed\n' "$total"
