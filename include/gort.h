/*
 * gort.h — the public API of gort, the Go runtime as a C library.
 *
 * One header, one section per concept, names regular enough to guess:
 * gort_<noun>_<verb>, GORT_* constants. Everything here is safe to call from
 * goroutines; the calls marked "any thread" also work from threads that are
 * not goroutines (they block the thread instead of parking a goroutine).
 *
 * Misuse that Go panics on panics here with Go's message, a goroutine
 * traceback, and exit status 2 (see docs/). The calls of the goroutine,
 * channel, time, sync and memory sections also work before gort_main (the
 * runtime starts on first use), except gort_goexit, which needs a goroutine
 * and says so.
 *
 * errno: no call here reports anything through errno, and any may change
 * it, as libc calls may. A call that can park (channel operations, select,
 * sleep, the sync locks, gort_yield) can resume the goroutine on another
 * thread, and a compiler may keep the previous thread's errno address
 * across it: read errno before such a call, not after it in the same
 * function. Blocking calls report errors as return values (false, -1, or a
 * negative errno value), never in errno.
 */
#ifndef GORT_H
#define GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Goroutines and the scheduler (proc.c) --------------------------- */

/* Initialises the runtime from the environment (GORT_MAXPROCS, GORT_STACKSIZE,
 * GORT_DEBUG), runs main_fn(arg) as a goroutine and returns 0 when it returns.
 * May be called again later; goroutines left running keep running. */
int      gort_main(void (*main_fn)(void *), void *arg);
/* Starts fn(arg) as a new goroutine; returns its id. Any thread. */
uint64_t gort_go(void (*fn)(void *), void *arg);
/* As gort_go with a stack reservation of stack_size bytes (0: default). */
uint64_t gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size);
void     gort_yield(void);                   /* runtime.Gosched */
void     gort_goexit(void);                  /* runtime.Goexit */
uint64_t gort_goid(void);                    /* 0 outside goroutines */
int      gort_gomaxprocs(int n);             /* n <= 0: query; returns previous */
int      gort_num_goroutine(void);
void     gort_lock_os_thread(void);
void     gort_unlock_os_thread(void);
/* Runs fn(arg) on a fresh stack of at least size bytes (guarded), then
 * returns: Go's stack growth for one deep call. */
void     gort_call_on_stack(size_t size, void (*fn)(void *), void *arg);

/* ---- Channels and select (chan.c, select.c) -------------------------- */

typedef struct gort_chan gort_chan;

gort_chan *gort_chan_make(size_t elem_size, size_t cap);
void     gort_chan_send(gort_chan *c, const void *elem);            /* any thread */
bool     gort_chan_recv(gort_chan *c, void *out);                   /* any thread; false: closed */
bool     gort_chan_try_send(gort_chan *c, const void *elem);        /* false: would block */
bool     gort_chan_try_recv(gort_chan *c, void *out, bool *ok);     /* false: would block */
void     gort_chan_close(gort_chan *c);
size_t   gort_chan_len(gort_chan *c);
size_t   gort_chan_cap(gort_chan *c);

enum { GORT_SEND = 1, GORT_RECV = 2 };
typedef struct gort_select_case {
    gort_chan *chan;   /* NULL: a nil channel, never ready */
    int        dir;    /* GORT_SEND or GORT_RECV */
    void      *elem;   /* value to send, or where to receive (may be NULL) */
    bool      *ok;     /* receive: false when the channel was closed (may be NULL) */
} gort_select_case;
/* Returns the chosen case's index, or -1 (default) when !block and none is ready. */
int      gort_select(gort_select_case *cases, size_t n, bool block);

/* ---- Time (time.c) ---------------------------------------------------- */

#define GORT_NANOSECOND  ((int64_t)1)
#define GORT_MICROSECOND ((int64_t)1000)
#define GORT_MILLISECOND ((int64_t)1000000)
#define GORT_SECOND      ((int64_t)1000000000)
#define GORT_MINUTE      (60 * GORT_SECOND)
#define GORT_HOUR        (60 * GORT_MINUTE)

typedef struct gort_timer gort_timer;
typedef struct gort_ticker gort_ticker;

/* Durations are ns from now: <= 0 fires at once; a duration past the end of
 * time (now + ns > INT64_MAX) never fires and gort_sleep(INT64_MAX) never
 * returns (Go's saturating when()). Every call here works from any thread,
 * also before gort_main. A timer or ticker is never freed; stop it when done.
 * As Go 1.23's: once gort_*_stop or gort_*_reset returns, no value of the
 * earlier arming can be received from the timer's channel. */
