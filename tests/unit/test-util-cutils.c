/*
 * Unit tests for the strict parsers in util/cutils.c: sizes with binary
 * suffixes, 64-bit integers with overflow detection, floating-point
 * numbers, boolean words and the message abbreviation helper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/cutils.h"

static void check_size(const char *str, uint64_t expected)
{
    g_autoptr(GError) err = NULL;
    uint64_t v = 0;

    if (!qutil_parse_size(str, &v, &err)) {
        fail_msg("'%s' rejected: %s", str, err->message);
    }
    if (v != expected) {
        fail_msg("'%s' -> %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
                 str, v, expected);
    }
}

static void check_size_bad(const char *str)
{
    g_autoptr(GError) err = NULL;
    uint64_t v = 12345;

    if (qutil_parse_size(str, &v, &err)) {
        fail_msg("'%s' accepted as %" G_GUINT64_FORMAT, str, v);
    }
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    assert_int_equal(v, 12345); /* untouched on failure */
}

static void test_size_suffixes(void **state)
{
    check_size("0", 0);
    check_size("4096", 4096);
    check_size("1B", 1);
    check_size("1b", 1);
    check_size("1k", 1024);
    check_size("1K", 1024);
    check_size("4k", 4096);
    check_size("1m", 1024 * 1024);
    check_size("1M", 1024 * 1024);
    check_size("2G", 2ULL << 30);
    check_size("2g", 2ULL << 30);
    check_size("3T", 3ULL << 40);
    check_size("3t", 3ULL << 40);
    check_size("1P", 1ULL << 50);
    check_size("15E", 15ULL << 60);
    check_size("0x1000", 4096);
    check_size("0x10k", 16 * 1024);
    check_size("18446744073709551615", UINT64_MAX);
}

static void test_size_fractions(void **state)
{
    check_size("1.5k", 1536);
    check_size("1.5M", 3ULL << 19);
    check_size("0.5G", 1ULL << 29);
    /* Fractional bytes are truncated, never rounded up. */
    check_size("1.0001k", 1024);
    check_size("1.99999999999999999999K", 2047);
    check_size("15.5E", (15ULL << 60) + (1ULL << 59));
}

static void test_size_rejected(void **state)
{
    check_size_bad("");
    check_size_bad("k");
    check_size_bad("-1");
    check_size_bad("-1k");
    check_size_bad(" 1k");
    check_size_bad("1k ");
    check_size_bad("1 k");
    check_size_bad("1KiB");
    check_size_bad("1kk");
    check_size_bad("1x");
    check_size_bad("1Z");
    check_size_bad("abc");
    check_size_bad("1.5"); /* a fraction of a byte */
    check_size_bad("1.5B");
    check_size_bad("1.k");
    check_size_bad(".5k");
    check_size_bad("0x");
    check_size_bad("0x1.5k");
    check_size_bad("+1");
    check_size_bad("16E");    /* 2^64 */
    check_size_bad("16384P"); /* 2^64 */
    check_size_bad("18446744073709551616");
    check_size_bad("99999999999999999999999");
    check_size_bad("17179869184G");
}

static void test_size_message(void **state)
{
    g_autoptr(GError) err = NULL;
    uint64_t v;

    assert_false(qutil_parse_size("12Q", &v, &err));
    assert_non_null(strstr(err->message, "'12Q'"));
    assert_non_null(strstr(err->message, "size"));
}

static void test_strtou64(void **state)
{
    g_autoptr(GError) err = NULL;
    uint64_t v = 0;

    assert_true(qutil_strtou64("0", &v, NULL));
    assert_int_equal(v, 0);
    assert_true(qutil_strtou64("18446744073709551615", &v, NULL));
    assert_true(v == UINT64_MAX);
    assert_true(qutil_strtou64("0xffffffffffffffff", &v, NULL));
    assert_true(v == UINT64_MAX);
    assert_true(qutil_strtou64("010", &v, NULL));
    assert_int_equal(v, 10); /* decimal, not octal */
    /* Hex digits in either case; the first non-digit ends the number. */
    assert_true(qutil_strtou64("0XaBcDeF09", &v, NULL));
    assert_true(v == 0xabcdef09);
    assert_false(qutil_strtou64("0x1g", &v, NULL));
    assert_false(qutil_strtou64("0x:", &v, NULL));
    assert_false(qutil_strtou64("12a", &v, NULL));

    assert_false(qutil_strtou64("18446744073709551616", &v, &err));
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(qutil_strtou64("0x10000000000000000", &v, &err));
    g_clear_error(&err);
    assert_false(qutil_strtou64("-1", &v, &err));
    assert_non_null(strstr(err->message, "negative"));
    g_clear_error(&err);
    assert_false(qutil_strtou64("-0", &v, NULL));
    assert_false(qutil_strtou64("", &v, NULL));
    assert_false(qutil_strtou64(" 1", &v, NULL));
    assert_false(qutil_strtou64("1 ", &v, NULL));
    assert_false(qutil_strtou64("1k", &v, NULL));
    assert_false(qutil_strtou64("+1", &v, NULL));
    assert_false(qutil_strtou64("0x", &v, NULL));
    assert_false(qutil_strtou64("1.0", &v, NULL));
}

