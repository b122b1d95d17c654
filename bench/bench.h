/*
 * bench.h — what every C bench shares: BENCH_SCALE, which scales each
 * iteration count on both sides alike (the Go twins read it too).
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <stdint.h>
#include <stdlib.h>

/* Applies BENCH_SCALE to an iteration count (at least 1). */
static inline int64_t scaled(int64_t n)
{
    const char *s = getenv("BENCH_SCALE");
    double f = s ? strtod(s, NULL) : 0;
    if (f <= 0)
        return n;
    int64_t r = (int64_t)((double)n * f);
    return r > 0 ? r : 1;
}

#endif
