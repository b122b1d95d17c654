/*
 * preempt.c — a goroutine that never calls the runtime is still preempted.
 *
 * With one P, a goroutine spinning in a plain C loop would keep the P
 * forever if the scheduler only switched at runtime calls. sysmon notices a
 * goroutine that ran a whole 10 ms slice and sends its thread SIGURG; the
 * signal handler switches the goroutine out where that is safe (in the
 * program's own code, not in libc or the runtime), and the main goroutine,
 * whose sleep ended meanwhile, gets the P (docs/sysmon.md: asynchronous
 * preemption, as Go 1.14+). Under TSan there is no asynchronous preemption
 * (TSan delivers signals late), so that build says so.
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_bool stop, finished;

static void spinner(void *arg)
{
    volatile unsigned long n = 0;
    int64_t end = gort_nanotime() + 2000 * GORT_MILLISECOND;   /* 2 s at most */
    while (!atomic_load_explicit(&stop, memory_order_relaxed) && gort_nanotime() < end)
        for (int i = 0; i < 1 << 20; i++)
            n++;                                  /* pure computation: no runtime call */
    atomic_store(&finished, true);
}

static void main_goroutine(void *arg)
{
    gort_go(spinner, NULL);
    gort_sleep(50 * GORT_MILLISECOND);            /* the spinner takes the only P */
    bool preempted = !atomic_load(&finished);     /* we run again: was it still spinning? */
    atomic_store(&stop, true);
#if defined(__SANITIZE_THREAD__)
    printf("TSan build: no asynchronous preemption (the main goroutine ran after the spinner)\n");
    (void)preempted;
#else
    printf("preempted: %s\n", preempted ? "yes" : "no");
#endif
}

int main(void)
{
    gort_gomaxprocs(1);
    return gort_main(main_goroutine, NULL);
}
