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
#include <stdio.h>
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
/* As gort_go with a stack reservation of stack_size bytes (0: default;
 * rounded up to whole pages, at least 16 KiB; above 1 GiB panics). */
uint64_t gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size);
void     gort_yield(void);                   /* runtime.Gosched */
void     gort_goexit(void);                  /* runtime.Goexit */
uint64_t gort_goid(void);                    /* 0 outside goroutines */
int      gort_gomaxprocs(int n);             /* n <= 0: query; returns previous */
int      gort_num_goroutine(void);
void     gort_lock_os_thread(void);
void     gort_unlock_os_thread(void);
/* Runs fn(arg) on a fresh stack of at least size bytes (guarded), then
 * returns: Go's stack growth for one deep call. Above 1 GiB panics. */
void     gort_call_on_stack(size_t size, void (*fn)(void *), void *arg);

/* ---- Goroutine dump (dump.c) ------------------------------------------ */

/* Writes every goroutine to f (NULL: stderr) as Go's dump does: "goroutine 7
 * [chan receive, 2 minutes]:", its frames (function, file:line where debug
 * information exists) and "created by". Briefly stops the world. Returns;
 * SIGQUIT prints the same to stderr and exits with status 2, unless the
 * program installed a SIGQUIT handler of its own before the runtime started. */
void     gort_dump_goroutines(FILE *f);

/* ---- Blocking C calls (proc.c, sysmon.c) ------------------------------ */

/* A goroutine about to make a C call that may block (a read(), a sleep, a
 * database client) brackets it with these, as Go brackets every system
 * call: enter lets the goroutine's P go, so that if the call lasts (20 us
 * or more) sysmon hands the P to another thread and the other goroutines
 * keep running; exit takes a P back (the old one at the cost of one CAS
 * if nobody took it), or waits for one. Go's entersyscall/exitsyscall.
 * Contracts:
 *   - between enter and exit the goroutine calls no other gort function;
 *   - enter and exit pair up on the same goroutine: a second enter, or an
 *     exit without an enter, is a fatal error;
 *   - after exit the goroutine may run on another thread: read errno (and
 *     any thread-local state) in a separate function, or with
 *     gort_lock_os_thread in effect (see docs/scheduler.md);
 *   - on a thread that is not a goroutine both are no-ops.
 * Unannotated blocking calls do not stall a P forever either (sysmon
 * notices a thread asleep in the kernel, docs/sysmon.md); bracketing them
 * makes the handoff prompt and cheap. */
void gort_syscall_enter(void);
void gort_syscall_exit(void);
/* fn(arg) between gort_syscall_enter and gort_syscall_exit. */
void gort_blocking_call(void (*fn)(void *), void *arg);
/* The value of expr, evaluated between gort_syscall_enter and
 * gort_syscall_exit (GNU C): n = GORT_BLOCKING(read(fd, buf, len)); */
#define GORT_BLOCKING(expr) __extension__({                 \
        gort_syscall_enter();                              \
        __typeof__(expr) gort_blocking_result_ = (expr);   \
        gort_syscall_exit();                               \
        gort_blocking_result_; })

/* ---- Preemption (signal.c, sysmon.c) ----------------------------------- */

/* A goroutine that computes for 10 ms without calling gort is interrupted
 * by a signal (SIGURG) and switched out, but only while its PC is in the
 * program's own code: the main executable, minus gort. Code in other
 * libraries (libc, ...) is never interrupted that way, because switching
 * out a goroutine that holds a library's lock or keeps a thread-local
 * address in a register is unsafe. gort_async_preempt_allow(addr) allows
 * the library containing addr (any function of it) as well: the caller
 * vouches that the library's code keeps no thread-local state and holds no
 * thread-owned lock across its loops. Returns 0, or -ENOENT if addr is in
 * no loaded object. GORT_DEBUG=asyncpreemptoff=1 turns async preemption
 * off; TSan builds do not have it (docs/sysmon.md). */
int gort_async_preempt_allow(const void *addr);

/* ---- Channels and select (chan.c, select.c) -------------------------- */

typedef struct gort_chan gort_chan;

/* make(chan T, cap). The collector scans the buffer for pointers; the
 * _noscan one skips it: use it when elements hold no pointers into the GC
 * heap, above all for big buffers, whose every page a scan reads. */
