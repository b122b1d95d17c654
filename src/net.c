/*
 * net.c — the network API: sockets whose calls park the goroutine, not the
 * thread (Go: net/fd_unix.go, internal/poll/fd_unix.go, net/ipsock.go).
 *
 * Every call follows Go's internal/poll loop:
 *
 *     take a reference on the fd (it cannot be closed under us) and the
 *     fd's read or write lock (one reader and one writer at a time)
 *     loop: closed or deadline passed?  -> the error
 *           try the system call          -> done unless EAGAIN
 *           park until the poller says ready (netpollwait), then loop
 *
 * Trying first is what edge-triggered polling needs: readiness is reported
 * once, so a call must find out from the system call itself whether data
 * is already there. The one exception: after a TCP read that came back
 * short, the queue is empty and any later data raises an edge still to
 * come, so the next read may park at once (readhint; netpoll.c explains).
 *
 * All sockets are non-blocking and close-on-exec; TCP listeners have
 * SO_REUSEADDR, connected TCP sockets TCP_NODELAY, as Go's.
 * Sends use MSG_NOSIGNAL (SO_NOSIGPIPE on BSD), so a peer that went away
 * gives -EPIPE, never a SIGPIPE.
 *
 * Addresses are Go's: "host:port", "[v6]:port", ":port" (all addresses for
 * listen, loopback for dial), a path for "unix" ('@' first: Linux's
 * abstract namespace). Numeric hosts are parsed on the spot; names are
 * resolved by getaddrinfo on a thread of its own, so the goroutine parks
 * and its P keeps running others (lookup_async).
 */
#include "netpoll.h"
#include "timer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0                  /* BSD: SO_NOSIGPIPE on the socket instead */
#endif

enum { LISTEN_BACKLOG = 4096, HOST_MAX = 256, PORT_MAX = 32, IOV_STACK = 16 };

/* ---- Networks and addresses ----------------------------------------------------- */

typedef struct netspec { const char *name; int family, type; } netspec;

static const netspec networks[] = {
    { "tcp", AF_UNSPEC, SOCK_STREAM }, { "tcp4", AF_INET, SOCK_STREAM },
    { "tcp6", AF_INET6, SOCK_STREAM }, { "udp", AF_UNSPEC, SOCK_DGRAM },
    { "udp4", AF_INET, SOCK_DGRAM },   { "udp6", AF_INET6, SOCK_DGRAM },
    { "unix", AF_UNIX, SOCK_STREAM },
};

static const netspec *findnet(const char *name)
{
    for (size_t i = 0; name && i < nelem(networks); i++)
        if (strcmp(networks[i].name, name) == 0)
            return &networks[i];
    return NULL;
}

static bool alldigits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Go's SplitHostPort: "host:port" or "[host]:port"; an empty port is 0. */
static int splithostport(const char *addr, char host[HOST_MAX], char port[PORT_MAX])
{
    const char *colon = strrchr(addr, ':'), *h = addr, *he = colon;
    if (!colon)
        return -EINVAL;                       /* missing port */
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb + 1 != colon)
            return -EINVAL;
        h = addr + 1;
        he = rb;
    } else if (memchr(addr, ':', (size_t)(colon - addr))) {
        return -EINVAL;                       /* too many colons: v6 without [] */
    }
    if (memchr(h, '[', (size_t)(he - h)) || memchr(h, ']', (size_t)(he - h)) ||
        (size_t)(he - h) >= HOST_MAX || strlen(colon + 1) >= PORT_MAX)
        return -EINVAL;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    strcpy(port, colon[1] ? colon + 1 : "0");
    if (alldigits(port) && (strlen(port) > 5 || atoi(port) > 65535))
        return -EINVAL;
    return 0;
}

/* getaddrinfo's failures as negative errno values: a name that does not
 * resolve is -EHOSTUNREACH; a bad service name -EINVAL. */
