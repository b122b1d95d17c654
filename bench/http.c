/*
 * bench/http.c — HTTP/1.1 "Hello, World!" with keep-alive under wrk; Go
 * twin: bench/go/http.go (net/http).
 *
 * What it measures (two `BENCH` lines from one wrk run):
 *
 *   http_hello  ns per request, 1e9 / (wrk's requests per second);
 *   http_p99    wrk's 99th percentile latency, in ns;
 *   http_cpu    the server process's CPU time (user + system, all threads)
 *               per request: its cost, less sensitive than wall time to other
 *               load on a shared machine (no goal).
 *
 * The server under test is examples/http_hello.c, the program a reader of
 * the examples sees (libhttp-parser, one goroutine per connection), started
 * as a child with GORT_MAXPROCS=1, as the twin runs net/http under
 * runtime.GOMAXPROCS(1). It is found beside this binary as
 * ../examples/http_hello (<builddir>/bench/http, <builddir>/examples/...) or
 * at $BENCH_HTTP_SERVER. The load on both sides is the same command,
 * `wrk -t1 -c50 -d3s --latency http://<address>/` (Debian's wrk, one thread
 * and 50 keep-alive connections; $BENCH_WRK overrides the path): on two
 * cores, the server and wrk get one each. A run with socket errors or non-2xx
 * answers prints no BENCH line and exits 1: a failing server must not look
 * fast.
 *
 * BENCH_SCALE scales wrk's duration (whole seconds, at least 1) on both sides
 * alike. Arguments name the workloads to print (both by default; see bench.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WRK_SECONDS 3

extern char **environ;

/* Spawns argv with its stdout on a pipe; returns the pid, *out the read end. */
static pid_t spawn_piped(char *const argv[], char *const envp[], int *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (err != 0) {
        fprintf(stderr, "http: cannot run %s: %s\n", argv[0], strerror(err));
        close(p[0]);
        return -1;
    }
    *out = p[0];
    return pid;
}

/* Reads fd into buf until EOF, or, with stop_at_newline, the first line. */
static void read_text(int fd, char *buf, size_t cap, bool stop_at_newline)
{
    size_t len = 0;
    ssize_t r;
    while (len < cap - 1 && (r = read(fd, buf + len, stop_at_newline ? 1 : cap - 1 - len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        len += (size_t)r;
        if (stop_at_newline && buf[len - 1] == '\n')
            break;
    }
    buf[len] = 0;
}

/* Starts the server with GORT_MAXPROCS=1 on a free port; returns its pid
 * and, in addr, the address it printed ("http_hello: listening on ..."). */
static pid_t start_server(char *addr, size_t cap)
{
    char path[PATH_MAX + 32], exe[PATH_MAX];
    const char *server = getenv("BENCH_HTTP_SERVER");
    if (!server) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        snprintf(path, sizeof path, "%s/../examples/http_hello", exe);
        server = path;
    }
    /* The environment, with GORT_MAXPROCS=1 in front (getenv finds the first). */
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    envp[0] = "GORT_MAXPROCS=1";
    memcpy(envp + 1, environ, n * sizeof *envp);

    char *argv[] = { (char *)server, "127.0.0.1:0", NULL };
    int out;
    pid_t pid = spawn_piped(argv, envp, &out);
    free(envp);
    if (pid < 0)
        return -1;
    char line[256];
    read_text(out, line, sizeof line, true);
    close(out);   /* the server prints nothing else to stdout */
    const char *at = strstr(line, "listening on ");
    if (!at) {
        fprintf(stderr, "http: %s did not start: %s\n", server, line);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    snprintf(addr, cap, "%.*s", (int)strcspn(at + 13, "\r\n"), at + 13);
    return pid;
}

/* wrk's value with a unit (us, ms, s) in ns; negative if unparseable. */
static double wrk_ns(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    return strncmp(end, "us", 2) == 0 ? v * 1e3 : strncmp(end, "ms", 2) == 0 ? v * 1e6
         : *end == 's' ? v * 1e9 : -1;
}

struct wrk_result {
    double rps, p99;     /* requests per second; 99th percentile, ns */
    long long requests;  /* in all */
};

/* Reads wrk's --latency report; false if the run had errors or the report
 * lacks a figure. */
static bool parse_wrk(const char *out, struct wrk_result *res)
{
    const char *p;
    if ((p = strstr(out, "Socket errors:")) || (p = strstr(out, "Non-2xx or 3xx responses:"))) {
        fprintf(stderr, "http: wrk saw errors: %.*s\n", (int)strcspn(p, "\n"), p);
        return false;
    }
    res->rps = (p = strstr(out, "Requests/sec:")) ? strtod(p + 13, NULL) : 0;
    res->p99 = (p = strstr(out, "\n     99%")) ? wrk_ns(p + 9 + strspn(p + 9, " ")) : -1;
    res->requests = 0;
    if ((p = strstr(out, " requests in "))) {   /* "  667 requests in 1.01s, ..." */
        while (p > out && p[-1] != '\n')
            p--;
        res->requests = strtoll(p, NULL, 10);
    }
    if (res->rps <= 0 || res->p99 <= 0 || res->requests <= 0) {
        fprintf(stderr, "http: cannot read wrk's report:\n%s\n", out);
        return false;
    }
    return true;
}

/* Runs wrk against addr; false if it failed. */
static bool run_wrk(const char *addr, struct wrk_result *res)
{
    char url[160], duration[32];
    snprintf(url, sizeof url, "http://%s/", addr);
    snprintf(duration, sizeof duration, "%llds", (long long)scaled(WRK_SECONDS));
    const char *wrk = getenv("BENCH_WRK") ? getenv("BENCH_WRK") : "wrk";
    char *argv[] = { (char *)wrk, "-t1", "-c50", "-d", duration, "--latency", url, NULL };
    int fd, status;
    pid_t pid = spawn_piped(argv, environ, &fd);
    if (pid < 0)
        return false;
    static char out[16384];
    read_text(fd, out, sizeof out, false);
    close(fd);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "http: wrk failed:\n%s\n", out);
        return false;
    }
    return parse_wrk(out, res);
}

int main(int argc, char **argv)
{
    bench_args(argc, argv);
    if (!wanted("http_hello") && !wanted("http_p99") && !wanted("http_cpu"))
        return 0;
    char addr[128];
    pid_t server = start_server(addr, sizeof addr);
    if (server < 0)
        return 1;
    struct wrk_result res;
    struct rusage ru;
    bool ok = run_wrk(addr, &res);
    kill(server, SIGTERM);
    wait4(server, NULL, 0, &ru);   /* the server's CPU time, its whole life */
    if (!ok)
        return 1;
    int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                  ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    if (wanted("http_hello"))
        report("http_hello", (int64_t)(1e12 / res.rps), 1000);   /* 1e9 / rps, to 0.001 ns */
    if (wanted("http_p99"))
        report("http_p99", (int64_t)res.p99, 1);
    if (wanted("http_cpu"))
        report("http_cpu", cpu, res.requests);
    return 0;
}
