/*
 * Unit tests for QIOChannelBuffer: a large payload written and read back
 * in uneven pieces, seeking the read offset, peeking, the size bound and
 * its error code, watches, and the closed state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "io/channel-buffer.h"
#include "io-channel-helpers.h"

#define PAYLOAD   (64 * 1024 * 1024)
#define PIECE_MAX (300 * 1024)

/* Write PAYLOAD bytes as 1 to 3 iovecs of random uneven sizes. */
static void write_payload(QIOChannel *ioc, GChecksum *sum)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(1234);
    g_autofree guint8 *buf = g_malloc(PIECE_MAX);
    size_t done = 0;
    guint32 seed = 1;

    while (done < PAYLOAD) {
        size_t want = g_rand_int_range(rand, 1, PIECE_MAX + 1);
        size_t n = MIN(want, PAYLOAD - done);
        size_t a = g_rand_int_range(rand, 0, n + 1);
        size_t b = g_rand_int_range(rand, a, n + 1);
        struct iovec iov[3] = {
            { .iov_base = buf, .iov_len = a },
            { .iov_base = buf + a, .iov_len = b - a },
            { .iov_base = buf + b, .iov_len = n - b },
        };

        qio_test_fill(buf, n, seed++);
        g_checksum_update(sum, buf, n);
        /* Memory accepts every write whole. */
        assert_int_equal(qio_channel_writev(ioc, iov, 3, NULL), n);
        done += n;
    }
}

static void read_payload(QIOChannel *ioc, GChecksum *sum)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(99);
    g_autofree guint8 *buf = g_malloc(PIECE_MAX);
    size_t done = 0;

    while (done < PAYLOAD) {
        size_t n = g_rand_int_range(rand, 1, PIECE_MAX + 1);
        size_t a = g_rand_int_range(rand, 0, n + 1);
        struct iovec iov[2] = {
            { .iov_base = buf, .iov_len = a },
            { .iov_base = buf + a, .iov_len = n - a },
        };
        gssize got = qio_channel_readv(ioc, iov, 2, NULL);

        /* Only the last read may come up short. */
        assert_true(got > 0);
        assert_int_equal(got, MIN(n, PAYLOAD - done));
        g_checksum_update(sum, buf, got);
        done += got;
    }
}

static void test_buffer_transfer(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    g_autoptr(GChecksum) wsum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autoptr(GChecksum) rsum = g_checksum_new(G_CHECKSUM_SHA256);
    char c;

    assert_null(qio_channel_buffer_get_data(bioc));
    write_payload(ioc, wsum);
    assert_int_equal(qio_channel_buffer_get_length(bioc), PAYLOAD);
    assert_int_equal(qio_channel_buffer_get_offset(bioc), 0);
    read_payload(ioc, rsum);
    assert_string_equal(g_checksum_get_string(wsum),
                        g_checksum_get_string(rsum));
    assert_int_equal(qio_channel_buffer_get_offset(bioc), PAYLOAD);
    /* EOF at the end, and again. */
    assert_int_equal(qio_channel_read(ioc, &c, 1, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, &c, 1, NULL), 0);
}

static void test_buffer_interleaved(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(3);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    char buf[16] = { 0 };

    assert_int_equal(qio_channel_write_all(ioc, "hello", 5, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, buf, 3, NULL), 3);
    assert_memory_equal(buf, "hel", 3);
    assert_int_equal(qio_channel_write_all(ioc, " world", 6, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL), 8);
    assert_memory_equal(buf, "lo world", 8);
    assert_memory_equal(qio_channel_buffer_get_data(bioc), "hello world", 11);
}

static void test_buffer_with_data_and_peek(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc =
        qio_channel_buffer_new_with_data("abcdef", 6);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    struct iovec iov;
    char buf[8] = { 0 };

    iov.iov_base = buf;
    iov.iov_len = 4;
    assert_int_equal(qio_channel_readv_full(ioc, &iov, 1, NULL, NULL,
                                            QIO_CHANNEL_READ_FLAG_PEEK, NULL),
                     4);
    assert_memory_equal(buf, "abcd", 4);
    assert_int_equal(qio_channel_buffer_get_offset(bioc), 0);
    assert_int_equal(qio_channel_read_all(ioc, buf, 6, NULL), 0);
    assert_memory_equal(buf, "abcdef", 6);
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, 1, NULL), 0);
}

