/*
 * goroutine_leak.c — a goroutine leak, found by the leak detector.
 *
 * The most common Go memory bug is not a forgotten free but a forgotten
 * goroutine: one that waits on a channel nobody will ever use again. It
 * never runs, never exits, and keeps its stack and everything it points to
 * alive. Here `search` asks three "replicas" for an answer and takes the
 * first one, the classic "first response wins" pattern. With an unbuffered
 * channel the two slower replicas block forever in their send: nobody
 * receives any more, and once `search` returns nobody even holds the
 * channel. The fixed version gives the channel room for every answer.
 *
 * The detector (gort_goroutine_leaks, Go 1.26's goroutineleak profile) marks
 * memory from the goroutines that can still run, as the collector does, and
 * calls a blocked goroutine leaked when nothing it marked leads to the
 * channel or lock the goroutine waits on. Run it with
 * GORT_DEBUG=leakcheck=1 to get the same report when main returns.
 *
 * Prints (the answer is usually replica 1's, the fastest; on a busy machine
 * another one may win):
 *   fixed search: answer 1, 0 leaked goroutines
 *   leaky search: answer 1, 2 leaked goroutines
 *   goroutine 7 [chan send (leaked)]:
 *   created by search+0x3a in goroutine 1
 *           /path/to/goroutine_leak +0x12ab pc=0x...
 *   (and the same for the other loser)
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

struct query { gort_chan *answers; int64_t replica; };

/* A replica answers after replica milliseconds. */
static void replica(void *arg)
{
    struct query *q = arg;
    gort_sleep(q->replica * GORT_MILLISECOND);
    gort_chan_send(q->answers, &q->replica);   /* blocks until someone receives */
}

/* Starts three replicas and returns the first answer. capacity 0 is the
 * bug: the two losers can never deliver theirs. */
static __attribute__((noinline)) int64_t search(size_t capacity)
{
    gort_chan *answers = gort_chan_make(sizeof(int64_t), capacity);
    for (int64_t r = 1; r <= 3; r++) {
        struct query *q = gort_alloc(sizeof *q);   /* collected memory: no free */
        q->answers = answers;
        q->replica = r;
        gort_go(replica, q);
    }
    int64_t first;
    gort_chan_recv(answers, &first);
    return first;
}

/* How many goroutines have leaked, once `expect` have: the detector sees a
 * goroutine only after it blocked, and the slow replicas take a few
 * milliseconds to get there (it gives up waiting after 5 s). */
static int leaks(int expect)
{
    int n = gort_goroutine_leaks(NULL, NULL);
    for (int i = 0; i < 500 && n < expect; i++) {
        gort_sleep(10 * GORT_MILLISECOND);
        n = gort_goroutine_leaks(NULL, NULL);
    }
    return n;
}

static void main_goroutine(void *arg)
{
    int64_t answer = search(3);
    printf("fixed search: answer %lld, %d leaked goroutines\n", (long long)answer, leaks(0));
    answer = search(0);
    printf("leaky search: answer %lld, %d leaked goroutines\n", (long long)answer, leaks(2));
    gort_goroutine_leaks_report(stdout);        /* which ones, and who made them */
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