gort_chan *gort_chan_make(size_t elem_size, size_t cap);
gort_chan *gort_chan_make_noscan(size_t elem_size, size_t cap);
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
 * spurious: retry the operation, and on EAGAIN call again. Do not close(2)
 * an fd while a goroutine waits on it here: the kernel then forgets it and
 * the goroutine would wait until its deadline. */
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

/* ---- Memory (malloc.c and the GC) -------------------------------------- */

/* The GC heap. Objects are freed by the collector once nothing reachable
 * points to them (anywhere inside them: interior pointers count). The
 * collector finds pointers in goroutine stacks and registers, the stacks of
 * gort's threads and of foreign threads that called into gort, the data and
 * bss of the program and of every loaded library, ranges given to
 * gort_add_roots, and other GC objects. It does NOT look inside malloc()ed
 * memory or mmap()ed memory: a GC pointer kept only there is freed under
 * you. See docs/gc.md for the rules. */

/* A precise type: size in bytes and one bit per 8-byte word, set where the
 * word holds a pointer into the GC heap. */
typedef struct gort_type {
    size_t size;
    const uint8_t *ptrmask;    /* (size/8 + 7)/8 bytes; NULL: no pointers */
} gort_type;

void    *gort_alloc(size_t n);          /* zeroed, collected, every word scanned as a possible pointer */
void    *gort_alloc_noscan(size_t n);   /* zeroed, collected, never scanned: must hold no GC pointers */
void    *gort_new(const gort_type *t);  /* zeroed, collected, scanned where t->ptrmask says */
size_t   gort_usable_size(const void *p);   /* size class of p's object; 0 outside the heap */

/* runtime.GC: runs a full collection and returns when it and the sweep of
 * the whole heap are done. Any thread. */
void     gort_gc(void);
/* debug.SetGCPercent: the heap may grow by pct% of the live heap (plus
 * stacks and globals) before the next cycle; pct < 0 turns triggered
 * cycles off (gort_gc still collects). Returns the previous setting. The
 * initial value comes from GORT_GC (a number, or "off"), else 100. */
int      gort_set_gc_percent(int pct);
/* Write-barriered stores into GC memory. Under GORT_GCMODE=barrier the
 * collector marks while the program runs and trusts a promise: every store
 * of a GC pointer into GC memory (a gort_alloc/gort_new object, a map value
 * or slice element) goes through one of these two. A plain store there may
 * let the collector free a reachable object; so may a plain store that
 * overwrites a pointer in another goroutine's local variable (through its
 * address). Globals, a goroutine's own locals and registered roots take
 * plain stores in every mode. In the other modes (concurrent,
 * the default, and stw) these are a plain store and memmove, and plain
 * stores are safe everywhere. Any thread. */
void     gort_store_ptr(void *slot, void *val);            /* *(void **)slot = val */
void     gort_memmove(void *dst, const void *src, size_t n); /* memmove, for memory holding GC pointers */
/* Collects (as gort_gc), then returns every free heap page to the OS
 * (debug.FreeOSMemory). Between calls a background scavenger returns free
 * pages while the resident heap exceeds the heap goal by more than 10%, or
 * all the runtime keeps resident 95% of the memory limit. */
void     gort_free_os_memory(void);
/* The soft memory limit in bytes (debug.SetMemoryLimit): the collector
 * keeps the runtime's resident memory under it, even with GC off, by
 * lowering the heap goal (never below the live heap: a limit under that
 * makes cycles run back to back, and then, as in Go, allocations skip their
 * assists while the collector has taken over half the CPU for about a
 * second, so the heap outgrows the limit; goroutine stacks count two pages
 * each, not their reservations). A
 * negative limit only reads it. Returns the previous one; INT64_MAX means
 * none, the default unless GORT_MEMLIMIT is set (bytes, or with a B, KiB,
 * MiB, GiB or TiB suffix, or "off"; malformed: fatal error). */
int64_t  gort_set_memory_limit(int64_t limit);
/* Runs fn(obj) on the finalizer goroutine once obj (a gort_alloc block, or
 * a pointer-free tiny one inside its block) is unreachable, once; what obj
 * points to stays alive for it, and fn may store obj somewhere to keep it
 * (runtime.SetFinalizer). fn NULL removes the finalizer. A second one, a
 * pointer not at the start of a heap block, NULL obj: fatal errors, with
 * Go's messages. */
