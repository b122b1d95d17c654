/*
 * bench/sched_fiber.cpp — peer column "fiber" for bench/sched.c: the same
 * scheduler workloads on Boost.Fiber (Debian's libboost-fiber-dev), the C++
 * fiber library a C++ programmer would reach for instead of gort.
 *
 *   yield          1 thread, 2 fibers calling boost::this_fiber::yield 4 M
 *                  times each: one fiber switch through the ready queue.
 *   yield_2p       2 threads (work stealing), 4 fibers yielding 500 k times.
 *   spawn_join     2 threads, 1500 batches of 1000 fibers doing one atomic
 *                  add, each batch joined (fiber::join, Boost's idiom: it has
 *                  no wait group).
 *   spawn_join_1p  the same on 1 thread.
 *
 * spawn_burst (a million fibers alive at once) has no row here: with a
 * separate stack allocation per fiber it measures malloc, not the scheduler.
 * Threads, stacks and timing are in fiber_bench.hpp; counts are sched.c's,
 * scaled by BENCH_SCALE alike.
 */
#include <atomic>
#include <vector>

#include "fiber_bench.hpp"

namespace fb = fiber_bench;

static constexpr int64_t yields_per_g = 4000000, yields_2p = 500000;
static constexpr int spawn_batch = 1000, spawn_runs = 1500;

static std::atomic<int64_t> sink;

static void yielder(int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        boost::this_fiber::yield();
    sink += n;
}

static void bench_yield(const char *name, int threads, int fibers, int64_t per_fiber)
{
    if (!wanted(name))
        return;
    int64_t n = scaled(per_fiber);
    fb::run(name, threads, fibers * n, [=] {
        std::vector<boost::fibers::fiber> fs;
        for (int i = 0; i < fibers; i++)
            fs.push_back(fb::spawn(yielder, n));
        for (auto &f : fs)
            f.join();
    });
}

static void spawn_worker(std::atomic<int64_t> *counter)
{
    ++*counter;
}

static void bench_spawn_join(const char *name, int threads)
{
    if (!wanted(name))
        return;
    int64_t runs = scaled(spawn_runs);
    fb::run(name, threads, runs * spawn_batch, [=] {
        std::atomic<int64_t> counter{0};
        std::vector<boost::fibers::fiber> fs;
        fs.reserve(spawn_batch);
        for (int64_t r = 0; r < runs; r++) {
            for (int i = 0; i < spawn_batch; i++)
                fs.push_back(fb::spawn(spawn_worker, &counter));
            for (auto &f : fs)
                f.join();
            fs.clear();
        }
        sink += counter;
    });
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    bench_yield("yield", 1, 2, yields_per_g);
    bench_yield("yield_2p", 2, 4, yields_2p);
    bench_spawn_join("spawn_join", 2);
    bench_spawn_join("spawn_join_1p", 1);
    fb::pool_stop();
    return sink == 0;
}