int64_t  gort_nanotime(void);                /* monotonic ns */
void     gort_sleep(int64_t ns);             /* blocks the thread outside goroutines */
gort_chan *gort_after(int64_t ns);           /* delivers one int64_t: gort_nanotime() at fire */
/* A timer delivers one int64_t on gort_timer_chan(t) after ns (time.NewTimer). */
gort_timer *gort_timer_new(int64_t ns);
/* Calls fn(arg) in its own goroutine after ns (time.AfterFunc); no channel. */
gort_timer *gort_timer_after_func(int64_t ns, void (*fn)(void *), void *arg);
gort_chan  *gort_timer_chan(gort_timer *t);  /* NULL for gort_timer_after_func */
/* true: the timer was pending, or its value was not received yet (it is
 * dropped); false: it was stopped already, or its value was received (for
 * AfterFunc: fn has been started). */
bool     gort_timer_stop(gort_timer *t);
bool     gort_timer_reset(gort_timer *t, int64_t ns); /* as stop, then arms it again */
gort_ticker *gort_ticker_new(int64_t period_ns);      /* panics on period <= 0 */
gort_chan   *gort_ticker_chan(gort_ticker *t);
void     gort_ticker_stop(gort_ticker *t);
void     gort_ticker_reset(gort_ticker *t, int64_t period_ns);   /* panics on period <= 0 */

/* ---- Sync (sema.c, sync.c): layouts as Go's sync package ------------- */

typedef struct gort_mutex { int32_t state; uint32_t sema; } gort_mutex;
#define GORT_MUTEX_INIT { 0, 0 }
void gort_mutex_lock(gort_mutex *m);
void gort_mutex_unlock(gort_mutex *m);
bool gort_mutex_trylock(gort_mutex *m);

typedef struct gort_rwmutex {
    gort_mutex w;
    uint32_t writer_sem, reader_sem;
    int32_t  reader_count, reader_wait;
} gort_rwmutex;
#define GORT_RWMUTEX_INIT { GORT_MUTEX_INIT, 0, 0, 0, 0 }
void gort_rwmutex_lock(gort_rwmutex *rw);
void gort_rwmutex_unlock(gort_rwmutex *rw);
void gort_rwmutex_rlock(gort_rwmutex *rw);
void gort_rwmutex_runlock(gort_rwmutex *rw);
bool gort_rwmutex_trylock(gort_rwmutex *rw);
bool gort_rwmutex_tryrlock(gort_rwmutex *rw);

typedef struct gort_waitgroup { uint64_t state; uint32_t sema; } gort_waitgroup;
#define GORT_WAITGROUP_INIT { 0, 0 }
void gort_waitgroup_add(gort_waitgroup *wg, int delta);
void gort_waitgroup_done(gort_waitgroup *wg);
void gort_waitgroup_wait(gort_waitgroup *wg);

typedef struct gort_once { uint32_t done; gort_mutex m; } gort_once;
#define GORT_ONCE_INIT { 0, GORT_MUTEX_INIT }
void gort_once_do(gort_once *o, void (*fn)(void *), void *arg);

/* Go's notifyList: a ticket-based wait list, so Signal wakes the oldest waiter. */
typedef struct gort_cond {
    gort_mutex *L;
    uint32_t wait, notify;
    uintptr_t lock;
    void *head, *tail;
} gort_cond;
#define GORT_COND_INIT(mu) { (mu), 0, 0, 0, NULL, NULL }
void gort_cond_wait(gort_cond *c);
void gort_cond_signal(gort_cond *c);
void gort_cond_broadcast(gort_cond *c);

/* ---- Network (netpoll.c, net.c) ----------------------------------------
 *
 * Sockets whose calls park the calling goroutine, not its thread, until the
 * netpoller (epoll; kqueue on macOS/BSD) reports the socket ready: write one
 * goroutine per connection with plain sequential code, as in Go.
 *
 * Errors are negative errno values returned (never errno: a goroutine may
 * resume on another thread). Common ones:
 *   -ETIMEDOUT        the deadline passed (sticky: every later call on that
 *                     direction fails so until the deadline is set again)
 *   -EBADF            fd is not an open fd of gort's (never made by
 *                     gort_listen/accept/dial, or already gort_close'd); also
 *                     what calls blocked on fd return when another goroutine
 *                     closes it (Go's net.ErrClosed)
 *   -EPROTONOSUPPORT  unknown network name
 *   -EINVAL           malformed address (missing or bad port, bad brackets)
 *   -EHOSTUNREACH     a host name that does not resolve
 *   -EMFILE           out of fds (gort_accept: the listener stays usable;
 *                     like Go's Accept it reports this and does not retry,
 *                     so an accept loop should sleep briefly and go on)
 *   -EPIPE/-ECONNRESET the peer went away; SIGPIPE is never raised
 * From a thread that is not a goroutine the calls block that thread instead
 * (in poll(2)), noticing close and deadlines within 100 ms.
 *
 * Networks: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix". Addresses
 * as Go's net.Listen/Dial: "127.0.0.1:8080", "[::1]:0", "localhost:80",
 * ":0" (listen: every local address, dual-stack; dial: loopback), for
 * "unix" a path ("@name": Linux's abstract namespace; the listener does not
 * remove its file). Names resolve on a helper thread, off the scheduler.
 * TCP listeners get SO_REUSEADDR, accepted and dialed TCP sockets
 * TCP_NODELAY. gort_close wakes the calls blocked on fd, and the fd itself
 * is closed when the last of them has returned.
 */
