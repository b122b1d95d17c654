/*
 * bench/fiber_bench.hpp — what the Boost.Fiber peer columns share
 * (bench/sched_fiber.cpp, bench/chan_fiber.cpp): a clock, fiber spawning and
 * the threads that stand for gort's Ps.
 *
 * Ps. A workload that runs on one P in gort runs here on a fresh std::thread
 * with Boost.Fiber's default scheduler (round robin, one thread). A workload
 * on two Ps runs on a pool of two threads (the main thread and a helper)
 * sharing fibers with Boost's work_stealing algorithm, whose idle threads
 * sleep rather than spin (suspend = true), as an idle P does. work_stealing
 * keeps process-wide state sized by its thread count, so the pool is made
 * once, on first use, and lives until pool_stop().
 *
 * Stacks. Every fiber gets a 64 KiB malloc'd stack (Boost's fixedsize_stack
 * with a size below glibc's mmap threshold): workloads start up to 100 000
 * fibers, and one mmap per stack would exceed vm.max_map_count.
 */
#ifndef GORT_FIBER_BENCH_HPP
#define GORT_FIBER_BENCH_HPP

#include <boost/fiber/all.hpp>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include "bench.h"

namespace fiber_bench {

/* Starts a fiber running fn(args...) on the calling thread's scheduler. */
template <typename Fn, typename... Args>
boost::fibers::fiber spawn(Fn &&fn, Args &&...args)
{
    return boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(64 * 1024),
                                std::forward<Fn>(fn), std::forward<Args>(args)...);
}

/* The two-thread pool: the helper parks in a fiber wait until pool_stop(). */
struct pool_state {
    bool started = false, stop = false;
    std::thread helper;
    boost::fibers::mutex mu;
    boost::fibers::condition_variable cv;
};

inline pool_state &pool()
{
    static pool_state p;
    return p;
}

inline void pool_start()
{
    pool_state &p = pool();
    if (p.started)
        return;
    p.started = true;
    p.helper = std::thread([&p] {
        boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(2, true);
        std::unique_lock<boost::fibers::mutex> lk(p.mu);
        p.cv.wait(lk, [&p] { return p.stop; });
    });
    boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(2, true);
}

inline void pool_stop()
{
    pool_state &p = pool();
    if (!p.started)
        return;
    {
        std::unique_lock<boost::fibers::mutex> lk(p.mu);
        p.stop = true;
    }
    p.cv.notify_all();
    p.helper.join();
}

/*
 * Runs body() with `threads` threads (1 or 2) and reports the time it took
 * as ns per op. body runs in a fiber of the calling side and returns after
 * joining whatever it started.
 */
template <typename Body>
void run(const char *name, int threads, int64_t ops, Body body)
{
    int64_t elapsed = 0;
    auto timed = [&] {
        int64_t start = now_ns();
        body();
        elapsed = now_ns() - start;
    };
    if (threads == 1) {
        std::thread t(timed);
        t.join();
    } else {
        pool_start();
        timed();
    }
    report(name, elapsed, ops);
}

} // namespace fiber_bench

#endif
