/*
 * test_net_idle.c — 10 000 idle connections, each with a goroutine blocked
 * reading it, cost (almost) no CPU: the netpoller sleeps in epoll_wait and
 * nobody spins. The bound on CPU time is generous (it is a machine shared
 * with others); a poller or scheduler that spins would burn the whole
 * idle second.
 *
 * The client ends live in a child process forked before the runtime
 * starts (it uses no gort, only blocking sockets), so that this process
 * holds one fd per connection and 10 000 connections fit the fd limit.
 * Bodies run with 1 P and 2 Ps.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

static int toclient = -1, fromclient = -1;   /* pipes to and from the child */

/* ---- The child: plain blocking sockets ----------------------------------------- */

static void child_loop(int in, int out, int n)
{
    int *fds = calloc((size_t)n, sizeof *fds);
    uint16_t port;
    while (read(in, &port, sizeof port) == (ssize_t)sizeof port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char status = 'c';
        for (int i = 0; i < n; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) < 0)
                status = 'e';
        }
        char cmd;
        if (write(out, &status, 1) != 1 || read(in, &cmd, 1) != 1)
            break;
        for (int i = 0; i < n; i++)
            close(fds[i]);
        status = 'd';
        if (write(out, &status, 1) != 1)
            break;
    }
    _exit(0);
}

static int nconns(void) { return scaled(10000); }

static void start_child(void)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        child_loop(a[0], b[1], nconns());
    }
    close(a[0]);
    close(b[1]);
    toclient = a[1];
    fromclient = b[0];
    fcntl(fromclient, F_SETFL, O_NONBLOCK);
}

/* ---- The gort side --------------------------------------------------------------- */

struct idle { gort_waitgroup readers; _Atomic int eofs; };

struct reader { struct idle *st; int fd; };

static void reader_main(void *arg)
{
    struct reader *r = arg;
    char c;
    if (gort_read(r->fd, &c, 1) == 0)
        atomic_fetch_add(&r->st->eofs, 1);
    gort_close(r->fd);
    gort_waitgroup_done(&r->st->readers);
}

/* Reads one status byte from the child, parking on the pipe. */
static char child_status(void)
{
    char c;
    ssize_t k;
    while ((k = read(fromclient, &c, 1)) < 0 && errno == EAGAIN)
        assert_true(gort_poll_fd(fromclient, GORT_POLL_READ, 0) > 0);
    assert_int_equal(k, 1);
    return c;
}

static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * GORT_SECOND +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * GORT_MICROSECOND;
}

static void idle_body(void *arg)
{
    int n = nconns();
    int lfd = gort_listen("tcp4", "127.0.0.1:0");
    assert_true(lfd >= 0);
    uint16_t port = (uint16_t)gort_local_port(lfd);
    assert_int_equal(write(toclient, &port, sizeof port), (ssize_t)sizeof port);
    struct idle st = { .readers = GORT_WAITGROUP_INIT };
    struct reader *rs = calloc((size_t)n, sizeof *rs);
    gort_waitgroup_add(&st.readers, n);
    for (int i = 0; i < n; i++) {
        rs[i] = (struct reader){ &st, gort_accept(lfd, NULL, NULL) };
        assert_true(rs[i].fd >= 0);
        gort_go(reader_main, &rs[i]);
    }
    assert_int_equal(child_status(), 'c');
    gort_sleep(100 * GORT_MILLISECOND);        /* let every reader park */

    int64_t cpu0 = cpu_ns();
    gort_sleep(GORT_SECOND);
    int64_t used = cpu_ns() - cpu0;
    print_message("%d idle connections: %.1f ms of CPU in 1 s\n", n, used / 1e6);
    assert_true(used < 300 * GORT_MILLISECOND);

    assert_int_equal(write(toclient, "x", 1), 1);   /* the child closes its ends */
    gort_waitgroup_wait(&st.readers);
    assert_int_equal(child_status(), 'd');
    assert_int_equal(atomic_load(&st.eofs), n);
    gort_close(lfd);
    free(rs);
}

BOTH(idle)

int main(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    start_child();                          /* before the runtime starts */
    const struct CMUnitTest tests[] = {
        BOTH_TESTS(idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
