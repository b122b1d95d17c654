/*
 * echo_client.c — drives an echo server: N goroutines each dial one
 * connection, send M numbered lines, and check that every line comes back
 * byte for byte. Exits 0 when all do, 1 otherwise.
 *
 * Each connection is a plain sequential loop (write a line, read until the
 * whole line is back); the goroutines run concurrently because each one parks
 * in gort_read while its reply is on the way. A deadline on every connection
 * turns a server that stops answering into a -ETIMEDOUT error, not a hang.
 *
 * Usage: echo_client [address] [connections] [lines]
 *        (defaults: 127.0.0.1:7000, 10 connections, 100 lines each)
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECOND (1000LL * 1000 * 1000)

static const char *address;
static int connections, lines;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic int failures;

/* Reads exactly n bytes (an echo may arrive in pieces): 1, 0 at an early
 * EOF, or -errno. */
static int read_full(int fd, char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = gort_read(fd, buf + got, n - got);
        if (r <= 0)
            return (int)r;
        got += (size_t)r;
    }
    return 1;
}

/* Reports a failed connection; err is -errno, or 0 when there is none. */
static void fail(int id, const char *what, int err)
{
    fprintf(stderr, "echo_client: connection %d: %s%s%s\n", id, what,
            err < 0 ? ": " : "", err < 0 ? strerror(-err) : "");
    atomic_fetch_add(&failures, 1);
}

/* One connection: dial, then send and check `lines` lines. */
static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = gort_dial("tcp", address, gort_nanotime() + 10 * SECOND);
    if (fd < 0) {
        fail(id, "dial", fd);
        goto done;
    }
    gort_set_deadline(fd, gort_nanotime() + 60 * SECOND);  /* for the whole exchange */
    for (int i = 0; i < lines; i++) {
        char line[64], echo[64];
        int len = snprintf(line, sizeof line, "connection %d, line %d\n", id, i);
        ssize_t w = gort_write(fd, line, (size_t)len);
        if (w < 0) {
            fail(id, "write", (int)w);
            break;
        }
        int r = read_full(fd, echo, (size_t)len);
        if (r <= 0) {
            fail(id, r == 0 ? "the server closed the connection early" : "read", r);
            break;
        }
        if (memcmp(line, echo, (size_t)len) != 0) {
            fail(id, "echo differs from what was sent", 0);
            break;
        }
    }
    gort_close(fd);
done:
    gort_waitgroup_done(&wg);
}

static void run(void *arg)
{
    for (int i = 0; i < connections; i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(client, (void *)(intptr_t)i);
    }
    gort_waitgroup_wait(&wg);
    if (atomic_load(&failures) == 0)
        printf("echo_client: %d connections x %d lines echoed intact\n", connections, lines);
}

int main(int argc, char **argv)
{
    address = argc > 1 ? argv[1] : "127.0.0.1:7000";
    connections = argc > 2 ? atoi(argv[2]) : 10;
    lines = argc > 3 ? atoi(argv[3]) : 100;
    if (connections <= 0 || lines <= 0) {
        fprintf(stderr, "usage: echo_client [address] [connections] [lines]\n");
        return 2;
    }
    gort_main(run, NULL);
    return atomic_load(&failures) == 0 ? 0 : 1;
}
