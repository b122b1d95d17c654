/*
 * test_net.c — the netpoller and the network API (netpoll.c, net.c):
 * an echo server with many concurrent connections, every byte checked;
 * deadlines on read, write, accept and dial; close while another
 * goroutine is blocked reading; half-close; UDP; Unix sockets;
 * gort_poll_fd on fds gort did not make; reads that skip the system call
 * after one left the queue empty (urgent data, a poll that took the edge,
 * streams of odd sizes); and every bad input: unknown
 * network, malformed and unresolvable addresses, fds not from gort, double
 * close, read after close, EMFILE on accept, a peer resetting mid-write;
 * sysmon's poll seen by the deadlock check. Bodies run with 1 P and 2 Ps. Only loopback addresses are used.
 */
#include "testutil.h"
#include "runtime.h"     /* netpollStaleTestGap, getg */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int64_t after(int64_t ns) { return gort_nanotime() + ns; }

/* A listener on 127.0.0.1, port chosen by the kernel; *addr says where. */
static int listen_local(const char *network, char addr[64])
{
    int lfd = gort_listen(network, "127.0.0.1:0");
    assert_true(lfd >= 0);
    int port = gort_local_port(lfd);
    assert_true(port > 0);
    snprintf(addr, 64, "127.0.0.1:%d", port);
    return lfd;
}

/* Reads exactly n bytes (or fails the test). */
static void read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = gort_read(fd, (char *)buf + got, n - got);
        if (k <= 0)
            fail_msg("read_full: %zd after %zu of %zu bytes", k, got, n);
        got += (size_t)k;
    }
}

/* A connected pair over TCP loopback: *a dialed, *b accepted. */
static void tcp_pair(int *a, int *b)
{
    char addr[64];
    int lfd = listen_local("tcp", addr);
    *a = gort_dial("tcp", addr, 0);
    assert_true(*a >= 0);
    *b = gort_accept(lfd, NULL, NULL);
    assert_true(*b >= 0);
    assert_int_equal(gort_close(lfd), 0);
}

/* ---- Echo: many connections, every byte checked ---------------------------------- */

struct echosrv { int lfd; gort_waitgroup wg; _Atomic int conns; };

