/*
 * http_hello.c — an HTTP/1.1 server that answers every request with
 * "Hello, World!", one goroutine per connection, as Go's net/http serves.
 *
 * Requests are parsed by a real HTTP parser, Debian's libhttp-parser (the
 * parser Node.js used before llhttp): each connection feeds what it reads to
 * http_parser_execute, which calls on_message_complete once per complete
 * request. Request bodies (Content-Length or chunked) are parsed and ignored.
 *
 * What HTTP/1.1 asks of a server, and where it happens here:
 *   keep-alive   a connection serves request after request until the client
 *                closes it, sends "Connection: close", or speaks HTTP/1.0
 *                without "Connection: keep-alive" (http_should_keep_alive);
 *   pipelining   a client may send several requests without waiting: all
 *                the requests that one read brings in are answered in order,
 *                with one write;
 *   bad input    a request the parser rejects gets "400 Bad Request" and the
 *                connection is closed (the stream can no longer be trusted);
 *   HEAD         gets the headers of a GET without its body.
 *
 * Usage: http_hello [address]   (default 127.0.0.1:8080; port 0 picks a free one)
 * Prints "http_hello: listening on <address>", then runs until killed.
 *   curl -v http://127.0.0.1:8080/        wrk -c50 http://127.0.0.1:8080/
 */
#include <gort.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "listener.h"   /* listen_or_exit, accept_or_exit: shared with echo_server.c */

static const char hello[] = "Hello, World!";

/* Go's answer to a request it cannot parse (net/http's, byte for byte). */
static const char bad_request[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "\r\n"
    "400 Bad Request";

/* One connection: its parser, and the responses not yet written. */
struct conn {
    int fd;
    http_parser parser;
    bool closing;        /* the last request answered asked to close */
    bool write_failed;   /* the client is gone: stop answering */
    size_t outlen;
    char out[4096];
    time_t date_sec;     /* the Date header, formatted once a second */
    char date[40];
};

/* Writes the buffered responses, all of them or none (the client is gone). */
static void flush(struct conn *c)
{
    if (c->outlen > 0 && !c->write_failed && gort_write(c->fd, c->out, c->outlen) < 0)
        c->write_failed = true;
    c->outlen = 0;
}

/* The Date header's value (an HTTP/1.1 server with a clock must send it). */
static const char *http_date(struct conn *c)
{
    time_t now = time(NULL);
    if (now != c->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(c->date, sizeof c->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        c->date_sec = now;
    }
    return c->date;
}

/* Appends the answer to the request the parser just completed. */
static void respond(struct conn *c, bool keep_alive)
{
    const http_parser *p = &c->parser;
    const char *connection = !keep_alive ? "Connection: close\r\n"
                           : p->http_minor == 0 ? "Connection: keep-alive\r\n"  /* HTTP/1.0 */
                           : "";
    const char *body = p->method == HTTP_HEAD ? "" : hello;
    if (sizeof c->out - c->outlen < 256)
        flush(c);   /* room for one more response */
    int n = snprintf(c->out + c->outlen, sizeof c->out - c->outlen,
                     "HTTP/1.1 200 OK\r\n"
                     "Date: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "%s"
                     "\r\n"
                     "%s",
                     http_date(c), sizeof hello - 1, connection, body);
    c->outlen += (size_t)n;
}

/* Called by http_parser_execute at the end of each request. */
static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    bool keep_alive = http_should_keep_alive(p) && !p->upgrade;  /* no protocol upgrades here */
    respond(c, keep_alive);
    if (!keep_alive) {
        c->closing = true;
        http_parser_pause(p, 1);   /* ignore whatever the client sent after it */
    }
    return 0;
}

static const http_parser_settings settings = { .on_message_complete = on_message_complete };

/*
 * Ends a connection the server decided to close (Connection: close, 400):
 * FIN first, then discard what the client still sends, for at most half a
 * second, until it closes too. Closing a socket with unread input makes the
 * kernel send a RST, which can destroy the last answer before the client has
 * read it (net/http's closeWriteAndWait avoids the same).
 */
static void close_gracefully(struct conn *c)
{
    char junk[4096];
    gort_shutdown(c->fd, SHUT_WR);
    gort_set_read_deadline(c->fd, gort_nanotime() + 500 * 1000 * 1000);
    while (gort_read(c->fd, junk, sizeof junk) > 0)
        ;
}

/* Serves one connection until the client closes it or asks to. */
static void serve_conn(void *arg)
{
    struct conn c = { .fd = (int)(intptr_t)arg };
    char in[4096];
    http_parser_init(&c.parser, HTTP_REQUEST);
    c.parser.data = &c;
    while (!c.closing && !c.write_failed) {
        ssize_t n = gort_read(c.fd, in, sizeof in);   /* parks until the client sends */
        if (n <= 0)   /* EOF or error: an unfinished request gets no answer */
            break;
        http_parser_execute(&c.parser, &settings, in, (size_t)n);
        if (!c.closing && HTTP_PARSER_ERRNO(&c.parser) != HPE_OK) {
            flush(&c);   /* the good requests before the bad one are answered */
            if (!c.write_failed)
                gort_write(c.fd, bad_request, sizeof bad_request - 1);
            close_gracefully(&c);
            break;
        }
        flush(&c);
        if (c.closing)
            close_gracefully(&c);
    }
    gort_close(c.fd);
}

static void serve(void *arg)
{
    int lfd = listen_or_exit("http_hello", arg);
    for (;;) {
        int fd = accept_or_exit("http_hello", lfd);
        gort_go(serve_conn, (void *)(intptr_t)fd);
    }
}

int main(int argc, char **argv)
{
    return gort_main(serve, argc > 1 ? argv[1] : "127.0.0.1:8080");
}
