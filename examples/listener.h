/*
 * listener.h — the listening half that examples/echo_server.c and
 * examples/http_hello.c share: open the listener (or exit with a message),
 * say where it listens, and accept with Go's answer to running out of file
 * descriptors (wait a little and keep accepting, as net/http's Server.Serve).
 */
#ifndef GORT_EXAMPLES_LISTENER_H
#define GORT_EXAMPLES_LISTENER_H

#include <gort.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Prints "<prog>: listening on <address>" with the port the listener really
 * got (port 0 asks the kernel for a free one; scripts wait for this line). */
static inline void print_listening(const char *prog, int lfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getsockname(lfd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    printf(ss.ss_family == AF_INET6 ? "%s: listening on [%s]:%s\n" : "%s: listening on %s:%s\n",
           prog, host, port);
    fflush(stdout);
}

/* Opens a TCP listener on address ("127.0.0.1:7000", "[::1]:0") or exits. */
static inline int listen_or_exit(const char *prog, const char *address)
{
    int lfd = gort_listen("tcp", address);
    if (lfd < 0) {
        fprintf(stderr, "%s: listen %s: %s\n", prog, address, strerror(-lfd));
        exit(1);
    }
    print_listening(prog, lfd);
    return lfd;
}

/* Accepts the next connection; parks until one arrives. Out of descriptors or
 * memory, it waits 10 ms for connections to close and tries again; any other
 * error ends the program. */
static inline int accept_or_exit(const char *prog, int lfd)
{
    for (;;) {
        int fd = gort_accept(lfd, NULL, NULL);
        if (fd >= 0)
            return fd;
        if (fd != -EMFILE && fd != -ENFILE && fd != -ENOBUFS && fd != -ENOMEM) {
            fprintf(stderr, "%s: accept: %s\n", prog, strerror(-fd));
            exit(1);
        }
        fprintf(stderr, "%s: accept: %s; retrying\n", prog, strerror(-fd));
        gort_sleep(10 * 1000 * 1000);
    }
}

#endif
