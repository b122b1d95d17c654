/*
 * panic.c — panics and fatal errors (Go: panic.go).
 *
 * Go distinguishes a panic (the program misused something: a closed channel,
 * a nil map) from a fatal error (the runtime cannot continue: deadlock, out
 * of memory, stack overflow). C has no recover, so both end the process, but
 * they keep Go's words so that a Go programmer reads them at once:
 *
 *     panic: send on closed channel            fatal error: stack overflow
 *
 *     goroutine 5 [running]:                   goroutine 9 [running]:
 *     ...                                      ...
 *
 * and both exit with status 2. The first thread to die prints; any other
 * thread that fails meanwhile waits for the exit instead of interleaving its
 * own report.
 */
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static _Atomic int dying;

void gprint(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    for (char *s = buf; n > 0;) {
        ssize_t w = write(2, s, (size_t)n);
        if (w <= 0)
            break;
        s += w;
        n -= (int)w;
    }
}

/* Only one thread gets to report; the rest wait for the exit. */
static void startdying(void)
{
    if (atomic_fetch_add(&dying, 1) > 0)
        for (;;)
            pause();
}

static NORETURN void die(const char *prefix, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    startdying();
    gprint("%s%s\n\n", prefix, msg);
    traceback_current(2);
    _exit(2);
}

void gopanic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    die("panic: ", fmt, ap);
}

void throw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    die("fatal error: ", fmt, ap);
}

void throw_assert(const char *cond, const char *file, int line)
{
    throw("assertion failed: %s (%s:%d)", cond, file, line);
}

/* A fatal signal: report with a traceback of the interrupted context. */
NORETURN void fatal_signal(const char *header, void *ucontext)
{
    startdying();
    gprint("%s\n", header);
    traceback_context(ucontext);
    _exit(2);
}