enum { GORT_POLL_READ = 1, GORT_POLL_WRITE = 2 };

/* Parks until fd (any non-blocking fd, e.g. one of OpenSSL, libpq, curl) is
 * ready for events: the ready events (> 0), -ETIMEDOUT once deadline_ns
 * (absolute gort_nanotime(), 0 = none) passes, or -errno. Readiness may be
 * spurious: retry the operation, and on EAGAIN call again. */
int     gort_poll_fd(int fd, int events, int64_t deadline_ns);
/* A listening socket ("udp": a bound one, for gort_recvfrom/sendto): fd or -errno. */
int     gort_listen(const char *network, const char *address);
/* The bound port of a TCP/UDP socket (listening on ":0", say), or -errno. */
int     gort_local_port(int fd);
/* The next connection: its fd or -errno; sa and len may be NULL. */
int     gort_accept(int lfd, struct sockaddr *sa, socklen_t *len);
/* A connected socket ("udp": connected datagrams), or -errno; gives up with
 * -ETIMEDOUT at deadline_ns (0 = none). */
int     gort_dial(const char *network, const char *address, int64_t deadline_ns);
ssize_t gort_read(int fd, void *buf, size_t n);           /* > 0, 0 at EOF, or -errno */
ssize_t gort_write(int fd, const void *buf, size_t n);    /* n (all written) or -errno */
ssize_t gort_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt);   /* all, or -errno */
ssize_t gort_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *salen);
ssize_t gort_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa, socklen_t salen);
int     gort_shutdown(int fd, int how);                   /* SHUT_RD, SHUT_WR, SHUT_RDWR */
int     gort_close(int fd);                               /* 0, or -EBADF (not open) */
/* Deadlines are absolute gort_nanotime() values; 0 = none; a past one fails
 * the next call (and wakes a blocked one) with -ETIMEDOUT. */
int     gort_set_deadline(int fd, int64_t deadline_ns);
int     gort_set_read_deadline(int fd, int64_t deadline_ns);
int     gort_set_write_deadline(int fd, int64_t deadline_ns);

/* ---- Memory (malloc.c) ------------------------------------------------- */

/* A precise type: size in bytes and one bit per 8-byte word, set where the
 * word holds a pointer into the GC heap. */
typedef struct gort_type {
    size_t size;
    const uint8_t *ptrmask;    /* (size/8 + 7)/8 bytes; NULL: no pointers */
} gort_type;

/* No collector exists yet: memory from these is not reclaimed until the
 * collector lands. They already record how it will scan each object. */
void    *gort_alloc(size_t n);          /* zeroed; to be scanned conservatively */
void    *gort_alloc_noscan(size_t n);   /* zeroed; holds no pointers */
void    *gort_new(const gort_type *t);  /* zeroed; to be scanned precisely by t->ptrmask */
size_t   gort_usable_size(const void *p);   /* size class of p's object; 0 outside the heap */

#define GORT_NUM_SIZE_CLASSES 68
/* Field for field runtime.MemStats, in snake_case. */
typedef struct gort_mem_stats {
    uint64_t alloc, total_alloc, sys, lookups, mallocs, frees;
    uint64_t heap_alloc, heap_sys, heap_idle, heap_inuse, heap_released, heap_objects;
    uint64_t stack_inuse, stack_sys;
    uint64_t mspan_inuse, mspan_sys, mcache_inuse, mcache_sys, buck_hash_sys, gc_sys, other_sys;
    uint64_t next_gc, last_gc, pause_total_ns;
    uint64_t pause_ns[256], pause_end[256];
    uint32_t num_gc, num_forced_gc;
    double   gc_cpu_fraction;
    bool     enable_gc, debug_gc;
    struct { uint32_t size; uint64_t mallocs, frees; } by_size[GORT_NUM_SIZE_CLASSES];
} gort_mem_stats;
void gort_read_mem_stats(gort_mem_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* GORT_H */