static int gaierr(int rc, int syserr)
{
    switch (rc) {
    case 0:           return 0;
    case EAI_SYSTEM:  return syserr ? -syserr : -EIO;
    case EAI_MEMORY:  return -ENOMEM;
    case EAI_SERVICE: case EAI_FAMILY: case EAI_SOCKTYPE: case EAI_BADFLAGS:
                      return -EINVAL;
    default:          return -EHOSTUNREACH;
    }
}

/* ---- Name resolution off the P ------------------------------------------------------- */

/* A lookup shared by the waiting goroutine, the resolver thread and the
 * deadline timer; the last of them frees it. */
struct lookup {
    mutex    lock;
    _Atomic int refs;
    bool     done, timedout, nohost;
    g       *waiter;
    char     host[HOST_MAX], port[PORT_MAX];
    struct addrinfo hints, *res;
    int      rc, syserr;
    struct timer t;
};

static void lookup_put(struct lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    free(l);
}

static void lookup_wake(struct lookup *l, bool done)
{
    lock(&l->lock);
    if (done)
        l->done = true;
    else
        l->timedout = true;
    g *gp = l->waiter;
    l->waiter = NULL;
    unlock(&l->lock);
    if (gp)
        goready(gp);
}

static void *lookup_thread(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->nohost ? NULL : l->host, l->port, &l->hints, &res);
    int syserr = errno;
    lock(&l->lock);
    l->res = res;
    l->rc = rc;
    l->syserr = syserr;
    unlock(&l->lock);
    lookup_wake(l, true);
    lookup_put(l);
    return NULL;
}

static void lookup_timeout(void *arg, int64_t now)
{
    lookup_wake(arg, false);
    lookup_put(arg);
}

/* Resolves on a new thread while the goroutine parks (the thread may block
 * in DNS for seconds; the P must not). 0 or -errno. */
static int lookup_async(const char *host, const char *port, const struct addrinfo *hints,
                        int64_t deadline, struct addrinfo **res)
{
    struct lookup *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->nohost = !host;               /* ":service" to listen on: every address */
    strcpy(l->host, host ? host : "");
    strcpy(l->port, port);
    l->hints = *hints;
    atomic_store(&l->refs, deadline ? 3 : 2);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, lookup_thread, l);
    pthread_attr_destroy(&attr);
    if (err) {
        free(l);
        return -err;
    }
    if (deadline) {
        inittimer(&l->t, lookup_timeout, l);
        modtimer(&l->t, deadline, 0);
    }
    lock(&l->lock);
    while (!l->done && !l->timedout) {
        l->waiter = getg();
        goparkunlock(&l->lock, waitReasonIOWait);
        lock(&l->lock);
    }
    int rc = -ETIMEDOUT;
    if (l->done) {
        rc = gaierr(l->rc, l->syserr);
        *res = l->res;
        l->res = NULL;
    }
    unlock(&l->lock);
    if (deadline && deltimer(&l->t))
        lookup_put(l);                         /* the timer's reference */
    lookup_put(l);
    return rc;
}

/* Resolves host:port for spec. Numbers need no resolver; names go to
 * lookup_async (or block the caller when it is not a goroutine). */
