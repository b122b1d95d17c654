/*
 * sema.h — semaphores keyed by address and notify lists (sema.c), the
 * runtime services the sync package (sync.c) is built on. Go's
 * runtime_Semacquire, runtime_Semrelease and notifyList* (sema.go).
 */
#ifndef GORT_SEMA_H
#define GORT_SEMA_H

#include "park.h"

/* Waits until *addr > 0, then decrements it. lifo: queue at the head
 * (a waiter that was already woken once and lost the race). */
void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason);
/* Increments *addr and wakes one waiter. handoff: give the count straight
 * to that waiter and yield to it (sync.Mutex starvation mode). */
void semrelease1(uint32_t *addr, bool handoff);
uint32_t notifyListAdd(gort_cond *l);
void notifyListWait(gort_cond *l, uint32_t ticket);
void notifyListNotifyOne(gort_cond *l);
void notifyListNotifyAll(gort_cond *l);

#endif /* GORT_SEMA_H */
