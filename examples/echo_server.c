/*
 * echo_server.c — a TCP echo server with one goroutine per connection, the
 * way a Go server is written:
 *
 *     ln, _ := net.Listen("tcp", addr)
 *     for { c, _ := ln.Accept(); go echo(c) }
 *
 * gort_accept, gort_read and gort_write read like blocking calls, and for the
 * goroutine they are: when there is no connection to accept or no data to
 * read, the goroutine parks and the netpoller (epoll) makes it runnable again
 * once the socket is ready. Meanwhile its thread runs other goroutines, so an
 * idle connection costs one small goroutine stack, not one thread.
 *
 * Errors come back as negative errno values (-ECONNRESET, ...), never through
 * errno: a goroutine may resume on another thread than the one it parked on.
 *
 * Usage: echo_server [address]   (default 127.0.0.1:7000; port 0 picks a free one)
 * Prints "echo_server: listening on <address>" once it accepts connections,
 * then runs until killed. Drive it with examples/echo_client or `nc`.
 */
#include <gort.h>
#include <stdint.h>

#include "listener.h"   /* listen_or_exit, accept_or_exit: shared with http_hello.c */

/* Serves one connection: echoes every byte back until the peer closes. */
static void echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = gort_read(fd, buf, sizeof buf);  /* parks until data, EOF or error */
        if (n <= 0)                                  /* 0: the peer closed; < 0: -errno */
            break;
        if (gort_write(fd, buf, (size_t)n) < 0)      /* writes all n bytes, or fails */
            break;
    }
    gort_close(fd);
}

static void serve(void *arg)
{
    int lfd = listen_or_exit("echo_server", arg);
    for (;;) {
        int fd = accept_or_exit("echo_server", lfd);  /* parks until a client connects */
        gort_go(echo, (void *)(intptr_t)fd);          /* one goroutine per connection */
    }
}

int main(int argc, char **argv)
{
    return gort_main(serve, argc > 1 ? argv[1] : "127.0.0.1:7000");
}