static int resolve(const netspec *spec, const char *host, const char *port, bool passive,
                   int64_t deadline, struct addrinfo **res)
{
    struct addrinfo hints = { .ai_family = spec->family, .ai_socktype = spec->type,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
    bool numericport = alldigits(port);
    if (numericport) {
        int rc = getaddrinfo(host, port, &hints, res);
        if (rc != EAI_NONAME)
            return gaierr(rc, errno);
    }
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (ingoroutine())
        return lookup_async(host, port, &hints, deadline, res);
    return gaierr(getaddrinfo(host, port, &hints, res), errno);
}

/* ---- Sockets --------------------------------------------------------------------------- */

static void setopt(int fd, int level, int name, int v) { setsockopt(fd, level, name, &v, sizeof v); }

/* A new socket with gort's defaults for it; -errno on failure. */
static int newsocket(int family, int type)
{
#ifdef SOCK_NONBLOCK
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
#else
    int fd = socket(family, type, 0);
    if (fd < 0)
        return -errno;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
#ifdef SO_NOSIGPIPE
    setopt(fd, SOL_SOCKET, SO_NOSIGPIPE, 1);
#endif
    return fd;
}

/* A connected TCP socket sends small writes at once (Go's default).
 * Returns whether fd is one. */
static bool setconnected(int fd, int family, int type)
{
    if (type != SOCK_STREAM || (family != AF_INET && family != AF_INET6))
        return false;
    setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    return true;
}

/* Registers fd with the poller (tcp: a connected TCP socket, whose reads
 * keep hints where the poller reports POLL_RDSPECIAL); on failure closes it.
 * fd or -errno. */
static int adopt(int fd, bool tcp)
{
    pollDesc *pd = pd_open(fd);
    if (pd) {
        if (tcp && netpollReportsRdSpecial)
            pd_setrhint(pd, RH_TCP);
        return fd;
    }
    int err = -errno;
    close(fd);
    return err;
}

static int unixaddr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = strlen(path);
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof sun->sun_path)
        return -ENAMETOOLONG;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    if (path[0] == '@')
        sun->sun_path[0] = '\0';            /* Linux abstract socket */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
    return 0;
}

/* Binds a new socket to sa and, for streams, listens. fd or -errno. */
static int listenaddr(int family, int type, const struct sockaddr *sa, socklen_t len, int v6only)
{
    int fd = newsocket(family, type);
    if (fd < 0)
        return fd;
    if (type == SOCK_STREAM && family != AF_UNIX)
        setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (family == AF_INET6 && v6only >= 0)
        setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
    if (bind(fd, sa, len) < 0 || (type == SOCK_STREAM && listen(fd, LISTEN_BACKLOG) < 0)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return adopt(fd, false);
}

/* ":port" on "tcp"/"udp": one dual-stack socket on [::], or 0.0.0.0 where
 * the machine has no IPv6 (as Go). */
static int listenany(const netspec *spec, const char *port)
{
    uint16_t pn = htons((uint16_t)atoi(port));
    if (spec->family != AF_INET) {
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = pn, .sin6_addr = IN6ADDR_ANY_INIT };
        int fd = listenaddr(AF_INET6, spec->type, (struct sockaddr *)&a6, sizeof a6,
                            spec->family == AF_INET6);
        if (fd != -EAFNOSUPPORT || spec->family == AF_INET6)
            return fd;
    }
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = pn, .sin_addr.s_addr = htonl(INADDR_ANY) };
    return listenaddr(AF_INET, spec->type, (struct sockaddr *)&a4, sizeof a4, -1);
}

int gort_listen(const char *network, const char *address)
{
    RUNTIME_ENTRY();
    const netspec *spec = findnet(network);
    if (!spec)
        return -EPROTONOSUPPORT;
    if (!address)
        return -EINVAL;
    if (spec->family == AF_UNIX) {
        struct sockaddr_un sun;
        socklen_t len;
        int err = unixaddr(address, &sun, &len);
        return err ? err : listenaddr(AF_UNIX, spec->type, (struct sockaddr *)&sun, len, -1);
    }
    char host[HOST_MAX], port[PORT_MAX];
    int err = splithostport(address, host, port);
    if (err)
        return err;
    if (!host[0] && alldigits(port))
        return listenany(spec, port);
    struct addrinfo *res, *ai;
    if ((err = resolve(spec, host[0] ? host : NULL, port, true, 0, &res)))
        return err;
    for (ai = res; ai && ai->ai_family != AF_INET; ai = ai->ai_next)
        ;                                   /* a name: IPv4 first, as Go */
    if (!ai)
        ai = res;
    int fd = listenaddr(ai->ai_family, spec->type, ai->ai_addr, ai->ai_addrlen, 1);
    freeaddrinfo(res);
    return fd;
}

/* ---- The I/O loop ---------------------------------------------------------------------- */

typedef ssize_t (*ioop)(pollDesc *pd, void *arg);   /* >= 0 or -errno */

/* Runs op on gort's fd under its mode lock until it does not say EAGAIN,
 * parking in between (top of file). */
