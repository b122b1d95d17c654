#!/usr/bin/env bash
# install-deps.sh — install what gort needs to build, test and benchmark.
#
# Idempotent and fast: asks dpkg what is missing and only then touches apt.
# Needs Debian/Ubuntu with apt; runs as root, or through sudo when available.
#
#   scripts/install-deps.sh            install whatever is missing
#   scripts/install-deps.sh --check    only report; exit 1 if anything is missing
set -euo pipefail

# Native build and test tools (clang + its runtimes: libFuzzer targets).
native=(
    cmake make gcc pkg-config
    libunwind-dev libcmocka-dev libdw-dev gdb
    libhttp-parser-dev
    clang libclang-rt-dev
    protobuf-c-compiler libprotobuf-c-dev zlib1g-dev
    python3
)
# Cross build for arm64, run under qemu-user.
cross=(
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
    libunwind-dev:arm64 libcmocka-dev:arm64 libdw-dev:arm64
    libhttp-parser2.9:arm64
    libprotobuf-c1:arm64 zlib1g:arm64
)
# Benchmarks: Go twins, comparison allocators and hash tables, the Boost.Fiber
# peer (C++), timing.
bench=(
    golang-go libmimalloc-dev libgc-dev hyperfine wrk libglib2.0-dev
    g++ libboost-fiber-dev
)

# libhttp-parser-dev (examples/http_hello.c) is not multi-arch: its amd64 and
# arm64 packages conflict. Its header is the same for both, so the arm64 build
# takes the header from the native -dev package and links the arm64 runtime
# library (libhttp-parser2.9:arm64) by its file name.
#
# The pprof writer (src/pprof.c) needs protobuf-c and zlib. The arm64 build
# takes their headers from the native -dev packages (arch-independent) and
# links the arm64 runtime libraries by file name, as for libhttp-parser:
# zlib1g-dev:arm64 would pull in libc6-dev:arm64, a second C library's
# headers beside the cross compiler's. python3 validates the execution
# trace's JSON in the tests.
#
# Note: libatomic-ops-dev is deliberately absent: its amd64 and arm64 packages
# conflict, and gort uses <stdatomic.h> only.

native_arch=$(dpkg --print-architecture)

# One dpkg-query for everything: "name|status|arch" for each installed
# variant. A wanted PKG means PKG for the native architecture (or "all"),
# PKG:ARCH means exactly that architecture.
wanted=("${native[@]}" "${cross[@]}" "${bench[@]}")
installed=$(dpkg-query -W -f='${Package}|${db:Status-Abbrev}|${Architecture}\n' \
                "${wanted[@]%%:*}" 2>/dev/null || true)
missing=()
for p in "${wanted[@]}"; do
    name=${p%%:*} arch=$native_arch
    [[ $p == *:* ]] && arch=${p#*:}
    if ! grep -qE "^${name//+/\\+}\|ii ?\|($arch|all)\$" <<<"$installed"; then
        missing+=("$p")
    fi
done

need_arm64=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    need_arm64=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_arm64 -eq 0 ]; then
    exit 0
fi

if [ "${1:-}" = "--check" ]; then
    [ $need_arm64 -eq 1 ] && echo "install-deps: foreign architecture arm64 is not enabled"
    [ ${#missing[@]} -gt 0 ] && echo "install-deps: missing: ${missing[*]}"
    exit 1
fi

echo "install-deps: installing: ${missing[*]:-(arm64 architecture only)}" >&2

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -E)
    else
        echo "install-deps: not root and no sudo; install these by hand: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

# apt may be busy (another install, unattended upgrades): wait for its locks
# rather than failing.
apt_opts=(-o DPkg::Lock::Timeout=600)

if [ $need_arm64 -eq 1 ]; then
    "${SUDO[@]}" dpkg --add-architecture arm64
fi
"${SUDO[@]}" apt-get "${apt_opts[@]}" update
if [ ${#missing[@]} -gt 0 ]; then
    "${SUDO[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
fi
