/*
 * Unit tests for the key=value option parser in util/keyval.c: the implied
 * first key, ",," escaping, empty values, help words, and every syntax
 * error, which must name the key but never echo a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/keyval.h"

/* Parse and compare against "key=value" strings in order. */
static void check_parse(const char *params, const char *implied,
                        const char *const *expected)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) pairs =
        qutil_keyval_parse(params, implied, NULL, &err);
    size_t n = 0;

    if (!pairs) {
        fail_msg("'%s' rejected: %s", params, err->message);
    }
    while (expected[n]) {
        n++;
    }
    assert_int_equal(pairs->len, n);
    for (size_t i = 0; i < n; i++) {
        QUtilKeyvalPair *pair = g_ptr_array_index(pairs, i);
        g_autofree char *got = g_strdup_printf("%s=%s", pair->key, pair->value);
        assert_string_equal(got, expected[i]);
    }
}

/* Expect a syntax error whose message contains @needle (when not NULL). */
static void check_error(const char *params, const char *implied,
                        const char *needle)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) pairs =
        qutil_keyval_parse(params, implied, NULL, &err);

    if (pairs) {
        fail_msg("'%s' accepted", params);
    }
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    if (needle && !strstr(err->message, needle)) {
        fail_msg("'%s': message '%s' lacks '%s'", params, err->message, needle);
    }
}

static void test_implied_type(void **state)
{
    check_parse(
        "secret,id=s0,data=x", "qom-type",
        (const char *const[]){ "qom-type=secret", "id=s0", "data=x", NULL });
    check_parse("secret", "qom-type",
                (const char *const[]){ "qom-type=secret", NULL });
    /* Only the first element can be implied. */
    check_error("id=s0,secret", "qom-type", "after 'id'");
    /* Without an implied key a bare first element is a missing '='. */
    check_error("secret,id=s0", NULL, "first parameter");
    /* The implied key given explicitly as well is a duplicate. */
    check_error("secret,qom-type=x", "qom-type", "'qom-type'");
    /* Explicit qom-type first works like the implied form. */
    check_parse("qom-type=secret,id=s0", "qom-type",
                (const char *const[]){ "qom-type=secret", "id=s0", NULL });
}

static void test_escaping(void **state)
{
    check_parse("data=a,,b", NULL, (const char *const[]){ "data=a,b", NULL });
    check_parse("data=a,,,,b,id=x", NULL,
                (const char *const[]){ "data=a,,b", "id=x", NULL });
    check_parse("data=a,,", NULL, (const char *const[]){ "data=a,", NULL });
    check_parse("data=a,,,id=x", NULL,
                (const char *const[]){ "data=a,", "id=x", NULL });
    check_parse("data=,,", NULL, (const char *const[]){ "data=,", NULL });
    /* '=' in a value is plain text. */
    check_parse("data=a=b,x=c==", NULL,
                (const char *const[]){ "data=a=b", "x=c==", NULL });
    /* Escaping applies to the implied value too. */
    check_parse("a,,b,id=x", "qom-type",
                (const char *const[]){ "qom-type=a,b", "id=x", NULL });
}

static void test_empty_value(void **state)
{
    check_parse("data=", NULL, (const char *const[]){ "data=", NULL });
    check_parse("a=,b=", NULL, (const char *const[]){ "a=", "b=", NULL });
    check_parse("", "qom-type", (const char *const[]){ NULL });
}

static void test_missing_equals(void **state)
{
    g_autoptr(GError) err = NULL;

    check_error("a=1,verbose", NULL, "after 'a'");
    check_error("a=1,verbose,b=2", NULL, "after 'a'");
    check_error("secret,id=s0,dat", "qom-type", "after 'id'");
    check_error("verbose", NULL, "first parameter");

    /* A secret with an undoubled comma: its tail must not be echoed. */
    assert_null(qutil_keyval_parse("secret,id=s0,data=hunter,2secret",
                                   "qom-type", NULL, &err));
    assert_non_null(strstr(err->message, "after 'data'"));
    assert_non_null(strstr(err->message, "',,'"));
    assert_null(strstr(err->message, "2secret"));
}

static void test_empty_key(void **state)
{
    check_error("=x", NULL, "empty");
    check_error("a=1,=x", NULL, "empty");
    check_error(",a=1", NULL, "empty");
    check_error(",a=1", "qom-type", "empty");
}

static void test_duplicate_key(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) pairs = qutil_keyval_parse(
        "secret,id=s0,data=TOPSECRET,data=x", "qom-type", NULL, &err);

    assert_null(pairs);
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "'data'"));
    /* Values may be secrets: they never appear in messages. */
    assert_null(strstr(err->message, "TOPSECRET"));
    check_error("id=a,id=a", NULL, "'id'");
}

