/*
 * Unit tests for QIOChannelFile: 64 MiB through a pipe in both modes,
 * files written and read back by path with seeking, open errors that name
 * the path, EOF and short reads, EPIPE without SIGPIPE, watches on a pipe,
 * and the closed state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib/gstdio.h>

#include "io/channel-file.h"
#include "io-channel-helpers.h"

#define PAYLOAD (64 * 1024 * 1024)

static void make_pipe_channels(QIOChannelFile **rd, QIOChannelFile **wr)
{
    int fds[2];

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    *rd = qio_channel_file_new_fd(fds[0]);
    *wr = qio_channel_file_new_fd(fds[1]);
}

static void test_file_pipe_transfer(bool blocking)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;

    make_pipe_channels(&rd, &wr);
    qio_test_transfer(QIO_CHANNEL(wr), QIO_CHANNEL(rd), PAYLOAD, blocking,
                      true);
}

static void test_file_pipe_blocking(void **state)
{
    test_file_pipe_transfer(true);
}

static void test_file_pipe_nonblocking(void **state)
{
    test_file_pipe_transfer(false);
}

/* A private directory per test, removed with everything in it. */
typedef struct {
    char *dir;
    char *path;
} TmpFile;

static int tmp_setup(void **state)
{
    TmpFile *t = g_new0(TmpFile, 1);

    t->dir = g_dir_make_tmp("qio-test-file-XXXXXX", NULL);
    assert_non_null(t->dir);
    t->path = g_build_filename(t->dir, "data", NULL);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    TmpFile *t = *state;

    g_unlink(t->path);
    g_rmdir(t->dir);
    g_free(t->path);
    g_free(t->dir);
    g_free(t);
    return 0;
}

static void test_file_path_roundtrip(void **state)
{
    TmpFile *t = *state;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *data = g_malloc(1024 * 1024);
    g_autofree guint8 *back = g_malloc(1024 * 1024);
    char c;
    int fd;

    qio_test_fill(data, 1024 * 1024, 5);
    wr = qio_channel_file_new_path(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600,
                                   &err);
    assert_non_null(wr);
    assert_null(err);
    assert_string_equal(qio_channel_get_name(QIO_CHANNEL(wr)), t->path);
    fd = qio_channel_file_get_fd(wr);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(wr), data, 1024 * 1024, NULL), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(wr), NULL), 0);

    rd = qio_channel_file_new_path(t->path, O_RDONLY, 0, &err);
    assert_non_null(rd);
    assert_true(
        qio_channel_has_feature(QIO_CHANNEL(rd), QIO_CHANNEL_FEATURE_SEEKABLE));
    assert_int_equal(
        qio_channel_read_all(QIO_CHANNEL(rd), back, 1024 * 1024, NULL), 0);
    assert_memory_equal(data, back, 1024 * 1024);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), &c, 1, NULL), 0);

    /* Seek back into the middle and re-read a slice. */
    assert_int_equal(qio_channel_io_seek(QIO_CHANNEL(rd), 4096, SEEK_SET, NULL),
                     4096);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(rd), back, 100, NULL), 0);
    assert_memory_equal(data + 4096, back, 100);
    assert_int_equal(qio_channel_io_seek(QIO_CHANNEL(rd), -10, SEEK_END, NULL),
                     1024 * 1024 - 10);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), back, 100, NULL), 10);
    assert_memory_equal(data + 1024 * 1024 - 10, back, 10);
    assert_int_equal(qio_channel_io_seek(QIO_CHANNEL(rd), -1, SEEK_SET, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, t->path));
}

static void test_file_pipe_not_seekable(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;

    make_pipe_channels(&rd, &wr);
    assert_false(
        qio_channel_has_feature(QIO_CHANNEL(rd), QIO_CHANNEL_FEATURE_SEEKABLE));
    assert_false(
        qio_channel_has_feature(QIO_CHANNEL(wr), QIO_CHANNEL_FEATURE_SEEKABLE));
    assert_int_equal(qio_channel_io_seek(QIO_CHANNEL(rd), 0, SEEK_SET, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
}

static void test_file_open_error(void **state)
{
    TmpFile *t = *state;
    g_autofree char *missing = g_build_filename(t->dir, "no", "such", NULL);
    g_autofree char *expect =
        g_strdup_printf("cannot open %s: %s", missing, g_strerror(ENOENT));
    g_autoptr(GError) err = NULL;
    QIOChannelFile *ioc;

    ioc = qio_channel_file_new_path(missing, O_RDONLY, 0, &err);
    assert_null(ioc);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    /* The message is the point here: it must name the full path. */
    assert_string_equal(err->message, expect);

    /* O_EXCL on an existing file maps to QIO_ERROR_EXISTS. */
    g_clear_error(&err);
    assert_true(g_file_set_contents(t->path, "x", 1, NULL));
    ioc = qio_channel_file_new_path(t->path, O_WRONLY | O_CREAT | O_EXCL, 0600,
                                    &err);
    assert_null(ioc);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
}

static void test_file_eof_and_short_read(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    char buf[100];

    make_pipe_channels(&rd, &wr);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(wr), "hello", 5, NULL),
                     0);
    /* A short write, then a read of a larger buffer: the short count. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(wr), "abc", 3, NULL), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(wr), NULL), 0);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     3);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     0);
    assert_int_equal(qio_channel_read_all_eof(QIO_CHANNEL(rd), buf, 4, NULL),
                     0);
}

static bool sigpipe_pending(void)
{
    sigset_t pending;

    sigemptyset(&pending);
    assert_int_equal(sigpending(&pending), 0);
    return sigismember(&pending, SIGPIPE) == 1;
}

static bool sigpipe_blocked(void)
{
    sigset_t cur;

    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, SIGPIPE) == 1;
}

static void test_file_epipe(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;
    struct sigaction sa;
    sigset_t pipe_set;

    /* The default action would kill us if the signal got through. */
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_false(sigpipe_blocked());

    make_pipe_channels(&rd, &wr);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(rd), NULL), 0);
    assert_int_equal(qio_channel_write(QIO_CHANNEL(wr), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    assert_false(sigpipe_pending());
    assert_false(sigpipe_blocked());

    /* A caller that blocks SIGPIPE itself keeps it blocked. */
    g_clear_error(&err);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe_set, NULL), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(wr), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    assert_true(sigpipe_blocked());
    assert_false(sigpipe_pending());
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL), 0);
}

