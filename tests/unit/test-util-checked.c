/*
 * Overflow-checked arithmetic at its edges: the largest sums and products
 * that fit, the first that do not, and ranges that end exactly at, or
 * one past, the size.
 */
#include "util/checked.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_add(void **state)
{
    uint64_t r;
    size_t s;

    assert_true(qutil_add_u64(UINT64_MAX - 1, 1, &r));
    assert_true(r == UINT64_MAX);
    assert_false(qutil_add_u64(UINT64_MAX, 1, &r));
    assert_true(r == 0);
    assert_false(qutil_add_u64(UINT64_MAX / 2 + 1, UINT64_MAX / 2 + 1, &r));
    assert_true(qutil_add_u64(0, 0, &r));

    assert_true(qutil_add_size(SIZE_MAX - 10, 10, &s));
    assert_true(s == SIZE_MAX);
    assert_false(qutil_add_size(SIZE_MAX, 1, &s));
    assert_true(s == 0);
    assert_false(qutil_add_size(1, SIZE_MAX, &s));
}

static void test_mul(void **state)
{
    uint64_t r;
    size_t s;

    assert_true(qutil_mul_u64(UINT32_MAX, (uint64_t)UINT32_MAX + 2, &r));
    assert_true(r == UINT64_MAX);
    assert_false(qutil_mul_u64(1ULL << 32, 1ULL << 32, &r));
    assert_true(r == 0);
    assert_true(qutil_mul_u64(UINT64_MAX, 0, &r));
    assert_true(r == 0);
    assert_true(qutil_mul_u64(UINT64_MAX, 1, &r));
    assert_true(r == UINT64_MAX);

    assert_true(qutil_mul_size(SIZE_MAX, 1, &s));
    assert_false(qutil_mul_size(SIZE_MAX / 2 + 1, 2, &s));
    assert_true(s == 0);
    assert_true(qutil_mul_size(SIZE_MAX / 3, 3, &s));
}

static void test_range(void **state)
{
    /* Ending exactly at the size is in; one more byte is out. */
    assert_true(qutil_range_within(0, 4096, 4096));
    assert_false(qutil_range_within(0, 4097, 4096));
    assert_true(qutil_range_within(4095, 1, 4096));
    assert_false(qutil_range_within(4096, 1, 4096));
    /* Empty ranges: at the size is in, past it is out. */
    assert_true(qutil_range_within(4096, 0, 4096));
    assert_false(qutil_range_within(4097, 0, 4096));
    /* The wrap a plain "offset + length <= size" would let through. */
    assert_false(qutil_range_within(UINT64_MAX, 2, 4096));
    assert_false(qutil_range_within(1, UINT64_MAX, 4096));
    assert_true(qutil_range_within(1, UINT64_MAX - 1, UINT64_MAX));
    assert_false(qutil_range_within(2, UINT64_MAX - 1, UINT64_MAX));
    assert_true(qutil_range_within(0, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
