/*
 * gc_dlroot.c — a library test_gc loads with dlopen: its one global holds a
 * GC pointer that nothing else references, so only the collector's scan of
 * the library's data segment keeps the object alive.
 */
static void *slot;

void gc_dlroot_set(void *p) { slot = p; }
void *gc_dlroot_get(void) { return slot; }
