/*
 * debug.c — GORT_DEBUG knobs and wait reasons (Go: runtime1.go's dbgvars,
 * runtime2.go's waitReasonStrings).
 *
 * GORT_DEBUG is parsed once, here, into the fields of `debug`; the rest of
 * the runtime reads fields, never strings. Syntax as GODEBUG:
 * GORT_DEBUG=gctrace=1,schedtrace=1000
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

debugvars debug;

static const struct { const char *name; int32_t *value; } dbgvars[] = {
    { "asyncpreemptoff", &debug.asyncpreemptoff },
    { "forcegcperiod", &debug.forcegcperiod },     /* test-only */
    { "gccheckmark", &debug.gccheckmark },
    { "gcpoison", &debug.gcpoison },
    { "gctrace", &debug.gctrace },
    { "gcwpoff", &debug.gcwpoff },
    { "leakcheck", &debug.leakcheck },
    { "madvguardoff", &debug.madvguardoff },     /* test-only */
    { "scheddetail", &debug.scheddetail },
    { "schedtrace", &debug.schedtrace },
};

void parsedebugvars(void)
{
    const char *s = getenv("GORT_DEBUG");
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - s);
            for (size_t i = 0; i < nelem(dbgvars); i++)
                if (strlen(dbgvars[i].name) == klen && memcmp(s, dbgvars[i].name, klen) == 0)
                    *dbgvars[i].value = (int32_t)atoi(eq + 1);
        }
        s = comma ? comma + 1 : NULL;
    }
}

static const char *const waitReasonStrings[] = {
    [waitReasonZero] = "",
    [waitReasonChanSend] = "chan send",
    [waitReasonChanReceive] = "chan receive",
    [waitReasonSelect] = "select",
    [waitReasonSelectNoCases] = "select (no cases)",
    [waitReasonChanSendNilChan] = "chan send (nil chan)",
    [waitReasonChanReceiveNilChan] = "chan receive (nil chan)",
    [waitReasonSleep] = "sleep",
    [waitReasonSyncMutexLock] = "sync.Mutex.Lock",
    [waitReasonSyncRWMutexLock] = "sync.RWMutex.Lock",
    [waitReasonSyncRWMutexRLock] = "sync.RWMutex.RLock",
    [waitReasonSemacquire] = "semacquire",
    [waitReasonSyncCondWait] = "sync.Cond.Wait",
    [waitReasonSyncWaitGroupWait] = "sync.WaitGroup.Wait",
    [waitReasonIOWait] = "IO wait",
    [waitReasonPreempted] = "preempted",
    [waitReasonFinalizerWait] = "finalizer wait",
    [waitReasonTest] = "test",
};

const char *waitreason_string(enum waitreason r)
{
    if ((size_t)r < nelem(waitReasonStrings) && waitReasonStrings[r])
        return waitReasonStrings[r];
    return "unknown";
}
