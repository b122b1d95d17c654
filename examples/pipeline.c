/*
 * pipeline.c — stages connected by channels, each stage a goroutine:
 *
 *   generate 1..100 -> square -> keep odd -> main sums
 *
 * Each stage ranges over its input and closes its output when the input is
 * closed, so the end of the data flows down the pipeline like the data
 * itself (Go's "pipelines and cancellation" pattern). A stage runs when its
 * input has a value and its consumer is ready: the channels pace it.
 */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

struct stage { gort_chan *in, *out; };

static void generate(void *arg)
{
    gort_chan *out = arg;
    for (int64_t i = 1; i <= 100; i++)
        gort_chan_send(out, &i);
    gort_chan_close(out);
}

static void square(void *arg)
{
    struct stage *s = arg;
    int64_t v;
    while (gort_chan_recv(s->in, &v)) {
        v *= v;
        gort_chan_send(s->out, &v);
    }
    gort_chan_close(s->out);
}

static void keep_odd(void *arg)
{
    struct stage *s = arg;
    int64_t v;
    while (gort_chan_recv(s->in, &v))
        if (v % 2)
            gort_chan_send(s->out, &v);
    gort_chan_close(s->out);
}

static void main_goroutine(void *arg)
{
    gort_chan *nums = gort_chan_make(sizeof(int64_t), 0);
    struct stage sq = { nums, gort_chan_make(sizeof(int64_t), 0) };
    struct stage odd = { sq.out, gort_chan_make(sizeof(int64_t), 0) };
    gort_go(generate, nums);
    gort_go(square, &sq);
    gort_go(keep_odd, &odd);

    int64_t v, sum = 0;
    int n = 0;
    while (gort_chan_recv(odd.out, &v)) {
        sum += v;
        n++;
    }
    printf("pipeline: %d odd squares of 1..100, sum %lld\n", n, (long long)sum);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
