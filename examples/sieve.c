/*
 * sieve.c — Go's classic concurrent prime sieve, in C on gort.
 *
 * A generator goroutine sends 2, 3, 4, ... down a channel. Each prime found
 * gets a filter goroutine that passes on only the numbers it does not
 * divide, so the pipeline grows by one goroutine per prime:
 *
 *   generate -> filter(2) -> filter(3) -> filter(5) -> ... -> main
 *
 * Every hop is an unbuffered channel: a send parks the sender until the
 * receiver arrives, which is exactly how Go's runtime hands values between
 * goroutines (see docs/channels.md and docs/scheduler.md). Usage: sieve [N]
 * prints the first N primes (default 20).
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct filter { gort_chan *in, *out; int prime; };

static void generate(void *arg)
{
    gort_chan *out = arg;
    for (int i = 2;; i++)
        gort_chan_send(out, &i);
}

static void filter(void *arg)
{
    struct filter *f = arg;
    int n;
    while (gort_chan_recv(f->in, &n))
        if (n % f->prime != 0)
            gort_chan_send(f->out, &n);
}

static void sieve(void *arg)
{
    int count = (int)(intptr_t)arg;
    gort_chan *ch = gort_chan_make(sizeof(int), 0);
    gort_go(generate, ch);
    for (int i = 0; i < count; i++) {
        int prime;
        gort_chan_recv(ch, &prime);
        printf("%d\n", prime);
        struct filter *f = gort_alloc(sizeof *f);   /* holds channels: GC memory */
        f->in = ch;
        f->out = gort_chan_make(sizeof(int), 0);
        f->prime = prime;
        gort_go(filter, f);
        ch = f->out;
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    return gort_main(sieve, (void *)(intptr_t)(n > 0 ? n : 20));
}
