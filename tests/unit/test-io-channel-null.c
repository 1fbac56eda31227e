/*
 * Unit tests for QIOChannelNull: reads are EOF, writes are swallowed whole,
 * watches fire at once, and a closed channel refuses I/O with
 * QIO_ERROR_CLOSED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/channel-null.h"

static void test_null_eof(void **state)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    g_autoptr(GError) err = NULL;
    char buf[16] = "unchanged";

    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    assert_string_equal(buf, "unchanged");
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, sizeof(buf), &err), 0);
    assert_int_equal(qio_channel_read_all(ioc, buf, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
    assert_string_equal(qio_channel_get_name(ioc), "null");
    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE));
}

static void test_null_discard(void **state)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    g_autofree char *big = g_malloc0(1024 * 1024);
    struct iovec iov[3] = {
        { .iov_base = big, .iov_len = 10 },
        { .iov_base = big, .iov_len = 0 },
        { .iov_base = big, .iov_len = 1024 * 1024 },
    };

    assert_int_equal(qio_channel_writev(ioc, iov, 3, NULL), 10 + 1024 * 1024);
    assert_int_equal(qio_channel_write_all(ioc, big, 12345, NULL), 0);
    assert_int_equal(qio_channel_set_blocking(ioc, false, NULL), 0);
    assert_int_equal(qio_channel_write(ioc, "x", 1, NULL), 1);
}

static gboolean count_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    GIOCondition *got = opaque;

    *got |= cond;
    return G_SOURCE_REMOVE;
}

static GIOCondition run_watch(QIOChannel *ioc, GIOCondition cond)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GIOCondition got = 0;

    qio_channel_add_watch_full(ioc, cond, count_cb, &got, NULL, ctx);
    /* Several iterations: the watch must have fired in the first. */
    for (int i = 0; i < 3; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    return got;
}

static void test_null_watch(void **state)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);

    assert_int_equal(run_watch(ioc, G_IO_IN), G_IO_IN);
    assert_int_equal(run_watch(ioc, G_IO_OUT), G_IO_OUT);
    assert_int_equal(run_watch(ioc, G_IO_IN | G_IO_OUT), G_IO_IN | G_IO_OUT);
    /* Nothing ever hangs up, so a HUP-only watch stays quiet. */
    assert_int_equal(run_watch(ioc, G_IO_HUP), 0);
    /* qio_channel_wait must return at once. */
    qio_channel_wait(ioc, G_IO_IN);
}

static void test_null_closed(void **state)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    char c;

    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    assert_int_equal(qio_channel_write(ioc, "x", 1, &err2), -1);
    assert_true(g_error_matches(err2, QIO_ERROR, QIO_ERROR_CLOSED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_eof),
        cmocka_unit_test(test_null_discard),
        cmocka_unit_test(test_null_watch),
        cmocka_unit_test(test_null_closed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