static ssize_t fd_io(int fd, int mode, ioop op, void *arg)
{
    pollDesc *pd = pd_get(fd);
    if (!pd)
        return -EBADF;
    pd_lock(pd, mode);
    ssize_t r;
    for (;;) {
        if ((r = netpollcheckerr(pd, mode)))
            break;
        r = op(pd, arg);
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            break;
        int w = netpollwait(pd, mode);
        if (w < 0) {
            r = w;
            break;
        }
    }
    pd_unlock(pd, mode);
    pd_put(pd);
    return r;
}

static ssize_t sysret(ssize_t k) { return k < 0 ? -errno : k; }

struct rw { void *buf; size_t n, done; struct sockaddr *sa; socklen_t *salen; const struct iovec *iov; int iovcnt; };

/*
 * Reads use recv and recvmsg, not read and readv: every fd of gort's is a
 * socket, and the socket calls skip the file layer's per-call work (file
 * position lock, fsnotify). A read of 0 bytes returns 0 at once, as Go's
 * (recv would say EAGAIN on an empty socket, and park us).
 *
 * On TCP (RH_TCP) a read also notes what it learnt of the receive queue
 * (netpoll.c's top comment): one that came back short emptied it, unless
 * urgent data stopped it or the stream ended; one that filled the buffer
 * may have left more.
 */
static ssize_t readhint(pollDesc *pd, unsigned hint, size_t total, ssize_t k)
{
    if (!(hint & RH_TCP))
        return k;
    if (k == -EAGAIN && (hint & RH_DRAINED))
        hint &= ~RH_BURSTY;                  /* the try after a short read was for nothing */
    else if (k > 0 && (size_t)k == total)
        hint = (hint & ~RH_DRAINED) | RH_BURSTY;
    else if (k > 0 && !pd_rdspecial(pd))
        hint |= RH_DRAINED;
    else
        hint &= ~RH_DRAINED;
    pd_setrhint(pd, hint);
    return k;
}

/* Whether the read can only say EAGAIN: skip it (netpoll.c's top comment). */
static bool readskip(unsigned hint) { return (hint & (RH_DRAINED | RH_BURSTY)) == RH_DRAINED; }

static ssize_t op_read(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    unsigned hint = pd_rhint(pd);
    if (!a->n)
        return 0;
    if (readskip(hint))
        return -EAGAIN;
    return readhint(pd, hint, a->n, sysret(recv(pd_fd(pd), a->buf, a->n, 0)));
}

static ssize_t op_readv(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    unsigned hint = pd_rhint(pd);
    if (!a->n)
        return 0;
    if (readskip(hint))
        return -EAGAIN;
    struct msghdr msg = { .msg_iov = (struct iovec *)a->iov, .msg_iovlen = (size_t)a->iovcnt };
    return readhint(pd, hint, a->n, sysret(recvmsg(pd_fd(pd), &msg, 0)));
}

static ssize_t op_recvfrom(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    return sysret(recvfrom(pd_fd(pd), a->buf, a->n, 0, a->sa, a->salen));
}

static ssize_t op_sendto(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    return sysret(sendto(pd_fd(pd), a->buf, a->n, MSG_NOSIGNAL, a->sa, a->salen ? *a->salen : 0));
}

/* Sends all of buf, resuming from a->done after a wait. */
static ssize_t op_writeall(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    while (a->done < a->n) {
        ssize_t k = send(pd_fd(pd), (char *)a->buf + a->done, a->n - a->done, MSG_NOSIGNAL);
        if (k < 0)
            return -errno;
        a->done += (size_t)k;
    }
    return (ssize_t)a->done;
}

/* Advances an iovec array past k bytes; returns the first unfinished one. */
static struct iovec *iovadvance(struct iovec *iov, int *cnt, size_t k)
{
    while (*cnt > 0 && k >= iov->iov_len) {
        k -= iov->iov_len;
        iov++;
        --*cnt;
    }
    if (*cnt > 0) {
        iov->iov_base = (char *)iov->iov_base + k;
        iov->iov_len -= k;
    }
    return iov;
}

