/* src/mgcwp.h — kernel write tracking for the concurrent collector (userfaultfd
 * asynchronous write-protect + PAGEMAP_SCAN). All calls are made by the GC
 * coordinator; gcwp_track is also called by the page heap when it maps memory.
 * How it works and what it costs: the opening comment of mgcwp.c and the
 * "Page tracking" section of docs/gc.md. */
#ifndef GORT_MGCWP_H
#define GORT_MGCWP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool   gcwp_init(void);            /* probe once (idempotent); false if unavailable (old kernel,
                                      seccomp/sandbox refusal, qemu-user): then gcwp_why() says why */
const char *gcwp_why(void);        /* reason text for gctrace's one-line fallback message */
void   gcwp_track(void *base, size_t len);  /* register a heap range (every arena the page heap maps,
                                      at init and whenever it grows); may be called any time.
                                      A range tracked while armed is protected at once: its
                                      writes are reported from then on, like any other's.
                                      Any mapping works, a loaded object's data and bss too
                                      (tests/test_gcwp.c: private file mapping); ranges are
                                      never untracked */
int    gcwp_arm(void);             /* mark start (world stopped): write-protect every tracked range;
                                      from now on, a first write to a page marks it dirty; 0 or -errno.
                                      The world need not be stopped: arming only has to come before
                                      the first object is scanned (an earlier write is seen by the
                                      scan, a later one reported) */
size_t gcwp_collect(void (*fn)(uintptr_t addr, size_t len, void *arg), void *arg);
                                   /* report every range of pages written since arm / the previous
                                      collect, and write-protect them again, atomically per page
                                      (PM_SCAN_WP_MATCHING); returns the number of pages reported
                                      (OS pages: 4 KiB on x86-64). Mutators may write meanwhile: a
                                      racing write is reported by this collect or the next one.
                                      fn must not call back into gcwp */
size_t gcwp_collect_last(void (*fn)(uintptr_t addr, size_t len, void *arg), void *arg);
                                   /* the same report, leaving the pages writable: the final
                                      collect of a cycle (world stopped), after which no write
                                      needs tracking until the next gcwp_arm protects them again
                                      (only pages not written in the cycle still fault once) */
uint32_t gcwp_armGen(void);       /* which arm is in force (counts from 1), 0 if not armed. A
                                      caller that unprotects once per arm may read the new count
                                      before the arm's walk protected its pages: then they fault
                                      again, as if it had not, and nothing is lost */
void   gcwp_unprotect(void *base, size_t len);
                                   /* the allocator is about to write [base, base+len) (heap
                                      pages): unprotect them in one call rather than a fault per
                                      page; they are reported as written. No-op unless armed */
void   gcwp_disarm(void);          /* mark termination: stop tracking (unprotect everything).
                                      Costs a page-table walk of the populated heap; safe with
                                      the world running */

#endif /* GORT_MGCWP_H */
