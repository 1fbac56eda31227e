/*
 * Unit tests for util's error helpers: QUTIL_ERROR's stable codes,
 * qutil_error_setg_errno() (the caller's domain and code, errno kept) and
 * qutil_error_prepend().
 */
#include "util/error.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* The codes are part of the API: their values must never move. */
static void test_codes_stable(void **state)
{
    assert_int_equal(QUTIL_ERROR_FAILED, 0);
    assert_int_equal(QUTIL_ERROR_INVALID_ARGUMENT, 1);
    assert_string_equal(g_quark_to_string(QUTIL_ERROR), "qutil-error-quark");
}

/* The domain-neutral form: the caller's domain and code, errno kept. */
static void test_qutil_setg_errno(void **state)
{
    GQuark other = g_quark_from_static_string("test-other-domain");
    g_autoptr(GError) err = NULL;
    g_autofree char *expect =
        g_strdup_printf("cannot create /x/y: %s", g_strerror(ENOENT));

    errno = EAGAIN;
    qutil_error_setg_errno(&err, other, 5, ENOENT, "cannot create %s", "/x/y");
    assert_int_equal(errno, EAGAIN);
    assert_true(g_error_matches(err, other, 5));
    assert_string_equal(err->message, expect);

    errno = EINTR;
    qutil_error_setg_errno(NULL, other, 5, ENOENT, "ignored");
    assert_int_equal(errno, EINTR);
}

static void test_prepend(void **state)
{
    g_autoptr(GError) err = NULL;
    GError *none = NULL;

    g_set_error(&err, QUTIL_ERROR, QUTIL_ERROR_FAILED, "connection reset");
    qutil_error_prepend(&err, "NBD export '%s'", "disk0");
    assert_string_equal(err->message, "NBD export 'disk0': connection reset");
    qutil_error_prepend(&err, "client %d", 3);
    assert_string_equal(err->message,
                        "client 3: NBD export 'disk0': connection reset");
    /* Domain and code untouched. */
    assert_true(g_error_matches(err, QUTIL_ERROR, QUTIL_ERROR_FAILED));

    /* Nothing to prefix: no-ops. */
    qutil_error_prepend(NULL, "x");
    qutil_error_prepend(&none, "x");
    assert_null(none);
}

/* Works on errors from other domains too. */
static void test_prepend_foreign(void **state)
{
    GQuark other = g_quark_from_static_string("test-other-domain");
    g_autoptr(GError) err = g_error_new_literal(other, 7, "inner");

    qutil_error_prepend(&err, "outer");
    assert_string_equal(err->message, "outer: inner");
    assert_true(g_error_matches(err, other, 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_stable),
        cmocka_unit_test(test_qutil_setg_errno),
        cmocka_unit_test(test_prepend),
        cmocka_unit_test(test_prepend_foreign),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