/* What is left to read; a peek takes nothing; closed: nothing. */
static void test_buffer_input_pending(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc =
        qio_channel_buffer_new_with_data("abcdef", 6);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    struct iovec iov;
    char buf[8];

    assert_int_equal(qio_channel_input_pending(ioc), 6);
    iov.iov_base = buf;
    iov.iov_len = 4;
    assert_int_equal(qio_channel_readv_full(ioc, &iov, 1, NULL, NULL,
                                            QIO_CHANNEL_READ_FLAG_PEEK, NULL),
                     4);
    assert_int_equal(qio_channel_input_pending(ioc), 6);
    assert_int_equal(qio_channel_read_all(ioc, buf, 4, NULL), 0);
    assert_int_equal(qio_channel_input_pending(ioc), 2);
    assert_int_equal(qio_channel_io_seek(ioc, 1, SEEK_SET, NULL), 1);
    assert_int_equal(qio_channel_input_pending(ioc), 5);
    assert_int_equal(qio_channel_io_seek(ioc, 0, SEEK_END, NULL), 6);
    assert_int_equal(qio_channel_input_pending(ioc), 0);
    assert_int_equal(qio_channel_io_seek(ioc, 0, SEEK_SET, NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_input_pending(ioc), 0);
}

static void test_buffer_seek(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    g_autoptr(GError) err = NULL;
    char buf[8] = { 0 };

    assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE));
    assert_int_equal(qio_channel_write_all(ioc, "0123456789", 10, NULL), 0);
    assert_int_equal(qio_channel_io_seek(ioc, 4, SEEK_SET, NULL), 4);
    assert_int_equal(qio_channel_read(ioc, buf, 2, NULL), 2);
    assert_memory_equal(buf, "45", 2);
    assert_int_equal(qio_channel_io_seek(ioc, -5, SEEK_CUR, NULL), 1);
    assert_int_equal(qio_channel_read(ioc, buf, 1, NULL), 1);
    assert_int_equal(buf[0], '1');
    assert_int_equal(qio_channel_io_seek(ioc, -3, SEEK_END, NULL), 7);
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL), 3);
    assert_memory_equal(buf, "789", 3);
    assert_int_equal(qio_channel_io_seek(ioc, 0, SEEK_END, NULL), 10);
    assert_int_equal(qio_channel_read(ioc, buf, 1, NULL), 0);

    /* Outside the data, or absurdly far, is refused and moves nothing. */
    assert_int_equal(qio_channel_io_seek(ioc, 11, SEEK_SET, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, -11, SEEK_END, &err), -1);
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, INT64_MIN, SEEK_CUR, &err), -1);
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, INT64_MAX, SEEK_CUR, &err), -1);
    g_clear_error(&err);
    assert_int_equal(qio_channel_buffer_get_offset(bioc), 10);
}

static void test_buffer_max_size(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    g_autoptr(GError) err = NULL;
    char big[64] = { 0 };
    struct iovec iov[2] = {
        { .iov_base = big, .iov_len = 60 },
        { .iov_base = big, .iov_len = SIZE_MAX - 10 },
    };

    qio_channel_buffer_set_max_size(bioc, 100);
    assert_int_equal(qio_channel_write_all(ioc, big, 60, NULL), 0);
    assert_int_equal(qio_channel_write_all(ioc, big, 40, NULL), 0);
    assert_int_equal(qio_channel_buffer_get_length(bioc), 100);
    assert_int_equal(qio_channel_write(ioc, big, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    g_clear_error(&err);
    assert_int_equal(qio_channel_buffer_get_length(bioc), 100);

    /* A write that does not fit stores nothing, even partly. */
    qio_channel_buffer_set_max_size(bioc, 150);
    assert_int_equal(qio_channel_write(ioc, big, 51, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    g_clear_error(&err);
    assert_int_equal(qio_channel_buffer_get_length(bioc), 100);
    assert_int_equal(qio_channel_write(ioc, big, 50, NULL), 50);

    /* Lengths that overflow when summed are caught too. */
    qio_channel_buffer_set_max_size(bioc, 0);
    assert_int_equal(qio_channel_writev(ioc, iov, 2, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    assert_int_equal(qio_channel_buffer_get_length(bioc), 150);
}

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    GIOCondition *got = opaque;

    *got |= cond;
    return G_SOURCE_REMOVE;
}

static GIOCondition run_watch(QIOChannel *ioc, GIOCondition cond)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GIOCondition got = 0;

    qio_channel_add_watch_full(ioc, cond, watch_cb, &got, NULL, ctx);
    for (int i = 0; i < 3; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    return got;
}

static void test_buffer_watch(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    QIOChannel *ioc = QIO_CHANNEL(bioc);

    assert_int_equal(qio_channel_set_blocking(ioc, false, NULL), 0);
    assert_int_equal(run_watch(ioc, G_IO_IN), G_IO_IN);
    assert_int_equal(run_watch(ioc, G_IO_OUT), G_IO_OUT);
    assert_int_equal(run_watch(ioc, G_IO_IN | G_IO_OUT), G_IO_IN | G_IO_OUT);
    assert_int_equal(run_watch(ioc, G_IO_HUP), 0);
    qio_channel_wait(ioc, G_IO_OUT);
}

static void test_buffer_closed(void **state)
{
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    QIOChannel *ioc = QIO_CHANNEL(bioc);
    g_autoptr(GError) err = NULL;
    char c;

    assert_int_equal(qio_channel_write_all(ioc, "kept", 4, NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_write(ioc, "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, 0, SEEK_SET, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    /* The data outlives close. */
    assert_int_equal(qio_channel_buffer_get_length(bioc), 4);
    assert_memory_equal(qio_channel_buffer_get_data(bioc), "kept", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffer_transfer),
        cmocka_unit_test(test_buffer_interleaved),
        cmocka_unit_test(test_buffer_with_data_and_peek),
        cmocka_unit_test(test_buffer_input_pending),
        cmocka_unit_test(test_buffer_seek),
        cmocka_unit_test(test_buffer_max_size),
        cmocka_unit_test(test_buffer_watch),
        cmocka_unit_test(test_buffer_closed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
