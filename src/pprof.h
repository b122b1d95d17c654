/*
 * pprof.h — what the profilers share (Go: mprof.go's buckets, pprof's
 * profileBuilder): stack buckets (mprof.c), the CPU profile (cpuprof.c) and
 * the writer of profile.proto files (pprof.c).
 */
#ifndef GORT_PPROF_H
#define GORT_PPROF_H

#include "runtime.h"

enum { MAXSTACK = 64, BUCKHASH = 4096 };

/* The events of one call stack (see mprof.c for what v means per profile). */
typedef struct bucket {
    struct bucket *next;        /* hash chain */
    struct bucket *allnext;     /* every bucket of the table */
    uint32_t  hash;
    int       nstk;
    double    v[4];
    uintptr_t stk[];            /* leaf first */
} bucket;

typedef struct bucketTable {
    mutex   lock;
    bucket *hash[BUCKHASH];
    bucket *all;
} bucketTable;

extern bucketTable memProfile, blockProfile, mutexProfile;
extern _Atomic int64_t memprofilerate;

/* The bucket of stk[0..n), made if new, returned with t->lock held inside a
 * suspension-free region; NULL (nothing held) if memory ran out. */
bucket *bucketLock(bucketTable *t, const uintptr_t *stk, int n);
void    bucketUnlock(bucketTable *t);

bool inRuntimeText(uintptr_t pc);     /* pc is in gort's own code (section gort_text) */
int  trimRuntimeFrames(uintptr_t *pcs, int n);
int  callers(uintptr_t *pcs, int max); /* the caller's stack, runtime frames dropped */
/* The PCs of the frames from a libunwind cursor (an unw_cursor_t *) on,
 * at most max. Async-signal-safe. */
int  cursorPCs(void *cursor, uintptr_t *pcs, int max);

/* ---- Writing profile.proto (pprof.c) ------------------------------------------ */

typedef struct profBuilder profBuilder;
/* A profile whose samples have nvalues values, named by types[i]/units[i];
 * period type ptype/punit and period as Go writes them. */
profBuilder *profNew(int nvalues, const char *const *types, const char *const *units,
                     const char *ptype, const char *punit, int64_t period);
/* A sample: stack pcs[0..n) leaf first. leafExact: pcs[0] is the PC that
 * was executing (a CPU sample); every other PC is a return address. */
void profSample(profBuilder *b, const uintptr_t *pcs, int n, bool leafExact, const int64_t *values);
void profSetTimes(profBuilder *b, int64_t timeNanos, int64_t durationNanos);
void profSetDefaultSampleType(profBuilder *b, const char *type);
void profComment(profBuilder *b, const char *text);
/* Serializes, gzips to path and frees b. 0 or a negative errno. */
int  profWrite(profBuilder *b, const char *path);

/* ---- The CPU profile (cpuprof.c) ------------------------------------------------ */

int  cpuprof_start(const char *path);
int  cpuprof_stop(void);

#endif /* GORT_PPROF_H */