typedef struct {
    GIOCondition got;
    bool timed_out;
} WatchResult;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    ((WatchResult *)opaque)->got |= cond;
    return G_SOURCE_REMOVE;
}

static gboolean watch_timeout(gpointer opaque)
{
    ((WatchResult *)opaque)->timed_out = true;
    return G_SOURCE_REMOVE;
}

/*
 * Run a watch for @cond on a private context: with @expect, until it fires
 * (failing after 5 s); without, for a few non-blocking iterations.
 */
static GIOCondition run_watch(QIOChannel *ioc, GIOCondition cond, bool expect)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchResult res = { 0 };
    GSource *timer = g_timeout_source_new(5000);
    guint id;

    g_source_set_callback(timer, watch_timeout, &res, NULL);
    g_source_attach(timer, ctx);
    id = qio_channel_add_watch_full(ioc, cond, watch_cb, &res, NULL, ctx);
    if (expect) {
        while (!res.got && !res.timed_out) {
            g_main_context_iteration(ctx, TRUE);
        }
        assert_false(res.timed_out);
    } else {
        for (int i = 0; i < 3; i++) {
            g_main_context_iteration(ctx, FALSE);
        }
        if (!res.got) {
            g_source_destroy(g_main_context_find_source_by_id(ctx, id));
        }
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    return res.got;
}

static void test_file_pipe_watch(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    char buf[8];

    make_pipe_channels(&rd, &wr);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(rd), false, NULL), 0);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(wr), false, NULL), 0);
    assert_true(fcntl(qio_channel_file_get_fd(rd), F_GETFL) & O_NONBLOCK);

    /* Nothing to read yet. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_int_equal(run_watch(QIO_CHANNEL(rd), G_IO_IN, false), 0);
    assert_int_equal(run_watch(QIO_CHANNEL(wr), G_IO_OUT, true), G_IO_OUT);

    assert_int_equal(qio_channel_write(QIO_CHANNEL(wr), "ab", 2, NULL), 2);
    assert_int_equal(run_watch(QIO_CHANNEL(rd), G_IO_IN, true), G_IO_IN);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     2);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     QIO_CHANNEL_ERR_BLOCK);

    /* The writer going away wakes the reader with G_IO_HUP. */
    assert_int_equal(qio_channel_close(QIO_CHANNEL(wr), NULL), 0);
    assert_true(run_watch(QIO_CHANNEL(rd), G_IO_IN, true) & G_IO_HUP);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), buf, sizeof(buf), NULL),
                     0);

    /* And back to blocking mode. */
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(rd), true, NULL), 0);
    assert_false(fcntl(qio_channel_file_get_fd(rd), F_GETFL) & O_NONBLOCK);
}

static void test_file_regular_watch(void **state)
{
    TmpFile *t = *state;
    g_autoptr(QIOChannelFile) ioc = NULL;

    ioc = qio_channel_file_new_path(t->path, O_RDWR | O_CREAT, 0600, NULL);
    assert_non_null(ioc);
    /* poll(2) reports regular files as always ready, even when empty. */
    assert_int_equal(run_watch(QIO_CHANNEL(ioc), G_IO_IN | G_IO_OUT, true),
                     G_IO_IN | G_IO_OUT);
}

static void test_file_closed(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;
    int fd;
    char c;

    make_pipe_channels(&rd, &wr);
    fd = qio_channel_file_get_fd(rd);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(rd), NULL), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(rd), NULL), 0);
    assert_int_equal(qio_channel_file_get_fd(rd), -1);
    /* The descriptor really is gone. */
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(rd), &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_write(QIO_CHANNEL(rd), &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(rd), false, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
}

static void test_file_fd_name(void **state)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autofree char *expect = NULL;

    make_pipe_channels(&rd, &wr);
    expect = g_strdup_printf("fd %d", qio_channel_file_get_fd(rd));
    assert_string_equal(qio_channel_get_name(QIO_CHANNEL(rd)), expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_pipe_blocking),
        cmocka_unit_test(test_file_pipe_nonblocking),
        cmocka_unit_test_setup_teardown(test_file_path_roundtrip, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_file_pipe_not_seekable),
        cmocka_unit_test_setup_teardown(test_file_open_error, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_file_eof_and_short_read),
        cmocka_unit_test(test_file_epipe),
        cmocka_unit_test(test_file_pipe_watch),
        cmocka_unit_test_setup_teardown(test_file_regular_watch, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_file_closed),
        cmocka_unit_test(test_file_fd_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
