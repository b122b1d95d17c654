/*
 * sysmon_retake.c — a slow C call does not stop the other goroutines.
 *
 * With one P, only one goroutine runs at a time. Here one of them makes a
 * blocking C call (usleep stands for a read from a slow device) inside
 * gort_syscall_enter/gort_syscall_exit. Entering leaves its P in the
 * "syscall" state; sysmon, the runtime's watchdog thread, sees the P still
 * there a moment later, takes it and hands it to another thread, which
 * runs the other goroutine while the call blocks. When the call returns,
 * gort_syscall_exit finds a P again (docs/sysmon.md: retake, handoffp).
 * Without the annotation, the other goroutine would wait the whole 300 ms.
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int ticks;
static atomic_bool call_done;

static void ticker(void *arg)
{
    while (!atomic_load(&call_done)) {
        atomic_fetch_add(&ticks, 1);
        gort_sleep(10 * GORT_MILLISECOND);
    }
}

static void main_goroutine(void *arg)
{
    gort_go(ticker, NULL);
    gort_sleep(20 * GORT_MILLISECOND);            /* let the ticker start */
    int before = atomic_load(&ticks);
    gort_syscall_enter();                         /* "I am about to block in C" */
    usleep(300 * 1000);
    gort_syscall_exit();
    int during = atomic_load(&ticks) - before;
    atomic_store(&call_done, true);
    printf("the other goroutine ran during the slow call: %s\n", during > 0 ? "yes" : "no");
}

int main(void)
{
    gort_gomaxprocs(1);
    return gort_main(main_goroutine, NULL);
}