void     gort_set_finalizer(void *obj, void (*fn)(void *obj));
/* Keeps the objects p points into alive until this call (runtime.KeepAlive). */
void     gort_keep_alive(const void *p);
/* Makes [lo, hi) a root: every 8-byte-aligned word in it is scanned as a
 * possible pointer at every cycle, until gort_remove_roots removes it. For
 * malloc()ed memory that must hold GC pointers. */
void     gort_add_roots(void *lo, void *hi);
/* Stops scanning every part of the registered ranges that lies in [lo, hi). */
void     gort_remove_roots(void *lo, void *hi);

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

/* ---- Goroutine leaks (mgcleak.c): Go 1.26's goroutineleak profile ---------
 *
 * A goroutine blocked on a channel (send, receive, select), a gort_mutex,
 * gort_rwmutex, gort_waitgroup or gort_cond that no goroutine able to run can
 * reach any more will never wake: it has leaked. gort_goroutine_leaks finds
 * them with a marking pass from the runnable goroutines and the global roots
 * only (the world stopped for about the time of a collection), calls fn
 * (unless NULL) for each, in goid order, after the world runs again, and
 * returns how many there are. Scanning is conservative: a stale word can
 * hide a leak, but a goroutine a running goroutine can still wake is never
 * reported. A goroutine blocked on a nil channel or in an empty select is
 * always leaked. GORT_DEBUG=leakcheck=1 prints the report on stderr when
 * the main goroutine returns. */
typedef struct gort_goroutine_leak {
    uint64_t    goid;
    const char *wait_reason;    /* as in a dump: "chan receive", "sync.Mutex.Lock", ... */
    const void *wait_object;    /* the channel (a select's first), or the word a sync
                                 * primitive sleeps on; NULL for nil channels */
    uintptr_t   created_pc;     /* return address of the gort_go that made it */
    uint64_t    creator_goid;   /* the goroutine that made it; 0: a thread */
} gort_goroutine_leak;
typedef void (*gort_goroutine_leak_fn)(const gort_goroutine_leak *leak, void *arg);
int  gort_goroutine_leaks(gort_goroutine_leak_fn fn, void *arg);
/* The same, printing each as "goroutine 7 [chan receive (leaked)]:" and its
 * creation site to f. */
int  gort_goroutine_leaks_report(FILE *f);


/* ---- Slices (slice.c): Go's []T ------------------------------------------
 *
 * A slice is a value: a pointer to a backing array on the GC heap, a length
 * and a capacity, passed and returned by value like Go's. Appending past the
 * capacity allocates a new backing array exactly as Go's growslice does
 * (double below 256 elements, then about 1.25x, rounded up to the
 * allocator's size class), so capacities match Go's step for step.
 * Out-of-range indexes and bounds panic with Go's messages ("panic: runtime
 * error: index out of range [5] with length 3") and exit status 2.
 *
 * The plain functions allocate backing arrays the collector scans for
 * pointers; the _noscan ones allocate arrays it skips: use them when the
 * elements hold no pointers into the GC heap. The functions copy elements
 * through the runtime's own copy routine (where the collector's write
 * barrier goes); the typed macros store with plain C assignments. */
typedef struct gort_slice { void *ptr; size_t len, cap; } gort_slice;

/* make([]T, len, cap): zeroed. Panics "makeslice: len out of range" /
 * "makeslice: cap out of range" as Go. */
gort_slice gort_slice_make(size_t elem_size, size_t len, size_t cap);
gort_slice gort_slice_make_noscan(size_t elem_size, size_t len, size_t cap);
/* append(s, elems[0..n)...): returns the new slice (s's array when it fits). */
gort_slice gort_slice_append(gort_slice s, size_t elem_size, const void *elems, size_t n);
gort_slice gort_slice_append_noscan(gort_slice s, size_t elem_size, const void *elems, size_t n);
/* Go's growslice alone: s with room for n more elements (len unchanged). */
gort_slice gort_slice_grow(gort_slice s, size_t elem_size, size_t n, bool noscan);
/* copy(dst, src): copies min(len) elements (overlap allowed); returns that count. */
size_t   gort_slice_copy(gort_slice dst, gort_slice src, size_t elem_size);
/* s[lo:hi] and the full slice expression s[lo:hi:max]; panic as Go. */
gort_slice gort_slice_sub(gort_slice s, size_t elem_size, size_t lo, size_t hi);
gort_slice gort_slice_sub3(gort_slice s, size_t elem_size, size_t lo, size_t hi, size_t max);
/* &s[i], bounds-checked. */
void    *gort_slice_index(gort_slice s, size_t elem_size, size_t i);
/* The bounds-check failures, for inline checks (Go's panicIndex). */
__attribute__((noreturn)) void gort_panic_index(size_t i, size_t len);

