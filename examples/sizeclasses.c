/*
 * sizeclasses.c — what an allocation really costs.
 *
 * Small objects (up to 32 KiB) are rounded up to one of Go's 68 size
 * classes, each carved out of spans of 8 KiB pages, so that a span holds
 * objects of one size and a free slot is found with a bitmap. Larger
 * objects get whole pages of their own. gort_usable_size tells the size an
 * allocation really got (the "Understanding the Go runtime" talk's
 * examples; docs/allocator.md has the table):
 *
 *   8192 bytes      -> 8192     an exact class
 *   8200 bytes      -> 9472     the next class up: 1272 bytes unused
 *   8 MiB + 8 bytes -> 8396800  large: rounded up to whole 8 KiB pages
 */
#include <gort.h>
#include <stdio.h>

static void show(size_t n)
{
    void *p = gort_alloc(n);
    printf("%zu -> %zu\n", n, gort_usable_size(p));
}

static void main_goroutine(void *arg)
{
    show(8);
    show(8192);
    show(8200);
    show(32768);
    show(32769);
    show((8 << 20) + 8);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
