/*
 * pingpong.c — two goroutines hit a ball back and forth over two unbuffered
 * channels.
 *
 * An unbuffered send parks the sender until the receiver takes the value,
 * so each hit is one goroutine waking the other: the cheapest round trip a
 * scheduler can make. gort (like Go) puts the woken goroutine in its P's
 * `runnext` slot, so the two players alternate on one thread without the
 * run queue or another thread getting involved (docs/scheduler.md).
 */
#include <gort.h>
#include <stdio.h>

enum { HITS = 1000 };

struct table { gort_chan *to_pong, *to_ping; gort_waitgroup done; };

static void pong(void *arg)
{
    struct table *t = arg;
    int ball;
    while (gort_chan_recv(t->to_pong, &ball)) {  /* false once ping closes the channel */
        ball++;
        gort_chan_send(t->to_ping, &ball);
    }
    gort_waitgroup_done(&t->done);
}

static void ping(void *arg)
{
    struct table t = { gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0),
                       GORT_WAITGROUP_INIT };
    gort_waitgroup_add(&t.done, 1);
    gort_go(pong, &t);
    int ball = 0;
    for (int i = 0; i < HITS / 2; i++) {
        ball++;
        gort_chan_send(t.to_pong, &ball);        /* parks until pong receives */
        gort_chan_recv(t.to_ping, &ball);        /* parks until pong answers */
        if (i < 2)
            printf("ping %d, pong %d\n", ball - 1, ball);
    }
    gort_chan_close(t.to_pong);
    gort_waitgroup_wait(&t.done);                /* pong saw the close and left */
    printf("ping-pong: %d hits, ball at %d\n", HITS, ball);
}

int main(void)
{
    return gort_main(ping, NULL);
}
