/*
 * test_sizeclasses.c — gort's size classes are Go's (sizeclasses.c).
 *
 * The table is checked column by column against test_sizeclasses.csv, a copy
 * of Go's table (reference/go-size-classes.csv); then every request size is
 * checked to land in the smallest class that holds it, roundupsize against
 * Go's answers, and the division magic against real division for every
 * offset of every span.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "malloc.h"

/* test_sizeclasses.csv sits next to this file. */
static FILE *open_csv(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0),
             "test_sizeclasses.csv");
    return fopen(path, "r");
}

static void table_matches_go_csv(void **state)
{
    (void)state;
    FILE *f = open_csv();
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "class,bytes_per_obj,bytes_per_span,objects_per_span,tail_waste\n");
    int rows = 0;
    unsigned cls, size, span, objs, waste;
    while (fscanf(f, "%u,%u,%u,%u,%u", &cls, &size, &span, &objs, &waste) == 5) {
        assert_int_equal(cls, rows + 1);
        assert_true(cls < numSizeClasses);
        unsigned mySpan = class_to_allocnpages[cls] * pageSize;
        assert_int_equal(class_to_size[cls], size);
        assert_int_equal(mySpan, span);
        assert_int_equal(mySpan / class_to_size[cls], objs);
        assert_int_equal(mySpan % class_to_size[cls], waste);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 67);
    assert_int_equal(numSizeClasses, 68);
    assert_int_equal(class_to_size[tinySizeClass], maxTinySize);
    assert_int_equal(class_to_size[numSizeClasses - 1], maxSmallSize);
}

static void every_size_gets_smallest_class(void **state)
{
    (void)state;
    for (size_t n = 1; n <= maxSmallSize; n++) {
        uint8_t c = sizeToClass(n);
        assert_true(c >= 1 && c < numSizeClasses);
        assert_true(class_to_size[c] >= n);
        assert_true(class_to_size[c - 1] < n);
        assert_int_equal(roundupsize(n), class_to_size[c]);
    }
}

/* The examples from go-facts.md and Go's own answers for large sizes. */
static void roundupsize_matches_go(void **state)
{
    (void)state;
    assert_int_equal(roundupsize(0), 0);
    assert_int_equal(roundupsize(1), 8);
    assert_int_equal(roundupsize(1024), 1024);
    assert_int_equal(roundupsize(1025), 1152);
    assert_int_equal(sizeToClass(8200), 52);
    assert_int_equal(roundupsize(8200), 9472);
    assert_int_equal(roundupsize(32768), 32768);
    assert_int_equal(roundupsize(32769), 40960);
    assert_int_equal(roundupsize(8388616), 8396800);
    assert_int_equal(roundupsize(SIZE_MAX - 5), SIZE_MAX - 5);  /* would overflow: unchanged */
}

static void divmagic_is_exact_division(void **state)
{
    (void)state;
    for (int c = 1; c < numSizeClasses; c++) {
        uint32_t span = class_to_allocnpages[c] * pageSize;
        for (uint32_t off = 0; off < span; off++)
            if ((uint32_t)(((uint64_t)off * class_to_divmagic[c]) >> 32) != off / class_to_size[c])
                fail_msg("class %d offset %u", c, off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_matches_go_csv),
        cmocka_unit_test(every_size_gets_smallest_class),
        cmocka_unit_test(roundupsize_matches_go),
        cmocka_unit_test(divmagic_is_exact_division),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