static void test_strtoi64(void **state)
{
    g_autoptr(GError) err = NULL;
    int64_t v = 0;

    assert_true(qutil_strtoi64("-42", &v, NULL));
    assert_int_equal(v, -42);
    assert_true(qutil_strtoi64("9223372036854775807", &v, NULL));
    assert_true(v == INT64_MAX);
    assert_true(qutil_strtoi64("-9223372036854775808", &v, NULL));
    assert_true(v == INT64_MIN);
    assert_true(qutil_strtoi64("-0x10", &v, NULL));
    assert_int_equal(v, -16);

    v = 7;
    assert_false(qutil_strtoi64("9223372036854775808", &v, &err));
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    assert_int_equal(v, 7);
    g_clear_error(&err);
    assert_false(qutil_strtoi64("-9223372036854775809", &v, &err));
    g_clear_error(&err);
    assert_false(qutil_strtoi64("99999999999999999999999999", &v, &err));
    g_clear_error(&err);
    assert_false(qutil_strtoi64("12abc", &v, &err));
    assert_non_null(strstr(err->message, "'12abc'"));
    assert_non_null(strstr(err->message, "integer"));
    assert_false(qutil_strtoi64("-", &v, NULL));
    assert_false(qutil_strtoi64("--1", &v, NULL));
    assert_false(qutil_strtoi64("", &v, NULL));
    assert_false(qutil_strtoi64("\t5", &v, NULL));
}

static void test_strtod(void **state)
{
    double d = 0;

    assert_true(qutil_strtod("0.5", &d, NULL));
    assert_true(d == 0.5);
    assert_true(qutil_strtod("-2", &d, NULL));
    assert_true(d == -2.0);
    assert_true(qutil_strtod("1e-3", &d, NULL));
    assert_true(d == 1e-3);
    assert_false(qutil_strtod("", &d, NULL));
    assert_false(qutil_strtod(" 1", &d, NULL));
    assert_false(qutil_strtod("1.5x", &d, NULL));
    assert_false(qutil_strtod("inf", &d, NULL));
    assert_false(qutil_strtod("nan", &d, NULL));
    assert_false(qutil_strtod("1e999", &d, NULL));
}

static void test_bool_words(void **state)
{
    static const char *const yes[] = { "on", "yes", "true" };
    static const char *const no[] = { "off", "no", "false" };
    static const char *const bad[] = {
        "", "1", "0", "y", "n", "ON", "True", "onn", " on", "enable",
    };
    bool b;

    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        b = false;
        assert_true(qutil_parse_bool(yes[i], &b, NULL));
        assert_true(b);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
        b = true;
        assert_true(qutil_parse_bool(no[i], &b, NULL));
        assert_false(b);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        b = true;
        if (qutil_parse_bool(bad[i], &b, &err)) {
            fail_msg("'%s' accepted as a boolean", bad[i]);
        }
        assert_true(
            g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
        assert_true(b);
    }
}

static void test_abbrev(void **state)
{
    g_autofree char *short_copy = qutil_str_abbrev("abc", 10);
    g_autofree char *cut = qutil_str_abbrev("abcdefghij", 4);
    /* "é" is two bytes; cutting inside it must back off to "a". */
    g_autofree char *utf8 = qutil_str_abbrev("a\xc3\xa9z", 2);
    g_autofree char *invalid = qutil_str_abbrev("a\xff", 10);
    g_autofree char *huge_in = g_strnfill(100000, 'x');
    g_autofree char *huge = qutil_str_abbrev(huge_in, 64);

    assert_string_equal(short_copy, "abc");
    assert_string_equal(cut, "abcd...");
    assert_string_equal(utf8, "a...");
    assert_true(g_utf8_validate(invalid, -1, NULL));
    assert_int_equal(strlen(huge), 67);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_size_fractions),
        cmocka_unit_test(test_size_rejected),
        cmocka_unit_test(test_size_message),
        cmocka_unit_test(test_strtou64),
        cmocka_unit_test(test_strtoi64),
        cmocka_unit_test(test_strtod),
        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_abbrev),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
