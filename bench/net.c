/*
 * bench/net.c — TCP echo servers on gort's netpoller; Go twin: bench/go/net.go.
 *
 * What it measures (one `BENCH <workload> <ns-per-op>` line each):
 *
 *   tcp_pingpong  100 connections, each bouncing one 64-byte message back and
 *                 forth (the next goes out when the echo is back); ns per
 *                 round trip over all connections (inverse throughput).
 *   tcp_stream    100 connections, each streaming 512-byte messages with up
 *                 to 16 in flight; ns per message echoed.
 *   <name>_cpu    the server process's CPU time (user + system, all threads)
 *                 per op during that workload, connection setup included: the
 *                 server's cost, less sensitive than wall time to other load on
 *                 a shared machine (no goal; wall time is the measure).
 *
 * The server under test runs in this process on one P (gort_gomaxprocs(1);
 * the twin: runtime.GOMAXPROCS(1)): an accept loop and one goroutine per
 * connection that reads into a 512-byte buffer and writes back what it read,
 * so a stream costs one read and one write per message at most.
 *
 * The load comes from another process, the same program for both twins: this
 * binary started as `net --load ...` (the Go twin runs it too; see net.go), a
 * single-threaded epoll client in plain C that uses no gort. On two cores the
 * server and the client get one each, so the server's P is never starved by
 * its own client, and since the client is identical on both sides the ratio
 * compares the servers. The client connects everything and exchanges one
 * message per connection before it starts the clock (accepts and goroutine
 * creation are untimed), checks every echoed byte, and reports elapsed ns and
 * the message count on stdout; the server process prints the BENCH line.
 *
 * BENCH_SCALE (a factor, default 1) scales the message counts on both sides
 * alike. Arguments name the workloads to run (all by default; see bench.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gort.h"
#include "bench.h"

#define SERVER_BUF 512   /* the server's read buffer: at most one stream message per read */

static bool failed;      /* a workload's load generator failed: exit status 1 */

/* The workloads; net.go has the same table. */
struct workload {
    const char *name;
    int conns;
    int msg_size;
    int window;       /* messages in flight per connection; 1 = ping-pong */
    int64_t messages; /* in all, over every connection */
};
static const struct workload workloads[] = {
    { "tcp_pingpong", 100, 64, 1, 200000 },
    { "tcp_stream", 100, 512, 16, 400000 },
};

/* ==== The load generator: `net --load <port> <conns> <size> <window> <messages>` ==== */

/* One client connection: how far it is in sending and in receiving. */
struct lconn {
    int fd;
    int64_t sent;       /* whole messages written */
    int64_t rcvd;       /* bytes received back */
    int woff;           /* bytes of the current message already written */
};

struct load {
    int msg_size, window;
    int64_t quota;               /* messages per connection in this phase */
    int pending;                 /* connections not yet done */
    unsigned char pattern[1024]; /* every message's content */
};

static void die(const char *what)
{
    fprintf(stderr, "net --load: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Whether the echoed bytes buf[0..n) match what was sent at stream offset off. */
static bool echo_ok(const struct load *ld, const unsigned char *buf, size_t n, int64_t off)
{
    while (n > 0) {
        size_t at = (size_t)(off % ld->msg_size), k = (size_t)ld->msg_size - at;
        if (k > n)
            k = n;
        if (memcmp(buf, ld->pattern + at, k) != 0)
            return false;
        buf += k, n -= k, off += (int64_t)k;
    }
    return true;
}

/*
 * Reads what is available. The epoll registration is edge-triggered, and
 * Linux signals an edge for every arrival, so reading until EAGAIN is needed
 * only while echoes are outstanding: once every byte sent is back, nothing
 * more can come, and the read that would return EAGAIN is skipped (the
 * client must cost less than the servers it measures).
 */
static void load_read(struct load *ld, struct lconn *c)
{
    unsigned char buf[16384];
    while (c->rcvd < c->sent * ld->msg_size + c->woff) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r < 0 && errno == EAGAIN)
            return;
        if (r < 0)
            die("read");
        if (r == 0) {
            fprintf(stderr, "net --load: the server closed a connection\n");
            exit(1);
        }
        if (!echo_ok(ld, buf, (size_t)r, c->rcvd)) {
            fprintf(stderr, "net --load: echoed bytes differ from those sent\n");
            exit(1);
        }
        c->rcvd += r;
        if (c->rcvd == ld->quota * ld->msg_size)
            ld->pending--;
    }
}

/* Writes messages while the window allows and the socket takes them. */
static void load_write(struct load *ld, struct lconn *c)
{
    while (c->sent < ld->quota && c->sent - c->rcvd / ld->msg_size < ld->window) {
        ssize_t w = write(c->fd, ld->pattern + c->woff, (size_t)(ld->msg_size - c->woff));
        if (w < 0 && errno == EAGAIN)
            return;   /* EPOLLOUT comes when there is room again */
        if (w < 0)
            die("write");
        c->woff += (int)w;
        if (c->woff == ld->msg_size)
            c->woff = 0, c->sent++;
    }
}