/* Sends all of a (mutable copy of the caller's) iovec array. */
static ssize_t op_writevall(pollDesc *pd, void *arg)
{
    struct rw *a = arg;
    struct iovec *iov = (struct iovec *)a->iov;
    while (a->done < a->n) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)a->iovcnt };
        ssize_t k = sendmsg(pd_fd(pd), &msg, MSG_NOSIGNAL);
        if (k < 0)
            return -errno;
        a->done += (size_t)k;
        iov = iovadvance(iov, &a->iovcnt, (size_t)k);
        a->iov = iov;
    }
    return (ssize_t)a->done;
}

ssize_t gort_read(int fd, void *buf, size_t n)
{
    RUNTIME_ENTRY();
    struct rw a = { .buf = buf, .n = n };
    return fd_io(fd, POLL_READ, op_read, &a);
}

ssize_t gort_write(int fd, const void *buf, size_t n)
{
    RUNTIME_ENTRY();
    struct rw a = { .buf = (void *)buf, .n = n };
    if (n > SSIZE_MAX)
        return -EINVAL;
    return fd_io(fd, POLL_WRITE, op_writeall, &a);
}

static bool iovvalid(const struct iovec *iov, int iovcnt, size_t *total)
{
    *total = 0;
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
        return false;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - *total)
            return false;
        *total += iov[i].iov_len;
    }
    return true;
}

ssize_t gort_readv(int fd, const struct iovec *iov, int iovcnt)
{
    RUNTIME_ENTRY();
    size_t total;
    if (!iovvalid(iov, iovcnt, &total))
        return -EINVAL;
    struct rw a = { .n = total, .iov = iov, .iovcnt = iovcnt };
    return fd_io(fd, POLL_READ, op_readv, &a);
}

ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt)
{
    RUNTIME_ENTRY();
    size_t total;
    if (!iovvalid(iov, iovcnt, &total))
        return -EINVAL;
    struct iovec small[IOV_STACK], *copy = iovcnt <= IOV_STACK ? small : malloc((size_t)iovcnt * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    if (iovcnt)
        memcpy(copy, iov, (size_t)iovcnt * sizeof *copy);
    struct rw a = { .n = total, .iov = copy, .iovcnt = iovcnt };
    ssize_t r = fd_io(fd, POLL_WRITE, op_writevall, &a);
    if (copy != small)
        free(copy);
    return r;
}

ssize_t gort_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *salen)
{
    RUNTIME_ENTRY();
    struct rw a = { .buf = buf, .n = n, .sa = sa, .salen = salen };
    return fd_io(fd, POLL_READ, op_recvfrom, &a);
}

ssize_t gort_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa, socklen_t salen)
{
    RUNTIME_ENTRY();
    struct rw a = { .buf = (void *)buf, .n = n, .sa = (struct sockaddr *)sa, .salen = sa ? &salen : NULL };
    return fd_io(fd, POLL_WRITE, op_sendto, &a);
}

/* ---- Accept, dial, the rest ---------------------------------------------------------------- */

struct acc { struct sockaddr *sa; socklen_t *len; };

static ssize_t op_accept(pollDesc *pd, void *arg)
{
    struct acc *a = arg;
    int fd = pd_fd(pd);
    for (;;) {
#ifdef SOCK_NONBLOCK
        int nfd = accept4(fd, a->sa, a->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int nfd = accept(fd, a->sa, a->len);
        if (nfd >= 0) {
            fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK);
            fcntl(nfd, F_SETFD, FD_CLOEXEC);
        }
#endif
        if (nfd >= 0 || errno != ECONNABORTED)   /* a connection reset while queued: next */
            return sysret(nfd);
    }
}

