/*
 * sizeclasses.c — Go's size classes (Go: sizeclasses.go, msize.go,
 * mksizeclasses.go).
 *
 * Small requests (up to 32 KiB) are rounded up to one of 67 object sizes, so
 * that a span of a few pages holds many objects of exactly one size and a
 * free slot is just a bit. Go generated the sizes (mksizeclasses.go): step
 * through sizes at a growing alignment (8, 16, size/8, then 256 bytes), give
 * each size the smallest span whose leftover tail is at most 1/8 of it, merge
 * neighbours that would fit the same number of objects in the same span, and
 * finally raise each size as far as that same number of objects still fits.
 * gort uses the very same table (docs/allocator.md; tests/test_sizeclasses.c
 * checks it against Go's CSV), so a program's memory footprint matches Go's
 * object for object:
 *
 *   class  bytes/obj  bytes/span  objects  tail waste
 *       1          8        8192     1024           0
 *      52       9472       57344        6         512   <- 8200-byte requests
 *      67      32768       32768        1           0
 *
 * Only class_to_size and class_to_allocnpages are data. The lookup tables
 * are derived from them when the library is loaded:
 *
 *   size_to_class8[(n+7)/8]             for n <= 1024 (steps of 8 bytes)
 *   size_to_class128[(n-1024+127)/128]  for 1024 < n <= 32768 (steps of 128)
 *
 * and class_to_divmagic lets the GC turn an offset in a span into an object
 * index with a multiply and a shift instead of a division.
 */
#include "malloc.h"

const uint16_t class_to_size[numSizeClasses] = {
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
    240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
    1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
    4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
    12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
    28672, 32768,
};

const uint8_t class_to_allocnpages[numSizeClasses] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
    4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

uint32_t class_to_divmagic[numSizeClasses];
uint8_t  size_to_class8[smallSizeMax / smallSizeDiv + 1];
uint8_t  size_to_class128[(maxSmallSize - smallSizeMax) / largeSizeDiv + 1];

/* The smallest class whose objects hold size bytes. */
static uint8_t smallestClassFor(size_t size)
{
    uint8_t c = 1;
    while (class_to_size[c] < size)
        c++;
    return c;
}

/* Fills the derived tables. A constructor, so that every caller — even one
 * allocating before the runtime starts — finds them ready. */
__attribute__((constructor)) static void sizeclasses_init(void)
{
    for (size_t i = 0; i < nelem(size_to_class8); i++)
        size_to_class8[i] = smallestClassFor(i * smallSizeDiv);
    for (size_t i = 0; i < nelem(size_to_class128); i++)
        size_to_class128[i] = smallestClassFor(smallSizeMax + i * largeSizeDiv);
    /* floor(2^32 / size) + 1 is exact for every offset within a span: Go's
     * computeDivMagic proves it for spans up to 10 pages. */
    for (int c = 1; c < numSizeClasses; c++)
        class_to_divmagic[c] = UINT32_MAX / class_to_size[c] + 1;
}

size_t roundupsize(size_t size)
{
    if (size <= maxSmallSize)
        return size == 0 ? 0 : class_to_size[sizeToClass(size)];
    if (size + pageSize < size)
        return size;
    return (size + pageMask) & ~(size_t)pageMask;
}
