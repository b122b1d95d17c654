/*
 * hello.c — the README's quick start: ten goroutines send squares over an
 * unbuffered channel, a WaitGroup tells a closer goroutine when all have
 * sent, and main sums until the channel is closed and drained. Prints 385.
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static gort_chan *squares;               /* unbuffered channel of int */

static void worker(void *arg)
{
    int n = (int)(intptr_t)arg, sq = n * n;
    gort_chan_send(squares, &sq);        /* parks until main receives */
    gort_waitgroup_done(&wg);
}

static void closer(void *arg)
{
    gort_waitgroup_wait(&wg);            /* every worker has sent */
    gort_chan_close(squares);
}

static void main_goroutine(void *arg)
{
    squares = gort_chan_make(sizeof(int), 0);
    for (int i = 1; i <= 10; i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(worker, (void *)(intptr_t)i);
    }
    gort_go(closer, NULL);

    int sq, sum = 0;
    while (gort_chan_recv(squares, &sq)) /* false once closed and drained */
        sum += sq;
    printf("sum of squares 1..10 = %d\n", sum);   /* 385 */
}

int main(void)
{
    return gort_main(main_goroutine, NULL);  /* runs main_goroutine as goroutine 1 */
}