static void test_bad_key_chars(void **state)
{
    check_error("a b=1", NULL, "'a b'");
    check_error("a/b=1", NULL, "'a/b'");
    check_error("a\xc3\xa9=1", NULL, "invalid");
    check_error(".a=1", NULL, "'.a'");
    check_error("a.=1", NULL, "'a.'");
    check_error("a..b=1", NULL, "'a..b'");
    /* Allowed characters, and dotted keys passed through flat. */
    check_parse("A-b_c.0.d=1", NULL,
                (const char *const[]){ "A-b_c.0.d=1", NULL });
    check_parse(
        "rules.0.match=x,rules.1.match=y", NULL,
        (const char *const[]){ "rules.0.match=x", "rules.1.match=y", NULL });
}

static void test_trailing_comma(void **state)
{
    /* One trailing comma is ignored, as QEMU does. */
    check_parse("a=1,", NULL, (const char *const[]){ "a=1", NULL });
    check_parse("secret,", "qom-type",
                (const char *const[]){ "qom-type=secret", NULL });
    /* Two are an escaped comma in the value. */
    check_parse("a=1,,", NULL, (const char *const[]){ "a=1,", NULL });
    /* Three: escaped comma, then the ignored trailing one. */
    check_parse("a=1,,,", NULL, (const char *const[]){ "a=1,", NULL });
    /* A lone comma is an empty element. */
    check_error(",", NULL, "empty");
}

static void test_help(void **state)
{
    g_autoptr(GPtrArray) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL;
    g_autoptr(GError) err = NULL;
    bool help = true;

    p1 = qutil_keyval_parse("secret,id=s0", "qom-type", &help, NULL);
    assert_non_null(p1);
    assert_false(help);

    p2 = qutil_keyval_parse("help", "qom-type", &help, NULL);
    assert_non_null(p2);
    assert_true(help);
    assert_int_equal(p2->len, 0);

    help = false;
    p3 = qutil_keyval_parse("secret,help", "qom-type", &help, NULL);
    assert_non_null(p3);
    assert_true(help);
    assert_int_equal(p3->len, 1);
    assert_string_equal(qutil_keyval_lookup(p3, "qom-type"), "secret");

    help = false;
    p4 = qutil_keyval_parse("secret,?", "qom-type", &help, NULL);
    assert_non_null(p4);
    assert_true(help);

    /* Without a help pointer "help" is a key missing its value. */
    assert_null(qutil_keyval_parse("secret,help", "qom-type", NULL, &err));
    assert_non_null(strstr(err->message, "after 'qom-type'"));
}

static void test_lookup(void **state)
{
    g_autoptr(GPtrArray) pairs =
        qutil_keyval_parse("secret,id=s0,data=", "qom-type", NULL, NULL);

    assert_non_null(pairs);
    assert_string_equal(qutil_keyval_lookup(pairs, "qom-type"), "secret");
    assert_string_equal(qutil_keyval_lookup(pairs, "id"), "s0");
    assert_string_equal(qutil_keyval_lookup(pairs, "data"), "");
    assert_null(qutil_keyval_lookup(pairs, "file"));
}

static void test_long_input(void **state)
{
    const size_t vlen = 4 * 1024 * 1024;
    g_autoptr(GString) in = g_string_new("secret,id=s0,data=");
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) pairs = NULL;
    g_autofree char *long_key = g_strnfill(KEYVAL_KEY_MAX + 1, 'k');
    g_autofree char *max_key = g_strnfill(KEYVAL_KEY_MAX, 'k');
    g_autofree char *bad = g_strdup_printf("%s=1", long_key);
    g_autofree char *good = g_strdup_printf("%s=1", max_key);
    g_autoptr(GPtrArray) good_pairs = NULL;

    /* A 4 MiB value full of escaped commas: linear time, exact result. */
    for (size_t i = 0; i < vlen / 2; i++) {
        g_string_append(in, "x,,");
    }
    g_string_append(in, ",extra=1");
    pairs = qutil_keyval_parse(in->str, "qom-type", NULL, &err);
    assert_non_null(pairs);
    assert_int_equal(pairs->len, 4);
    assert_int_equal(strlen(qutil_keyval_lookup(pairs, "data")), vlen);
    assert_string_equal(qutil_keyval_lookup(pairs, "extra"), "1");

    /* Many keys: duplicate detection must not be quadratic. */
    g_string_truncate(in, 0);
    for (int i = 0; i < 100000; i++) {
        g_string_append_printf(in, "%sk%d=%d", i ? "," : "", i, i);
    }
    g_ptr_array_unref(pairs);
    pairs = qutil_keyval_parse(in->str, NULL, NULL, &err);
    assert_non_null(pairs);
    assert_int_equal(pairs->len, 100000);
    g_string_append(in, ",k99999=again");
    g_ptr_array_unref(pairs);
    pairs = qutil_keyval_parse(in->str, NULL, NULL, &err);
    assert_null(pairs);
    assert_non_null(strstr(err->message, "'k99999'"));
    g_clear_error(&err);

    /* Keys are bounded. */
    good_pairs = qutil_keyval_parse(good, NULL, NULL, NULL);
    assert_non_null(good_pairs);
    assert_null(qutil_keyval_parse(bad, NULL, NULL, &err));
    assert_true(
        g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_implied_type),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_empty_value),
        cmocka_unit_test(test_missing_equals),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_bad_key_chars),
        cmocka_unit_test(test_trailing_comma),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_long_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
