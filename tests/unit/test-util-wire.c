/*
 * The wire cursor: big-endian fields, spans and skips, and the edges a
 * hostile message lives on: exactly enough bytes, one short, a length of
 * SIZE_MAX, and every read after a failure failing too.
 */
#include "util/wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const uint8_t msg[] = {
    0x01,                                           /* u8 */
    0x02, 0x03,                                     /* be16 */
    0x04, 0x05, 0x06, 0x07,                         /* be32 */
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, /* be64 */
    'a',  'b',  'c',                                /* span */
};

static void test_fields(void **state)
{
    QUtilWire w;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *span;

    qutil_wire_init(&w, msg, sizeof(msg));
    assert_int_equal(qutil_wire_remaining(&w), sizeof(msg));
    assert_true(qutil_wire_get_u8(&w, &u8));
    assert_int_equal(u8, 0x01);
    assert_true(qutil_wire_get_be16(&w, &u16));
    assert_int_equal(u16, 0x0203);
    assert_true(qutil_wire_get_be32(&w, &u32));
    assert_int_equal(u32, 0x04050607);
    assert_true(qutil_wire_get_be64(&w, &u64));
    assert_true(u64 == 0x08090a0b0c0d0e0fULL);
    assert_false(qutil_wire_at_end(&w));
    assert_true(qutil_wire_get_span(&w, &span, 3));
    assert_ptr_equal(span, msg + 15);
    assert_memory_equal(span, "abc", 3);
    assert_true(qutil_wire_at_end(&w));
    assert_true(qutil_wire_ok(&w));
    assert_int_equal(qutil_wire_remaining(&w), 0);
}

/* Exactly enough bytes succeeds; one short fails and zeroes the output. */
static void test_exact_and_short(void **state)
{
    static const size_t widths[] = { 1, 2, 4, 8 };

    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        size_t n = widths[i];
        QUtilWire w;
        uint64_t v = 0xdead;
        bool ok;

        for (int shortby = 0; shortby <= 1; shortby++) {
            qutil_wire_init(&w, msg, n - shortby);
            switch (n) {
            case 1: {
                uint8_t x = 0xaa;
                ok = qutil_wire_get_u8(&w, &x);
                v = x;
                break;
            }
            case 2: {
                uint16_t x = 0xaaaa;
                ok = qutil_wire_get_be16(&w, &x);
                v = x;
                break;
            }
            case 4: {
                uint32_t x = 0xaaaaaaaa;
                ok = qutil_wire_get_be32(&w, &x);
                v = x;
                break;
            }
            default:
                ok = qutil_wire_get_be64(&w, &v);
                break;
            }
            if (shortby) {
                assert_false(ok);
                assert_true(v == 0);
                assert_false(qutil_wire_ok(&w));
                assert_false(qutil_wire_at_end(&w));
                assert_int_equal(qutil_wire_remaining(&w), 0);
            } else {
                assert_true(ok);
                assert_true(v != 0);
                assert_true(qutil_wire_at_end(&w));
            }
        }
    }
}

/* After one failure every read fails, even one that would fit. */
static void test_failure_sticks(void **state)
{
    QUtilWire w;
    uint8_t u8 = 0xaa;
    uint8_t buf[4] = { 1, 2, 3, 4 };
    const uint8_t *span = msg;

    qutil_wire_init(&w, msg, 3);
    assert_false(qutil_wire_skip(&w, 4));
    assert_false(qutil_wire_get_u8(&w, &u8));
    assert_int_equal(u8, 0);
    assert_false(qutil_wire_get_bytes(&w, buf, 0));
    assert_false(qutil_wire_get_bytes(&w, buf, 2));
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], 3);
    assert_false(qutil_wire_get_span(&w, &span, 0));
    assert_null(span);
    assert_false(qutil_wire_ok(&w));
}

/* A length from a peer may be anything: SIZE_MAX must not wrap. */
static void test_huge_lengths(void **state)
{
    QUtilWire w;
    const uint8_t *span = msg;

    qutil_wire_init(&w, msg, sizeof(msg));
    assert_true(qutil_wire_skip(&w, 1));
    assert_false(qutil_wire_skip(&w, SIZE_MAX));
    assert_false(qutil_wire_ok(&w));

    qutil_wire_init(&w, msg, sizeof(msg));
    assert_true(qutil_wire_skip(&w, 5));
    assert_false(qutil_wire_get_span(&w, &span, SIZE_MAX - 2));
    assert_null(span);

    qutil_wire_init(&w, msg, sizeof(msg));
    assert_false(qutil_wire_skip(&w, sizeof(msg) + 1));
    qutil_wire_init(&w, msg, sizeof(msg));
    assert_true(qutil_wire_skip(&w, sizeof(msg)));
    assert_true(qutil_wire_at_end(&w));
}

/* Copies, zero-length reads and an empty buffer. */
static void test_bytes_and_empty(void **state)
{
    QUtilWire w;
    uint8_t buf[3];
    const uint8_t *span = msg;
    uint16_t u16 = 1;

    qutil_wire_init(&w, msg + 15, 3);
    assert_true(qutil_wire_get_bytes(&w, buf, 3));
    assert_memory_equal(buf, "abc", 3);
    assert_true(qutil_wire_get_bytes(&w, buf, 0));
    assert_true(qutil_wire_skip(&w, 0));
    assert_true(qutil_wire_at_end(&w));

    qutil_wire_init(&w, NULL, 0);
    assert_true(qutil_wire_at_end(&w));
    assert_true(qutil_wire_get_span(&w, &span, 0));
    assert_true(qutil_wire_at_end(&w));
    assert_false(qutil_wire_get_be16(&w, &u16));
    assert_int_equal(u16, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_exact_and_short),
        cmocka_unit_test(test_failure_sticks),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_bytes_and_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
