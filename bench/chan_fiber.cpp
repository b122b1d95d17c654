/*
 * bench/chan_fiber.cpp — peer column "fiber" for bench/chan.c: the same
 * channel, mutex and timer workloads on Boost.Fiber, all on 2 threads
 * sharing fibers by work stealing (gort's and Go's 2 Ps; fiber_bench.hpp).
 *
 *   pingpong  two fibers, two boost::fibers::unbuffered_channel<int64_t>,
 *             1 M round trips.
 *   ring      10 000 fibers in a ring of unbuffered channels, the token
 *             going round 200 times (spawning and teardown untimed).
 *   mpmc      4 producers, 4 consumers, one buffered_channel<int64_t> made
 *             with capacity 128 (Boost wants a power of two and keeps one
 *             slot free: it holds 127, Go's and gort's channel 128).
 *   mutex     4 fibers contending on one boost::fibers::mutex, 8 M
 *             increments.
 *   timers    100 000 fibers each sleeping 1 ms ten times
 *             (boost::this_fiber::sleep_for).
 *
 * select2 has no row: Boost.Fiber has no select over channels. Counts are
 * chan.c's, scaled by BENCH_SCALE alike.
 */
#include <atomic>
#include <memory>
#include <vector>

#include "fiber_bench.hpp"

namespace fb = fiber_bench;
using boost::fibers::channel_op_status;
using unbuffered = boost::fibers::unbuffered_channel<int64_t>;
using buffered = boost::fibers::buffered_channel<int64_t>;

static constexpr int64_t pingpong_trips = 1000000;
static constexpr int ring_size = 10000, ring_laps = 200;
static constexpr int mpmc_sides = 4, mpmc_cap = 128;
static constexpr int64_t mpmc_messages = 4000000;
static constexpr int mutex_workers = 4;
static constexpr int64_t mutex_ops = 8000000;
static constexpr int timer_fibers = 100000, timer_sleeps = 10;

static std::atomic<int64_t> sink;

static void join_all(std::vector<boost::fibers::fiber> &fs)
{
    for (auto &f : fs)
        f.join();
    fs.clear();
}

/* ---- pingpong ---------------------------------------------------------- */

static void ponger(unbuffered *ping, unbuffered *pong)
{
    int64_t v;
    while (ping->pop(v) == channel_op_status::success)
        pong->push(v + 1);
}

static void bench_pingpong()
{
    int64_t trips = scaled(pingpong_trips);
    unbuffered ping, pong;
    boost::fibers::fiber f;
    fb::run("pingpong", 2, trips, [&] {
        f = fb::spawn(ponger, &ping, &pong);
        int64_t v = 0;
        for (int64_t i = 0; i < trips; i++) {
            ping.push(v);
            pong.pop(v);
        }
        sink += v;
    });
    ping.close();
    f.join();
}

/* ---- ring -------------------------------------------------------------- */

struct ring {
    std::vector<std::unique_ptr<unbuffered>> chans;
    unbuffered done;
    int64_t hops;
};

static void ring_node(ring *r, int index)
{
    unbuffered &in = *r->chans[index], &out = *r->chans[(index + 1) % ring_size];
    int64_t t;
    while (in.pop(t) == channel_op_status::success) {
        if (t >= r->hops)
            r->done.push(t);
        else
            out.push(t + 1);
    }
}

static void bench_ring()
{
    ring r;
    r.hops = scaled(ring_laps) * ring_size;
    for (int i = 0; i < ring_size; i++)
        r.chans.push_back(std::make_unique<unbuffered>());
    fb::pool_start();
    std::vector<boost::fibers::fiber> fs;
    for (int i = 0; i < ring_size; i++)
        fs.push_back(fb::spawn(ring_node, &r, i));
    int64_t t = 0;
    fb::run("ring", 2, r.hops, [&] {
        r.chans[0]->push(t);
        r.done.pop(t);
    });
    for (auto &c : r.chans)
        c->close();
    join_all(fs);
    sink += t;
}

/* ---- mpmc -------------------------------------------------------------- */

static void producer(buffered *c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        c->push(i);
}

static void consumer(buffered *c)
{
    int64_t v, sum = 0;
    while (c->pop(v) == channel_op_status::success)
        sum += v;
    sink += sum;
}

static void bench_mpmc()
{
    int64_t per_producer = scaled(mpmc_messages) / mpmc_sides;
    fb::run("mpmc", 2, per_producer * mpmc_sides, [=] {
        buffered c(mpmc_cap);
        std::vector<boost::fibers::fiber> producers, consumers;
        for (int i = 0; i < mpmc_sides; i++) {
            producers.push_back(fb::spawn(producer, &c, per_producer));
            consumers.push_back(fb::spawn(consumer, &c));
        }
        join_all(producers);
        c.close();
        join_all(consumers);
    });
}

/* ---- mutex ------------------------------------------------------------- */

struct locked_counter {
    boost::fibers::mutex mu;
    int64_t n = 0;   /* guarded by mu */
};

static void incrementer(locked_counter *lc, int64_t ops)
{
    for (int64_t i = 0; i < ops; i++) {
        lc->mu.lock();
        lc->n++;
        lc->mu.unlock();
    }
}

static void bench_mutex()
{
    int64_t per_worker = scaled(mutex_ops) / mutex_workers;
    fb::run("mutex", 2, per_worker * mutex_workers, [=] {
        locked_counter lc;
        std::vector<boost::fibers::fiber> fs;
        for (int i = 0; i < mutex_workers; i++)
            fs.push_back(fb::spawn(incrementer, &lc, per_worker));
        join_all(fs);
        sink += lc.n;
    });
}

/* ---- timers ------------------------------------------------------------ */

static void sleeper()
{
    for (int i = 0; i < timer_sleeps; i++)
        boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
}

static void bench_timers()
{
    int64_t n = scaled(timer_fibers);
    fb::run("timers", 2, n * timer_sleeps, [=] {
        std::vector<boost::fibers::fiber> fs;
        for (int64_t i = 0; i < n; i++)
            fs.push_back(fb::spawn(sleeper));
        join_all(fs);
    });
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    static const struct { const char *name; void (*run)(); } workloads[] = {
        { "pingpong", bench_pingpong }, { "ring", bench_ring }, { "mpmc", bench_mpmc },
        { "mutex", bench_mutex }, { "timers", bench_timers },
    };
    for (const auto &w : workloads)
        if (wanted(w.name))
            w.run();
    fb::pool_stop();
    return sink == 0;
}