static inline void *gort_slice_at_(gort_slice s, size_t elem_size, size_t i)
{
    if (__builtin_expect(i >= s.len, 0))
        gort_panic_index(i, s.len);
    return (char *)s.ptr + i * elem_size;
}
/* s[i] as an lvalue of type T: GORT_SLICE_AT(s, int64_t, 3) = 7; */
#define GORT_SLICE_AT(s, T, i) (*(T *)gort_slice_at_((s), sizeof(T), (i)))
/* s = append(s, v), in place on the gort_slice variable s. */
#define GORT_SLICE_APPEND(s, T, v) GORT_SLICE_APPEND_((s), T, (v), false)
#define GORT_SLICE_APPEND_NOSCAN(s, T, v) GORT_SLICE_APPEND_((s), T, (v), true)
#define GORT_SLICE_APPEND_(s, T, v, noscan) do {                              \
        gort_slice *gort_s_ = &(s);                                           \
        T gort_v_ = (v);                                                      \
        if (__builtin_expect(gort_s_->len == gort_s_->cap, 0))               \
            *gort_s_ = gort_slice_grow(*gort_s_, sizeof(T), 1, (noscan));     \
        ((T *)gort_s_->ptr)[gort_s_->len++] = gort_v_;                        \
    } while (0)

/* ---- Maps (map.c): Go's map[K]V as a Swiss table ---------------------------
 *
 * Keys are fixed-size byte strings compared with memcmp (integers, structs
 * without padding), strings, or anything with a caller-supplied hash and
 * equality. Values are val_size bytes, returned as pointers to the map's
 * own slot: such a pointer stays valid until the next insert, delete or
 * clear on the map (growth moves entries), as in Go you cannot take the
 * address of m[k]. A NULL map behaves as Go's nil map: reads find nothing,
 * delete does nothing, assign panics ("assignment to entry in nil map").
 *
 * Like Go's maps they are not safe for concurrent writers: a write racing
 * with another write, a read or an iteration is detected on a best-effort
 * basis and dies with "fatal error: concurrent map writes" (or "concurrent
 * map read and map write"). Iteration order is random, different each time.
 *
 * Groups are scanned by the collector unless the map is made noscan (keys
 * and values hold no GC pointers). String keys are not copied unless the map
 * is made with GORT_MAP_COPYKEYS: the map keeps {ptr, len}, and as with a Go
 * string the bytes must not change while they are a key. */
typedef struct gort_map gort_map;
/* A Go string: the key type of string-keyed maps. */
typedef struct gort_str { const char *ptr; size_t len; } gort_str;
typedef uint64_t (*gort_hash_fn)(const void *key, uint64_t seed);
typedef bool     (*gort_equal_fn)(const void *a, const void *b);

enum {
    GORT_MAP_NOSCAN   = 1,  /* keys and values hold no GC pointers */
    GORT_MAP_COPYKEYS = 2,  /* string keys: copy a new key's bytes to the GC heap */
    GORT_MAP_CSTR     = 4,  /* string keys: callers pass a NUL-terminated const char * */
};

/* make(map[K]V, hint) with key_size-byte keys compared bytewise. */
gort_map *gort_map_make(size_t key_size, size_t val_size, size_t hint);
gort_map *gort_map_make_noscan(size_t key_size, size_t val_size, size_t hint);
/* String keys. Key arguments are `const gort_str *`, or with GORT_MAP_CSTR
 * a `const char *` itself; the iterator's key is a `const gort_str *`
 * either way (for C strings, ptr is NUL-terminated). */
gort_map *gort_map_make_str(size_t val_size, size_t hint, unsigned flags);
/* Keys hashed and compared by the caller: hash(key, seed) must depend on
 * seed and agree with equal. Flags: GORT_MAP_NOSCAN. */