static void echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = gort_read(fd, buf, sizeof buf)) > 0)
        assert_int_equal(gort_write(fd, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    assert_int_equal(gort_close(fd), 0);
}

/* Accepts until the listener is closed (-EBADF), one goroutine per connection. */
static void echo_accept(void *arg)
{
    struct echosrv *s = arg;
    int fd;
    while ((fd = gort_accept(s->lfd, NULL, NULL)) >= 0) {
        atomic_fetch_add(&s->conns, 1);
        gort_go(echo_conn, (void *)(intptr_t)fd);
    }
    assert_int_equal(fd, -EBADF);
    gort_waitgroup_done(&s->wg);
}

struct echocli { const char *addr; int id, rounds; gort_waitgroup *wg; };

static void echo_client(void *arg)
{
    struct echocli *c = arg;
    int fd = gort_dial("tcp", c->addr, 0);
    if (fd < 0)
        fail_msg("dial: %d", fd);
    unsigned char out[512], in[512];
    for (int r = 0; r < c->rounds; r++) {
        size_t n = 1 + (size_t)((c->id * 31 + r * 17) % (int)sizeof out);
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)(c->id + r * 7 + i);
        assert_int_equal(gort_write(fd, out, n), (ssize_t)n);
        read_full(fd, in, n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(gort_close(fd), 0);
    gort_waitgroup_done(c->wg);
}

static void echo_body(void *arg)
{
    int nconn = scaled(1000), rounds = scaled(100);
    char addr[64];
    struct echosrv s = { .wg = GORT_WAITGROUP_INIT };
    s.lfd = listen_local("tcp", addr);
    gort_waitgroup_add(&s.wg, 1);
    gort_go(echo_accept, &s);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct echocli *cs = calloc((size_t)nconn, sizeof *cs);
    gort_waitgroup_add(&wg, nconn);
    for (int i = 0; i < nconn; i++) {
        cs[i] = (struct echocli){ addr, i, rounds, &wg };
        gort_go(echo_client, &cs[i]);
    }
    gort_waitgroup_wait(&wg);
    assert_int_equal(atomic_load(&s.conns), nconn);
    assert_int_equal(gort_close(s.lfd), 0);
    gort_waitgroup_wait(&s.wg);             /* the accept loop saw the close */
    free(cs);
}
BOTH(echo)

/* ---- Close while another goroutine is blocked ------------------------------------ */

struct blocked { int fd; _Atomic ssize_t result; gort_waitgroup wg; };

static void blocked_read(void *arg)
{
    struct blocked *b = arg;
    char c;
    atomic_store(&b->result, gort_read(b->fd, &c, 1));
    gort_waitgroup_done(&b->wg);
}

static void blocked_accept(void *arg)
{
    struct blocked *b = arg;
    atomic_store(&b->result, gort_accept(b->fd, NULL, NULL));
    gort_waitgroup_done(&b->wg);
}

/* Starts fn(b) and gives it time to park (the outcome is the same if it
 * has not parked yet: the fd is closed either way). */
static void start_blocked(struct blocked *b, void (*fn)(void *))
{
    atomic_store(&b->result, 1);
    gort_waitgroup_add(&b->wg, 1);
    gort_go(fn, b);
    gort_sleep(20 * GORT_MILLISECOND);
}

static void close_blocked_body(void *arg)
{
    int a, c;
    tcp_pair(&a, &c);
    struct blocked b = { .fd = a, .wg = GORT_WAITGROUP_INIT };
    start_blocked(&b, blocked_read);
    assert_int_equal(atomic_load(&b.result), 1);    /* still blocked: nothing to read */
    assert_int_equal(gort_close(a), 0);
    gort_waitgroup_wait(&b.wg);
    assert_int_equal(atomic_load(&b.result), -EBADF);
    /* The peer sees the connection closed once the reader has let go. */
    char ch;
    assert_int_equal(gort_read(c, &ch, 1), 0);
    assert_int_equal(gort_close(c), 0);

    char addr[64];
    b.fd = listen_local("tcp", addr);
    start_blocked(&b, blocked_accept);
    assert_int_equal(gort_close(b.fd), 0);
    gort_waitgroup_wait(&b.wg);
    assert_int_equal(atomic_load(&b.result), -EBADF);
}
BOTH(close_blocked)

/* ---- Deadlines --------------------------------------------------------------------- */

static void read_deadline_body(void *arg)
{
    int a, c;
    char ch = 'x';
    tcp_pair(&a, &c);
    assert_int_equal(gort_set_read_deadline(a, after(30 * GORT_MILLISECOND)), 0);
    assert_int_equal(gort_read(a, &ch, 1), -ETIMEDOUT);
    /* Sticky, even with data to read, until the deadline moves. */
    assert_int_equal(gort_write(c, "y", 1), 1);
    assert_int_equal(gort_read(a, &ch, 1), -ETIMEDOUT);
    assert_int_equal(gort_set_read_deadline(a, 0), 0);
    assert_int_equal(gort_read(a, &ch, 1), 1);
    assert_int_equal(ch, 'y');
    /* Writes are not affected by a read deadline. */
    assert_int_equal(gort_set_read_deadline(a, after(-1)), 0);
    assert_int_equal(gort_write(a, "z", 1), 1);
    assert_int_equal(gort_read(a, &ch, 1), -ETIMEDOUT);

    /* A deadline moved into the past wakes a blocked reader. */
    assert_int_equal(gort_set_deadline(a, 0), 0);
    struct blocked b = { .fd = a, .wg = GORT_WAITGROUP_INIT };
    start_blocked(&b, blocked_read);
    assert_int_equal(gort_set_deadline(a, after(-GORT_SECOND)), 0);
    gort_waitgroup_wait(&b.wg);
    assert_int_equal(atomic_load(&b.result), -ETIMEDOUT);
    /* A deadline moved later lets a blocked reader wait for data. */
    assert_int_equal(gort_set_deadline(a, after(20 * GORT_MILLISECOND)), 0);
    assert_int_equal(gort_set_deadline(a, after(60 * GORT_SECOND)), 0);
    start_blocked(&b, blocked_read);
    gort_sleep(30 * GORT_MILLISECOND);
    assert_int_equal(atomic_load(&b.result), 1);    /* not woken by the old deadline */
    assert_int_equal(gort_write(c, "w", 1), 1);
    gort_waitgroup_wait(&b.wg);
    assert_int_equal(atomic_load(&b.result), 1);
    assert_int_equal(gort_close(a), 0);
    assert_int_equal(gort_close(c), 0);
}
BOTH(read_deadline)

static void write_deadline_body(void *arg)
{
    int a, c;
    tcp_pair(&a, &c);
    size_t big = 64 << 20;              /* far more than the socket buffers hold */
    char *buf = calloc(1, big);
    assert_int_equal(gort_set_write_deadline(a, after(50 * GORT_MILLISECOND)), 0);
    assert_int_equal(gort_write(a, buf, big), -ETIMEDOUT);
    assert_int_equal(gort_write(a, buf, 1), -ETIMEDOUT);
    char ch;
    assert_int_equal(gort_write(c, "r", 1), 1);
    assert_int_equal(gort_read(a, &ch, 1), 1);       /* reads are not affected */
    free(buf);
    assert_int_equal(gort_close(a), 0);
    assert_int_equal(gort_close(c), 0);
}
BOTH(write_deadline)

static void accept_deadline_body(void *arg)
{
    char addr[64];
    int lfd = listen_local("tcp", addr);
    assert_int_equal(gort_set_deadline(lfd, after(30 * GORT_MILLISECOND)), 0);
    assert_int_equal(gort_accept(lfd, NULL, NULL), -ETIMEDOUT);
    assert_int_equal(gort_set_deadline(lfd, 0), 0);
    int c = gort_dial("tcp", addr, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int s = gort_accept(lfd, (struct sockaddr *)&sa, &len);
    assert_true(s >= 0);
    assert_int_equal(sa.sin_family, AF_INET);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
    gort_close(s);
    gort_close(c);
    gort_close(lfd);
}
BOTH(accept_deadline)

/* A listener with a full accept queue drops SYNs, so a dial to it hangs
 * until its deadline. */
static void dial_deadline_body(void *arg)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    int fds[16], n = 0, r = 0;
    while (n < 16 && (r = gort_dial("tcp", addr, after(100 * GORT_MILLISECOND))) >= 0)
        fds[n++] = r;
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(n >= 1);
    /* A deadline already past fails at once. */
    assert_int_equal(gort_dial("tcp", addr, after(-1)), -ETIMEDOUT);
    while (n > 0)
        gort_close(fds[--n]);
    close(lfd);
}
BOTH(dial_deadline)

/* ---- Half-close, UDP, Unix sockets ---------------------------------------------------- */

static void half_close_body(void *arg)
{
    int a, c;
    char buf[16];
    tcp_pair(&a, &c);
    assert_int_equal(gort_write(a, "hello", 5), 5);
    assert_int_equal(gort_shutdown(a, SHUT_WR), 0);
    read_full(c, buf, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(gort_read(c, buf, sizeof buf), 0);      /* EOF: a closed its side */
    assert_int_equal(gort_write(c, "bye", 3), 3);            /* c can still send */
    assert_int_equal(gort_close(c), 0);
    read_full(a, buf, 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(gort_read(a, buf, sizeof buf), 0);
    assert_int_equal(gort_write(a, "x", 1), -EPIPE);         /* shut down for writing */
    assert_int_equal(gort_close(a), 0);
}
BOTH(half_close)

static void udp_server(void *arg)
{
    int fd = *(int *)arg;
    char buf[64];
    struct sockaddr_storage from;
    for (int i = 0; i < 3; i++) {
        socklen_t len = sizeof from;
        ssize_t n = gort_recvfrom(fd, buf, sizeof buf, (struct sockaddr *)&from, &len);
        assert_true(n > 0);
        assert_int_equal(gort_sendto(fd, buf, (size_t)n, (struct sockaddr *)&from, len), n);
    }
}

static void udp_body(void *arg)
{
    char addr[64];
    int sfd = listen_local("udp", addr);
    gort_go(udp_server, &sfd);
    int c = gort_dial("udp", addr, 0);
    assert_true(c >= 0);
    char buf[64];
    const char *msgs[3] = { "one", "datagram two", "3" };
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(msgs[i]);
        assert_int_equal(gort_write(c, msgs[i], n), (ssize_t)n);
        assert_int_equal(gort_read(c, buf, sizeof buf), (ssize_t)n);   /* one datagram each */
        assert_memory_equal(buf, msgs[i], n);
    }
    assert_int_equal(gort_set_read_deadline(c, after(20 * GORT_MILLISECOND)), 0);
    assert_int_equal(gort_recvfrom(c, buf, sizeof buf, NULL, NULL), -ETIMEDOUT);
    gort_close(c);
    gort_close(sfd);
}
BOTH(udp)

static void unix_echo(const char *path)
{
    struct echosrv s = { .wg = GORT_WAITGROUP_INIT };
    s.lfd = gort_listen("unix", path);
    assert_true(s.lfd >= 0);
    gort_waitgroup_add(&s.wg, 1);
    gort_go(echo_accept, &s);
    int fd = gort_dial("unix", path, 0);
    assert_true(fd >= 0);
    char buf[100000], back[sizeof buf];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 13);
    assert_int_equal(gort_write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    read_full(fd, back, sizeof back);
    assert_memory_equal(buf, back, sizeof buf);
    gort_close(fd);
    gort_close(s.lfd);
    gort_waitgroup_wait(&s.wg);
}

static void unix_body(void *arg)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/gort-test-net-%d.sock", (int)getpid());
    unlink(path);
    unix_echo(path);
    assert_int_equal(gort_listen("unix", path), -EADDRINUSE);   /* the file stays */
    unlink(path);
    snprintf(path, sizeof path, "@gort-test-net-%d", (int)getpid());
    unix_echo(path);
}
BOTH(unix)

/* ---- A busy P still hears the network -------------------------------------------------- */

struct spinner { _Atomic bool stop; _Atomic long spins; gort_waitgroup done; };

static void spin_yield(void *arg)
{
    struct spinner *s = arg;
    while (!atomic_load(&s->stop)) {
        atomic_fetch_add(&s->spins, 1);
        gort_yield();
    }
    gort_waitgroup_done(&s->done);
}

static void *late_writer(void *arg)
{
    usleep(20000);
    return write(*(int *)arg, "!", 1) == 1 ? NULL : arg;
}

/* Regression: with one P kept busy by a goroutine that yields forever, the
 * P never ran out of work, nobody polled, and a goroutine whose data had
 * arrived stayed parked for good. */
static void busy_p_poll_body(void *arg)
{
    int a, b;
    tcp_pair(&a, &b);
    struct spinner s = { false, 0, GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&s.done, 1);
    gort_go(spin_yield, &s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_writer, &a), 0);  /* a plain thread writes */
    char c;
    assert_int_equal(gort_read(b, &c, 1), 1);
    atomic_store(&s.stop, true);
    assert_true(atomic_load(&s.spins) > 0);     /* the spinner did run meanwhile */
    gort_waitgroup_wait(&s.done);               /* s lives on this stack */
    pthread_join(th, NULL);
    gort_close(a);
    gort_close(b);
}
BOTH(busy_p_poll)

/* ---- Vectored I/O, IPv6, names -------------------------------------------------------- */

struct vreader { int fd; unsigned char *buf; size_t n, split; gort_waitgroup wg; };

/* Reads r->n bytes with readv into two buffers: [0, split) and [split, n). */
static void vreader_main(void *arg)
{
    struct vreader *r = arg;
    size_t got = 0;
    while (got < r->n) {
        struct iovec v[2];
        int cnt = 0;
        if (got < r->split)
            v[cnt++] = (struct iovec){ r->buf + got, r->split - got };
        size_t from = got > r->split ? got : r->split;
        v[cnt++] = (struct iovec){ r->buf + from, r->n - from };
        ssize_t k = gort_readv(r->fd, v, cnt);
        if (k <= 0)
            fail_msg("readv: %zd after %zu of %zu bytes", k, got, r->n);
        got += (size_t)k;
    }
    gort_waitgroup_done(&r->wg);
}

/* writev sends all of several buffers, one far larger than the socket
 * buffers, so it parks and resumes in the middle of the array; readv
 * fills two buffers. Every byte is checked. */
static void vectored_body(void *arg)
{
    int a, b;
    tcp_pair(&a, &b);
    size_t big = 8 << 20, n = 3 + big + 5;
    unsigned char *src = malloc(big), *want = malloc(n);
    for (size_t i = 0; i < big; i++)
        src[i] = (unsigned char)(i * 7 + 1);
    struct iovec iov[4] = { { "abc", 3 }, { NULL, 0 }, { src, big }, { "defgh", 5 } };
    memcpy(want, "abc", 3);
    memcpy(want + 3, src, big);
    memcpy(want + 3 + big, "defgh", 5);
    struct vreader r = { b, calloc(1, n), n, 7, GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&r.wg, 1);
    gort_go(vreader_main, &r);
    assert_int_equal(gort_writev(a, iov, 4), (ssize_t)n);
    gort_waitgroup_wait(&r.wg);
    assert_memory_equal(r.buf, want, n);
    assert_int_equal(gort_writev(a, iov, 0), 0);
    free(src);
    free(want);
    free(r.buf);
    gort_close(a);
    gort_close(b);
}
BOTH(vectored)

/* IPv6 loopback, a dual-stack listener, and a name that resolves
 * ("localhost", on the resolver thread). Skipped without IPv6. */
static void ipv6_names_body(void *arg)
{
    char addr[64];
    int lfd = gort_listen("tcp", ":0");               /* [::], dual-stack */
    assert_true(lfd >= 0);
    int port = gort_local_port(lfd);
    const char *dials[3] = { "127.0.0.1:%d", "localhost:%d", "[::1]:%d" };
    int ndial = 2;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    if (probe >= 0) {
        ndial = 3;
        close(probe);
    }
    for (int i = 0; i < ndial; i++) {
        snprintf(addr, sizeof addr, dials[i], port);
        int c = gort_dial("tcp", addr, after(10 * GORT_SECOND));
        if (c < 0)
            fail_msg("dial %s: %d", addr, c);
        int s = gort_accept(lfd, NULL, NULL);
        assert_true(s >= 0);
        assert_int_equal(gort_write(c, "6", 1), 1);
        char ch;
        assert_int_equal(gort_read(s, &ch, 1), 1);
        gort_close(s);
        gort_close(c);
    }
    gort_close(lfd);
    if (ndial == 3) {
        lfd = gort_listen("tcp6", "[::1]:0");
        assert_true(lfd >= 0);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", gort_local_port(lfd));
        assert_int_equal(gort_dial("tcp4", addr, 0), -ECONNREFUSED);   /* v6 only */
        gort_close(lfd);
    }
    lfd = gort_listen("tcp", "localhost:0");           /* a name: IPv4 first, as Go */
    assert_true(lfd >= 0);
    gort_close(lfd);
}
BOTH(ipv6_names)

/* ---- Drained receive queues (netpoll.c: a read that left nothing parks next) ---- */

/* Waits until the peer of fd has acknowledged every byte fd sent: they
 * are all in its receive queue (FIONREAD there stops at an urgent mark). */
static void wait_acked(int fd)
{
    int q = 0;
    while (ioctl(fd, TIOCOUTQ, &q) == 0 && q > 0)     /* SIOCOUTQ: bytes not yet acked */
        gort_sleep(GORT_MILLISECOND);
}

/* Consumes every read edge the poller has for fd, so that the next read
 * can count on none. */
static void eat_read_edges(int fd)
{
    while (gort_poll_fd(fd, GORT_POLL_READ, after(20 * GORT_MILLISECOND)) == GORT_POLL_READ)
        ;
}

/* A read stops short at TCP's urgent mark with bytes still queued, and no
 * edge will come for them: the next read must ask the kernel. (A short
 * read proves nothing; TCP_INQ's count of what is left does.) */
static void drained_urgent_mark_body(void *arg)
{
    int a, b;
    char buf[64];
    tcp_pair(&a, &b);
    assert_int_equal(send(a, "abcd", 4, MSG_OOB), 4);   /* 'd' is urgent, out of band */
    assert_int_equal(gort_write(a, "efgh", 4), 4);
    wait_acked(a);
    eat_read_edges(b);
    assert_int_equal(gort_set_read_deadline(b, after(10 * GORT_SECOND)), 0);
    size_t got = 0;
    while (got < 7) {
        ssize_t k = gort_read(b, buf + got, sizeof buf - got);
        if (k <= 0)
            fail_msg("read: %zd after %zu bytes", k, got);
        got += (size_t)k;
    }
    assert_memory_equal(buf, "abcefgh", 7);
    gort_close(a);
    gort_close(b);
}
BOTH(drained_urgent_mark)

/* gort_poll_fd consumes the edge of data that arrived after a read left
 * the queue empty: the read after it must try the call, not wait for an
 * edge that was already taken. A read of 0 bytes never waits. */
static void drained_poll_fd_body(void *arg)
{
    int a, b;
    char buf[8];
    tcp_pair(&a, &b);
    assert_int_equal(gort_set_read_deadline(b, after(10 * GORT_SECOND)), 0);
    assert_int_equal(gort_write(a, "x", 1), 1);
    assert_int_equal(gort_read(b, buf, sizeof buf), 1);      /* left nothing queued */
    assert_int_equal(gort_write(a, "y", 1), 1);
    wait_acked(a);
    assert_int_equal(gort_poll_fd(b, GORT_POLL_READ, after(10 * GORT_SECOND)), GORT_POLL_READ);
    eat_read_edges(b);
    assert_int_equal(gort_read(b, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'y');
    assert_int_equal(gort_read(b, buf, 0), 0);
    /* Shutting our side for reading wakes the next read with EOF. */
    assert_int_equal(gort_shutdown(b, SHUT_RD), 0);
    assert_int_equal(gort_read(b, buf, sizeof buf), 0);
    gort_close(a);
    gort_close(b);
}
BOTH(drained_poll_fd)

/* Regression (test_drained_stream_2p hung under TSan): the peer's FIN came
 * with its last bytes, the read that took them came back short, and the
 * read after it skipped the kernel and waited for an edge that never came,
 * instead of returning the end of the stream. */
static void drained_eof_body(void *arg)
{
    int a, b;
    char buf[64];
    tcp_pair(&a, &b);
    assert_int_equal(gort_write(a, "abc", 3), 3);
    assert_int_equal(gort_shutdown(a, SHUT_WR), 0);
    wait_acked(a);
    eat_read_edges(b);
    assert_int_equal(gort_set_read_deadline(b, after(10 * GORT_SECOND)), 0);
    assert_int_equal(gort_read(b, buf, sizeof buf), 3);
    assert_int_equal(gort_read(b, buf, sizeof buf), 0);
    gort_close(a);
    gort_close(b);
}
BOTH(drained_eof)

/* Streams of odd-sized writes read with odd-sized buffers, many pairs at
 * once: reads empty the queue at every moment the writers make possible,
 * with 2 Ps while the other P polls. Every byte is checked. */
struct dstream { int fd, id, chunks; gort_waitgroup *wg; };

static unsigned char dstream_byte(int id, size_t off) { return (unsigned char)(id * 13 + off * 7 + off / 251); }

static void dstream_writer(void *arg)
{
    struct dstream *d = arg;
    unsigned char buf[700];
    size_t off = 0;
    for (int i = 0; i < d->chunks; i++) {
        size_t n = 1 + (size_t)((d->id * 97 + i * 31) % (int)sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = dstream_byte(d->id, off + k);
        assert_int_equal(gort_write(d->fd, buf, n), (ssize_t)n);
        off += n;
        if (i % 3 == 0)
            gort_yield();
    }
    assert_int_equal(gort_shutdown(d->fd, SHUT_WR), 0);
    gort_waitgroup_done(d->wg);
}

static void dstream_reader(void *arg)
{
    struct dstream *d = arg;
    unsigned char buf[1024];
    size_t off = 0;
    ssize_t k;
    for (int i = 0; (k = gort_read(d->fd, buf, 1 + (size_t)((d->id + i * 53) % (int)sizeof buf))) > 0; i++)
        for (ssize_t j = 0; j < k; j++, off++)
            if (buf[j] != dstream_byte(d->id, off))
                fail_msg("stream %d: byte %zu differs", d->id, off);
    assert_int_equal(k, 0);
    size_t want = 0;
    for (int i = 0; i < d->chunks; i++)
        want += 1 + (size_t)((d->id * 97 + i * 31) % 700);
    assert_int_equal(off, want);
    gort_waitgroup_done(d->wg);
}

static void drained_stream_body(void *arg)
{
    int pairs = 32, chunks = scaled(400);
    struct dstream *w = calloc((size_t)pairs, sizeof *w), *r = calloc((size_t)pairs, sizeof *r);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 2 * pairs);
    for (int i = 0; i < pairs; i++) {
        int a, b;
        tcp_pair(&a, &b);
        w[i] = (struct dstream){ a, i, chunks, &wg };
        r[i] = (struct dstream){ b, i, chunks, &wg };
        gort_go(dstream_reader, &r[i]);
        gort_go(dstream_writer, &w[i]);
    }
    gort_waitgroup_wait(&wg);
    for (int i = 0; i < pairs; i++) {
        gort_close(w[i].fd);
        gort_close(r[i].fd);
    }
    free(w);
    free(r);
}
BOTH(drained_stream)

/* ---- gort_poll_fd on fds gort did not make ---------------------------------------------- */

struct pipewriter { int fd; int64_t delay; gort_waitgroup wg; };

static void pipe_writer(void *arg)
{
    struct pipewriter *w = arg;
    gort_sleep(w->delay);
    assert_int_equal(write(w->fd, "p", 1), 1);
    gort_waitgroup_done(&w->wg);
}

/* Starts a pipe_writer; w->wg counts the ones not finished. */
static void pipe_start(struct pipewriter *w)
{
    gort_waitgroup_add(&w->wg, 1);
    gort_go(pipe_writer, w);
}

static void poll_fd_body(void *arg)
{
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    struct pipewriter w = { p[1], 10 * GORT_MILLISECOND, GORT_WAITGROUP_INIT };
    for (int round = 0; round < 3; round++) {
        pipe_start(&w);
        char c;
        int r;
        while ((r = (int)read(p[0], &c, 1)) < 0 && errno == EAGAIN)
            assert_true(gort_poll_fd(p[0], GORT_POLL_READ, 0) > 0);
        assert_int_equal(r, 1);
    }
    assert_int_equal(gort_poll_fd(p[0], GORT_POLL_READ, after(20 * GORT_MILLISECOND)), -ETIMEDOUT);
    /* Both directions at once: the write end is writable. */
    assert_int_equal(gort_poll_fd(p[1], GORT_POLL_READ | GORT_POLL_WRITE, 0), GORT_POLL_WRITE);
    /* Both, waiting: the read end becomes readable. */
    pipe_start(&w);
    assert_int_equal(gort_poll_fd(p[0], GORT_POLL_READ | GORT_POLL_WRITE, after(10 * GORT_SECOND)),
                     GORT_POLL_READ);
    assert_int_equal(gort_poll_fd(p[0], 0, 0), -EINVAL);
    /* The last writer is past its write but maybe not back from it: close
     * only once it has finished (TSan saw the race; the wakeup through the
     * kernel gives it no happens-before edge). */
    gort_waitgroup_wait(&w.wg);
    close(p[0]);
    close(p[1]);
    assert_int_equal(gort_poll_fd(p[0], GORT_POLL_READ, 0), -EBADF);
}
BOTH(poll_fd)

/* ---- Bad input ------------------------------------------------------------------------------ */

static void bad_input_body(void *arg)
{
    assert_int_equal(gort_listen("tcpx", ":0"), -EPROTONOSUPPORT);
    assert_int_equal(gort_dial(NULL, "127.0.0.1:1", 0), -EPROTONOSUPPORT);
    assert_int_equal(gort_listen("tcp", NULL), -EINVAL);
    assert_int_equal(gort_listen("tcp", "127.0.0.1"), -EINVAL);          /* no port */
    assert_int_equal(gort_listen("tcp", "127.0.0.1:65536"), -EINVAL);
    assert_int_equal(gort_dial("tcp", "::1:80", 0), -EINVAL);            /* v6 needs [] */
    assert_int_equal(gort_dial("tcp", "[::1:80", 0), -EINVAL);
    assert_int_equal(gort_dial("tcp", "[::1]x:80", 0), -EINVAL);
    assert_int_equal(gort_dial("tcp", "127.0.0.1:no-such-service", 0), -EINVAL);
    assert_int_equal(gort_dial("tcp", "no-such-host.invalid:80", 0), -EHOSTUNREACH);
    assert_int_equal(gort_listen("unix", ""), -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(gort_listen("unix", longpath), -ENAMETOOLONG);

    /* A port nobody listens on. */
    char addr[64];
    int lfd = listen_local("tcp", addr);
    gort_close(lfd);
    assert_int_equal(gort_dial("tcp", addr, 0), -ECONNREFUSED);

    /* fds gort did not make, closed fds, double close. */
    int p[2];
    char c;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(gort_read(p[0], &c, 1), -EBADF);
    assert_int_equal(gort_write(p[1], "x", 1), -EBADF);
    assert_int_equal(gort_close(p[0]), -EBADF);
    assert_int_equal(fcntl(p[0], F_GETFD), 0);              /* and left open */
    close(p[0]);
    close(p[1]);
    assert_int_equal(gort_read(-1, &c, 1), -EBADF);
    assert_int_equal(gort_read(1 << 30, &c, 1), -EBADF);
    assert_int_equal(gort_set_deadline(p[0], 0), -EBADF);
    int a, b;
    tcp_pair(&a, &b);
    assert_int_equal(gort_close(a), 0);
    assert_int_equal(gort_close(a), -EBADF);
    assert_int_equal(gort_read(a, &c, 1), -EBADF);
    assert_int_equal(gort_write(a, "x", 1), -EBADF);
    assert_int_equal(gort_accept(a, NULL, NULL), -EBADF);
    assert_int_equal(gort_shutdown(a, SHUT_RDWR), -EBADF);
    assert_int_equal(gort_close(b), 0);
    struct iovec iov = { &c, 1 };
    assert_int_equal(gort_writev(b, &iov, -1), -EINVAL);
}
BOTH(bad_input)

/* Regression: a service name with no host (":name") went to the resolver
 * thread with a NULL host, and the copy of that host crashed. */
static void listen_service_no_host_body(void *arg)
{
    assert_int_equal(gort_listen("tcp", ":no-such-service"), -EINVAL);
    assert_int_equal(gort_dial("tcp", ":no-such-service", 0), -EINVAL);
}
BOTH(listen_service_no_host)

/* EMFILE: accept reports it, and the listener keeps working. */
static void emfile_body(void *arg)
{
    char addr[64];
    int lfd = listen_local("tcp", addr);
    int c = gort_dial("tcp", addr, 0);
    assert_true(c >= 0);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0);                /* fds are allocated lowest first */
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest;      /* every fd below is taken: none can be made */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int r = gort_accept(lfd, NULL, NULL);
    int r2 = gort_accept(lfd, NULL, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(r, -EMFILE);
    assert_int_equal(r2, -EMFILE);
    int s = gort_accept(lfd, NULL, NULL);      /* the same connection, now */
    assert_true(s >= 0);
    assert_int_equal(gort_write(c, "k", 1), 1);
    char ch;
    assert_int_equal(gort_read(s, &ch, 1), 1);
    gort_close(s);
    gort_close(c);
    gort_close(lfd);
}
BOTH(emfile)

/* A peer that resets the connection while we write: -ECONNRESET or -EPIPE,
 * and no SIGPIPE (left at its default action, which would kill us). */
static void reset_body(void *arg)
{
    signal(SIGPIPE, SIG_DFL);
    int a, b;
    tcp_pair(&a, &b);
    char buf[65536];
    memset(buf, 'r', sizeof buf);
    assert_int_equal(gort_write(a, buf, sizeof buf), (ssize_t)sizeof buf);
    /* b closes with unread data: the kernel answers with a reset. */
    assert_int_equal(gort_close(b), 0);
    ssize_t r;
    int n = 0;
    while ((r = gort_write(a, buf, sizeof buf)) > 0)
        assert_true(++n < 10000);
    assert_true(r == -ECONNRESET || r == -EPIPE);
    r = gort_write(a, buf, sizeof buf);
    assert_true(r == -ECONNRESET || r == -EPIPE);
    gort_close(a);
}
BOTH(reset)

/* ---- A thread that is not a goroutine ---------------------------------------------------------- */

struct threadio { int fd; _Atomic ssize_t r1, r2; };

static void *thread_reader(void *arg)
{
    struct threadio *t = arg;
    char c;
    t->r1 = gort_read(t->fd, &c, 1);
    gort_set_read_deadline(t->fd, gort_nanotime() + 20 * GORT_MILLISECOND);
    t->r2 = gort_read(t->fd, &c, 1);
    return NULL;
}

static void thread_body(void *arg)
{
    int a, b;
    tcp_pair(&a, &b);
    struct threadio t = { .fd = a };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_reader, &t), 0);
    gort_sleep(10 * GORT_MILLISECOND);
    assert_int_equal(gort_write(b, "t", 1), 1);
    while (atomic_load(&t.r2) == 0)
        gort_sleep(GORT_MILLISECOND);
    pthread_join(th, NULL);
    assert_int_equal(t.r1, 1);
    assert_int_equal(t.r2, -ETIMEDOUT);
    gort_close(a);
    gort_close(b);
}
BOTH(thread)

/* ---- sysmon's poll and the deadlock check --------------------------------------------- */

static _Atomic int staleGaps;    /* sysmon's polls held open by stale_gap */

/* Holds sysmon between taking a G from the network and queueing it. An M
 * polling there (findRunnable) counts as running anyway: not this test. */
static void stale_gap(void)
{
    if (getg() != NULL)
        return;
    atomic_fetch_add(&staleGaps, 1);
    usleep(50000);
}

struct stalereader { int fd; gort_chan *done; };

static void stale_reader(void *arg)
{
    struct stalereader *r = arg;
    char c;
    assert_int_equal(gort_read(r->fd, &c, 1), 1);
    send_int(r->done, 1);
}

static void spin_without_runtime(int64_t ns)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < ns);
}