/* Runs every connection until each has had quota messages echoed. */
static void load_phase(struct load *ld, int ep, struct lconn *cs, int n, int64_t quota)
{
    ld->quota = quota;
    ld->pending = n;
    for (int i = 0; i < n; i++) {
        cs[i].sent = cs[i].rcvd = 0;
        cs[i].woff = 0;
        load_write(ld, &cs[i]);
    }
    struct epoll_event evs[128];
    while (ld->pending > 0) {
        int k = epoll_wait(ep, evs, 128, 10000);
        if (k == 0) {
            fprintf(stderr, "net --load: no progress for 10 s\n");
            exit(1);
        }
        if (k < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < k; i++) {
            struct lconn *c = evs[i].data.ptr;
            load_read(ld, c);
            load_write(ld, c);
        }
    }
}

static int load_connect(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* as Go's dialer */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int load_main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: net --load <port> <conns> <msg-size> <window> <messages>\n");
        return 2;
    }
    int port = atoi(argv[2]), n = atoi(argv[3]);
    struct load ld = { .msg_size = atoi(argv[4]), .window = atoi(argv[5]) };
    int64_t messages = atoll(argv[6]);
    if (n <= 0 || ld.msg_size <= 0 || ld.msg_size > (int)sizeof ld.pattern || ld.window <= 0 ||
        messages < n) {
        fprintf(stderr, "net --load: bad arguments\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof ld.pattern; i++)
        ld.pattern[i] = (unsigned char)(i * 7 + 1);

    struct lconn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0)
        die("setup");
    for (int i = 0; i < n; i++) {
        cs[i].fd = load_connect(port);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0)
            die("epoll_ctl");
    }
    load_phase(&ld, ep, cs, n, 1);   /* warm-up: every server goroutine exists */
    int64_t quota = messages / n, start = monotonic_ns();
    load_phase(&ld, ep, cs, n, quota);
    int64_t elapsed = monotonic_ns() - start;
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    printf("%lld %lld\n", (long long)elapsed, (long long)(quota * n));
    return 0;
}

/* ==== The server under test, and the driver ==== */

/* Serves one connection: echoes what it reads until the client closes. */
static void echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[SERVER_BUF];
    for (;;) {
        ssize_t n = gort_read(fd, buf, sizeof buf);
        if (n <= 0 || gort_write(fd, buf, (size_t)n) < 0)
            break;
    }
    gort_close(fd);
}

static void accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg, fd;
    while ((fd = gort_accept(lfd, NULL, NULL)) >= 0)
        gort_go(echo, (void *)(intptr_t)fd);
}

/* Reads the load generator's whole output; the pipe is waited on by the
 * netpoller, so the server keeps its P meanwhile. */
static size_t read_output(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r > 0)
            len += (size_t)r;
        else if (r < 0 && errno == EAGAIN)
            gort_poll_fd(fd, GORT_POLL_READ, 0);
        else if (r < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    buf[len] = 0;
    return len;
}

/* Runs the load generator against port for one workload; false if it failed. */
static bool run_load(int port, const struct workload *w, int64_t *elapsed, int64_t *ops)
{
    char a[5][24];
    snprintf(a[0], sizeof a[0], "%d", port);
    snprintf(a[1], sizeof a[1], "%d", w->conns);
    snprintf(a[2], sizeof a[2], "%d", w->msg_size);
    snprintf(a[3], sizeof a[3], "%d", w->window);
    snprintf(a[4], sizeof a[4], "%lld", (long long)scaled(w->messages));
    char *argv[] = { "net", "--load", a[0], a[1], a[2], a[3], a[4], NULL };

    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    pid_t pid;
    extern char **environ;
    int err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    char out[128];
    if (err == 0)
        read_output(p[0], out, sizeof out);
    close(p[0]);
    int status = 0;
    if (err != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "net: the load generator failed (%s)\n", err ? strerror(err) : out);
        return false;
    }
    long long e, o;
    if (sscanf(out, "%lld %lld", &e, &o) != 2 || o <= 0) {
        fprintf(stderr, "net: unexpected load generator output: %s\n", out);
        return false;
    }
    *elapsed = e, *ops = o;
    return true;
}

static void bench_main(void *arg)
{
    gort_gomaxprocs(1);   /* the server's P; the load generator has the other core */
    int lfd = gort_listen("tcp", "127.0.0.1:0");
    int port = lfd < 0 ? lfd : gort_local_port(lfd);
    if (port < 0) {
        fprintf(stderr, "net: listen: %s\n", strerror(-port));
        exit(1);
    }
    gort_go(accept_loop, (void *)(intptr_t)lfd);
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        int64_t elapsed, ops;
        if (!wanted(workloads[i].name))
            continue;
        int64_t cpu = cpu_ns();
        if (!run_load(port, &workloads[i], &elapsed, &ops)) {
            failed = true;
            continue;
        }
        cpu = cpu_ns() - cpu;
        char cpu_name[64];
        snprintf(cpu_name, sizeof cpu_name, "%s_cpu", workloads[i].name);
        report(workloads[i].name, elapsed, ops);
        report(cpu_name, cpu, ops);
    }
    gort_close(lfd);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--load") == 0)
        return load_main(argc, argv);
    bench_args(argc, argv);
    gort_main(bench_main, NULL);
    return failed ? 1 : 0;
}