gort_map *gort_map_make_custom(size_t key_size, size_t val_size, size_t hint,
                               gort_hash_fn hash, gort_equal_fn equal, unsigned flags);
/* The runtime's memory hash (AES-NI where the CPU has it), for custom hashes. */
uint64_t gort_memhash(const void *p, size_t n, uint64_t seed);

void    *gort_map_get(gort_map *m, const void *key);     /* v := &m[k]: slot or NULL */
/* v, ok := m[k]: copies the value into val (may be NULL), zeroes it when the
 * key is absent from a non-NULL map. */
bool     gort_map_get2(gort_map *m, const void *key, void *val);
void    *gort_map_assign(gort_map *m, const void *key);  /* &m[k], inserted zeroed */
bool     gort_map_delete(gort_map *m, const void *key);  /* true: it was there */
size_t   gort_map_len(gort_map *m);
void     gort_map_clear(gort_map *m);                    /* clear(m) */

/* for k, v := range m. Go's rules: each entry present for the whole loop is
 * visited exactly once; one deleted before it is reached is not visited; one
 * inserted during the loop may or may not be. The fields are private except
 * key and val, set by each successful next. */
typedef struct gort_map_iter {
    const void *key;
    void       *val;
    gort_map   *m;
    void       *tab, *group;
    uint64_t    groupBits, entryOffset, dirOffset, entryIdx, clearSeq;
    intptr_t    dirIdx;
    uint8_t     globalDepth;
} gort_map_iter;
void     gort_map_iter_init(gort_map_iter *it, gort_map *m);
bool     gort_map_iter_next(gort_map_iter *it);          /* false: done */

/* ---- Profiling (cpuprof.c, mprof.c, pprof.c): Go's runtime/pprof ----------
 *
 * Profiles are written in pprof's format (gzipped profile.proto): read them
 * with `go tool pprof -top prog file`. docs/profiling.md walks through it.
 * Without changing a program: GORT_CPUPROFILE=path profiles its CPU from
 * before the main goroutine, GORT_MEMPROFILE=path writes its heap profile;
 * both are written when gort_main returns or the program exits. */

/* CPU profile at 100 Hz of CPU time, per thread (SIGPROF), until
 * gort_pprof_cpu_stop writes it to path. 0, -EBUSY if one is running, or a
 * negative errno if path cannot be written. */
int      gort_pprof_cpu_start(const char *path);
int      gort_pprof_cpu_stop(void);        /* writes the profile: 0 or -errno */
/* Writes the profile named kind, as Go's names it: "heap" (in-use memory,
 * sampled every 512 KiB allocated on average), "allocs" (the same samples,
 * shown as allocated memory), "goroutine" (every goroutine's stack),
 * "block" (time waiting on channels, select and sync primitives), "mutex"
 * (contended gort_mutex/gort_rwmutex, by the unlocker's stack). 0, -EINVAL
 * for another kind, or the negative errno of writing path. */
int      gort_pprof_write(const char *kind, const char *path);
/* runtime.MemProfileRate: bytes between heap samples on average (default
 * 524288; 1: every allocation; 0: off). Returns the previous rate. */
int      gort_set_mem_profile_rate(int rate);
/* runtime.SetBlockProfileRate: one blocking event per rate nanoseconds
 * spent blocked is sampled (1: every event; <= 0: off, the default). */
void     gort_set_block_profile_rate(int rate);
/* runtime.SetMutexProfileFraction: one contention event in rate is
 * sampled (0: off, the default); rate < 0 only reads. Returns the previous. */
int      gort_set_mutex_profile_fraction(int rate);

/* Execution trace (trace.c): what ran on each P and when, why each
 * goroutine stopped (its wait reason), creations, wakeups, syscalls and the
 * collector's phases, as Chrome trace-event JSON: open it in Perfetto
 * (ui.perfetto.dev) or chrome://tracing. GORT_TRACE=path traces a whole
 * run. 0, -EBUSY if a trace is running, or a negative errno of path. */
int      gort_trace_start(const char *path);
int      gort_trace_stop(void);           /* 0, -EINVAL if none, or -errno */

#ifdef __cplusplus
}
#endif
#endif /* GORT_H */
