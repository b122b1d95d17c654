/*
 * bench/alloc_bench.h — the allocation workloads shared by bench/alloc.c
 * (gort) and its comparison columns bench/alloc_glibc.c, alloc_mimalloc.c
 * and alloc_boehm.c; Go twin: bench/go/alloc.go.
 *
 * Each workload allocates `count` objects of one size in a loop, writes one
 * byte of each (as a user would; Go's twin writes the same byte) and stores
 * the pointer in a global so nothing is optimised away:
 *
 *   alloc16     16-byte buffer, no pointers     Go: make([]byte, 16)
 *   alloc16ptr  16-byte object with pointers    Go: new([2]*byte)
 *   alloc64     64-byte buffer                  Go: make([]byte, 64)
 *   alloc1k     1 KiB buffer                    Go: make([]byte, 1024)
 *   alloc8200   8200-byte buffer (9472 B slot)  Go: make([]byte, 8200)
 *   alloc1m     1 MiB buffer (a large object)   Go: make([]byte, 1<<20)
 *
 * The includer defines, before including this file:
 *   bench_alloc(n)      allocate n bytes holding no pointers
 *   bench_alloc_ptr(n)  allocate n bytes that may hold pointers
 *   bench_free(p)       release p at once (malloc-style), or nothing (GC'd)
 *
 * Counts are chosen so that an allocator that never frees (gort before its
 * collector exists) stays near 1.5 GiB for the whole run. BENCH_SCALE (a
 * factor, default 1) scales every count, on both sides alike. Each
 * includer's main calls bench_args(), so arguments name the workloads to
 * run (all by default; see bench.h) in every column alike.
 */
#include <stdint.h>

#include "bench.h"

/* Keeps every allocation observable. */
static void *volatile sink;

/* Times count allocations of size bytes; ptrs: the pointerful variant. */
static void bench_size(const char *name, size_t size, int64_t count, int ptrs)
{
    if (!wanted(name))
        return;
    count = scaled(count);
    int64_t start = now_ns();
    for (int64_t i = 0; i < count; i++) {
        unsigned char *p = ptrs ? bench_alloc_ptr(size) : bench_alloc(size);
        p[0] = 1;
        sink = p;
        bench_free(p);
    }
    report(name, now_ns() - start, count);
}

static void run_alloc_benches(void)
{
    bench_size("alloc16", 16, 10000000, 0);
    bench_size("alloc16ptr", 16, 10000000, 1);
    bench_size("alloc64", 64, 5000000, 0);
    bench_size("alloc1k", 1024, 500000, 0);
    bench_size("alloc8200", 8200, 100000, 0);
    bench_size("alloc1m", 1 << 20, 1000, 0);
}