int gort_accept(int lfd, struct sockaddr *sa, socklen_t *len)
{
    RUNTIME_ENTRY();
    if (sa && !len)
        return -EINVAL;
    struct acc a = { sa, len };
    int fd = (int)fd_io(lfd, POLL_READ, op_accept, &a);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int type = SOCK_STREAM;
    socklen_t tl = sizeof type;
    bool tcp = getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
               getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
               setconnected(fd, ss.ss_family, type);
#ifdef SO_NOSIGPIPE
    setopt(fd, SOL_SOCKET, SO_NOSIGPIPE, 1);
#endif
    return adopt(fd, tcp);
}

/* Waits for a non-blocking connect to finish: 0 or -errno. */
static int connectwait(pollDesc *pd, int64_t deadline)
{
    for (;;) {
        int r = netpollwait_until(pd, POLL_WRITE, deadline);
        if (r < 0)
            return r;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(pd_fd(pd), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return -errno;
        if (err == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getpeername(pd_fd(pd), (struct sockaddr *)&ss, &sl) == 0)
                return 0;
            if (errno != ENOTCONN)        /* not connected yet: a spurious wakeup */
                return -errno;
        } else if (err != EINPROGRESS && err != EALREADY && err != EINTR) {
            return -err;
        }
    }
}

/* Connects a new socket to sa: the fd, or -errno. */
static int dialaddr(int family, int type, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    int fd = newsocket(family, type);
    if (fd < 0)
        return fd;
    int rc = connect(fd, sa, len) < 0 ? errno : 0;
    if (rc && rc != EINPROGRESS && rc != EINTR) {
        close(fd);
        return -rc;
    }
    if ((fd = adopt(fd, setconnected(fd, family, type))) < 0)
        return fd;
    if (rc) {
        pollDesc *pd = pd_get(fd);
        pd_lock(pd, POLL_WRITE);
        int err = connectwait(pd, deadline);
        pd_unlock(pd, POLL_WRITE);
        pd_put(pd);
        if (err) {
            pd_close(fd);
            return err;
        }
    }
    return fd;
}

int gort_dial(const char *network, const char *address, int64_t deadline_ns)
{
    RUNTIME_ENTRY();
    const netspec *spec = findnet(network);
    if (!spec)
        return -EPROTONOSUPPORT;
    if (!address)
        return -EINVAL;
    if (deadline_ns && deadline_ns <= nanotime())
        return -ETIMEDOUT;
    if (spec->family == AF_UNIX) {
        struct sockaddr_un sun;
        socklen_t len;
        int err = unixaddr(address, &sun, &len);
        return err ? err : dialaddr(AF_UNIX, spec->type, (struct sockaddr *)&sun, len, deadline_ns);
    }
    char host[HOST_MAX], port[PORT_MAX];
    int err = splithostport(address, host, port);
    if (err)
        return err;
    if (!host[0])                            /* ":port": this machine */
        strcpy(host, spec->family == AF_INET6 ? "::1" : "127.0.0.1");
    struct addrinfo *res;
    if ((err = resolve(spec, host, port, false, deadline_ns, &res)))
        return err;
    int fd = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = dialaddr(ai->ai_family, spec->type, ai->ai_addr, ai->ai_addrlen, deadline_ns);
        if (fd >= 0 || fd == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

int gort_shutdown(int fd, int how)
{
    RUNTIME_ENTRY();
    pollDesc *pd = pd_get(fd);
    if (!pd)
        return -EBADF;
    int r = shutdown(fd, how) < 0 ? -errno : 0;
    pd_put(pd);
    return r;
}

int gort_close(int fd) { RUNTIME_ENTRY(); return pd_close(fd); }

int gort_set_deadline(int fd, int64_t deadline_ns)
{
    RUNTIME_ENTRY();
    return pd_set_deadline(fd, POLL_READ | POLL_WRITE, deadline_ns);
}

int gort_set_read_deadline(int fd, int64_t deadline_ns)
{
    RUNTIME_ENTRY();
    return pd_set_deadline(fd, POLL_READ, deadline_ns);
}

int gort_set_write_deadline(int fd, int64_t deadline_ns)
{
    RUNTIME_ENTRY();
    return pd_set_deadline(fd, POLL_WRITE, deadline_ns);
}

int gort_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}