/* Regression: sysmon took a reader whose data had come from the network
 * and, before it queued it, the only M went idle: no G runnable, no
 * network waiter, no timer, so checkdead called "all goroutines are
 * asleep - deadlock!" (seen under TSan). One P: with two, the idle one's M
 * blocks in netpoll and sysmon never polls. The main goroutine spins past
 * the 10 ms after which sysmon polls, then waits for the reader. */
static void stale_poll_deadlock_body(void *arg)
{
    __atomic_store_n(&netpollStaleTestGap, stale_gap, __ATOMIC_SEQ_CST);
    for (int round = 0; round < 20 && atomic_load(&staleGaps) == 0; round++) {
        int a, b;
        tcp_pair(&a, &b);
        struct stalereader r = { b, gort_chan_make(sizeof(int), 0) };
        gort_go(stale_reader, &r);
        gort_sleep(GORT_MILLISECOND);             /* the reader parks on the network */
        assert_int_equal(gort_write(a, "!", 1), 1);
        spin_without_runtime(30 * GORT_MILLISECOND);
        assert_int_equal(recv_int(r.done), 1);
        gort_close(a);
        gort_close(b);
    }
    __atomic_store_n(&netpollStaleTestGap, NULL, __ATOMIC_SEQ_CST);
    if (atomic_load(&staleGaps) == 0)
        fail_msg("sysmon never polled the reader in 20 rounds: the window was not tried");
}

static void test_stale_poll_deadlock(void **st) { run_in_gort(stale_poll_deadlock_body, NULL, 1); }

int main(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {   /* 1 000 connections: 2 000 fds */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const struct CMUnitTest tests[] = {
        BOTH_TESTS(echo),
        BOTH_TESTS(close_blocked),
        BOTH_TESTS(read_deadline),
        BOTH_TESTS(write_deadline),
        BOTH_TESTS(accept_deadline),
        BOTH_TESTS(dial_deadline),
        BOTH_TESTS(half_close),
        BOTH_TESTS(udp),
        BOTH_TESTS(unix),
        BOTH_TESTS(busy_p_poll),
        BOTH_TESTS(vectored),
        BOTH_TESTS(drained_urgent_mark),
        BOTH_TESTS(drained_poll_fd),
        BOTH_TESTS(drained_eof),
        BOTH_TESTS(drained_stream),
        BOTH_TESTS(ipv6_names),
        BOTH_TESTS(poll_fd),
        BOTH_TESTS(bad_input),
        BOTH_TESTS(listen_service_no_host),
        BOTH_TESTS(emfile),
        BOTH_TESTS(reset),
        BOTH_TESTS(thread),
        cmocka_unit_test(test_stale_poll_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
