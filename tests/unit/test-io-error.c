/*
 * Unit tests for io's QIO_ERROR domain: the errno to code table that every
 * channel relies on when it reports a system call failure, the stable code
 * values, the "<message>: <strerror>" format of qio_error_setg_errno() and
 * its promise to leave errno alone.
 */
#include "io/error.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_code_from_errno(void **state)
{
    static const struct {
        int errnum;
        QIOErrorCode code;
    } table[] = {
        { EINVAL, QIO_ERROR_INVALID_ARGUMENT },
        { EBADF, QIO_ERROR_INVALID_ARGUMENT },
        { ERANGE, QIO_ERROR_INVALID_ARGUMENT },
        { ENOTSUP, QIO_ERROR_NOT_SUPPORTED },
        { EOPNOTSUPP, QIO_ERROR_NOT_SUPPORTED },
        { ENOSYS, QIO_ERROR_NOT_SUPPORTED },
        { EAFNOSUPPORT, QIO_ERROR_NOT_SUPPORTED },
        { EPROTONOSUPPORT, QIO_ERROR_NOT_SUPPORTED },
        { ESOCKTNOSUPPORT, QIO_ERROR_NOT_SUPPORTED },
        { ENOENT, QIO_ERROR_NOT_FOUND },
        { ENODEV, QIO_ERROR_NOT_FOUND },
        { ENXIO, QIO_ERROR_NOT_FOUND },
        { EHOSTUNREACH, QIO_ERROR_NOT_FOUND },
        { ENETUNREACH, QIO_ERROR_NOT_FOUND },
        { EACCES, QIO_ERROR_PERMISSION_DENIED },
        { EPERM, QIO_ERROR_PERMISSION_DENIED },
        { EEXIST, QIO_ERROR_EXISTS },
        { EADDRINUSE, QIO_ERROR_EXISTS },
        { EPIPE, QIO_ERROR_BROKEN_PIPE },
        { ECONNRESET, QIO_ERROR_CONNECTION_RESET },
        { ECONNABORTED, QIO_ERROR_CONNECTION_RESET },
        { ECONNREFUSED, QIO_ERROR_CONNECTION_REFUSED },
        { ETIMEDOUT, QIO_ERROR_TIMED_OUT },
        { ECANCELED, QIO_ERROR_CANCELLED },
        { EMSGSIZE, QIO_ERROR_TOO_LARGE },
        { EFBIG, QIO_ERROR_TOO_LARGE },
        { E2BIG, QIO_ERROR_TOO_LARGE },
        { EPROTO, QIO_ERROR_PROTOCOL },
        /* Anything unlisted. */
        { EIO, QIO_ERROR_FAILED },
        { ENOMEM, QIO_ERROR_FAILED },
        { EAGAIN, QIO_ERROR_FAILED },
        { 0, QIO_ERROR_FAILED },
        { 99999, QIO_ERROR_FAILED },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        if (qio_error_code_from_errno(table[i].errnum) != table[i].code) {
            fail_msg("errno %d maps to %d, expected %d", table[i].errnum,
                     qio_error_code_from_errno(table[i].errnum), table[i].code);
        }
    }
}

/* The codes are part of the API: their values must never move. */
static void test_codes_stable(void **state)
{
    assert_int_equal(QIO_ERROR_FAILED, 0);
    assert_int_equal(QIO_ERROR_INVALID_ARGUMENT, 1);
    assert_int_equal(QIO_ERROR_NOT_SUPPORTED, 2);
    assert_int_equal(QIO_ERROR_NOT_FOUND, 3);
    assert_int_equal(QIO_ERROR_PERMISSION_DENIED, 4);
    assert_int_equal(QIO_ERROR_EXISTS, 5);
    assert_int_equal(QIO_ERROR_UNEXPECTED_EOF, 6);
    assert_int_equal(QIO_ERROR_BROKEN_PIPE, 7);
    assert_int_equal(QIO_ERROR_CONNECTION_RESET, 8);
    assert_int_equal(QIO_ERROR_CONNECTION_REFUSED, 9);
    assert_int_equal(QIO_ERROR_TIMED_OUT, 10);
    assert_int_equal(QIO_ERROR_CANCELLED, 11);
    assert_int_equal(QIO_ERROR_CLOSED, 12);
    assert_int_equal(QIO_ERROR_COMMAND_FAILED, 13);
    assert_int_equal(QIO_ERROR_PROTOCOL, 14);
    assert_int_equal(QIO_ERROR_TOO_LARGE, 15);
    assert_string_equal(g_quark_to_string(QIO_ERROR), "qio-error-quark");
}

static void test_setg_errno_format(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *expect =
        g_strdup_printf("cannot open '/etc/pki/qio/ca-cert.pem' for 'tls0': %s",
                        g_strerror(ENOENT));

    qio_error_setg_errno(&err, ENOENT, "cannot open '%s' for '%s'",
                         "/etc/pki/qio/ca-cert.pem", "tls0");
    assert_non_null(err);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_string_equal(err->message, expect);
}

static void test_setg_errno_codes(void **state)
{
    static const int errs[] = { EPIPE, ECONNRESET, EACCES, EIO };

    for (size_t i = 0; i < G_N_ELEMENTS(errs); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *expect =
            g_strdup_printf("write to peer: %s", g_strerror(errs[i]));

        qio_error_setg_errno(&err, errs[i], "write to %s", "peer");
        assert_int_equal(err->domain, QIO_ERROR);
        assert_int_equal(err->code, qio_error_code_from_errno(errs[i]));
        assert_string_equal(err->message, expect);
    }
}

static void test_setg_errno_preserves_errno(void **state)
{
    g_autoptr(GError) err = NULL;

    errno = EHOSTUNREACH;
    qio_error_setg_errno(&err, EPIPE, "write to %s", "peer");
    assert_int_equal(errno, EHOSTUNREACH);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));

    /* A caller that does not want the error: nothing set, errno kept. */
    errno = ETIMEDOUT;
    qio_error_setg_errno(NULL, ECONNRESET, "read from %s", "peer");
    assert_int_equal(errno, ETIMEDOUT);

    /* The common pattern: pass errno itself. */
    g_autoptr(GError) err2 = NULL;
    errno = EACCES;
    qio_error_setg_errno(&err2, errno, "bind");
    assert_int_equal(errno, EACCES);
    assert_true(g_error_matches(err2, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED));
}

static void test_setg(void **state)
{
    g_autoptr(GError) err = NULL;

    qio_error_setg(&err, QIO_ERROR_TOO_LARGE, "length %u over %u", 70000u,
                   65536u);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    assert_string_equal(err->message, "length 70000 over 65536");
    /* NULL errp is allowed. */
    qio_error_setg(NULL, QIO_ERROR_FAILED, "ignored");
}

/* The domain's registered name is what a log or a debugger shows. */
static void test_quark_name(void **state)
{
    assert_string_equal(g_quark_to_string(QIO_ERROR), "qio-error-quark");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quark_name),
        cmocka_unit_test(test_code_from_errno),
        cmocka_unit_test(test_codes_stable),
        cmocka_unit_test(test_setg_errno_format),
        cmocka_unit_test(test_setg_errno_codes),
        cmocka_unit_test(test_setg_errno_preserves_errno),
        cmocka_unit_test(test_setg),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
