/*
 * gdb_target.c — the program tests/test_gdb.sh debugs: goroutines 2, 3 and 4
 * park on a channel, a mutex and a sleep; the main goroutine (1) then calls
 * gdb_stop_here, where gdb stops it and runs the extension's commands.
 */
#include "runtime.h"

static gort_chan *never;
static gort_mutex held = GORT_MUTEX_INIT;
static g *_Atomic parked[3];

static NOINLINE void on_chan(void *arg)
{
    parked[0] = getg();
    gort_chan_recv(never, NULL);
    __asm__ volatile("" ::: "memory");   /* no tail call: keep this frame */
}

static NOINLINE void on_mutex(void *arg)
{
    parked[1] = getg();
    gort_mutex_lock(&held);
    __asm__ volatile("" ::: "memory");
}

static NOINLINE void on_sleep(void *arg)
{
    parked[2] = getg();
    gort_sleep(3600 * GORT_SECOND);
    __asm__ volatile("" ::: "memory");
}

NOINLINE void gdb_stop_here(void) { __asm__ volatile("" ::: "memory"); }

static void main_goroutine(void *arg)
{
    never = gort_chan_make(sizeof(int), 0);
    gort_mutex_lock(&held);
    gort_go(on_chan, NULL);
    gort_go(on_mutex, NULL);
    gort_go(on_sleep, NULL);
    for (int i = 0; i < 3; i++)
        while (!parked[i] || atomic_load(&parked[i]->atomicstatus) != Gwaiting)
            gort_yield();
    gdb_stop_here();
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    gort_gomaxprocs(2);
    return gort_main(main_goroutine, NULL);
}
