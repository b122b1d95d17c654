/*
 * bench/gcserver.c — the collector under a steady server-like load: a
 * 100 MB live heap that keeps changing, and 1 GB/s of allocation at a fixed
 * request rate; Go twin: bench/go/gcserver.go.
 *
 * The live heap is a table of 182 000 slots, each holding a 512-byte record
 * (one pointer, scanned precisely) that points to a 64-byte noscan child:
 * 576 bytes per slot, 100 MB in all. A request replaces one random slot's
 * record and child, builds and walks a 16-node list of 64-byte nodes, and
 * writes a 4 KiB noscan buffer (a byte per cache line): 5696 bytes
 * allocated, of which 576 stay live until a later request replaces them.
 * Two goroutines serve requests in batches of one millisecond's worth,
 * together 1 GB/s, and sleep until the next millisecond when they are
 * ahead. Rates are fixed, as a server's load
 * is, so the rows compare what the same work costs:
 *
 *   srv_cpu        process CPU time (user + system, every thread) per
 *                  request, ns, over the paced run after the fill
 *   srv_gc_cpu     the GC's CPU fraction over the process's life, per
 *                  mille of the Ps' time (gc_cpu_fraction, Go's
 *                  MemStats.GCCPUFraction), not ns
 *   srv_pause_max  the longest stop-the-world pause of the paced run (ns)
 *   srv_rss_peak   peak resident set (VmHWM), in KiB, not ns
 *
 * A side that cannot keep the rate says so on stderr (its requests still
 * all run, so srv_cpu stays comparable).
 */
#include "gort.h"
#include "bench.h"

#include <stdatomic.h>

enum {
    recordSize = 512, childSize = 64, nodeSize = 64, bufSize = 4096, listLen = 16,
    requestBytes = recordSize + childSize + listLen * nodeSize + bufSize,
    workers = 2,
};

static const uint8_t firstWordMask[recordSize / 64] = { 0x1 };
static const gort_type recordType = { recordSize, firstWordMask };
static const gort_type nodeType = { nodeSize, firstWordMask };

typedef struct record { void *child; char pad[recordSize - sizeof(void *)]; } record;
typedef struct lnode { struct lnode *next; uint64_t v[7]; } lnode;

static record **slots;
static uint64_t nslots;
static int64_t batchPerWorker, batches;
static gort_waitgroup done;
static _Atomic int64_t lateBatches;
static _Atomic uint64_t sink;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static record *newRecord(uint64_t seed)
{
    record *r = gort_new(&recordType);
    r->child = gort_alloc_noscan(childSize);
    r->pad[0] = (char)seed;
    return r;
}

static void request(uint64_t *rng)
{
    uint64_t x = xorshift(rng);
    slots[x % nslots] = newRecord(x);
    lnode *head = NULL;
    for (int i = 0; i < listLen; i++) {
        lnode *n = gort_new(&nodeType);
        n->next = head;
        n->v[0] = x + (uint64_t)i;
        head = n;
    }
    uint64_t sum = 0;
    for (lnode *n = head; n; n = n->next)
        sum += n->v[0];
    unsigned char *buf = gort_alloc_noscan(bufSize);
    for (int i = 0; i < bufSize; i += 64)   /* one store per cache line, as the Go side */
        buf[i] = (unsigned char)sum;
    atomic_fetch_add_explicit(&sink, buf[bufSize - 64], memory_order_relaxed);
}

static void worker(void *arg)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    int64_t start = gort_nanotime();
    for (int64_t b = 0; b < batches; b++) {
        for (int64_t i = 0; i < batchPerWorker; i++)
            request(&rng);
        int64_t ahead = start + (b + 1) * 1000000 - gort_nanotime();
        if (ahead > 0)
            gort_sleep(ahead);
        else if (ahead < -1000000)
            atomic_fetch_add(&lateBatches, 1);
    }
    gort_waitgroup_done(&done);
}

static void bench_main(void *arg)
{
    nslots = (uint64_t)sized(100 << 20) / (recordSize + childSize);
    slots = gort_alloc(nslots * sizeof *slots);
    for (uint64_t i = 0; i < nslots; i++)
        slots[i] = newRecord(i);
    batchPerWorker = (1000000000 / 1000) / requestBytes / workers;   /* 1 GB/s in 1 ms batches */
    batches = scaled(3000);
    gort_mem_stats st;
    gort_read_mem_stats(&st);
    uint32_t gc0 = st.num_gc;
    int64_t cpu0 = cpu_ns(), start = gort_nanotime();
    gort_waitgroup_add(&done, workers);
    for (uintptr_t w = 0; w < workers; w++)
        gort_go(worker, (void *)w);
    gort_waitgroup_wait(&done);
    int64_t elapsed = gort_nanotime() - start, requests = batches * batchPerWorker * workers;
    report("srv_cpu", cpu_ns() - cpu0, requests);
    gort_read_mem_stats(&st);
    report("srv_gc_cpu", (int64_t)(st.gc_cpu_fraction * 1000 * 100), 100);  /* per mille, 2 decimals */
    uint64_t maxPause = 0;
    for (uint32_t i = st.num_gc - gc0 > 256 ? st.num_gc - 256 : gc0; i < st.num_gc; i++)
        if (st.pause_ns[i % 256] > maxPause)
            maxPause = st.pause_ns[i % 256];
    report("srv_pause_max", (int64_t)maxPause, 1);
    report("srv_rss_peak", vmhwm_kib(), 1);
    if (atomic_load(&lateBatches) > 0)
        fprintf(stderr, "gcserver: behind the rate: %lld of %lld batches over 1 ms late; %.0f MB/s\n",
                (long long)atomic_load(&lateBatches), (long long)(batches * workers),
                (double)requests * requestBytes / ((double)elapsed / 1e9) / 1e6);
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    gort_main(bench_main, NULL);
    return 0;
}
