/*
 * test_traceback.c — what the runtime records for tracebacks and dumps: each
 * goroutine's creation site (g.gopc, its creator's goid) and the time it
 * started waiting (g.waitsince, noted lazily by the GC or a dump).
 */
#define UNW_LOCAL_ONLY
#include "testutil.h"
#include "runtime.h"

#include <libunwind.h>
#include <stdatomic.h>

/* The start of the function holding pc, from its unwind info. */
static uintptr_t func_start(uintptr_t pc)
{
    unw_proc_info_t pi;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, pc - 1, &pi, NULL) != 0)
        return 0;
    return pi.start_ip;
}

/* ---- creation site ------------------------------------------------------- */

static g *_Atomic child_g;
static gort_chan *release_ch;

static void child(void *arg)
{
    atomic_store(&child_g, getg());
    int v;
    gort_chan_recv(release_ch, &v);
}

/* Not a tail call: the creation site is a return address in spawner. */
static NOINLINE uint64_t spawner(void)
{
    uint64_t id = gort_go(child, NULL);
    __asm__ volatile("" ::: "memory");
    return id;
}

static void creation_site_body(void *arg)
{
    release_ch = gort_chan_make(sizeof(int), 0);
    atomic_store(&child_g, NULL);
    uint64_t id = spawner();
    while (!atomic_load(&child_g))
        gort_yield();
    g *gp = atomic_load(&child_g);
    assert_int_equal(gp->goid, id);
    assert_int_equal(gp->parentGoid, gort_goid());
    assert_int_equal(func_start(gp->gopc), (uintptr_t)spawner);
    send_int(release_ch, 1);
}
BOTH(creation_site)

/* The main goroutine has no creator, as in Go. */
static void main_has_no_creator_body(void *arg)
{
    assert_int_equal(getg()->gopc, 0);
    assert_int_equal(getg()->parentGoid, 0);
}
BOTH(main_has_no_creator)

/* ---- wait time ----------------------------------------------------------- */

static void waitsince_body(void *arg)
{
    release_ch = gort_chan_make(sizeof(int), 0);
    atomic_store(&child_g, NULL);
    gort_go(child, NULL);
    g *gp;
    while (!(gp = atomic_load(&child_g)) ||
           atomic_load(&gp->atomicstatus) != Gwaiting)
        gort_yield();
    assert_int_equal(atomic_load(&gp->waitsince), 0);   /* nobody looked yet */
    int64_t before = nanotime();
    gort_gc();                                           /* the stack scan looks */
    int64_t since = atomic_load(&gp->waitsince);
    assert_true(since >= before && since <= nanotime());
    gort_gc();                                           /* noted once, kept */
    assert_int_equal(atomic_load(&gp->waitsince), since);
    assert_int_equal(gp->waitreason, waitReasonChanReceive);
    send_int(release_ch, 1);
}
BOTH(waitsince)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_TESTS(creation_site),
        BOTH_TESTS(main_has_no_creator),
        BOTH_TESTS(waitsince),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
